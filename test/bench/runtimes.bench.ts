/**
 * Runtimes side by side (issue 11), each figure from a fresh child process (runtimes.child.ts):
 *  - scale: time until 20 routers (FLASHLAB_BENCH_RUNTIME_ROUTERS) and a DNS node are
 *    healthy, and memory per router (every process of the lab: the lab's growth plus each
 *    agent's RSS), per runtime;
 *  - fleet copy: N routers (FLASHLAB_BENCH_FLEET, default 4; the figure is N=100)
 *    copy one 64 MiB image (FLASHLAB_BENCH_FLEET_MB) from the lab's TFTP server at once,
 *    then from its FTP server; next to the C servers doing the same work in the same run:
 *    tftpd-hpa and vsftpd serving the same file to N concurrent curl clients.
 * Aggregate rate = N × size / wall time (MB = 10^6 bytes). Unpinned: the point is how a
 * runtime uses every core. netns needs root: without it that column says why.
 *
 *   npm run bench -- runtimes
 *   FLASHLAB_BENCH_FLEET=100 npm run bench -- runtimes
 *   FLASHLAB_BENCH_RUNTIMES=embedded,netns FLASHLAB_BENCH_RUNTIME_ROUTERS=0 npm run bench -- runtimes   (fleet only)
 *
 * The container column builds the repository's image once for the run (a per-run tag,
 * removed after) and runs every node in a container of it; without an engine it says why.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { curlGet, runCommand, startTftpdHpa, startVsftpd } from '../helpers/peers.ts';
import { randomLoopback } from '../helpers/net.ts';
import { table } from './common.ts';
import { ContainerEngine } from '../../lab/runtime/container/engine.ts';
import type { FleetResult, ScaleResult } from './runtimes.child.ts';

/** Every runtime, or those FLASHLAB_BENCH_RUNTIMES names (comma-separated: `embedded,netns`). */
const RUNTIMES = runtimesToRun();

function runtimesToRun(): string[] {
  const all = ['embedded', 'netns', 'container'];
  const raw = process.env.FLASHLAB_BENCH_RUNTIMES;
  if (raw === undefined || raw.trim() === '') return all;
  const names = raw.split(',').map((x) => x.trim());
  const unknown = names.filter((x) => !all.includes(x));
  if (unknown.length > 0 || names.length === 0) throw new Error(`FLASHLAB_BENCH_RUNTIMES names runtimes from: ${all.join(', ')}`);
  return all.filter((x) => names.includes(x));
}

const MB = 1e6;
const MiB = 1024 * 1024;

