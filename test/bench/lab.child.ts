/**
 * One lab-scale measurement in a fresh process, run by lab.bench.ts: a fresh heap per size,
 * so memory one lab freed cannot hide what the next one takes (RSS came out negative when
 * every size shared one process).
 *
 *   node --expose-gc --import tsx test/bench/lab.child.ts <flashlab|ssh2> <nodes>
 *
 * flashlab: a lab of <nodes> routers (plus its DNS node) through Lab.start, which resolves
 * once every router has booted and answers SSH. ssh2: <nodes> bare ssh2 `Server`s with the
 * same kind of host key, one per loopback address, accepting any password: what any node
 * that answers SSH costs. Both: a throw-away warm-up of one node first (module loading,
 * JIT and one-time caches), the baseline after it, one SSH login afterwards to prove the
 * nodes really answer. Prints one JSON line on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { Lab } from '../../lab/Lab.ts';
import { tcpAnswers } from '../../lab/kinds/support.ts';
import { generateHostKey } from '../../router/access/SshServer.ts';

export interface ChildResult {
  kind: 'flashlab' | 'ssh2';
  nodes: number;
  /** First start: until every node answers (flashlab: healthy, i.e. booted and SSH answering). */
  startS: number;
  /** Second start in the same process (flashlab: on the kept state folder). */
  restartS: number;
  /** Growth with the nodes up, after full GCs, per node, MB = 10^6 bytes. */
  rssMB: number;
  heapMB: number;
}

const MB = 1e6;
const HEALTH_TIMEOUT_MS = 60_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/**
 * Full GCs with pauses between: V8 sweeps and hands pages back on background threads, and
 * closed sockets free their memory a turn later; without the pauses RSS moved by MBs.
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
}

/** A random 127.x.0.0/16: 200 nodes need more than a /24 (as in lab.bench's topology). */
const randomSlash16 = (): number => 100 + Math.floor(Math.random() * 150);

function sshLogin(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('error', reject);
    c.once('ready', () => {
      c.end();
      resolve();
    });
    c.connect({ host, port, username: 'admin', password: 'admin', hostVerifier: () => true, readyTimeout: 10_000 });
  });
}

// ---- flashlab ------------------------------------------------------------------------------

function topology(n: number, second: number) {
  const nodes: Record<string, unknown> = { dns: { kind: 'dns' } };
  for (let i = 1; i <= n; i++) nodes[`r${i}`] = { kind: 'router' };
  return {
    name: `bench-${n}`,
    mgmt: { 'ipv4-subnet': `127.${second}.0.0/16` },
    topology: {
      kinds: {
        router: {
          platform: 'isr4321',
          // Signed with production key A (by its name); signed.bench.ts boots 200 routers on 64 MiB.
          images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: process.env.FLASHLAB_BENCH_IMAGE_SIZE ?? '1MB' }],
        },
      },
      nodes,
    },
  };
}

async function flashlabLogin(lab: Lab): Promise<void> {
  const r = lab.inspect().filter((x) => x.kind === 'router').at(-1)!;
  await sshLogin(r.address, r.ports.ssh!);
}

