/**
 * FTP throughput, side by side in one run (the machines are noisy: compare ratios, not runs):
 *   lab FtpServer -> curl      vs  vsftpd -> curl
 *   FtpTransferClient <- vsftpd vs curl <- vsftpd
 * Loopback only, bounded: one file (64 MiB, FLASHLAB_BENCH_MB overrides), 3 runs each, median.
 *
 *   npx tsx -e "import('./test/bench/ftp.bench.ts').then(m=>m.run())"
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { curlGet, startVsftpd } from '../helpers/peers.ts';

/** Writes `bytes` of random data in 1 MiB slices (no 64 MiB buffer held at once). */
function writeRandomFile(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  try {
    const slice = randomBytes(1024 * 1024);
    for (let done = 0; done < bytes; done += slice.length) {
      writeSync(fd, slice, 0, Math.min(slice.length, bytes - done));
      slice[0] = (slice[0]! + 1) & 0xff; // slices differ
    }
  } finally {
    closeSync(fd);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;

async function clientGet(host: string, port: number, file: string): Promise<{ bytes: number; seconds: number }> {
  const t0 = performance.now();
  const dl = await new FtpTransferClient().download({ host, port, path: file, username: 'anonymous', password: 'bench@lab.test', timeoutSec: 30 });
  let bytes = 0;
  for await (const chunk of dl.body) bytes += chunk.length;
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

export async function run(): Promise<void> {
  const mb = Number(process.env.FLASHLAB_BENCH_MB ?? 64);
  if (!(mb > 0 && mb <= 1024)) throw new Error('FLASHLAB_BENCH_MB must be between 1 and 1024');
  const size = Math.round(mb * 1024 * 1024);
  const RUNS = 3;

  const vs = await startVsftpd({ address: randomLoopback(), write: false });
  const labRoot = mkdtempSync(path.join(tmpdir(), 'flashlab-benchftp-'));
  const labAddress = randomLoopback();
  const pasv = randomInt(20000, 60000);
  const lab = new FtpServer({
    address: labAddress,
    port: 0,
    root: labRoot,
    pasvRange: [pasv, pasv + 20],
    accounts: [],
    anonymous: { home: 'pub' },
  });
  try {
    await lab.start();
    const file = 'bench.bin';
    writeRandomFile(path.join(vs.root, file), size);
    writeRandomFile(path.join(labRoot, 'pub', file), size);

    const rows: Array<{ name: string; samples: number[] }> = [
      { name: 'lab FtpServer -> curl', samples: [] },
      { name: 'vsftpd -> curl', samples: [] },
      { name: 'FtpTransferClient <- vsftpd', samples: [] },
      { name: 'curl <- vsftpd', samples: [] },
    ];
    const check = (r: { bytes: number; seconds: number }) => {
      if (r.bytes !== size) throw new Error(`short transfer: ${r.bytes} of ${size} bytes`);
      return mbps(r.bytes, r.seconds);
    };
    // Interleaved, so a noisy moment hits every contender alike.
    for (let i = 0; i < RUNS; i++) {
      rows[0]!.samples.push(check(await curlGet(`ftp://anonymous:bench@${labAddress}:${lab.port}/${file}`)));
      const vsCurl = check(await curlGet(`ftp://anonymous:bench@${vs.address}:${vs.port}/${file}`));
      rows[1]!.samples.push(vsCurl);
      rows[3]!.samples.push(vsCurl);
      rows[2]!.samples.push(check(await clientGet(vs.address, vs.port, file)));
    }
    const med = rows.map((r) => median(r.samples));
    const fmt = (x: number) => x.toFixed(1).padStart(8);
    const lines = [
      `FTP throughput, ${mb} MiB file, median of ${RUNS} runs, MB/s (10^6 bytes/s), loopback`,
      '',
      `${'transfer'.padEnd(30)}${'MB/s'.padStart(8)}   runs`,
      ...rows.map((r, i) => `${r.name.padEnd(30)}${fmt(med[i]!)}   ${r.samples.map((s) => s.toFixed(0)).join(' / ')}`),
      '',
      `${'ratio'.padEnd(44)}${'value'.padStart(7)}  goal`,
      `${'lab FtpServer / vsftpd (served to curl)'.padEnd(44)}${(med[0]! / med[1]!).toFixed(2).padStart(7)}  >= 0.90`,
      `${'FtpTransferClient / curl (from vsftpd)'.padEnd(44)}${(med[2]! / med[3]!).toFixed(2).padStart(7)}  >= 0.80`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await lab.stop().catch(() => {});
    await vs.stop();
    rmSync(labRoot, { recursive: true, force: true });
  }
}
