/**
 * The lab FTP server: ftp-srv behind a file system of our own.
 *
 * ftp-srv alone follows symlinks, echoes server paths in its error replies and writes uploads
 * in place; LabFileSystem confines every path to the account's home, refuses symlinks, maps
 * every failure to generic text, writes uploads to a temp file renamed on success, and carries
 * the fault knobs the scenarios turn (wrong password, read-only, quota, dropped or slow links).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { isIPv4, isIPv6, type Socket } from 'node:net';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import { LoginGuard, type LoginGuardOptions } from '../guard/LoginGuard.ts';

export interface FtpFaults {
  /** Every login fails with 530. */
  wrongPassword?: boolean;
  /** Every account behaves as read-only (550 on STOR, DELE, MKD, RNFR...). */
  readOnly?: boolean;
  /** STOR is refused with 552 before any data. */
  quotaFull?: boolean;
  /** Drop the data and control connections once this many bytes of a transfer have moved. */
  disconnectAfterBytes?: number;
  /** Throttle each transfer to this many bytes per second. */
  rateLimitBytesPerSec?: number;
}

export interface FtpAccount {
  user: string;
  password: string;
  /** Home directory, relative to the server root. */
  home: string;
  write: boolean;
  /** Total bytes the home may hold (checked on upload). */
  quotaBytes?: number;
}

export interface FtpServerOptions {
  address?: string;
  port: number;
  /** Absolute directory holding every home. */
  root: string;
  /** Fixed passive port range, on the node's own address. */
  pasvRange: [number, number];
  accounts: FtpAccount[];
  /** `anonymous` / `ftp` with any password (logged as sent). */
  anonymous?: { home: string; write?: boolean } | false;
  faults?: FtpFaults;
  /** Log entries kept, oldest dropped first (default 10000). */
  logLimit?: number;
  /** Password guessing: per-address slow-down and block (see LoginGuard). */
  loginGuard?: Omit<LoginGuardOptions, 'owner' | 'log'>;
  /** Failed logins one control connection may make before it is closed (default 3, as vsftpd). */
  maxLoginFailuresPerConnection?: number;
  /** Lab log (refused logins). */
  labLog?: (line: string) => void;
}

/** Login entries that keep the password as sent; older ones lose it. */
const FAILED_PASSWORDS_KEPT = 100;

export type FtpLogKind = 'login' | 'login-failed' | 'download' | 'upload' | 'error';
export type FtpOutcome = 'ok' | 'refused' | 'failed' | 'dropped';

export interface FtpLogEntry {
  time: Date;
  kind: FtpLogKind;
  user?: string;
  /** As the client sent it: scenarios check IOS's `user@host.domain` anonymous password. */
  password?: string;
  /** Client path (never a server path). */
  file?: string;
  bytes?: number;
  outcome: FtpOutcome;
  detail?: string;
}

// Reply texts: the only failure texts a client ever sees, each with the code it stands for.
const MSG = {
  notFound: 'No such file or directory',
  denied: 'Permission denied',
  notFile: 'Not a plain file',
  exists: 'File exists',
  notEmpty: 'Directory not empty',
  quota: 'Exceeded storage allocation',
  unsupported: 'Command not implemented for that parameter',
  generic: 'Requested action not taken',
} as const;
const MSG_CODE = new Map<string, number>([
  [MSG.notFound, 550],
  [MSG.denied, 550],
  [MSG.notFile, 550],
  [MSG.exists, 550],
  [MSG.notEmpty, 550],
  [MSG.quota, 552],
  [MSG.unsupported, 504],
  [MSG.generic, 550],
]);

/** Failure carrying only reply-safe text. */
class LabFsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabFsError';
  }
}

/** Any error -> a LabFsError whose text names no server path. */
function toLabError(err: unknown): LabFsError {
  if (err instanceof LabFsError) return err;
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new LabFsError(MSG.notFound);
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
    case 'EROFS':
      return new LabFsError(MSG.denied);
    case 'EISDIR':
      return new LabFsError(MSG.notFile);
    case 'EEXIST':
      return new LabFsError(MSG.exists);
    case 'ENOTEMPTY':
      return new LabFsError(MSG.notEmpty);
    case 'ENOSPC':
    case 'EDQUOT':
      return new LabFsError(MSG.quota);
    default:
      return new LabFsError(MSG.generic);
  }
}

