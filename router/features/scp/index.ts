/**
 * The router as an SCP server: `ip scp server enable`, and the scp protocol the SSH server
 * hands an exec channel to when its command is `scp -t <dest>` (a push: Netmiko's
 * `file_transfer()`, Ansible's `net_put`, `scp -O img r1:bootflash:img`) or `scp -f <src>`
 * (a pull). IOS_REFERENCE §4.3.
 *
 * Wire protocol (rcp/scp "-t"/"-f"), every control message a line, every step acknowledged
 * by one byte: 0 = OK, 1 = error + message line (the peer goes on), 2 = fatal.
 *   push: server 0 · client `C0644 <size> <name>` · server 0 · <size> bytes · client 0 · server 0
 *   pull: client 0 · server `C0644 <size> <name>` · client 0 · <size> bytes · server 0 · client 0
 *
 * Access (real IOS rules): the server must be enabled, and the login user must have
 * privilege 15 (`username admin privilege 15 ...`; in a topology `users: [{ name, password,
 * privilege: 15 }]`). IOS takes that level from AAA exec authorization; the lab takes the
 * user's configured level, which is what `aaa authorization exec default local` yields.
 */
import type { Duplex } from 'node:stream';
import type { Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import type { FileSystems, FsLocation } from '../../storage/FileSystems.ts';
import type { FlashWriter } from '../../storage/FlashFileSystem.ts';
import { StorageError } from '../../storage/types.ts';
import { ConfigOrder } from '../configOrder.ts';

export interface ScpState {
  serverEnabled: boolean;
}

/** Feature state lives in RAM: cleared at reload, set again by the startup-config. */
export const scpState = (r: Pick<ScpRouter, 'featureState'>): ScpState => r.featureState<ScpState>('scp', () => ({ serverEnabled: false }));

/** What the SCP server needs of a router (Router provides it). */
export interface ScpRouter {
  readonly state: string;
  readonly fs: Pick<FileSystems, 'parse'>;
  readonly system: { readonly users: ReadonlyMap<string, { readonly privilege: number }> };
  featureState<T>(feature: string, init: () => T): T;
}

/** An SSH exec channel (ssh2's ServerChannel, or a plain Duplex in tests). */
export type ScpChannel = Duplex & { exit(status: number): void };

/** IOS grants SCP to privilege 15 only. */
export const SCP_PRIVILEGE = 15;

/** Control lines are short; a peer sending megabytes without a newline is not speaking scp. */
const MAX_LINE = 4096;
/** Stop reading from the client while this much is waiting for flash (backpressure). */
const HIGH_WATER = 1024 * 1024;

export const scpFeature: Feature<Router> = {
  name: 'scp',
  commands: [
    {
      mode: 'config',
      syntax: 'ip scp server enable',
      help: { ip: 'Global IP configuration subcommands', scp: 'Scp commands', server: 'Configure SCP server', enable: 'Enable SCP server' },
      run(ctx) {
        scpState(ctx.router).serverEnabled = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip scp server enable',
      run(ctx) {
        scpState(ctx.router).serverEnabled = false;
      },
    },
  ],
  runningConfig(r) {
    return scpState(r).serverEnabled ? [{ order: ConfigOrder.scp, lines: ['ip scp server enable', '!'] }] : [];
  },
};

// ------------------------------------------------------------------ command line

interface ScpCommand {
  mode: 'sink' | 'source';
  preserveTimes: boolean;
  recursive: boolean;
  paths: string[];
}

/** Splits a remote command as a POSIX shell would (scp clients quote names with '...'). */
export function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += end < 0 ? line.slice(i + 1) : line.slice(i + 1, end);
      i = end < 0 ? line.length : end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) i++;
        cur += line[i];
      }
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** `scp [-p] [-r] [-d] [-v] [-q] -t|-f [--] <path>...`; undefined when it is not that. */
export function parseScpCommand(command: string): ScpCommand | undefined {
  const words = splitShellWords(command.trim());
  if (words.shift() !== 'scp') return undefined;
  let mode: ScpCommand['mode'] | undefined;
  let preserveTimes = false;
  let recursive = false;
  while (words.length && words[0]!.startsWith('-')) {
    const flag = words.shift()!;
    if (flag === '--') break;
    for (const f of flag.slice(1)) {
      if (f === 't') mode = 'sink';
      else if (f === 'f') mode = 'source';
      else if (f === 'p') preserveTimes = true;
      else if (f === 'r') recursive = true;
      else if (!'dvqE'.includes(f)) return undefined; // d/v/q/E change nothing here
    }
  }
  if (!mode || words.length === 0 || (mode === 'sink' && words.length !== 1)) return undefined;
  return { mode, preserveTimes, recursive, paths: words };
}

