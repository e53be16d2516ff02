/**
 * FTP throughput, side by side in one run (the machines are noisy: compare ratios, not runs):
 *   lab FtpServer -> curl      vs  vsftpd -> curl
 *   FtpTransferClient <- vsftpd vs curl <- vsftpd
 * Loopback only, bounded: one file (64 MiB, FLASHLAB_BENCH_MB overrides), 3 runs each, median.
 *
 *   npx tsx -e "import('./test/bench/ftp.bench.ts').then(m=>m.run())"
 *
 * Also exports the vsftpd/curl helpers the interop tests share.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';

/** Path of a binary, or an error naming the Debian package that brings it (CI installs it). */
export function requireBinary(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new Error(`${name} not found: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`);
}

export const randomLoopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A TCP port free on `address` right now (bound, then released). */
export async function freePort(address: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, address, resolve);
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A command that failed; `exitCode` as the process returned it (null if killed). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs a command (no shell, asynchronously) and returns stdout; rejects with a CommandError. */
export function runCommand(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new CommandError(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`, code));
    });
  });
}

async function waitListening(address: string, port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vsftpd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`vsftpd did not listen on ${address}:${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Vsftpd {
  address: string;
  port: number;
  /** Anonymous root: files go here (anonymous logins, any password). */
  root: string;
  stop(): Promise<void>;
}

/**
 * Debian's vsftpd as a child process on a loopback high port: anonymous only (local logins
 * need PAM and a real user, which a test run as root cannot offer without touching the
 * system), uploads allowed, passive range on the same address, foreground, no sandbox.
 */
export async function startVsftpd(opts: { address?: string; write?: boolean } = {}): Promise<Vsftpd> {
  const bin = requireBinary('vsftpd', 'vsftpd');
  const address = opts.address ?? randomLoopback();
  const base = mkdtempSync(path.join(tmpdir(), 'flashlab-vsftpd-'));
  const root = path.join(base, 'root');
  const empty = path.join(base, 'empty');
  mkdirSync(root, { mode: 0o755 });
  mkdirSync(empty, { mode: 0o755 });
  const port = await freePort(address);
  const pasv = randomInt(20000, 60000);
  const write = opts.write ?? true;
  const conf = path.join(base, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      `listen_address=${address}`,
      `listen_port=${port}`,
      'background=NO',
      // The seccomp sandbox and privilege separation need a system set up for them.
      'seccomp_sandbox=NO',
      'run_as_launching_user=YES',
      `secure_chroot_dir=${empty}`,
      'anonymous_enable=YES',
      'no_anon_password=NO',
      `anon_root=${root}`,
      'local_enable=NO',
      `write_enable=${write ? 'YES' : 'NO'}`,
      `anon_upload_enable=${write ? 'YES' : 'NO'}`,
      'anon_umask=022',
      'pasv_enable=YES',
      `pasv_address=${address}`,
      `pasv_min_port=${pasv}`,
      `pasv_max_port=${pasv + 20}`,
      'connect_from_port_20=NO',
      'xferlog_enable=NO',
      'dirmessage_enable=NO',
      'use_localtime=NO',
      '',
    ].join('\n'),
  );
  const child = spawn(bin, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await waitListening(address, port, child, () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  return { address, port, root, stop };
}

/** curl download to /dev/null; returns curl's own byte count and total time. */
export async function curlGet(url: string): Promise<{ bytes: number; seconds: number }> {
  const curl = requireBinary('curl', 'curl');
  const out = await runCommand(curl, ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
  const [bytes, seconds] = out.trim().split(/\s+/).map(Number);
  return { bytes: bytes!, seconds: seconds! };
}

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
