/**
 * TFTP throughput, side by side in one run (the machines are noisy: compare ratios).
 * Peers: tftpd-hpa (Debian), the npm `tftp` package's server (0.1.2, what flashlab used to
 * ship) and curl as the client:
 *  - server -> curl at blksize 512, 1468, 8192: lab TftpServer vs tftp package vs tftpd-hpa.
 *    The package is run as documented (`createServer({ host, port, root, denyPUT })`), which
 *    caps blksize at its default 1468, and once more with `blockSize: 65464` so it may grant
 *    what curl asks; the blksize each server really granted curl is read from curl's log.
 *  - TftpTransferClient <- tftpd-hpa vs curl <- tftpd-hpa      (client quality)
 *  - TftpServer -> TftpTransferClient at windowsize 1, 8, 16   (RFC 7440 gain)
 * Loopback only. 32 MiB by default (FLASHLAB_BENCH_MB), median of 3 (FLASHLAB_BENCH_RUNS)
 * after one untimed warm-up run per case, contenders interleaved; MB = 10^6 bytes. Client and
 * server share one CPU when taskset is there (see PIN and common.ts).
 *
 *   npm run bench -- tftp
 */
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import { freeUdpPort } from '../helpers/net.ts';
import { CommandError, requireBinary, runCommand, startTftpdHpa } from '../helpers/peers.ts';
import { benchMiB, median, pinning, ratio, table } from './common.ts';

const HOST = '127.0.0.1';
const RUNS = Math.max(1, Math.min(25, Number(process.env.FLASHLAB_BENCH_RUNS ?? 3) || 3));
const BLKSIZES = [512, 1468, 8192];
const WINDOWS = [1, 8, 16];
/**
 * TFTP is lock-step (one side runs at a time): on one CPU a transfer runs ~3x faster here than
 * across two, and steadily; unpinned it flipped between the two from run to run.
 */
const PIN = pinning('same');

// ---- the npm tftp package (CommonJS, no types) -----------------------------------------------

interface PackageServer {
  on(event: 'listening' | 'close', fn: () => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  listen(): void;
  close(): void;
}
const tftpPackage = createRequire(import.meta.url)('tftp') as {
  createServer(opts: { host: string; port: number; root: string; denyPUT?: boolean; blockSize?: number }): PackageServer;
};

async function startPackageServer(root: string, blockSize?: number): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freeUdpPort(HOST);
  const server = tftpPackage.createServer({ host: HOST, port, root, denyPUT: true, ...(blockSize ? { blockSize } : {}) });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('tftp package server did not listen')), 5000);
    server.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    server.on('listening', () => {
      clearTimeout(t);
      resolve();
    });
    server.listen();
  });
  let closed = false;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        const t = setTimeout(resolve, 2000); // a transfer still running keeps no one waiting
        server.on('close', () => {
          clearTimeout(t);
          resolve();
        });
        server.close();
      }),
  };
}

// ---- clients ---------------------------------------------------------------------------------

/**
 * curl on the client CPU; checks the byte count. With `log`, returns the blksize the server
 * granted (from curl's verbose log; no "blksize parsed from OACK" line means plain 512).
 */
async function runCurl(curl: string, port: number, file: string, blksize: number, size: number, log = false): Promise<number> {
  const args = ['-sS', '--max-time', '120', '-o', '/dev/null', '-w', '\n%{size_download}\n', `tftp://${HOST}:${port}/${file}`];
  if (blksize !== 512) args.unshift('--tftp-blksize', String(blksize));
  if (log) args.unshift('-v', '--stderr', '-');
  const [cmd, argv] = PIN.wrap(PIN.clientCpu, curl, args);
  const out = await runCommand(cmd, argv, { timeoutMs: 125_000 }); // curl's own --max-time reports first
  const got = Number(out.trim().split('\n').at(-1));
  if (got !== size) throw new Error(`curl got ${got} of ${size} bytes`);
  const granted = /blksize parsed from OACK \((\d+)\)/.exec(out)?.[1];
  return granted ? Number(granted) : 512;
}

async function runClient(port: number, file: string, blksize: number, windowsize: number, size: number): Promise<void> {
  const c = new TftpTransferClient({ windowsize, timeoutSec: 5 });
  const d = await c.download({ host: HOST, port, path: file, blksize });
  let n = 0;
  for await (const b of d.body) n += b.length;
  if (n !== size) throw new Error(`client got ${n} of ${size} bytes`);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// ---- the run ---------------------------------------------------------------------------------

/** One contender of a comparison: where this process sits while it runs, and the transfer. */
interface Contender {
  name: string;
  /** This process's CPU during the case: the server's when it serves, the client's when it fetches. */
  self: number;
  /** Untimed warm-up; may report the blksize granted. */
  warm: () => Promise<number | void>;
  go: () => Promise<unknown>;
}

interface Cell {
  mbps?: number;
  note?: string;
}

/**
 * Warm-up, then RUNS rounds through every contender, a failure ending only that contender:
 * a misbehaving peer shows in the table instead of aborting the bench.
 */
async function compare(contenders: Contender[], bytes: number): Promise<Cell[]> {
  const cells: Cell[] = contenders.map(() => ({}));
  const times: number[][] = contenders.map(() => []);
  const alive = contenders.map(() => true);
  const attempt = async (i: number, f: () => Promise<unknown>): Promise<unknown> => {
    const c = contenders[i]!;
    if (!alive[i]) return undefined;
    try {
      PIN.pin(process.pid, c.self);
      return await f();
    } catch (e) {
      alive[i] = false;
      // curl's exit code and its own words say more than the command line heading the message.
      const why = e instanceof CommandError ? `exit ${e.exitCode} ${e.stderr.trim()}` : (e as Error).message;
      cells[i]!.note = `failed: ${why.split('\n')[0]!.slice(0, 60)}`;
      return undefined;
    }
  };
  for (let i = 0; i < contenders.length; i++) {
    const granted = await attempt(i, contenders[i]!.warm);
    if (typeof granted === 'number') cells[i]!.note = `grants ${granted}`;
  }
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const t = await attempt(i, () => timed(contenders[i]!.go));
      if (typeof t === 'number') times[i]!.push(t);
    }
  }
  contenders.forEach((_, i) => {
    if (alive[i] && times[i]!.length) cells[i]!.mbps = bytes / median(times[i]!) / 1e6;
  });
  return cells;
}