// ------------------------------------------------------------------ channel I/O

class ChannelClosed extends Error {}

/** Reads lines and byte counts from the channel, pausing it while flash catches up. */
class ChannelIO {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake?: () => void;

  constructor(private readonly ch: ScpChannel) {
    ch.on('data', (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d, 'binary') : d;
      if (b.length === 0) return;
      this.chunks.push(b);
      this.buffered += b.length;
      if (this.buffered > HIGH_WATER) ch.pause();
      this.notify();
    });
    const eof = () => {
      this.ended = true;
      this.notify();
    };
    ch.on('end', eof);
    ch.on('close', eof);
    ch.on('error', eof);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits for input; false at end of input. */
  private async fill(): Promise<boolean> {
    while (this.buffered === 0) {
      if (this.ended) return false;
      await new Promise<void>((r) => (this.wake = r));
    }
    return true;
  }

  private consume(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (n >= first.length) {
      out = this.chunks.shift()!;
    } else {
      out = first.subarray(0, n);
      this.chunks[0] = first.subarray(n);
    }
    this.buffered -= out.length;
    if (this.buffered <= HIGH_WATER / 2 && !this.ended && this.ch.isPaused()) this.ch.resume();
    return out;
  }

  /** One byte, or undefined at end of input. */
  async byte(): Promise<number | undefined> {
    if (!(await this.fill())) return undefined;
    return this.consume(1)[0];
  }

  /** A line without its newline; undefined at end of input before any byte. */
  async line(): Promise<string | undefined> {
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      if (!(await this.fill())) {
        if (size === 0) return undefined;
        throw new ChannelClosed();
      }
      const first = this.chunks[0]!;
      const nl = first.indexOf(0x0a);
      const piece = this.consume(nl < 0 ? first.length : nl + 1);
      parts.push(piece);
      size += piece.length;
      if (nl >= 0) return Buffer.concat(parts).subarray(0, size - 1).toString('utf8');
      if (size > MAX_LINE) throw new ChannelClosed();
    }
  }

  /** Exactly `n` bytes, handed out as they arrive; throws ChannelClosed when input ends early. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw new ChannelClosed();
      const piece = this.consume(Math.min(left, this.chunks[0]!.length));
      left -= piece.length;
      yield piece;
    }
  }

  /** The peer's answer to a step: ok, or its error text (undefined at end of input). */
  async ack(): Promise<{ ok: true } | { ok: false; fatal: boolean; message: string } | undefined> {
    const b = await this.byte();
    if (b === undefined) return undefined;
    if (b === 0) return { ok: true };
    // 1 and 2 carry a message line; anything else is a confused peer: treat it as fatal.
    const message = b === 1 || b === 2 ? ((await this.line().catch(() => '')) ?? '') : '';
    return { ok: false, fatal: b !== 1, message };
  }

  /** Writes and waits while the channel's window is full; false once the channel is gone. */
  async send(data: Buffer | string): Promise<boolean> {
    if (this.ended || this.ch.destroyed || !this.ch.writable) return false;
    if (this.ch.write(data)) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.ch.removeListener('drain', onDrain);
        this.ch.removeListener('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.ch.once('drain', onDrain);
      this.ch.once('close', onClose);
    });
  }

  ok(): Promise<boolean> {
    return this.send(Buffer.from([0]));
  }

  /** An scp error message: the peer reports it and goes on (or gives up, for a push). */
  error(message: string): Promise<boolean> {
    return this.send(`\x01scp: ${message}\n`);
  }

  finish(status: number): void {
    try {
      if (!this.ch.destroyed) {
        this.ch.exit(status);
        this.ch.end();
      }
    } catch {
      // the client went first
    }
  }
}

