/**
 * The lab's TFTP server: RFC 1350 with option negotiation (RFC 2347), blksize (2348),
 * timeout and tsize (2349) and windowsize (7440). Each transfer runs on its own ephemeral
 * socket (a new TID). Fault injection lets scenarios exercise the router's error paths.
 *
 * The request socket (port 69) stays in this thread; with `workers` > 1 the transfers run
 * in a pool of worker threads (sessionPool.ts), so one server uses every core: each
 * transfer's socket is its own, so nothing per packet crosses threads. What a transfer
 * does there is the same ServerSession as here; faults, log entries and the end of each
 * transfer are passed between the threads.
 */
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import fs from 'node:fs';
import { decode, encodeError, ERR, MAX_BLKSIZE, MIN_BLKSIZE, OP, type RequestPacket } from './packets.ts';
import { bindSocket, createUdpSocket, type Peer, type TftpFaults } from './session.ts';
import { ServerSession, type ServerSettings, type SessionHost, type TftpLogEntry } from './serverSession.ts';
import { defaultSessionWorkers, SessionPool } from './sessionPool.ts';

export type { TftpFaults } from './session.ts';
export type { TftpLogEntry, TftpOutcome } from './serverSession.ts';

export interface TftpServerOptions {
  /** Address to bind (default 127.0.0.1). */
  address?: string;
  /** UDP port; 0 picks an ephemeral one (read it back from `port`). */
  port: number;
  /** Directory served; nothing outside it is reachable. */
  root: string;
  allowRead?: boolean;
  allowWrite?: boolean;
  /** Let WRQ create files that do not exist yet (tftpd-hpa's -c). */
  allowCreate?: boolean;
  faults?: TftpFaults;
  /** Largest blksize granted (default 65464). */
  maxBlksize?: number;
  /** Largest windowsize granted (default 64). */
  maxWindowsize?: number;
  /** Retransmission timeout in seconds when the client does not negotiate one (default 1). */
  timeoutSec?: number;
  /** Retransmissions without progress before a transfer is abandoned (default 5). */
  retries?: number;
  /** Entries kept in `log`, oldest dropped first (default 10000). */
  logLimit?: number;
  /**
   * Largest `timeout` option granted, in seconds (default 10); a larger one is declined
   * (left out of the OACK, RFC 2347), so a silent peer is given up on within
   * (retries + 1) x this, not after 25 minutes.
   */
  maxTimeoutSec?: number;
  /** Transfers at once, in all (default 256) and from one client address (default 16). */
  maxSessions?: number;
  maxSessionsPerClient?: number;
  /**
   * Worker threads that run the transfers (default: FLASHLAB_TFTP_WORKERS, else the CPUs
   * this process may use). 0 or 1 runs every transfer in this thread.
   */
  workers?: number;
}

export interface TftpServer {
  on(event: 'transfer', listener: (entry: TftpLogEntry) => void): this;
  once(event: 'transfer', listener: (entry: TftpLogEntry) => void): this;
  off(event: 'transfer', listener: (entry: TftpLogEntry) => void): this;
  emit(event: 'transfer', entry: TftpLogEntry): boolean;
}

// (The interface above merges into this class: typed 'transfer' listeners.)
export class TftpServer extends EventEmitter implements SessionHost {
  readonly log: TftpLogEntry[] = [];
  private sock: dgram.Socket | null = null;
  private root = '';
  private faults: TftpFaults | undefined;
  private pool: SessionPool | null = null;
  private readonly sessions = new Map<string, SessionHandle>();
  private readonly starting = new Set<string>();
  /** The request each client port's transfer began with: the same one again is a repeat. */
  private readonly requests = new Map<string, Buffer>();
  private stopped = false;

  constructor(private readonly opts: TftpServerOptions) {
    super();
    this.setFaults(opts.faults);
  }

  get address(): string {
    return this.sock?.address().address ?? this.opts.address ?? '127.0.0.1';
  }

  get port(): number {
    return this.sock?.address().port ?? this.opts.port;
  }

  /** Replaces the active faults (undefined or {} clears them); applies to running transfers too. */
  setFaults(f: TftpFaults | undefined): void {
    this.faults = f && Object.keys(f).length > 0 ? { ...f } : undefined;
    this.pool?.setFaults(this.faults);
  }

  /** Worker threads running transfers (0: every transfer runs in this thread). */
  get workerThreads(): number {
    return this.pool?.size ?? 0;
  }

  /** @internal read by sessions on every send, so setFaults acts immediately. */
  currentFaults = (): TftpFaults | undefined => this.faults;

