/**
 * Shared by the benchmarks: medians, the file size, CPU pinning and plain-text tables.
 *
 * Pinning: the bench machines are small shared VMs (2 cores here), where a process waking
 * another on a different CPU is slow. Left to the scheduler, client and server sometimes
 * share a CPU and sometimes not, and the same transfer came out 113 or 311 MB/s (TFTP) or
 * 273 or 3531 MB/s (vsftpd) from run to run. `taskset` fixes the placement, the same for
 * every contender: 'same' puts client and server on one CPU (lock-step protocols such as
 * TFTP, where only one side runs at a time), 'split' gives each its own (streaming ones such
 * as FTP, where both run at once). FLASHLAB_BENCH_PIN=0 turns it off; without taskset
 * (util-linux) nothing is pinned. Every bench prints which it was.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The benchmark file size in MiB: FLASHLAB_BENCH_MB when set, else the bench's own default. */
export function benchMiB(defaultMiB: number, max = 4096): number {
  const raw = process.env.FLASHLAB_BENCH_MB;
  const mb = raw === undefined || raw === '' ? defaultMiB : Number(raw);
  if (!Number.isFinite(mb) || mb <= 0 || mb > max) throw new Error(`FLASHLAB_BENCH_MB must be a number of MiB in (0, ${max}]`);
  return mb;
}

/** CPUs this process may run on, from the kernel's own list ("0-1,4"). */
function allowedCpus(): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
    const out: number[] = [];
    for (const part of line.split(',')) {
      const [a, b] = part.trim().split('-').map(Number);
      if (a === undefined || !Number.isInteger(a)) continue;
      const last = b !== undefined && Number.isInteger(b) ? b : a;
      for (let c = a; c <= last && out.length < 4096; c++) out.push(c);
    }
    return out;
  } catch {
    return []; // not Linux: no pinning
  }
}

function findTaskset(): string | undefined {
  for (const p of ['/usr/bin/taskset', '/bin/taskset']) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface Pinning {
  /** True when processes really are pinned. */
  on: boolean;
  /** Where servers run, and where clients run (equal in 'same'). */
  serverCpu: number;
  clientCpu: number;
  /** One line for a bench header. */
  describe: string;
  /**
   * Moves every thread of `pid` to `cpu`, or back to every CPU with 'all'. Processes it forks
   * later inherit the mask, which is what pins tftpd-hpa's and vsftpd's per-transfer children.
   */
  pin(pid: number, cpu: number | 'all'): void;
  /** `cmd args` to run `cmd` on `cpu`. */
  wrap(cpu: number, cmd: string, args: string[]): [string, string[]];
}

const cpus = allowedCpus();
const taskset = findTaskset();

export function pinning(mode: 'same' | 'split'): Pinning {
  const off = (why: string): Pinning => ({
    on: false,
    serverCpu: -1,
    clientCpu: -1,
    describe: `pinning: off (${why})`,
    pin: () => {},
    wrap: (_cpu, cmd, args) => [cmd, args],
  });
  if (process.env.FLASHLAB_BENCH_PIN === '0') return off('FLASHLAB_BENCH_PIN=0');
  if (!taskset) return off('no taskset; install util-linux');
  if (mode === 'split' && cpus.length < 2) return off(`only CPU ${cpus.join(',')} usable`);
  if (!cpus.length) return off('no CPU list in /proc');
  const serverCpu = cpus[0]!;
  const clientCpu = mode === 'same' ? serverCpu : cpus[1]!;
  return {
    on: true,
    serverCpu,
    clientCpu,
    describe:
      mode === 'same'
        ? `pinning: taskset, client and server both on CPU ${serverCpu} (lock-step protocol)`
        : `pinning: taskset, servers on CPU ${serverCpu}, clients on CPU ${clientCpu}`,
    pin: (pid, cpu) => {
      execFileSync(taskset, ['-a', '-p', '-c', cpu === 'all' ? cpus.join(',') : String(cpu), String(pid)], { stdio: 'ignore', timeout: 5000 });
    },
    wrap: (cpu, cmd, args) => [taskset, ['-c', String(cpu), cmd, ...args]],
  };
}

/** A fixed-width text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(' | ')} |`;
  return [fmt(header), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

/** "0.84x"; a missing figure (a failed run) or one not above zero (noise) prints as "n/a". */
export const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
