/**
 * Lab scale: time until every router is healthy (booted, SSH answering) and memory per
 * router, for labs of 1, 50 and 200 routers in this one process.
 * Goals (issue 2): 200 routers healthy in under 10 s, under 5 MB each.
 *
 *   npx tsx -e "import('./test/bench/lab.bench.ts').then(m=>m.run())"
 *
 * Cold: first start of a fresh state folder (flash seeded with an image). Warm: the same lab
 * started again on its kept state. Memory: RSS and V8 heap (+ external) growth with the lab
 * up, after a full GC, divided by the routers. Labs run one after another in one process,
 * so RSS can reuse pages an earlier lab freed: the heap column is the firmer figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Lab } from '../../lab/Lab.ts';

const SIZES = [1, 50, 200];
const GOAL_SECONDS = 10;
const GOAL_MB = 5;
/** A lab that is not healthy by then is reported as failed rather than waited for. */
const HEALTH_TIMEOUT_MS = 60_000;

/** global.gc, exposed at run time when node was not started with --expose-gc. */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function topology(n: number) {
  const nodes: Record<string, unknown> = { dns: { kind: 'dns' } };
  for (let i = 1; i <= n; i++) nodes[`r${i}`] = { kind: 'router' };
  return {
    name: `bench-${n}`,
    // A /16: 200 routers need more addresses than a /24 holds.
    mgmt: { 'ipv4-subnet': `127.${100 + Math.floor(Math.random() * 150)}.0.0/16` },
    topology: {
      kinds: {
        router: {
          platform: 'isr4321',
          images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }],
        },
      },
      nodes,
    },
  };
}

interface Row {
  routers: number;
  coldS: number;
  warmS: number;
  rssMB: number;
  heapMB: number;
}

const MB = 1e6;

async function measure(n: number, gc: () => void): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-'));
  const stateDir = join(dir, 'state');
  const topo = topology(n);
  let lab: Lab | undefined;
  try {
    gc();
    const before = process.memoryUsage();
    let t0 = performance.now();
    lab = await Lab.start(topo, { stateDir, healthTimeoutMs: HEALTH_TIMEOUT_MS });
    const coldS = (performance.now() - t0) / 1000;
    gc();
    const after = process.memoryUsage();
    await lab.stop();
    lab = undefined;

    t0 = performance.now();
    lab = await Lab.start(topo, { stateDir, healthTimeoutMs: HEALTH_TIMEOUT_MS });
    const warmS = (performance.now() - t0) / 1000;
    return {
      routers: n,
      coldS,
      warmS,
      rssMB: (after.rss - before.rss) / n / MB,
      heapMB: (after.heapUsed + after.external - before.heapUsed - before.external) / n / MB,
    };
  } finally {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  const gc = gcFunction();
  const rows: Row[] = [];
  // A throw-away lab first: module loading and one-time caches would otherwise be charged
  // to the 1-router lab.
  const warm = await measure(1, gc).catch(() => undefined);
  if (warm) console.log(`warm-up lab (1 router, not counted): ${warm.coldS.toFixed(2)} s, ${warm.rssMB.toFixed(1)} MB RSS`);
  for (const n of SIZES) {
    try {
      rows.push(await measure(n, gc));
    } catch (e) {
      console.log(`${n} routers: failed: ${(e as Error).message}`);
    }
  }
  const big = rows.find((r) => r.routers === 200);
  const line = (c: string[]) => `| ${c[0]!.padStart(7)} | ${c[1]!.padStart(12)} | ${c[2]!.padStart(12)} | ${c[3]!.padStart(13)} | ${c[4]!.padStart(14)} |`;
  console.log(`lab bench (node ${process.version}, ${process.platform})`);
  console.log(line(['routers', 'cold healthy', 'warm healthy', 'RSS / router', 'heap / router']));
  console.log(line(['-------', '------------', '------------', '-------------', '--------------']));
  for (const r of rows) {
    console.log(line([String(r.routers), `${r.coldS.toFixed(2)} s`, `${r.warmS.toFixed(2)} s`, `${r.rssMB.toFixed(2)} MB`, `${r.heapMB.toFixed(2)} MB`]));
  }
  if (big) {
    const t = Math.max(big.coldS, big.warmS);
    const m = Math.max(big.rssMB, big.heapMB);
    console.log(`goal: 200 routers healthy < ${GOAL_SECONDS} s: ${t < GOAL_SECONDS ? 'met' : 'MISSED'} (${t.toFixed(2)} s)`);
    console.log(`goal: < ${GOAL_MB} MB per router: ${m < GOAL_MB ? 'met' : 'MISSED'} (${m.toFixed(2)} MB)`);
  }
}