// Uploads in flight live under this prefix in the target's directory; listings hide them.
const TEMP_PREFIX = '.~ftp-upload.';
// File read size on RETR. ftp-srv writes one chunk and waits for it before asking for the
// next: at 64 KiB that loop held loopback near 500 MB/s, at 1 MiB it runs 2-3x faster.
const READ_CHUNK = 1024 * 1024;
// How long a quota-refused upload holds the data connection after the 552 reply, so the client
// reads the reply before it sees its data connection shut.
const QUOTA_REPLY_GRACE_MS = 150;

const WRITE_COMMANDS = new Set(['STOR', 'APPE', 'STOU', 'DELE', 'RMD', 'XRMD', 'MKD', 'XMKD', 'RNFR', 'RNTO', 'SITE']);
const UPLOAD_COMMANDS = new Set(['STOR', 'APPE', 'STOU']);

/** ftp-srv wants a bunyan logger: this one says nothing. */
const quietLog = {
  child: () => quietLog,
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
};

/** ftp-srv's data connector (passive or active), as far as the lab touches it. */
interface DataConnector {
  type?: string | false;
  socket?: Socket | null;
  dataSocket?: Socket | null;
  dataServer?: { close(): void } | null;
  end(): void;
}

/**
 * Closes a connector's listener and data socket without `end()`: ftp-srv's `end()` swaps
 * the connection's current connector, which must stay whatever the client set up last.
 */
function closeConnector(c: DataConnector): void {
  c.dataSocket?.destroy();
  c.dataSocket = null;
  c.dataServer?.close();
  c.dataServer = null;
}

/** The parts of ftp-srv's connection that it does not declare in its types. */
type Conn = FtpConnection & {
  commandSocket: Socket;
  connector: DataConnector;
  commands: { handle(cmd: unknown): unknown; parse(msg: string): ParsedCommand };
  username?: string;
};
interface ParsedCommand {
  directive: string;
  arg: string | null;
  flags: string[];
  raw: string;
}

/** Per-connection state kept beside ftp-srv's own. */
interface ConnState {
  conn: Conn;
  user?: string;
  fs?: LabFileSystem;
  /** Failed logins on this control connection. */
  loginFailures: number;
  /** Open transfer streams, destroyed if the control connection goes away. */
  transfers: Set<Readable | Writable>;
  /** A failure reply was already sent for the current transfer: drop ftp-srv's own. */
  errorReplied: boolean;
  /**
   * Passive connectors this session opened. ftp-srv replaces a connection's connector
   * without closing the old one (PASV twice, or a failed LIST ending the connector after a
   * new PASV): any but the current one is closed after each command, all at the end.
   */
  passives: Set<DataConnector>;
  /** The session's commands, run in order. */
  chain: Promise<unknown>;
}

interface Principal {
  user: string;
  home: string; // real absolute path
  write: boolean;
  quotaBytes?: number;
}

/** What LabFileSystem needs from the server. */
interface FsHost {
  faults(): FtpFaults;
  record(e: Omit<FtpLogEntry, 'time'>): void;
}