export async function run(): Promise<void> {
  const mb = benchMiB(32);
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
  console.log('TFTP: flashlab TftpServer / TftpTransferClient vs peers tftpd-hpa (Debian), npm tftp 0.1.2 server, curl');
  console.log(`loopback, ${mb} MiB file, median of ${RUNS} after 1 warm-up, contenders interleaved; MB/s = 10^6 bytes/s`);
  console.log(PIN.describe);

  const lab = new TftpServer({ address: HOST, port: 0, root, maxWindowsize: 64 });
  await lab.start();
  const hpa = await startTftpdHpa(root, { address: HOST });
  // Its per-transfer children inherit the mask.
  if (hpa.proc.pid) PIN.pin(hpa.proc.pid, PIN.serverCpu);
  const pkg = await startPackageServer(root);
  const pkgBig = await startPackageServer(root, 65464);
  const S = PIN.serverCpu;
  const C = PIN.clientCpu;
  const server: Cell[][] = [];
  const client: Cell[][] = [];
  const windows: Cell[][] = [];
  try {
    for (const bs of BLKSIZES) {
      // Servers: this process sits on the server CPU for all four (it serves two of them).
      const viaCurl = (port: number) => ({ warm: () => runCurl(curl, port, file, bs, size, true), go: () => runCurl(curl, port, file, bs, size) });
      server.push(
        await compare(
          [
            { name: 'lab', self: S, ...viaCurl(lab.port) },
            { name: 'pkg', self: S, ...viaCurl(pkg.port) },
            { name: 'pkg65464', self: S, ...viaCurl(pkgBig.port) },
            { name: 'hpa', self: S, ...viaCurl(hpa.port) },
          ],
          size,
        ),
      );
    }
    for (const bs of BLKSIZES) {
      // Clients of tftpd-hpa: the fetching side on the client CPU (curl is pinned there itself).
      client.push(
        await compare(
          [
            { name: 'ours', self: C, warm: () => runClient(hpa.port, file, bs, 1, size), go: () => runClient(hpa.port, file, bs, 1, size) },
            { name: 'curl', self: S, warm: async () => void (await runCurl(curl, hpa.port, file, bs, size)), go: () => runCurl(curl, hpa.port, file, bs, size) },
          ],
          size,
        ),
      );
    }
    for (const bs of BLKSIZES) {
      // Server and client share this process, on the one CPU.
      windows.push(
        await compare(
          WINDOWS.map((ws) => ({
            name: `ws${ws}`,
            self: S,
            warm: () => runClient(lab.port, file, bs, ws, size),
            go: () => runClient(lab.port, file, bs, ws, size),
          })),
          size,
        ),
      );
    }
  } finally {
    PIN.pin(process.pid, 'all');
    await pkgBig.stop();
    await pkg.stop();
    await hpa.stop();
    await lab.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }

  const cell = (c: Cell | undefined, requested?: number): string => {
    if (!c) return 'n/a';
    const v = c.mbps === undefined ? '' : c.mbps.toFixed(1);
    // The granted blksize shows only where it differs from what curl asked for.
    const note = c.note && !(requested !== undefined && c.note === `grants ${requested}`) ? c.note : '';
    return [v, note ? `(${note})` : ''].filter(Boolean).join(' ') || 'n/a';
  };
  console.log('\nserver -> curl, MB/s (in brackets: the blksize the server granted, where not the one asked for)');
  console.log(
    table(
      ['blksize', 'lab TftpServer', 'tftp package', 'tftp package, blockSize 65464', 'tftpd-hpa'],
      BLKSIZES.map((bs, i) => [String(bs), ...server[i]!.map((c) => cell(c, bs))]),
    ),
  );
  console.log('\nclient <- tftpd-hpa, MB/s');
  console.log(table(['blksize', 'TftpTransferClient', 'curl'], BLKSIZES.map((bs, i) => [String(bs), ...client[i]!.map((c) => cell(c))])));
  console.log('\nlab TftpServer -> TftpTransferClient (one process), MB/s');
  console.log(table(['blksize', ...WINDOWS.map((w) => `windowsize ${w}`)], BLKSIZES.map((bs, i) => [String(bs), ...windows[i]!.map((c) => cell(c))])));

  console.log('\nratios (above 1.00x: flashlab faster)');
  console.log(
    table(
      ['blksize', 'lab / tftpd-hpa', 'lab / tftp package', 'lab / tftp package 65464', 'TftpTransferClient / curl', 'windowsize 8 / 1', 'windowsize 16 / 1'],
      BLKSIZES.map((bs, i) => {
        const [l, p, pb, h] = server[i]!.map((c) => c.mbps);
        const [o, c] = client[i]!.map((x) => x.mbps);
        const [w1, w8, w16] = windows[i]!.map((x) => x.mbps);
        return [String(bs), ratio(l, h), ratio(l, p), ratio(l, pb), ratio(o, c), ratio(w8, w1), ratio(w16, w1)];
      }),
    ),
  );
}