function intEnv(name: string, fallback: number, max: number, min = 1): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be a whole number from ${min} to ${max}`);
  return v;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const childFile = path.join(repoRoot, 'test/bench/runtimes.child.ts');

async function child<T>(args: string[]): Promise<T | string> {
  try {
    const env = containerImage ? { ...process.env, FLASHLAB_IMAGE: containerImage } : process.env;
    const out = await runCommand(process.execPath, ['--expose-gc', '--import', 'tsx', childFile, ...args], { cwd: repoRoot, timeoutMs: 3_600_000, env });
    return JSON.parse(out.trim().split('\n').at(-1) ?? '') as T;
  } catch (e) {
    const m = (e as Error).message;
    if (/needs root/.test(m)) return 'needs root';
    if (/no container engine at/.test(m)) return 'no container engine';
    // The table keeps a line; the whole of what the child said goes to stderr.
    console.error(`runtimes child ${args.join(' ')} failed:\n${m}`);
    return `failed: ${m.split('\n').slice(-2).join(' ').slice(0, 160)}`;
  }
}

/** N concurrent curl downloads of one file; wall time in seconds. */
async function concurrentCurl(url: string, n: number): Promise<{ s: number; ok: number }> {
  const t0 = performance.now();
  const r = await Promise.allSettled(Array.from({ length: n }, () => curlGet(url)));
  return { s: (performance.now() - t0) / 1000, ok: r.filter((x) => x.status === 'fulfilled').length };
}

export async function run(): Promise<void> {
  // 0 skips the scale figure (a fleet-only run).
  const routers = intEnv('FLASHLAB_BENCH_RUNTIME_ROUTERS', 20, 250, 0);
  const fleetN = intEnv('FLASHLAB_BENCH_FLEET', 4, 250);
  const fleetMiB = intEnv('FLASHLAB_BENCH_FLEET_MB', 64, 1024);
  console.log(`runtimes: ${RUNTIMES.join(', ')}; node ${process.version}; unpinned; MB = 10^6 bytes`);
  if (RUNTIMES.includes('container')) await buildContainerImage();
  try {
    await measure(routers, fleetN, fleetMiB);
  } finally {
    if (containerImage) await new ContainerEngine().removeImage(containerImage).catch(() => undefined);
  }
}

/** The image the container column runs, built for this run (undefined: no engine answers). */
let containerImage: string | undefined;

async function buildContainerImage(): Promise<void> {
  const engine = new ContainerEngine();
  try {
    console.log(`container engine: ${await engine.ping()}`);
  } catch (e) {
    console.log(`container column: ${(e as Error).message}`);
    return;
  }
  const tag = `localhost/flashlab-bench:run-${process.pid}`;
  const t0 = performance.now();
  await engine.buildImage(repoRoot, 'Containerfile', tag);
  containerImage = tag;
  console.log(`built ${tag} in ${((performance.now() - t0) / 1000).toFixed(1)} s (not counted below)`);
}

async function measure(routers: number, fleetN: number, fleetMiB: number): Promise<void> {
  if (routers > 0) await measureScale(routers);
  await measureFleet(fleetN, fleetMiB);
}

async function measureScale(routers: number): Promise<void> {
  const scale = new Map<string, ScaleResult | string>();
  for (const rt of RUNTIMES) scale.set(rt, await child<ScaleResult>(['scale', rt, String(routers)]));
  const cell = (rt: string, f: (r: ScaleResult) => string) => {
    const r = scale.get(rt)!;
    return typeof r === 'string' ? r : f(r);
  };
  console.log(`\n${routers} routers and a DNS node: time until every node is healthy, memory per router (all processes of the lab:`);
  console.log(" the lab process's growth plus each agent's RSS, or its PSS, which splits pages the agents share such as Node's code)");
  console.log(
    table(
      ['figure', ...RUNTIMES],
      [
        ['time to healthy', ...RUNTIMES.map((rt) => cell(rt, (r) => `${r.startS.toFixed(2)} s`))],
        ['RSS per router', ...RUNTIMES.map((rt) => cell(rt, (r) => `${r.rssPerRouterMB.toFixed(2)} MB`))],
        ['PSS per router', ...RUNTIMES.map((rt) => cell(rt, (r) => `${r.pssPerRouterMB.toFixed(2)} MB`))],
        ['processes', ...RUNTIMES.map((rt) => cell(rt, (r) => String(r.processes)))],
      ],
    ),
  );
}

async function measureFleet(fleetN: number, fleetMiB: number): Promise<void> {
  // Fleet copy: the C servers first, on the same file size, in this run.
  const dir = mkdtempSync(path.join(tmpdir(), 'flashlab-bench-fleet-peer-'));
  const bytes = fleetMiB * MiB;
  const total = fleetN * bytes;
  const rate = (s: number) => `${(total / s / MB).toFixed(1)} MB/s (${s.toFixed(1)} s)`;
  const rows: string[][] = [];
  try {
    writeFileSync(path.join(dir, 'fleet.bin'), randomBytes(bytes));
    const tftpd = await startTftpdHpa(dir, { address: randomLoopback() });
    try {
      const r = await concurrentCurl(`tftp://${tftpd.address}:${tftpd.port}/fleet.bin`, fleetN);
      rows.push([`tftpd-hpa -> ${fleetN} curl`, r.ok === fleetN ? rate(r.s) : `${r.ok}/${fleetN} ok`, '']);
    } finally {
      await tftpd.stop();
    }
    const vs = await startVsftpd({ write: false, passivePorts: fleetN + 4 });
    try {
      writeFileSync(path.join(vs.root, 'fleet.bin'), randomBytes(bytes));
      const r = await concurrentCurl(`ftp://anonymous:bench@${vs.address}:${vs.port}/fleet.bin`, fleetN);
      rows.push([`vsftpd -> ${fleetN} curl`, '', r.ok === fleetN ? rate(r.s) : `${r.ok}/${fleetN} ok`]);
    } finally {
      await vs.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const rt of RUNTIMES) {
    const r = await child<FleetResult>(['fleet', rt, String(fleetN), String(fleetMiB)]);
    if (typeof r === 'string') rows.push([`flashlab ${rt}`, r, r]);
    else rows.push([`flashlab ${rt}: ${fleetN} routers`, r.tftpOk === fleetN ? rate(r.tftpS) : `${r.tftpOk}/${fleetN} ok`, r.ftpOk === fleetN ? rate(r.ftpS) : `${r.ftpOk}/${fleetN} ok`]);
  }
  console.log(`\nfleet copy: ${fleetN} clients fetch one ${fleetMiB} MiB file at once; aggregate rate (wall time); blksize 512 (both sides' default)`);
  console.log(table(['who', 'TFTP', 'FTP'], rows));
}
