/**
 * One TFTP server transfer (a ServerSession: its own socket and TID, one engine) and what it
 * needs: the root check, the upload's temp file and its batched writer. It runs wherever
 * its host puts it: in TftpServer's thread, or in a session worker (sessionWorker.ts) whose
 * host forwards the log entries and the end of each session to the server's thread.
 */
import type dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { decode, encodeError, encodeOack, ERR, intOption, MAX_BLKSIZE, MIN_BLKSIZE, OP, peekBlock, peekOpcode, type RequestPacket } from './packets.ts';
import {
  ackPacket,
  BlockReceiver,
  BlockSender,
  Channel,
  FileSource,
  netasciiDecoder,
  netasciiEncode,
  StreamSource,
  type BlockSink,
  type EndResult,
  type Peer,
  type TftpFaults,
} from './session.ts';

export type TftpOutcome =
  | 'ok'
  | 'not-found'
  | 'access-violation'
  | 'illegal-operation'
  | 'disk-full'
  | 'timeout'
  | 'peer-error'
  | 'aborted'
  | 'error';

export interface TftpLogEntry {
  time: Date;
  request: 'RRQ' | 'WRQ';
  /** address:port of the client. */
  peer: string;
  /** File name as the client asked for it. */
  file: string;
  direction: 'read' | 'write';
  mode: string;
  /** Options as acknowledged in the OACK (empty for a plain RFC 1350 transfer). */
  options: Record<string, string>;
  /** Data bytes acknowledged (read) or received (write). */
  bytes: number;
  outcome: TftpOutcome;
  durationMs: number;
  /** Peer's ERROR text or a short reason; never a server path. */
  message?: string;
}

export const outcomeOfCode: Record<number, TftpOutcome> = {
  [ERR.FILE_NOT_FOUND]: 'not-found',
  [ERR.ACCESS_VIOLATION]: 'access-violation',
  [ERR.DISK_FULL]: 'disk-full',
  [ERR.ILLEGAL_OPERATION]: 'illegal-operation',
};

/** The server's settings once started (the root resolved), as every session reads them. */
export interface ServerSettings {
  address: string;
  port: number;
  root: string;
  allowRead: boolean;
  allowWrite: boolean;
  allowCreate: boolean;
  maxBlksize: number;
  maxWindowsize: number;
  timeoutSec: number;
  retries: number;
  logLimit: number;
  maxTimeoutSec: number;
  maxSessions: number;
  maxSessionsPerClient: number;
}

/** What a session needs from whoever runs it: the server in its thread, or a session worker. */
export interface SessionHost {
  readonly settings: ServerSettings;
  /** Read on every send, so a fault set while a transfer runs applies at once. */
  currentFaults: () => TftpFaults | undefined;
  /** The session's one log entry. */
  record(entry: TftpLogEntry): void;
  /** The transfer ended (its entry may still follow); a repeated request now starts a new one. */
  finished(key: string, s: ServerSession): void;
  /** The session let go of its socket and files. */
  forget(key: string, s: ServerSession): void;
}

type Resolved = { ok: true; full: string; stat: fs.Stats | null } | { ok: false; code: number };

/**
 * Maps a requested name into the root, refusing `..`, absolute names and any symlink on
 * the way (lstat each component) so a link planted in the root cannot reach outside it.
 */
async function resolveInRoot(root: string, name: string): Promise<Resolved> {
  if (name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name)) return { ok: false, code: ERR.ACCESS_VIOLATION };
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.length === 0 || parts.includes('..')) return { ok: false, code: ERR.ACCESS_VIOLATION };
  let cur = root;
  let st: fs.Stats | null = null;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i]!);
    try {
      st = await fs.promises.lstat(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && i === parts.length - 1) return { ok: true, full: cur, stat: null };
      return { ok: false, code: code === 'ENOENT' || code === 'ENOTDIR' ? ERR.FILE_NOT_FOUND : ERR.ACCESS_VIOLATION };
    }
    if (st.isSymbolicLink()) return { ok: false, code: ERR.ACCESS_VIOLATION };
    if (i < parts.length - 1 && !st.isDirectory()) return { ok: false, code: ERR.FILE_NOT_FOUND };
  }
  return { ok: true, full: cur, stat: st };
}

