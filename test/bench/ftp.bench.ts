/**
 * FTP throughput, side by side in one run (the machines are noisy: compare ratios, not runs).
 * Peers: vsftpd (Debian) as the server, curl as the client:
 *   lab FtpServer -> curl       vs  vsftpd -> curl
 *   FtpTransferClient <- vsftpd vs  curl <- vsftpd
 * Loopback only, bounded: one file (512 MiB, FLASHLAB_BENCH_MB overrides), one untimed
 * warm-up round, then 3 rounds (FLASHLAB_BENCH_RUNS), contenders interleaved, median.
 * A transfer takes ~0.2-0.5 s here: at the old 64 MiB it took 30 ms, where one scheduler
 * hiccup moved the figure tenfold. Servers run on one CPU, clients on the other (taskset):
 * unpinned, vsftpd now and then halved as it and curl landed together. Pinned, this node
 * process (all its threads) has one CPU where vsftpd, single-threaded, loses nothing: the
 * lab figures come out ~15% under unpinned ones (FLASHLAB_BENCH_PIN=0 shows those).
 *
 *   npm run bench -- ftp
 */
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { requireBinary, runCommand, startVsftpd } from '../helpers/peers.ts';
import { benchMiB, median, pinning, ratio, table } from './common.ts';

const RUNS = Math.max(1, Math.min(25, Number(process.env.FLASHLAB_BENCH_RUNS ?? 3) || 3));
/** FTP streams (both sides busy at once): each side gets a CPU of its own. */
const PIN = pinning('split');

/** Writes `bytes` of random data in 1 MiB slices (no whole-file buffer held at once). */
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

const mbps = (bytes: number, seconds: number) => bytes / 1e6 / seconds;

/** curl on the client CPU, to /dev/null; its own byte count and total time. */
async function curlGet(url: string): Promise<{ bytes: number; seconds: number }> {
  const [cmd, args] = PIN.wrap(PIN.clientCpu, requireBinary('curl', 'curl'), ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
  const out = await runCommand(cmd, args);
  const [bytes, seconds] = out.trim().split(/\s+/).map(Number);
  return { bytes: bytes!, seconds: seconds! };
}

async function clientGet(host: string, port: number, file: string): Promise<{ bytes: number; seconds: number }> {
  const t0 = performance.now();
  const dl = await new FtpTransferClient().download({ host, port, path: file, username: 'anonymous', password: 'bench@lab.test', timeoutSec: 30 });
  let bytes = 0;
  for await (const chunk of dl.body) bytes += chunk.length;
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

export async function run(): Promise<void> {
  const mb = benchMiB(512, 1024);
  const size = Math.round(mb * 1024 * 1024);
  console.log('FTP: flashlab FtpServer / FtpTransferClient vs peers vsftpd (Debian) and curl');
  console.log(`loopback, ${mb} MiB file, median of ${RUNS} after 1 warm-up round, contenders interleaved; MB/s = 10^6 bytes/s`);
  console.log(PIN.describe);
  if (PIN.on) console.log('  (this node process, every thread, moves to the CPU of the side it plays in each transfer)');

  const vs = await startVsftpd({ address: randomLoopback(), write: false });
  // Sessions are forked per login: they inherit the server CPU.
  if (vs.proc.pid) PIN.pin(vs.proc.pid, PIN.serverCpu);
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

    const check = (r: { bytes: number; seconds: number }) => {
      if (r.bytes !== size) throw new Error(`short transfer: ${r.bytes} of ${size} bytes`);
      return mbps(r.bytes, r.seconds);
    };
    // This process sits with the side it plays: the server CPU when it serves (or idles), the
    // client CPU when it fetches.
    const contenders = [
      { name: 'lab FtpServer -> curl', self: PIN.serverCpu, go: () => curlGet(`ftp://anonymous:bench@${labAddress}:${lab.port}/${file}`) },
      { name: 'vsftpd -> curl', self: PIN.serverCpu, go: () => curlGet(`ftp://anonymous:bench@${vs.address}:${vs.port}/${file}`) },
      { name: 'FtpTransferClient <- vsftpd', self: PIN.clientCpu, go: () => clientGet(vs.address, vs.port, file) },
    ];
    const samples: number[][] = contenders.map(() => []);
    for (let round = 0; round <= RUNS; round++) {
      for (const [i, c] of contenders.entries()) {
        PIN.pin(process.pid, c.self);
        const v = check(await c.go());
        if (round > 0) samples[i]!.push(v); // round 0 warms JIT, page cache and both daemons
      }
    }
    PIN.pin(process.pid, 'all');
    const med = samples.map(median);
    const [labSrv, vsCurl, ours] = med as [number, number, number];
    console.log('');
    console.log(
      table(
        ['transfer', 'MB/s', 'runs'],
        // curl <- vsftpd is the vsftpd -> curl measurement, read from the client side.
        [...contenders.map((c, i) => [c.name, med[i]!.toFixed(1), samples[i]!.map((x) => x.toFixed(0)).join(' / ')]), ['curl <- vsftpd', vsCurl.toFixed(1), 'as vsftpd -> curl']],
      ),
    );
    console.log('\nratios (above 1.00x: flashlab faster)');
    console.log(
      table(
        ['ratio', 'value', 'goal'],
        [
          ['lab FtpServer / vsftpd (served to curl)', ratio(labSrv, vsCurl), '>= 0.90x'],
          ['FtpTransferClient / curl (from vsftpd)', ratio(ours, vsCurl), '>= 0.80x'],
        ],
      ),
    );
  } finally {
    PIN.pin(process.pid, 'all');
    await lab.stop().catch(() => {});
    await vs.stop();
    rmSync(labRoot, { recursive: true, force: true });
  }
}