function resetSocket(s: Socket | null | undefined): void {
  if (!s || s.destroyed) return;
  // A reset (not a FIN) is what a dropped link looks like to the peer.
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

/** Bytes held under a directory (files only), for quotas. */
async function usage(dir: string): Promise<number> {
  let total = 0;
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await usage(p);
    else if (e.isFile()) total += (await fsp.lstat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

// Unref'd: a throttled transfer's own sockets keep the process alive, its timers need not.
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

interface TransferHooks {
  faults: FtpFaults;
  /** Drop the data and control connections (fault). */
  drop(): void;
  done(outcome: FtpOutcome, bytes: number, detail?: string): void;
}

/** RETR source: reads the open file in big chunks, applying the rate and disconnect faults. */
class DownloadStream extends Readable {
  private pos: number;
  private sent = 0;
  private readonly t0 = Date.now();
  private finished = false;

  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly hooks: TransferHooks,
  ) {
    super({ highWaterMark: 2 * READ_CHUNK });
    this.pos = start;
  }

  override _read(): void {
    void this.readMore().catch((err) => this.destroy(err as Error));
  }

  private async readMore(): Promise<void> {
    const { rateLimitBytesPerSec: rate, disconnectAfterBytes: cut } = this.hooks.faults;
    if (cut !== undefined && this.sent >= cut) {
      this.hooks.drop();
      this.destroy(new LabFsError('dropped'));
      return;
    }
    let want = READ_CHUNK;
    if (rate && rate > 0) {
      // Small slices keep a throttled transfer smooth instead of bursty.
      want = Math.max(1024, Math.min(want, Math.floor(rate / 10)));
      const due = this.t0 + (this.sent / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (this.destroyed) return;
    }
    if (cut !== undefined) want = Math.min(want, cut - this.sent);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await this.handle.read(buf, 0, want, this.pos);
    if (this.destroyed) return;
    if (bytesRead === 0) {
      this.push(null);
      return;
    }
    this.pos += bytesRead;
    this.sent += bytesRead;
    this.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
  }

  /** ftp-srv finished the RETR: the outcome it saw decides the log entry. */
  settle(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.hooks.done(err ? 'failed' : 'ok', this.sent, err ? toLabError(err).message : undefined);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.finished && err) {
      this.finished = true;
      this.hooks.done(err.message === 'dropped' ? 'dropped' : 'failed', this.sent, err.message);
    }
    this.handle.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
}

/**
 * STOR sink: writes a temp file and renames it over the target once the client closed the
 * data connection cleanly; any failure removes the temp file.
 */
class UploadStream extends Writable {
  private written = 0;
  private readonly t0 = Date.now();
  private committed = false;
  private aborted = false;
  private logged = false;
  private closing?: Promise<void>;

  constructor(
    private readonly handle: FileHandle,
    private readonly tmpPath: string,
    private readonly finalPath: string,
    /** Bytes this upload may still write (quota), Infinity when unlimited. */
    private readonly room: number,
    private readonly hooks: TransferHooks & { quotaExceeded(): Promise<void> },
  ) {
    super({ highWaterMark: 1024 * 1024 });
    // ftp-srv ends an upload by emitting 'close' on the sink (its own file system ends the
    // stream from a 'close' listener): do the same.
    this.once('close', () => this.end());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.writeChunk(chunk).then(
      () => cb(),
      (e: Error) => cb(e),
    );
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    const { rateLimitBytesPerSec: rate, disconnectAfterBytes: cut } = this.hooks.faults;
    if (this.written + chunk.length > this.room) {
      await this.hooks.quotaExceeded();
      throw new LabFsError(MSG.quota);
    }
    let data = chunk;
    let dropAfter = false;
    if (cut !== undefined && this.written + chunk.length >= cut) {
      data = chunk.subarray(0, Math.max(0, cut - this.written));
      dropAfter = true;
    }
    if (data.length) await this.handle.write(data, 0, data.length);
    this.written += data.length;
    if (dropAfter) {
      this.hooks.drop();
      throw new LabFsError('dropped');
    }
    if (rate && rate > 0) {
      // Holding the callback back makes the socket stop reading: TCP slows the client down.
      const wait = this.t0 + (this.written / rate) * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.closing = this.handle.close();
    this.closing
      .then(async () => {
        // Checked after the close: ftp-srv ends, then destroys, the sink of a failed upload.
        if (this.aborted) throw new LabFsError('aborted');
        await fsp.rename(this.tmpPath, this.finalPath);
        this.committed = true;
        this.log('ok');
        cb();
      })
      .catch(async (e: unknown) => {
        await fsp.rm(this.tmpPath, { force: true }).catch(() => {});
        cb(toLabError(e));
      });
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.committed) {
      this.aborted = true;
      const reason = err?.message ?? 'incomplete';
      this.log(reason === 'dropped' ? 'dropped' : reason === MSG.quota ? 'refused' : 'failed', reason);
    }
    const closed = this.closing ?? this.handle.close();
    closed
      .catch(() => {})
      .then(() => (this.committed ? undefined : fsp.rm(this.tmpPath, { force: true })))
      .catch(() => {})
      .then(() => cb(err));
  }

  private log(outcome: FtpOutcome, detail?: string): void {
    if (this.logged) return;
    this.logged = true;
    this.hooks.done(outcome, this.written, detail);
  }
}

/**
 * ftp-srv file system confined to one home. Every method resolves the client path itself
 * (never ftp-srv's resolver), walks each component with lstat, and fails with LabFsError only.
 */
export class LabFileSystem extends FileSystem {
  private dir: string[] = [];

  constructor(
    connection: FtpConnection,
    private readonly who: Principal,
    private readonly state: ConnState,
    private readonly host: FsHost,
  ) {
    super(connection, { root: who.home, cwd: '/' });
  }

  canWrite(): boolean {
    return this.who.write && !this.host.faults().readOnly;
  }

  /** Client path -> segments below home; refuses climbing above it. */
  private segments(p: string | undefined): string[] {
    const input = p ?? '.';
    if (input.includes('\0')) throw new LabFsError(MSG.notFound);
    const stack = input.startsWith('/') ? [] : [...this.dir];
    for (const seg of input.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (stack.length === 0) throw new LabFsError(MSG.denied);
        stack.pop();
      } else stack.push(seg);
    }
    return stack;
  }

  /**
   * Resolves and checks a client path: inside home, no symlink anywhere, every parent a
   * directory. `missingOk` lets the last component not exist (upload, mkdir targets).
   */
  private async resolve(p: string | undefined, missingOk = false) {
    const segs = this.segments(p);
    const fsPath = path.join(this.who.home, ...segs);
    const rel = path.relative(this.who.home, fsPath);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new LabFsError(MSG.denied);
    let stat: Stats | undefined = await fsp.lstat(this.who.home);
    for (let i = 0; i < segs.length; i++) {
      const last = i === segs.length - 1;
      try {
        stat = await fsp.lstat(path.join(this.who.home, ...segs.slice(0, i + 1)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && last && missingOk) {
          stat = undefined;
          break;
        }
        throw e;
      }
      if (stat.isSymbolicLink()) throw new LabFsError(MSG.denied);
      if (!last && !stat.isDirectory()) throw new LabFsError(MSG.notFound);
    }
    return { segs, fsPath, clientPath: '/' + segs.join('/'), stat };
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toLabError(e);
    }
  }

  private requireWrite(): void {
    if (!this.canWrite()) throw new LabFsError(MSG.denied);
  }

  override currentDirectory(): string {
    return '/' + this.dir.join('/');
  }

  override get(fileName: string): Promise<Stats & { name: string }> {
    return this.guard(async () => {
      const { stat, segs } = await this.resolve(fileName);
      const name = segs.length ? segs[segs.length - 1]! : '/';
      return Object.assign(stat!, { name });
    });
  }

  override list(p = '.'): Promise<Array<Stats & { name: string }>> {
    return this.guard(async () => {
      const { fsPath, stat } = await this.resolve(p);
      if (!stat!.isDirectory()) throw new LabFsError(MSG.notFound);
      const out: Array<Stats & { name: string }> = [];
      for (const name of await fsp.readdir(fsPath)) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        const st = await fsp.lstat(path.join(fsPath, name)).catch(() => undefined);
        // Symlinks are not served, so not shown either.
        if (st && !st.isSymbolicLink()) out.push(Object.assign(st, { name }));
      }
      return out;
    });
  }

  override chdir(p = '.'): Promise<string> {
    return this.guard(async () => {
      const { segs, stat } = await this.resolve(p);
      if (!stat!.isDirectory()) throw new LabFsError(MSG.notFound);
      this.dir = segs;
      return this.currentDirectory();
    });
  }

  override read(fileName: string, { start }: { start?: number } = {}): Promise<{ stream: Readable; clientPath: string }> {
    return this.guard(async () => {
      const { fsPath, clientPath, stat } = await this.resolve(fileName);
      if (!stat!.isFile()) throw new LabFsError(MSG.notFile);
      // O_NOFOLLOW: a symlink swapped in after the walk is still refused.
      const handle = await fsp.open(fsPath, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      const stream = new DownloadStream(handle, start ?? 0, this.transferHooks('download', clientPath));
      this.track(stream);
      // ftp-srv reports the RETR's fate on the connection once the reply is decided.
      this.connection.once('RETR', (err: unknown) => stream.settle(err));
      return { stream, clientPath };
    }).catch((e: LabFsError) => {
      this.host.record({ kind: 'download', user: this.who.user, file: fileName, outcome: 'refused', detail: e.message });
      throw e;
    });
  }

  override write(fileName: string, { append = false, start }: { append?: boolean; start?: number } = {}): Promise<{ stream: Writable; clientPath: string }> {
    return this.guard(async () => {
      this.requireWrite();
      if (this.host.faults().quotaFull) throw new LabFsError(MSG.quota);
      // Restart and append would need the old bytes copied into the temp file: not offered.
      if (append || (start ?? 0) > 0) throw new LabFsError(MSG.unsupported);
      const { fsPath, clientPath, stat, segs } = await this.resolve(fileName, true);
      if (segs.length === 0 || (stat && !stat.isFile())) throw new LabFsError(MSG.notFile);
      let room = Infinity;
      if (this.who.quotaBytes !== undefined) {
        room = this.who.quotaBytes - ((await usage(this.who.home)) - (stat?.size ?? 0));
        if (room <= 0) throw new LabFsError(MSG.quota);
      }
      const tmp = path.join(path.dirname(fsPath), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.part`);
      const handle = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
      const hooks = {
        ...this.transferHooks('upload', clientPath),
        quotaExceeded: () => this.replyQuota(),
      };
      const stream = new UploadStream(handle, tmp, fsPath, room, hooks);
      this.track(stream);
      return { stream, clientPath };
    }).catch((e: LabFsError) => {
      this.host.record({ kind: 'upload', user: this.who.user, file: fileName, outcome: 'refused', detail: e.message });
      throw e;
    });
  }

  override delete(p: string): Promise<void> {
    return this.guard(async () => {
      this.requireWrite();
      const { fsPath, stat, segs } = await this.resolve(p);
      if (segs.length === 0) throw new LabFsError(MSG.denied);
      if (stat!.isDirectory()) await fsp.rmdir(fsPath);
      else await fsp.unlink(fsPath);
    });
  }

  override mkdir(p: string): Promise<string> {
    return this.guard(async () => {
      this.requireWrite();
      const { fsPath, clientPath, stat } = await this.resolve(p, true);
      if (stat) throw new LabFsError(MSG.exists);
      await fsp.mkdir(fsPath);
      // ftp-srv puts this in the 257 reply: the client path, never the server one.
      return clientPath;
    });
  }

  override rename(from: string, to: string): Promise<void> {
    return this.guard(async () => {
      this.requireWrite();
      const src = await this.resolve(from);
      const dst = await this.resolve(to, true);
      if (src.segs.length === 0 || dst.segs.length === 0) throw new LabFsError(MSG.denied);
      if (dst.stat?.isDirectory()) throw new LabFsError(MSG.exists);
      await fsp.rename(src.fsPath, dst.fsPath);
    });
  }

  override chmod(): Promise<void> {
    return Promise.reject(new LabFsError(MSG.denied));
  }

  override getUniqueName(): string {
    return `ftp${randomBytes(8).toString('hex')}`;
  }

  private track(s: Readable | Writable): void {
    this.state.transfers.add(s);
    s.once('close', () => this.state.transfers.delete(s));
  }

  private transferHooks(kind: 'download' | 'upload', file: string): TransferHooks {
    const conn = this.state.conn;
    const host = this.host;
    const user = this.who.user;
    return {
      // Read at each chunk, so setFaults() reaches transfers already running.
      get faults() {
        return host.faults();
      },
      drop: () => {
        resetSocket(conn.connector?.socket);
        resetSocket(conn.commandSocket);
      },
      done: (outcome, bytes, detail) => host.record({ kind, user, file, bytes, outcome, detail }),
    };
  }

  /** Quota ran out mid-upload: answer 552 first, then let ftp-srv shut the data connection. */
  private async replyQuota(): Promise<void> {
    this.state.errorReplied = true;
    await Promise.resolve(this.state.conn.reply(552, MSG.quota)).catch(() => {});
    await sleep(QUOTA_REPLY_GRACE_MS);
  }
}

/** The lab FTP server (one per lab node). */
export class FtpServer {
  readonly log: FtpLogEntry[] = [];
  private faults: FtpFaults;
  private srv?: FtpSrv;
  private rootReal = '';
  private readonly states = new Set<ConnState>();
  private readonly addr: string;

  private readonly guard: LoginGuard;
  /** Failed-login entries still holding a password, oldest first. */
  private readonly passwordEntries: FtpLogEntry[] = [];

  constructor(private readonly opts: FtpServerOptions) {
    this.addr = opts.address ?? '127.0.0.1';
    this.guard = new LoginGuard({ ...opts.loginGuard, owner: `ftp ${this.addr}`, log: opts.labLog });
    this.faults = { ...(opts.faults ?? {}) };
    if (!path.isAbsolute(opts.root)) throw new Error('FtpServer: root must be an absolute path');
  }

  get address(): string {
    return this.addr;
  }

  get port(): number {
    const a = (this.srv as unknown as { server?: { address(): { port: number } | null } } | undefined)?.server?.address();
    return a?.port ?? this.opts.port;
  }

  setFaults(f: FtpFaults): void {
    this.faults = { ...f };
  }

  async start(): Promise<void> {
    if (this.srv) throw new Error('FtpServer already started');
    this.rootReal = await fsp.realpath(this.opts.root);
    // Homes exist before the first login; each must stay inside the root.
    for (const home of [...this.opts.accounts.map((a) => a.home), ...(this.opts.anonymous ? [this.opts.anonymous.home] : [])]) {
      await fsp.mkdir(this.homePath(home), { recursive: true });
    }
    const [pasvMin, pasvMax] = this.opts.pasvRange;
    const before = new Map(['SIGTERM', 'SIGINT', 'SIGQUIT'].map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
    const srv = new FtpSrv({
      url: `ftp://${this.addr}:${this.opts.port}`,
      // A function, so ftp-srv does not swap in the client's address for loopback clients:
      // the data port listens on this node's address only.
      pasv_url: (() => this.addr) as unknown as string,
      pasv_min: pasvMin,
      pasv_max: pasvMax,
      anonymous: false, // handled in the login listener, which sees the password as sent
      greeting: ['flashlab FTP server'],
      log: quietLog,
    });
    // ftp-srv installs signal handlers that exit the process: the lab owns its signals.
    for (const [sig, had] of before) {
      for (const l of process.listeners(sig as NodeJS.Signals)) if (!had.has(l)) process.removeListener(sig, l);
    }
    srv.on('login', (data, resolve, reject) => {
      this.login(data.connection as Conn, data.username, data.password).then(resolve, reject);
    });
    (srv as unknown as NodeJS.EventEmitter).on('connect', ({ connection }: { connection: Conn }) => this.attach(connection));
    srv.on('client-error', ({ context, error }) => {
      // Resets on the data connection are routine (client aborts, drop fault): not errors.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || code === 'EPIPE') return;
      this.record({ kind: 'error', outcome: 'failed', detail: `${context}: ${code ?? 'error'}` });
    });
    (srv as unknown as NodeJS.EventEmitter).on('server-error', ({ error }: { error: Error }) => {
      this.record({ kind: 'error', outcome: 'failed', detail: `server: ${(error as NodeJS.ErrnoException).code ?? 'error'}` });
    });
    await srv.listen();
    this.srv = srv;
  }

  async stop(): Promise<void> {
    const srv = this.srv;
    if (!srv) return;
    this.srv = undefined;
    for (const st of this.states) {
      for (const t of st.transfers) t.destroy();
      st.conn.commandSocket?.destroy();
    }
    await srv.close();
  }

  private homePath(home: string): string {
    const p = path.resolve(this.rootReal, home);
    const rel = path.relative(this.rootReal, p);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`FtpServer: home ${home} is outside the root`);
    return p;
  }

  private record(e: Omit<FtpLogEntry, 'time'>): void {
    const entry: FtpLogEntry = { time: new Date(), ...e };
    for (const k of Object.keys(entry) as Array<keyof FtpLogEntry>) if (entry[k] === undefined) delete entry[k];
    this.log.push(entry);
    const limit = this.opts.logLimit ?? 10_000;
    // Trimmed in batches: one splice per tenth of the limit, not one per entry.
    if (this.log.length > limit + Math.ceil(limit / 10)) this.log.splice(0, this.log.length - limit);
    // A password is kept as sent (scenarios check what the router sent: IOS's generated
    // `user@host.domain`, `ip ftp password`, a wrong one), but only in the newest login
    // entries: older ones forget it, so no pile of passwords builds up in memory.
    if (entry.password !== undefined) {
      this.passwordEntries.push(entry);
      if (this.passwordEntries.length > FAILED_PASSWORDS_KEPT) delete this.passwordEntries.shift()!.password;
    }
  }

  private async login(conn: Conn, username: string, password: string): Promise<{ fs: FileSystem }> {
    const state = this.stateOf(conn);
    const peer = (conn.commandSocket.remoteAddress ?? '').replace(/^::ffff:/i, '');
    if (this.guard.refusal(peer, username) > 0) {
      this.record({ kind: 'login-failed', user: username, outcome: 'refused', detail: 'blocked: too many failed logins' });
      this.closeSoon(conn);
      throw new Error('Too many failed logins; try again later.');
    }
    const fail = async (detail: string): Promise<never> => {
      this.record({ kind: 'login-failed', user: username, password, outcome: 'refused', detail });
      // Each failure after the first is answered later; a connection gets a few tries only.
      await sleep(this.guard.failed(peer, username));
      if (++state.loginFailures >= (this.opts.maxLoginFailuresPerConnection ?? 3)) this.closeSoon(conn);
      throw new Error('Login incorrect.');
    };
    if (this.faults.wrongPassword) return fail('fault: wrongPassword');
    const acct = this.opts.accounts.find((a) => a.user === username);
    let who: Principal;
    if (acct) {
      if (acct.password !== password) return fail('bad password');
      who = { user: acct.user, home: this.homePath(acct.home), write: acct.write, quotaBytes: acct.quotaBytes };
    } else if (this.opts.anonymous && /^(anonymous|ftp)$/i.test(username)) {
      who = { user: username, home: this.homePath(this.opts.anonymous.home), write: this.opts.anonymous.write ?? false };
    } else {
      return fail('unknown user');
    }
    this.guard.succeeded(peer);
    const home = who.home;
    who.home = await fsp.realpath(home).catch(() => home);
    state.user = who.user;
    state.fs = new LabFileSystem(conn, who, state, { faults: () => this.faults, record: (e) => this.record(e) });
    this.record({ kind: 'login', user: who.user, password, outcome: 'ok' });
    return { fs: state.fs };
  }

  /** Ends a control connection once the current reply is out. */
  private closeSoon(conn: Conn): void {
    setTimeout(() => conn.commandSocket?.end(), 50).unref();
  }

  private stateOf(conn: Conn): ConnState {
    for (const s of this.states) if (s.conn === conn) return s;
    return this.attach(conn);
  }

  /** Hooks one new control connection: command filter, reply filter, cleanup on close. */
  private attach(conn: Conn): ConnState {
    const state: ConnState = { conn, transfers: new Set(), errorReplied: false, passives: new Set(), loginFailures: 0, chain: Promise.resolve() };
    this.states.add(state);
    // ftp-srv writes multi-line replies line by line: without this, Nagle and delayed ACKs
    // stall each exchange by up to 40-200 ms.
    conn.commandSocket.setNoDelay(true);
    conn.commandSocket.once('close', () => {
      // ftp-srv leaves a transfer stalled when the control connection dies: end it here.
      for (const t of state.transfers) t.destroy(new LabFsError('dropped'));
      for (const c of state.passives) closeConnector(c);
      state.passives.clear();
      this.states.delete(state);
    });

    const reply = conn.reply.bind(conn);
    conn.reply = ((options: unknown, ...letters: unknown[]) => {
      if (typeof options === 'number' && options >= 400) {
        if (state.errorReplied) {
          // The transfer's failure was already answered (quota 552).
          state.errorReplied = false;
          return Promise.resolve();
        }
        if (letters.length === 1 && typeof letters[0] === 'string') {
          const mapped = MSG_CODE.get(letters[0]);
          if (mapped !== undefined && (options === 550 || options === 551)) options = mapped;
          else if (mapped === undefined) letters = [this.scrub(letters[0])];
        }
      } else {
        letters = letters.map((l) => (typeof l === 'string' ? this.scrub(l) : l));
      }
      return reply(options as number, ...letters);
    }) as typeof conn.reply;

    const handle = conn.commands.handle.bind(conn.commands);
    // Commands of one session run one after another, as vsftpd runs them: ftp-srv starts each
    // as it arrives, so a PASV could replace a connector that a late LIST then ends, and a
    // listener was left open for good.
    conn.commands.handle = (raw: unknown) => {
      const run = () => this.command(state, raw, handle);
      const p = state.chain.then(run, run);
      state.chain = p.catch(() => undefined);
      return p;
    };
    return state;
  }

  /** One command of a session, after the previous one finished. */
  private command(state: ConnState, raw: unknown, handle: (c: ParsedCommand) => unknown): Promise<unknown> {
    const conn = state.conn;
    const cmd = typeof raw === 'string' ? conn.commands.parse(raw) : (raw as ParsedCommand);
    const verdict = this.screen(state, cmd);
    if (verdict) {
      if (UPLOAD_COMMANDS.has(cmd.directive)) {
        this.record({ kind: 'upload', user: state.user, file: cmd.arg ?? undefined, outcome: 'refused', detail: verdict[1] });
      }
      // Like ftp-srv's own handlers: release any data connection prepared for this command.
      if (verdict[0] === 550) conn.connector?.end();
      return Promise.resolve(conn.reply(verdict[0], verdict[1])).catch(() => undefined);
    }
    if (cmd.directive === 'SIZE' && state.fs) return this.size(state.fs, cmd.arg);
    if (cmd.directive === 'FEAT') return this.feat(conn);
    if ((cmd.directive === 'DELE' || cmd.directive === 'RMD' || cmd.directive === 'XRMD') && state.fs) return this.remove(state.fs, cmd, handle);
    // One passive listener per session: a new PASV/EPSV first closes every earlier one.
    if (cmd.directive === 'PASV' || cmd.directive === 'EPSV') this.sweepPassives(state, true);
    return Promise.resolve()
      .then(() => handle(cmd))
      .catch(() => {
        // ftp-srv rejects (an unhandled rejection, with a stack) on some malformed
        // arguments: the client gets a plain reply instead, and nothing leaks.
        return conn.reply(501, 'Syntax error in parameters or arguments').catch(() => {});
      })
      .finally(() => {
        const c = conn.connector;
        if (c && c.type === 'passive' && c.dataServer) state.passives.add(c);
        this.sweepPassives(state, false);
      });
  }

  /** Closes the session's passive connectors: all of them, or all but the current one. */
  private sweepPassives(state: ConnState, all: boolean): void {
    for (const c of state.passives) {
      if (!all && c === state.conn.connector) continue;
      closeConnector(c);
      state.passives.delete(c);
    }
  }

  /**
   * FEAT from what the lab really offers: ftp-srv lists `AUTH TLS` from its registry even
   * though no TLS is configured (AUTH answers 502).
   */
  private feat(conn: Conn): Promise<unknown> {
    const features = ['EPRT', 'EPSV', 'MDTM', 'PASV', 'SIZE', 'UTF8'].map((f) => ({ message: ` ${f}`, raw: true }));
    return Promise.resolve(conn.reply(211, 'Extensions supported', ...features, 'End')).catch(() => {});
  }

  /** DELE takes files only, RMD directories only, as vsftpd has them. */
  private async remove(fs: LabFileSystem, cmd: ParsedCommand, handle: (c: ParsedCommand) => unknown): Promise<unknown> {
    const isDir = cmd.directive !== 'DELE';
    try {
      const st = await fs.get(cmd.arg ?? '');
      if (st.isDirectory() !== isDir) {
        return await fs.connection.reply(550, isDir ? 'Remove directory operation failed.' : 'Delete operation failed.');
      }
    } catch (e) {
      return fs.connection.reply(550, toLabError(e).message).catch(() => {});
    }
    return Promise.resolve(handle(cmd)).catch(() => fs.connection.reply(550, MSG.generic).catch(() => {}));
  }

  /**
   * SIZE answered here: ftp-srv sends "213 File status" for an empty file (it treats size 0
   * as no message) and sizes directories; the router needs the exact byte count of a file.
   */
  private async size(fs: LabFileSystem, arg: string | null): Promise<unknown> {
    try {
      const st = await fs.get(arg ?? '');
      if (!st.isFile()) return await fs.connection.reply(550, MSG.notFile);
      return await fs.connection.reply(213, String(st.size));
    } catch (e) {
      return fs.connection.reply(550, toLabError(e).message);
    }
  }

  /** A reply for commands refused before ftp-srv sees them, or undefined to let them through. */
  private screen(state: ConnState, cmd: ParsedCommand): [number, string] | undefined {
    // ftp-srv throws on these without an argument (SITE CHMOD with too few, too).
    if ((cmd.directive === 'SITE' || cmd.directive === 'OPTS') && !(cmd.arg ?? '').trim()) return [501, 'Syntax error in parameters or arguments'];
    if (cmd.directive === 'SITE') {
      const [sub, ...rest] = (cmd.arg ?? '').trim().split(/\s+/);
      if (sub!.toUpperCase() !== 'CHMOD') return [500, 'Unknown SITE command.'];
      if (rest.length < 2) return [501, 'SITE CHMOD needs 2 arguments.'];
    }
    if (WRITE_COMMANDS.has(cmd.directive) && state.fs && !state.fs.canWrite()) return [550, MSG.denied];
    // Active mode: hand ftp-srv (and its `ip` dependency) only a well-formed address equal to
    // the control peer's, so nothing but that peer is ever dialled or looked up.
    if (cmd.directive === 'PORT' || cmd.directive === 'EPRT') {
      const target = cmd.directive === 'PORT' ? parsePort(cmd.arg) : parseEprt(cmd.arg);
      const peer = (state.conn.commandSocket.remoteAddress ?? '').replace(/^::ffff:/i, '');
      if (!target || target !== peer) return [501, 'Illegal PORT command'];
    }
    return undefined;
  }

  /** Last line of defence: no reply text carries a server path. */
  private scrub(text: string): string {
    return this.rootReal && text.includes(this.rootReal) ? MSG.generic : text;
  }
}

function parsePort(arg: string | null): string | undefined {
  const parts = (arg ?? '').split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.slice(0, 4).map(Number).join('.');
}

function parseEprt(arg: string | null): string | undefined {
  const [, proto, host, port] = (arg ?? '').split('|');
  if (!host || !/^\d{1,5}$/.test(port ?? '')) return undefined;
  if (proto === '1' && isIPv4(host)) return host;
  if (proto === '2' && isIPv6(host)) return host.replace(/^::ffff:/i, '');
  return undefined;
}