  async start(): Promise<void> {
    if (this.sock) return;
    this.stopped = false;
    this.root = await fs.promises.realpath(this.opts.root);
    const addr = this.opts.address ?? '127.0.0.1';
    const sock = createUdpSocket(addr);
    sock.on('error', () => {}); // a send error on the request socket must not crash the lab
    sock.on('message', (msg, rinfo) => {
      try {
        this.onRequest(msg, { address: rinfo.address, port: rinfo.port });
      } catch {
        // never let one datagram take the server down
      }
    });
    await bindSocket(sock, this.opts.port, addr);
    const workers = this.opts.workers ?? defaultSessionWorkers();
    if (workers > 1) {
      try {
        this.pool = await SessionPool.start(workers, this.settings, this.faults, this);
      } catch (e) {
        sock.close();
        throw e;
      }
    }
    this.sock = sock;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) s.abort();
    this.sessions.clear();
    const sock = this.sock;
    this.sock = null;
    const pool = this.pool;
    this.pool = null;
    // The workers' aborted transfers are cleaned up and logged before their threads end.
    await pool?.stop();
    if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
  }

  /** @internal */
  get settings(): ServerSettings {
    const o = this.opts;
    return {
      address: this.opts.address ?? '127.0.0.1',
      port: o.port,
      root: this.root,
      allowRead: o.allowRead ?? true,
      allowWrite: o.allowWrite ?? false,
      allowCreate: o.allowCreate ?? false,
      maxBlksize: Math.min(MAX_BLKSIZE, Math.max(MIN_BLKSIZE, o.maxBlksize ?? MAX_BLKSIZE)),
      maxWindowsize: Math.max(1, o.maxWindowsize ?? 64),
      timeoutSec: o.timeoutSec ?? 1,
      retries: o.retries ?? 5,
      logLimit: o.logLimit ?? 10000,
      maxTimeoutSec: Math.max(1, Math.min(255, o.maxTimeoutSec ?? 10)),
      maxSessions: Math.max(1, o.maxSessions ?? 256),
      maxSessionsPerClient: Math.max(1, o.maxSessionsPerClient ?? 16),
    };
  }

  /** @internal */
  record(entry: TftpLogEntry): void {
    this.log.push(entry);
    const limit = this.settings.logLimit;
    if (this.log.length > limit) this.log.splice(0, this.log.length - limit);
    try {
      this.emit('transfer', entry);
    } catch {
      // a throwing listener is the listener's problem, not the transfer's
    }
  }

  /** @internal */
  finished(): void {
    // A session's own `finished` flag is what onRequest and busy read.
  }

  /** @internal */
  forget(key: string, s: SessionHandle): void {
    if (this.sessions.get(key) === s) {
      this.sessions.delete(key);
      this.requests.delete(key);
    }
  }

  /** @internal a request handed back by a session worker: its transfer had ended. */
  request(msg: Buffer, peer: Peer): void {
    try {
      this.onRequest(msg, peer);
    } catch {
      // as on the request socket: never let one datagram take the server down
    }
  }

  private onRequest(msg: Buffer, peer: Peer): void {
    if (this.faults?.refuseAll) return;
    const sock = this.sock;
    if (!sock) return;
    const res = decode(msg);
    if (!res.ok) {
      if (res.error.opcode !== OP.ERROR) sendQuiet(sock, encodeError(ERR.ILLEGAL_OPERATION), peer);
      return;
    }
    const p = res.packet;
    if (p.op !== 'RRQ' && p.op !== 'WRQ') {
      // Never answer an ERROR (two servers could ping-pong forever).
      if (p.op !== 'ERROR') sendQuiet(sock, encodeError(ERR.ILLEGAL_OPERATION), peer);
      return;
    }
    const key = `${peer.address}:${peer.port}`;
    const existing = this.sessions.get(key);
    if (existing) {
      // The same request again means our first answer was lost; any other request from that
      // port means the client moved on (it reused its port): the old transfer, running or
      // dallying, ends. Only the bytes decide: a session worker may not yet have read the
      // ERROR that ended the old transfer when the new request reaches this socket.
      if (!existing.finished && this.requests.get(key)?.equals(msg)) {
        existing.repeat(msg, peer);
        return;
      }
      existing.abort();
      this.sessions.delete(key);
    }
    if (this.starting.has(key)) return;
    const busy = this.busy(peer.address);
    if (busy) {
      // Full: refused at once with a TFTP error, so the client does not wait out its retries.
      sendQuiet(sock, encodeError(ERR.NOT_DEFINED, busy), peer);
      this.record({ time: new Date(), request: p.op, peer: key, file: p.filename, direction: p.op === 'RRQ' ? 'read' : 'write', mode: p.mode, options: {}, bytes: 0, outcome: 'error', durationMs: 0, message: busy });
      return;
    }
    this.starting.add(key);
    this.requests.set(key, Buffer.from(msg));
    void this.open(key, p, peer);
  }

  /** Why a new transfer from `address` cannot start now, or undefined. */
  private busy(address: string): string | undefined {
    const cfg = this.settings;
    let total = this.starting.size;
    let mine = 0;
    const prefix = `${address}:`;
    for (const k of this.starting) if (k.startsWith(prefix)) mine++;
    for (const [k, s] of this.sessions) {
      if (s.finished) continue;
      total++;
      if (k.startsWith(prefix)) mine++;
    }
    if (total >= cfg.maxSessions) return 'Server busy: too many transfers';
    if (mine >= cfg.maxSessionsPerClient) return 'Server busy: too many transfers from this client';
    return undefined;
  }

  private async open(key: string, req: RequestPacket, peer: Peer): Promise<void> {
    // In a worker when the pool has one (else, all of them lost, here).
    const remote = this.pool?.open(key, req, peer);
    if (remote) {
      this.starting.delete(key);
      this.sessions.set(key, remote);
      return;
    }
    const sock = createUdpSocket(this.settings.address);
    sock.on('error', () => {});
    try {
      await bindSocket(sock, 0, this.settings.address);
    } catch {
      this.starting.delete(key);
      return;
    }
    this.starting.delete(key);
    if (this.stopped) {
      sock.close();
      return;
    }
    const s = new ServerSession(this, key, sock, peer, req);
    this.sessions.set(key, s);
    await s.run();
  }
}

function sendQuiet(sock: dgram.Socket, msg: Buffer, to: Peer): void {
  try {
    sock.send(msg, to.port, to.address);
  } catch {
    // socket closing
  }
}


/** A transfer as the request socket sees it: in this thread, or in a session worker. */
export interface SessionHandle {
  readonly finished: boolean;
  /** The client repeated its request (`msg`, from `peer`). */
  repeat(msg: Buffer, peer: Peer): void;
  /** Ends the transfer now (server stopping, or the client's port reused). */
  abort(): void;
}