// ------------------------------------------------------------------ the server

/** `bootflash:/dir/file`, as IOS names files in messages. */
const urlOf = (loc: FsLocation): string => `${loc.fs.prefix}/${loc.path}`;

const reasonOf = (e: unknown): string => (e instanceof StorageError ? e.reason : 'I/O error');

/**
 * Runs one scp exec request on `channel` and closes it with scp's exit status (0 = every
 * file moved). Never throws: a failing transfer is an scp error line and status 1.
 */
export async function scpExec(router: ScpRouter, command: string, channel: ScpChannel, privilege: number): Promise<void> {
  channel.on('error', () => {});
  const io = new ChannelIO(channel);
  let status = 1;
  try {
    const cmd = parseScpCommand(command);
    if (router.state !== 'running' || !scpState(router).serverEnabled || privilege < SCP_PRIVILEGE) {
      // Real IOS just drops the channel here (the client prints "lost connection"); the lab
      // sends scp's own refusal first, so whoever reads the client log knows why. Same text
      // for both causes: IOS does not tell a caller which check failed.
      await io.error('Permission denied');
    } else if (!cmd) {
      await io.error(`unsupported command: ${command.trim().slice(0, 200)}`);
    } else if (cmd.recursive) {
      await io.error('recursive copy is not supported');
    } else if (cmd.mode === 'sink') {
      status = await sink(router, cmd.paths[0]!, io);
    } else {
      status = await source(router, cmd, io);
    }
  } catch {
    // A broken channel or a bug must not take the SSH server down; the client sees status 1.
    status = 1;
  }
  io.finish(status);
}

/** `scp -t <dest>`: receive files into `dest` (a file, or a device/directory to put them in). */
async function sink(router: ScpRouter, dest: string, io: ChannelIO): Promise<number> {
  let loc: FsLocation;
  try {
    loc = router.fs.parse(dest);
  } catch (e) {
    await io.error(`${dest}: ${reasonOf(e)}`);
    return 1;
  }
  // `bootflash:`, `bootflash:/`, `flash:dir/` or an existing directory take the sender's name.
  const intoDir = loc.path === '' || /[:/]$/.test(dest) || loc.fs.stat(loc.path)?.isDir === true;
  if (!(await io.ok())) return 1;

  let errors = 0;
  for (;;) {
    const line = await io.line();
    if (line === undefined) return errors ? 1 : 0; // the client is done
    const kind = line[0];
    if (kind === 'T' || kind === 'E') {
      // -p times: flash keeps the router's clock (IOS ignores them too); E closes a D we refuse.
      if (!(await io.ok())) return 1;
      continue;
    }
    if (kind === '\x01' || kind === '\x02') {
      // The client could not read one of its files; it goes on with the next (or quits).
      errors++;
      if (kind === '\x02') return 1;
      continue;
    }
    if (kind === 'D') {
      await io.error(`${dest}: recursive copy is not supported`);
      return 1;
    }
    const m = /^C([0-7]{3,4}) (\d+) (.+)$/.exec(line);
    if (!m || m[3]!.includes('/') || m[3] === '.' || m[3] === '..') {
      await io.error('protocol error: unexpected control line');
      return 1;
    }
    const size = Number(m[2]);
    const target: FsLocation = intoDir ? { fs: loc.fs, path: [loc.path, m[3]!].filter(Boolean).join('/') } : loc;

    let writer: FlashWriter;
    try {
      // Reserves the whole size now: a file that cannot fit is refused before any data moves.
      writer = target.fs.createWriter(target.path, size);
    } catch (e) {
      await io.error(`${urlOf(target)}: ${reasonOf(e)}`);
      return 1;
    }
    // Whatever breaks midway, the writer is aborted: no half file, reservation returned.
    const ok = await receive(router, io, writer, size).catch(() => 'gone' as const);
    if (ok !== true) {
      await writer.abort();
      if (ok === 'gone') return 1;
      await io.error(`${urlOf(target)}: ${ok}`);
      return 1;
    }
    // Committed before the last OK: clients close the channel as soon as they read it.
    try {
      await writer.commit();
    } catch (e) {
      await io.error(`${urlOf(target)}: ${reasonOf(e)}`);
      return 1;
    }
    if (!(await io.ok())) return 1;
  }
}