/** A raw descriptor: the chunk reader and writer use the callback API, cheaper per call. */
function openFd(file: string, flags: string | number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function errnoToTftp(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return ERR.FILE_NOT_FOUND;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') return ERR.DISK_FULL;
  if (code === 'EEXIST') return ERR.FILE_EXISTS;
  return ERR.ACCESS_VIOLATION;
}

/** One transfer: its own socket, one engine (sender for RRQ, receiver for WRQ). */
export class ServerSession {
  finished = false;
  private readonly ch: Channel;
  private sender: BlockSender | null = null;
  private receiver: BlockReceiver | null = null;
  private fd: number | null = null;
  private temp: string | null = null;
  private committed = false;
  private readonly started = Date.now();
  private negotiated: Record<string, string> = {};
  private closed = false;
  private dallyTimer: NodeJS.Timeout | null = null;
  /** Resolves once the entry is logged (after the cleanup, for a transfer that failed). */
  private logged: Promise<void> = Promise.resolve();

  constructor(
    private readonly server: SessionHost,
    private readonly key: string,
    sock: dgram.Socket,
    private readonly peer: Peer,
    private readonly req: RequestPacket,
  ) {
    this.ch = new Channel(sock, peer, server.currentFaults);
    sock.on('message', (msg, rinfo) => {
      try {
        this.onMessage(msg, rinfo);
      } catch {
        // malformed input must never escape the handler
      }
    });
  }

  async run(): Promise<void> {
    try {
      await this.setup();
    } catch {
      this.fail(ERR.NOT_DEFINED, 'error', 'internal error');
    }
  }

  /** The client repeated its request (our OACK/first DATA/ACK 0 was lost). */
  repeat(): void {
    this.sender?.repeatPreamble();
    this.receiver?.repeatControl();
  }

  /** Ends the transfer; resolves once its files are cleaned up and its entry logged. */
  abort(): Promise<void> {
    if (!this.finished) this.end('aborted', 0, 'server stopped', false);
    return Promise.all([this.close(), this.logged]).then(() => undefined);
  }

  private async setup(): Promise<void> {
    const cfg = this.server.settings;
    const req = this.req;
    const read = req.op === 'RRQ';
    if (req.mode !== 'octet' && req.mode !== 'netascii') return this.fail(ERR.ILLEGAL_OPERATION, 'illegal-operation', 'unsupported mode');
    if (read ? !cfg.allowRead : !cfg.allowWrite) return this.fail(ERR.ACCESS_VIOLATION, 'access-violation', 'not permitted');
    const r = await resolveInRoot(cfg.root, req.filename);
    if (this.closed) return;
    if (!r.ok) return this.fail(r.code, outcomeOfCode[r.code] ?? 'error');
    if (read) await this.setupRead(r.full, r.stat);
    else await this.setupWrite(r.full, r.stat);
  }

  private negotiate(fileSize: number | undefined): {
    oack: Array<[string, string]>;
    blksize: number;
    windowsize: number;
    timeoutSec: number;
  } {
    const cfg = this.server.settings;
    const oack: Array<[string, string]> = [];
    let blksize = 512;
    let windowsize = 1;
    let timeoutSec = cfg.timeoutSec;
    for (const [name, value] of this.req.options) {
      if (name === 'blksize') {
        const n = intOption(value, MIN_BLKSIZE, MAX_BLKSIZE);
        if (n !== undefined) {
          blksize = Math.min(n, cfg.maxBlksize);
          oack.push([name, String(blksize)]);
        }
      } else if (name === 'timeout') {
        const n = intOption(value, 1, 255);
        if (n !== undefined && n <= cfg.maxTimeoutSec) {
          timeoutSec = n;
          oack.push([name, String(n)]);
        }
      } else if (name === 'tsize') {
        if (this.req.op === 'WRQ') {
          const n = intOption(value, 0, Number.MAX_SAFE_INTEGER);
          if (n !== undefined) oack.push([name, String(n)]);
        } else if (fileSize !== undefined) oack.push([name, String(fileSize)]);
      } else if (name === 'windowsize') {
        const n = intOption(value, 1, 65535);
        if (n !== undefined) {
          windowsize = Math.min(n, cfg.maxWindowsize);
          oack.push([name, String(windowsize)]);
        }
      }
      // Unknown options are left out of the OACK, which is how RFC 2347 declines them.
    }
    this.negotiated = Object.fromEntries(oack);
    return { oack, blksize, windowsize, timeoutSec };
  }

  private async setupRead(full: string, st: fs.Stats | null): Promise<void> {
    if (st === null) return this.fail(ERR.FILE_NOT_FOUND, 'not-found');
    if (!st.isFile()) return this.fail(ERR.ACCESS_VIOLATION, 'access-violation', 'not a regular file');
    let fd: number;
    try {
      fd = await openFd(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (err) {
      const code = errnoToTftp(err);
      return this.fail(code, outcomeOfCode[code] ?? 'error');
    }
    this.fd = fd;
    if (this.closed) return this.cleanup();
    const real = fs.fstatSync(fd);
    // The file was swapped between lstat and open (a symlink race): refuse.
    if (real.ino !== st.ino || real.dev !== st.dev || !real.isFile()) return this.fail(ERR.ACCESS_VIOLATION, 'access-violation', 'file changed');
    const netascii = this.req.mode === 'netascii';
    const n = this.negotiate(netascii ? undefined : real.size);
    const cfg = this.server.settings;
    const src = netascii
      ? new StreamSource(netasciiEncode(fs.createReadStream('', { fd, autoClose: false })), n.blksize, 2 * n.windowsize)
      : new FileSource(fd, n.blksize, n.windowsize);
    this.sender = new BlockSender(
      this.ch,
      src,
      {
        blksize: n.blksize,
        windowsize: n.windowsize,
        rtoMs: n.timeoutSec * 1000,
        retries: cfg.retries,
        preamble: n.oack.length > 0 ? encodeOack(n.oack) : undefined,
      },
      (r) => this.onEngineEnd(r),
    );
    this.sender.start();
  }

  private async setupWrite(full: string, st: fs.Stats | null): Promise<void> {
    const cfg = this.server.settings;
    if (st !== null && !st.isFile()) return this.fail(ERR.ACCESS_VIOLATION, 'access-violation', 'not a regular file');
    if (st === null && !cfg.allowCreate) return this.fail(ERR.FILE_NOT_FOUND, 'not-found', 'create not permitted');
    const dir = path.dirname(full);
    const announced = intOption(this.req.options.get('tsize'), 0, Number.MAX_SAFE_INTEGER);
    if (announced !== undefined && announced > 0) {
      try {
        const fsStat = await fs.promises.statfs(dir);
        if (announced > fsStat.bavail * fsStat.bsize) return this.fail(ERR.DISK_FULL, 'disk-full', 'announced size exceeds free space');
      } catch {
        // statfs unsupported here: find out when writing
      }
    }
    const temp = path.join(dir, `.${path.basename(full)}.${randomBytes(6).toString('hex')}.tftp-part`);
    try {
      this.fd = await openFd(temp, 'wx', st ? st.mode & 0o777 : 0o644);
    } catch (err) {
      const code = errnoToTftp(err);
      return this.fail(code === ERR.FILE_EXISTS ? ERR.ACCESS_VIOLATION : code, outcomeOfCode[code] ?? 'error');
    }
    this.temp = temp;
    if (this.closed) return this.cleanup();
    const n = this.negotiate(undefined);
    const sink = new FileSink(
      this.fd,
      () => this.receiver?.resume(),
      (err) => {
        const code = errnoToTftp(err) === ERR.DISK_FULL ? ERR.DISK_FULL : ERR.NOT_DEFINED;
        this.receiver?.cancel();
        this.fail(code, code === ERR.DISK_FULL ? 'disk-full' : 'error', 'write failed', this.receiver?.received ?? 0);
      },
      async () => {
        const fd = this.fd!;
        this.fd = null;
        await new Promise<void>((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res())));
        await fs.promises.rename(temp, full);
        this.committed = true;
      },
      this.req.mode === 'netascii',
    );
    this.receiver = new BlockReceiver(
      this.ch,
      sink,
      {
        blksize: n.blksize,
        windowsize: n.windowsize,
        rtoMs: n.timeoutSec * 1000,
        retries: cfg.retries,
        initial: n.oack.length > 0 ? encodeOack(n.oack) : ackPacket(0),
      },
      (r) => this.onEngineEnd(r),
    );
    this.receiver.start();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const op = peekOpcode(msg);
    if (rinfo.port !== this.peer.port || rinfo.address !== this.peer.address) {
      // RFC 1350: a stranger gets ERROR 5 and our transfer carries on.
      if (op !== OP.ERROR) this.ch.sendTo(encodeError(ERR.UNKNOWN_TID), { address: rinfo.address, port: rinfo.port });
      return;
    }
    if (op === OP.ACK && msg.length >= 4 && this.sender) {
      this.sender.onAck(peekBlock(msg));
      return;
    }
    if (op === OP.DATA && msg.length >= 4 && this.receiver) {
      this.receiver.onData(peekBlock(msg), msg.subarray(4));
      return;
    }
    if (this.finished) return;
    if (op === OP.ERROR) {
      const d = decode(msg);
      const text = d.ok && d.packet.op === 'ERROR' ? `peer error ${d.packet.code}: ${d.packet.message.slice(0, 200)}` : 'peer error';
      this.end('peer-error', this.bytes(), text, false);
      return;
    }
    if (!this.sender && !this.receiver && (op === OP.ACK || op === OP.DATA)) return; // still opening the file
    // Anything else from our peer is illegal here: RFC 1350 says answer ERROR 4 and end.
    this.fail(ERR.ILLEGAL_OPERATION, 'illegal-operation', 'unexpected packet', this.bytes());
  }

  private bytes(): number {
    return this.sender?.bytesAcked ?? this.receiver?.received ?? 0;
  }

  private onEngineEnd(r: EndResult): void {
    if (this.finished) return;
    if (r.ok) {
      this.end('ok', r.bytes, undefined, this.receiver !== null);
      return;
    }
    switch (r.reason) {
      case 'timeout':
        this.end('timeout', r.bytes, 'peer stopped answering', false);
        return;
      case 'protocol':
        this.fail(ERR.ILLEGAL_OPERATION, 'illegal-operation', 'oversized DATA', r.bytes);
        return;
      case 'source':
        this.fail(ERR.NOT_DEFINED, 'error', 'read failed', r.bytes);
        return;
      case 'sink': {
        const code = errnoToTftp(r.error) === ERR.DISK_FULL ? ERR.DISK_FULL : ERR.NOT_DEFINED;
        this.fail(code, code === ERR.DISK_FULL ? 'disk-full' : 'error', 'write failed', r.bytes);
        return;
      }
    }
  }

  /** Sends ERROR `code` (fixed text, no paths) and ends the transfer. */
  private fail(code: number, outcome: TftpOutcome, reason?: string, bytes = 0): void {
    if (this.finished) return;
    this.ch.send(encodeError(code));
    this.end(outcome, bytes, reason, false);
  }

  private end(outcome: TftpOutcome, bytes: number, message: string | undefined, dally: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.server.finished(this.key, this);
    this.sender?.cancel();
    if (!dally) this.receiver?.cancel();
    const entry = {
      time: new Date(this.started),
      request: this.req.op,
      peer: this.key,
      file: this.req.filename,
      direction: this.req.op === 'RRQ' ? ('read' as const) : ('write' as const),
      mode: this.req.mode,
      options: this.negotiated,
      bytes,
      outcome,
      durationMs: Date.now() - this.started,
      ...(message !== undefined ? { message } : {}),
    };
    if (dally) {
      this.server.record(entry);
      // Keep the TID a little so a resent last block (our final ACK lost) is ACKed again.
      this.dallyTimer = setTimeout(() => void this.close(), Math.min(5000, 2 * this.server.settings.timeoutSec * 1000));
      this.dallyTimer.unref();
    } else {
      // Logged once the partial file is gone: whoever reads a failed outcome in the log
      // (a scenario, a test, the lab log) never still finds the temporary beside it.
      this.logged = this.close().then(() => this.server.record(entry));
    }
  }

  private close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.dallyTimer) clearTimeout(this.dallyTimer);
    this.receiver?.cancel();
    this.sender?.cancel();
    this.ch.close();
    const cleaned = this.cleanup();
    this.server.forget(this.key, this);
    return cleaned;
  }

  /** Closes the file and removes an uncommitted upload; resolves once both are done. */
  private cleanup(): Promise<void> {
    let done = Promise.resolve();
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      done = new Promise<void>((res) => fs.close(fd, () => res()));
    }
    if (this.temp && !this.committed) {
      const t = this.temp;
      this.temp = null;
      // A failed upload leaves nothing behind.
      done = done.then(() => new Promise<void>((res) => fs.unlink(t, () => res())));
    }
    return done;
  }
}

