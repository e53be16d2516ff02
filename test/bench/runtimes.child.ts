/**
 * One runtimes-bench measurement in a fresh process, run by runtimes.bench.ts:
 *
 *   node --expose-gc --import tsx test/bench/runtimes.child.ts scale <runtime> <routers>
 *   node --expose-gc --import tsx test/bench/runtimes.child.ts fleet <runtime> <routers> <MiB>
 *
 * scale: Lab.start of <routers> routers (and a DNS node) until every node is healthy; memory
 * per router is the growth of this process plus, for runtimes with agents, every agent's RSS
 * (read from /proc by the pids the runtime recorded), divided by the routers.
 * fleet: <routers> routers copy one <MiB> image from the lab's TFTP server at once, then
 * from its FTP server at once; the aggregate rate is all bytes over the wall time.
 * Prints one JSON line on stdout.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { Lab } from '../../lab/Lab.ts';
import type { RuntimeName } from '../../lab/runtime/types.ts';
import { readNetnsRecord } from '../../lab/runtime/netnsRecord.ts';
import { ContainerEngine } from '../../lab/runtime/container/engine.ts';

export interface ScaleResult {
  runtime: string;
  routers: number;
  startS: number;
  rssPerRouterMB: number;
  /** The same with each agent's proportional set size (its share of pages shared with the other agents, such as Node's own code). */
  pssPerRouterMB: number;
  processes: number;
}

export interface FleetResult {
  runtime: string;
  routers: number;
  mib: number;
  tftpS: number;
  ftpS: number;
  /** Copies that ended in `[OK - n bytes]`, of `routers`. */
  tftpOk: number;
  ftpOk: number;
}

const MB = 1e6;
const gc = (globalThis as { gc?: () => void }).gc;

async function settledRss(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().rss;
}

/** Memory of another process from /proc, in bytes: resident, and proportional (shared pages split among their users). */
function memoryOf(pid: number): { rss: number; pss: number } {
  const kb = (file: string, key: string) => {
    try {
      return Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  return { rss: kb(`/proc/${pid}/status`, 'VmRSS'), pss: kb(`/proc/${pid}/smaps_rollup`, 'Pss') };
}

/** Where a lab of `runtime` lives: loopback for embedded, a random 10.213.x.0/24 for namespaces. */
function subnets(runtime: RuntimeName): { topology: string; runtime?: string } {
  if (runtime === 'embedded') return { topology: `127.${randomInt(100, 250)}.0.0/16` };
  // The container runtime picks a free subnet in 10.214.0.0/16 on the engine itself.
  if (runtime === 'container') return { topology: '127.77.0.0/24' };
  // FLASHLAB_BENCH_NETNS_SUBNET pins it (engineers sharing a machine each keep to a range).
  return { topology: '127.77.0.0/24', runtime: process.env.FLASHLAB_BENCH_NETNS_SUBNET ?? `10.213.${randomInt(1, 255)}.0/24` };
}

function routersTopology(n: number, subnet: string, extra: Record<string, unknown> = {}) {
  const nodes: Record<string, unknown> = { dns: { kind: 'dns' }, ...extra };
  for (let i = 1; i <= n; i++) nodes[`r${i}`] = { kind: 'router' };
  return {
    name: `bench-runtime-${n}`,
    mgmt: { 'ipv4-subnet': subnet },
    topology: {
      kinds: { router: { platform: 'isr4321', images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }] } },
      nodes,
    },
  };
}

/** Host pids of a container lab's agents (each is its container's first process). */
async function containerAgents(lab: string): Promise<number[]> {
  const engine = new ContainerEngine();
  const { containers } = await engine.labObjects(lab);
  return (await Promise.all(containers.map((c) => engine.state(c)))).map((s) => s.pid).filter((p) => p > 0);
}

async function scale(runtime: RuntimeName, n: number): Promise<ScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-runtime-'));
  const stateDir = join(dir, 'state');
  const s = subnets(runtime);
  let lab: Lab | undefined;
  try {
    const before = await settledRss();
    const t0 = performance.now();
    lab = await Lab.start(routersTopology(n, s.topology), { stateDir, runtime, runtimeSubnet: s.runtime, healthTimeoutMs: 300_000 });
    const startS = (performance.now() - t0) / 1000;
    const agents = runtime === 'container' ? await containerAgents(lab.name) : Object.values(readNetnsRecord(stateDir)?.agents ?? {});
    const growth = (await settledRss()) - before;
    const mem = agents.map(memoryOf);
    const rss = growth + mem.reduce((sum, m) => sum + m.rss, 0);
    const pss = growth + mem.reduce((sum, m) => sum + m.pss, 0);
    return { runtime, routers: n, startS, rssPerRouterMB: rss / n / MB, pssPerRouterMB: pss / n / MB, processes: 1 + agents.length };
  } finally {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every router runs `line` at once; returns the wall time and how many ended in [OK. */
async function together(lab: Lab, n: number, line: string): Promise<{ s: number; ok: number }> {
  const t0 = performance.now();
  const outs = await Promise.all(Array.from({ length: n }, (_, i) => lab.exec(`r${i + 1}`, [line]).catch((e: Error) => e.message)));
  const s = (performance.now() - t0) / 1000;
  return { s, ok: outs.filter((o) => /\[OK - \d+ bytes\]/.test(o)).length };
}

async function fleet(runtime: RuntimeName, n: number, mib: number): Promise<FleetResult> {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-fleet-'));
  const s = subnets(runtime);
  const image = { name: 'fleet.bin', platform: 'isr4321', version: '16.12.4', size: `${mib}MB`, sign: 'none' };
  const servers = {
    tftp: { kind: 'tftp', images: [image] },
    ftp: { kind: 'ftp', accounts: [{ user: 'lab', password: 'lab' }], images: [image] },
  };
  let lab: Lab | undefined;
  try {
    lab = await Lab.start(routersTopology(n, s.topology, servers), { stateDir: join(dir, 'state'), runtime, runtimeSubnet: s.runtime, healthTimeoutMs: 300_000 });
    const tftp = await together(lab, n, 'copy tftp://tftp/fleet.bin bootflash:fleet.bin');
    await Promise.all(Array.from({ length: n }, (_, i) => lab!.exec(`r${i + 1}`, ['delete /force bootflash:fleet.bin'])));
    const ftp = await together(lab, n, 'copy ftp://lab:lab@ftp/fleet.bin bootflash:fleet.bin');
    return { runtime, routers: n, mib, tftpS: tftp.s, ftpS: ftp.s, tftpOk: tftp.ok, ftpOk: ftp.ok };
  } finally {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const [what, runtime, count, mib] = process.argv.slice(2);
const result = what === 'scale' ? await scale(runtime as RuntimeName, Number(count)) : await fleet(runtime as RuntimeName, Number(count), Number(mib));
console.log(JSON.stringify(result));
process.exit(0);