/**
 * One file's data and the client's status byte after it. True when all is well; 'gone' when
 * the channel ended midway (or the router went down); else the reason to report.
 */
async function receive(router: ScpRouter, io: ChannelIO, writer: FlashWriter, size: number): Promise<true | 'gone' | string> {
  if (!(await io.ok())) return 'gone';
  let failure: string | undefined;
  try {
    for await (const chunk of io.take(size)) {
      if (router.state !== 'running') return 'gone'; // a reload cuts the transfer like a pulled cable
      // After a write error the rest is still read, so the client stays in step for the error line.
      if (failure === undefined) await writer.write(chunk).catch((e: unknown) => (failure = reasonOf(e)));
    }
  } catch (e) {
    if (e instanceof ChannelClosed) return 'gone';
    throw e;
  }
  const status = await io.ack();
  if (!status) return 'gone';
  if (!status.ok) return status.message || 'transfer aborted by client';
  return failure ?? true;
}

/** `scp -f <src>...`: send files, each only after the client said it is ready. */
async function source(router: ScpRouter, cmd: ScpCommand, io: ChannelIO): Promise<number> {
  // The client speaks first: one 0 to say it is listening.
  const ready = await io.ack();
  if (!ready?.ok) return 1;
  let errors = 0;
  for (const src of cmd.paths) {
    let loc: FsLocation;
    try {
      loc = router.fs.parse(src);
    } catch (e) {
      errors++;
      if (!(await io.error(`${src}: ${reasonOf(e)}`))) return 1;
      continue;
    }
    const entry = loc.path === '' ? undefined : loc.fs.stat(loc.path);
    if (!entry || entry.isDir) {
      errors++;
      if (!(await io.error(`${urlOf(loc)}: ${entry?.isDir ? 'not a regular file' : 'No such file or directory'}`))) return 1;
      continue;
    }
    if (cmd.preserveTimes) {
      const t = Math.floor(entry.mtime.getTime() / 1000);
      if (!(await io.send(`T${t} 0 ${t} 0\n`))) return 1;
      const a = await io.ack();
      if (!a?.ok) return 1;
    }
    if (!(await io.send(`C0644 ${entry.size} ${entry.name}\n`))) return 1;
    const a = await io.ack();
    if (!a) return 1;
    if (!a.ok) {
      // The client cannot take this one (its disk, its permissions): next file, or stop.
      errors++;
      if (a.fatal) return 1;
      continue;
    }
    let sent = 0;
    try {
      for await (const chunk of loc.fs.openRead(loc.path)) {
        if (router.state !== 'running') return 1;
        if (!(await io.send(chunk as Buffer))) return 1;
        sent += (chunk as Buffer).length;
      }
    } catch {
      // The blob went missing under us: the byte count is now wrong, so the stream is lost.
      return 1;
    }
    if (sent !== entry.size) return 1;
    if (!(await io.ok())) return 1;
    const done = await io.ack();
    if (!done) return 1;
    if (!done.ok) {
      errors++;
      if (done.fatal) return 1;
    }
  }
  return errors ? 1 : 0;
}
