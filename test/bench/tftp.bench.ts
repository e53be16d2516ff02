/**
 * TFTP throughput, side by side in one run (the machines are noisy: compare ratios):
 *  - lab TftpServer -> curl   vs  tftpd-hpa -> curl          (server quality)
 *  - TftpTransferClient <- tftpd-hpa  vs  curl <- tftpd-hpa  (client quality)
 *  - TftpServer -> TftpTransferClient at windowsize 1, 8, 16 (RFC 7440 gain)
 * Loopback only. 32 MiB by default (FLASHLAB_BENCH_MB), median of 3 (FLASHLAB_BENCH_RUNS),
 * after one untimed warm-up run per case; MB = 10^6 bytes.
 * Standalone: npx tsx -e "import('./test/bench/tftp.bench.ts').then(m=>m.run())"
 */
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import { requireBinary, runCommand, startTftpdHpa } from '../helpers/peers.ts';

const HOST = '127.0.0.1';
const RUNS = Math.max(1, Math.min(25, Number(process.env.FLASHLAB_BENCH_RUNS ?? 3) || 3));
const BLKSIZES = [512, 1468, 8192];
const WINDOWS = [1, 8, 16];

async function runCurl(curl: string, port: number, file: string, blksize: number): Promise<void> {
  const args = ['-s', '-S', '--max-time', '120', `tftp://${HOST}:${port}/${file}`, '-o', '/dev/null'];
  if (blksize !== 512) args.splice(0, 0, '--tftp-blksize', String(blksize));
  await runCommand(curl, args, { timeoutMs: 125_000 }); // curl's own --max-time reports first
}

async function runClient(port: number, file: string, blksize: number, windowsize: number, size: number): Promise<void> {
  const c = new TftpTransferClient({ windowsize, timeoutSec: 5 });
  const d = await c.download({ host: HOST, port, path: file, blksize });
  let n = 0;
  for await (const b of d.body) n += b.length;
  if (n !== size) throw new Error(`client got ${n} of ${size} bytes`);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const mb = Number(process.env.FLASHLAB_BENCH_MB ?? 32);
  if (!Number.isFinite(mb) || mb <= 0 || mb > 4096) throw new Error('FLASHLAB_BENCH_MB must be 1..4096');
  const size = Math.round(mb * 1024 * 1024);
  const curl = requireBinary('curl', 'curl');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flashlab-tftp-bench-'));
  const file = 'bench.bin';
  {
    const fd = fs.openSync(path.join(root, file), 'w');
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let left = size; left > 0; left -= chunk.length) {
      randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    }
    fs.closeSync(fd);
  }
  const lab = new TftpServer({ address: HOST, port: 0, root, maxWindowsize: 64 });
  await lab.start();
  const hpa = await startTftpdHpa(root, { address: HOST });
  const mbps = (secs: number): number => size / secs / 1e6;
  const rows: Array<[string, string, number, string, number]> = [];
  try {
    // Each pair is measured interleaved (a, b, a, b, ...) so drift hits both alike, after
    // one untimed run each (JIT, allocator and page cache warm, as in a running lab).
    const pair = async (label: string, aName: string, a: () => Promise<void>, bName: string, b: () => Promise<void>) => {
      const ta: number[] = [];
      const tb: number[] = [];
      await a();
      await b();
      for (let i = 0; i < RUNS; i++) {
        ta.push(await timed(a));
        tb.push(await timed(b));
      }
      rows.push([label, aName, mbps(median(ta)), bName, mbps(median(tb))]);
    };
    for (const bs of BLKSIZES) {
      await pair(`server blksize ${bs}`, 'lab TftpServer -> curl', () => runCurl(curl, lab.port, file, bs), 'tftpd-hpa -> curl', () => runCurl(curl, hpa.port, file, bs));
    }
    for (const bs of BLKSIZES) {
      await pair(`client blksize ${bs}`, 'TftpTransferClient <- tftpd-hpa', () => runClient(hpa.port, file, bs, 1, size), 'curl <- tftpd-hpa', () => runCurl(curl, hpa.port, file, bs));
    }
    for (const bs of BLKSIZES) {
      const base: number[] = [];
      await runClient(lab.port, file, bs, 1, size);
      for (let i = 0; i < RUNS; i++) base.push(await timed(() => runClient(lab.port, file, bs, 1, size)));
      for (const ws of WINDOWS.slice(1)) {
        const t: number[] = [];
        for (let i = 0; i < RUNS; i++) t.push(await timed(() => runClient(lab.port, file, bs, ws, size)));
        rows.push([`lab<->lab blksize ${bs}`, `windowsize ${ws}`, mbps(median(t)), 'windowsize 1', mbps(median(base))]);
      }
    }
  } finally {
    await hpa.stop();
    await lab.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  const w = [24, 33, 10, 20, 10, 7];
  const line = (cells: string[]): string => cells.map((c, i) => (i === 2 || i === 4 || i === 5 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ');
  console.log(`TFTP on loopback, ${mb} MiB file, median of ${RUNS}, MB/s = 10^6 bytes/s`);
  console.log(line(['case', 'ours / A', 'MB/s', 'reference / B', 'MB/s', 'A/B']));
  console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
  for (const [label, a, va, b, vb] of rows) console.log(line([label, a, va.toFixed(1), b, vb.toFixed(1), `${(va / vb).toFixed(2)}x`]));
}