/** Cold start, memory, login, stop, warm start: times in seconds. */
async function flashlabRound(n: number, second: number, measureMemory: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-lab-'));
  const stateDir = join(dir, 'state');
  const topo = topology(n, second);
  let lab: Lab | undefined;
  try {
    const before = measureMemory ? await settledMemory() : undefined;
    let t0 = performance.now();
    lab = await Lab.start(topo, { stateDir, healthTimeoutMs: HEALTH_TIMEOUT_MS });
    const startS = (performance.now() - t0) / 1000;
    const after = measureMemory ? await settledMemory() : undefined;
    await flashlabLogin(lab);
    await lab.stop();
    lab = undefined;
    t0 = performance.now();
    lab = await Lab.start(topo, { stateDir, healthTimeoutMs: HEALTH_TIMEOUT_MS });
    const restartS = (performance.now() - t0) / 1000;
    return { startS, restartS, before, after };
  } finally {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- bare ssh2 -----------------------------------------------------------------------------

type Ssh2Server = InstanceType<typeof ssh2.Server>;

function listen(server: Ssh2Server, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/**
 * One bare SSH node: port 22 first, as the lab tries for its routers (the bench runs as
 * root here), an ephemeral port when that is refused or taken.
 */
async function bareSshNode(address: string, hostKey: string): Promise<{ server: Ssh2Server; port: number }> {
  const make = () => {
    const s = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
      client.on('error', () => {});
      client.on('authentication', (ctx) => (ctx.method === 'password' ? ctx.accept() : ctx.reject(['password'])));
    });
    return s;
  };
  for (const port of [22, 0]) {
    const server = make();
    try {
      return { server, port: await listen(server, port, address) };
    } catch (e) {
      if (port === 0 || !['EACCES', 'EPERM', 'EADDRINUSE'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  throw new Error('unreachable');
}

/** Starts n servers, then probes them as the lab probes its routers, until all answer. */
async function startBare(n: number, second: number, hostKey: string) {
  // Sequential host addresses from .0.2, as the lab hands them out (.1 is its "gateway").
  const addr = (i: number) => `127.${second}.${(i + 2) >> 8}.${(i + 2) & 255}`;
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => bareSshNode(addr(i), hostKey).then((s) => ({ ...s, address: addr(i) }))));
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let pending = nodes;
  while (pending.length) {
    const ok = await Promise.all(pending.map((x) => tcpAnswers(x.address, x.port)));
    pending = pending.filter((_, i) => !ok[i]);
    if (pending.length && Date.now() > deadline) throw new Error(`${pending.length} ssh2 servers never answered`);
    if (pending.length) await new Promise((r) => setTimeout(r, 50));
  }
  return nodes;
}

async function stopBare(nodes: Array<{ server: Ssh2Server }>): Promise<void> {
  await Promise.all(nodes.map((x) => new Promise<void>((r) => x.server.close(() => r()))));
}

async function ssh2Round(n: number, second: number, hostKey: string, measureMemory: boolean) {
  const before = measureMemory ? await settledMemory() : undefined;
  let t0 = performance.now();
  let nodes = await startBare(n, second, hostKey);
  const startS = (performance.now() - t0) / 1000;
  const after = measureMemory ? await settledMemory() : undefined;
  try {
    await sshLogin(nodes.at(-1)!.address, nodes.at(-1)!.port);
  } finally {
    await stopBare(nodes);
  }
  t0 = performance.now();
  nodes = await startBare(n, second, hostKey);
  const restartS = (performance.now() - t0) / 1000;
  await stopBare(nodes);
  return { startS, restartS, before, after };
}

// ---- main ----------------------------------------------------------------------------------

const [kindArg, nArg] = process.argv.slice(2);
const n = Number(nArg);
if ((kindArg !== 'flashlab' && kindArg !== 'ssh2') || !Number.isInteger(n) || n < 1 || n > 60_000) {
  throw new Error('usage: lab.child.ts <flashlab|ssh2> <nodes>');
}
const kind = kindArg;
const second = randomSlash16();
// Warm-up on another /16, so its addresses are not still closing when the measured nodes bind.
const warmSecond = second === 100 ? 101 : second - 1;

let r: Awaited<ReturnType<typeof flashlabRound>>;
if (kind === 'flashlab') {
  await flashlabRound(1, warmSecond, false);
  r = await flashlabRound(n, second, true);
} else {
  // The lab makes one ed25519 host key for all its routers: so do the bare servers.
  const hostKey = generateHostKey();
  await ssh2Round(1, warmSecond, hostKey, false);
  r = await ssh2Round(n, second, hostKey, true);
}
const { before, after } = r as { before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage };
const result: ChildResult = {
  kind,
  nodes: n,
  startS: r.startS,
  restartS: r.restartS,
  rssMB: (after.rss - before.rss) / n / MB,
  heapMB: (after.heapUsed + after.external - before.heapUsed - before.external) / n / MB,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