/** Buffers received blocks and writes them in large batches to the temp file. */
class FileSink implements BlockSink {
  private static readonly FLUSH = 1 << 20;
  private static readonly HIGH = 8 << 20;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing: Promise<void> | null = null;
  private held = false;
  private error: unknown = null;
  private readonly decoder: ReturnType<typeof netasciiDecoder> | null;

  constructor(
    private readonly fd: number,
    private readonly onResume: () => void,
    private readonly onError: (err: unknown) => void,
    private readonly commit: () => Promise<void>,
    netascii: boolean,
  ) {
    this.decoder = netascii ? netasciiDecoder() : null;
  }

  write(data: Buffer): boolean {
    if (this.error) return true;
    const d = this.decoder ? this.decoder.push(data) : data;
    if (d.length > 0) {
      this.queue.push(d);
      this.queued += d.length;
    }
    if (this.queued >= FileSink.FLUSH && !this.writing) this.flush();
    if (this.queued >= FileSink.HIGH) {
      this.held = true;
      return false;
    }
    return true;
  }

  async finish(): Promise<void> {
    if (this.decoder) {
      const tail = this.decoder.end();
      if (tail.length) {
        this.queue.push(tail);
        this.queued += tail.length;
      }
    }
    while (this.writing) await this.writing;
    if (this.queued > 0) this.flush();
    while (this.writing) await this.writing;
    if (this.error) throw this.error;
    await this.commit();
  }

  private flush(): void {
    const bufs = this.queue;
    const n = this.queued;
    this.queue = [];
    this.queued = 0;
    this.writing = new Promise<void>((resolve) => {
      fs.writev(this.fd, bufs, (err, written) => {
        this.writing = null;
        if (err || written !== n) {
          this.error = err ?? new Error('short write');
          this.onError(this.error);
        } else {
          if (this.queued >= FileSink.FLUSH) this.flush();
          if (this.held && this.queued < FileSink.HIGH) {
            this.held = false;
            this.onResume();
          }
        }
        resolve();
      });
    });
  }
}
