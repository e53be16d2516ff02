/**
 * Debian programs the interop tests and benchmarks use as independent peers (vsftpd,
 * tftpd-hpa, curl, dig, python3...; CI installs them from .ci/apt-packages.txt). A missing
 * one FAILS naming its Debian package: nothing is ever skipped.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeRequest } from '../../servers/tftp/packets.ts';
import { freeTcpPort, freeUdpPort, randomLoopback } from './net.ts';

/**
 * Where dpkg puts programs. PATH is not searched: it may put another build first (a pyenv
 * python3 lacks the packaged modules), and the peer must be the Debian one.
 */
const DEBIAN_BIN_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'];

/** Path of a Debian program, or an error naming the package that brings it. */
export function requireBinary(name: string, debianPackage: string): string {
  for (const d of DEBIAN_BIN_DIRS) {
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

/** A command that failed; `exitCode` as the process returned it (null if killed or not started). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface CommandOptions {
  timeoutMs?: number;
  /** Written to the program's stdin, which is then closed (openssl s_client waits for it). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Runs a command (no shell) and returns stdout; rejects with a CommandError. Asynchronous on
 * purpose: the server under test usually answers from this same event loop.
 */
export function runCommand(cmd: string, args: string[], opts: CommandOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, env: opts.env, cwd: opts.cwd, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new CommandError(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`, code, stdout, stderr));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/**
 * Like runCommand, but an exit status is a result, not an error: `code` and stdout+stderr.
 * Still rejects when the program could not start or was killed (timeout).
 */
export async function tryCommand(cmd: string, args: string[], opts: CommandOptions = {}): Promise<{ code: number; out: string }> {
  try {
    return { code: 0, out: await runCommand(cmd, args, opts) };
  } catch (e) {
    if (e instanceof CommandError && e.exitCode !== null) return { code: e.exitCode, out: e.stdout + e.stderr };
    throw e;
  }
}

/**
 * Debian's python3 (a pyenv one lacks the packaged modules) running `args`; returns stdout.
 * A missing module listed in `modules` (module -> Debian package) fails naming its package.
 */
export async function runDebianPython(args: string[], opts: CommandOptions & { modules?: Record<string, string> } = {}): Promise<string> {
  const python = requireBinary('python3', 'python3');
  try {
    return await runCommand(python, args, opts);
  } catch (e) {
    const missing = e instanceof CommandError ? /No module named '?([\w.]+)/.exec(e.stderr)?.[1]?.split('.')[0] : undefined;
    const pkg = missing ? opts.modules?.[missing] : undefined;
    if (pkg) throw new Error(`python module ${missing} not found: install the Debian package ${pkg} (apt-get install -y ${pkg})`, { cause: e });
    throw e;
  }
}

/** Resolves once `address:port` accepts TCP; fails early if the daemon exits. */
async function waitForTcpListener(name: string, address: string, port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${address}:${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls with a request for a missing file until the TFTP daemon answers (ERROR 1): UDP has no "listening" to probe. */
async function waitForTftp(address: string, port: number, timeoutMs = 5000): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const got = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 100);
        s.once('message', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      s.send(encodeRequest('RRQ', '.flashlab-probe-missing', 'octet'), port, address);
      if (await got) return;
    }
    throw new Error(`TFTP daemon on ${address}:${port} did not answer`);
  } finally {
    s.close();
  }
}

export interface Vsftpd {
  address: string;
  port: number;
  /** Anonymous root: files go here (anonymous logins, any password). */
  root: string;
  /** The listening daemon (benchmarks pin it to a CPU; its per-session children inherit that). */
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Debian's vsftpd as a child process on a loopback high port: anonymous only (local logins
 * need PAM and a real user, which a test run as root cannot offer without touching the
 * system), uploads allowed, passive range on the same address, foreground, no sandbox.
 */
export async function startVsftpd(opts: { address?: string; write?: boolean; /** Passive ports: one per concurrent download (default 21). */ passivePorts?: number } = {}): Promise<Vsftpd> {
  const bin = requireBinary('vsftpd', 'vsftpd');
  const address = opts.address ?? randomLoopback();
  const base = mkdtempSync(path.join(tmpdir(), 'flashlab-vsftpd-'));
  const root = path.join(base, 'root');
  const empty = path.join(base, 'empty');
  mkdirSync(root, { mode: 0o755 });
  mkdirSync(empty, { mode: 0o755 });
  const port = await freeTcpPort(address);
  const pasv = randomInt(20000, 60000 - (opts.passivePorts ?? 21));
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
      `pasv_max_port=${pasv + (opts.passivePorts ?? 21) - 1}`,
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
    await waitForTcpListener('vsftpd', address, port, child, () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  return { address, port, root, proc: child, stop };
}

export interface TftpdHpa {
  address: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Debian's tftpd-hpa (in.tftpd in the foreground) serving `root`; `create` allows new files on upload. */
export async function startTftpdHpa(root: string, opts: { address?: string; create?: boolean } = {}): Promise<TftpdHpa> {
  const bin = requireBinary('in.tftpd', 'tftpd-hpa');
  const address = opts.address ?? '127.0.0.1';
  const port = await freeUdpPort(address);
  const args = ['-L', '-a', `${address}:${port}`, '-u', 'root', '-s', root];
  if (opts.create) args.splice(0, 0, '-c');
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    await waitForTftp(address, port);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`in.tftpd did not start: ${(err as Error).message} ${stderr}`);
  }
  return {
    address,
    port,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** curl download to /dev/null; returns curl's own byte count and total time. */
export async function curlGet(url: string): Promise<{ bytes: number; seconds: number }> {
  const curl = requireBinary('curl', 'curl');
  const out = await runCommand(curl, ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
  const [bytes, seconds] = out.trim().split(/\s+/).map(Number);
  return { bytes: bytes!, seconds: seconds! };
}
