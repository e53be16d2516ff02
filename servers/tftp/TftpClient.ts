/**
 * The router's TFTP client (TransferClient for `tftp:` URLs), on the same engine as the
 * lab's server. Always octet mode. Options are offered (tsize, timeout, blksize and
 * windowsize when asked for) and a server that ignores them gets plain RFC 1350.
 */
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Writable } from 'node:stream';
import {
  TransferError,
  type Download,
  type TransferClient,
  type TransferEndpoint,
  type TransferErrorCode,
  type TransferPhase,
} from '../../router/transfer/types.ts';
import {
  decode,
  DEFAULT_BLKSIZE,
  encodeError,
  encodeRequest,
  ERR,
  intOption,
  MAX_BLKSIZE,
  MIN_BLKSIZE,
  OP,
  peekBlock,
  peekOpcode,
  type TftpOptions,
  type TftpPacket,
} from './packets.ts';
import {
  ackPacket,
  bindSocket,
  BlockReceiver,
  BlockSender,
  BodySizeError,
  Channel,
  createUdpSocket,
  StreamSource,
  type BlockSink,
  type TransferEvent,
  type EndResult,
  type Peer,
} from './session.ts';

export interface TftpClientOptions {
  /** RFC 7440 window offered to the server (default 1: plain lock-step, like IOS). */
  windowsize?: number;
  /** Retransmissions without progress before giving up (default 5). */
  retries?: number;
  /** Seconds without progress before a transfer fails (default 5); the endpoint's wins. */
  timeoutSec?: number;
  /** Block size when the endpoint gives none (default 512, which sends no blksize option). */
  blksize?: number;
  /** Bytes buffered ahead of a slow download consumer before ACKs are held (default 4 MiB). */
  highWaterMark?: number;
}

interface Settings {
  host: string;
  localAddress?: string;
  port: number;
  path: string;
  blksize: number;
  windowsize: number;
  retries: number;
  timeoutMs: number;
  rtoMs: number;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  onEvent?: (event: TransferEvent) => void;
  highWaterMark: number;
}

export class TftpTransferClient implements TransferClient {
  readonly scheme = 'tftp' as const;
  get defaultTimeoutSec(): number {
    return this.defaults.timeoutSec ?? 5;
  }

  constructor(private readonly defaults: TftpClientOptions = {}) {}

  download(from: TransferEndpoint): Promise<Download> {
    return new ClientTransfer(this.settings(from)).download();
  }

  upload(to: TransferEndpoint, body: AsyncIterable<Buffer>, size: number): Promise<void> {
    return new ClientTransfer(this.settings(to)).upload(body, size);
  }

  private settings(ep: TransferEndpoint): Settings {
    const d = this.defaults;
    const retries = Math.max(0, Math.floor(d.retries ?? 5));
    const timeoutMs = Math.max(0.05, ep.timeoutSec ?? d.timeoutSec ?? 5) * 1000;
    return {
      host: ep.host,
      localAddress: ep.localAddress,
      port: ep.port,
      path: ep.path,
      blksize: clamp(Math.floor(ep.blksize ?? d.blksize ?? DEFAULT_BLKSIZE), MIN_BLKSIZE, MAX_BLKSIZE),
      windowsize: clamp(Math.floor(d.windowsize ?? 1), 1, 65535),
      retries,
      timeoutMs,
      // Retransmit often enough that all retries fit in the no-progress deadline.
      rtoMs: Math.max(10, timeoutMs / (retries + 1)),
      signal: ep.signal,
      onProgress: ep.onProgress,
      onEvent: ep.onEvent,
      highWaterMark: d.highWaterMark ?? 4 << 20,
    };
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : lo;
}

function peerError(code: number, message: string, phase: TransferPhase): TransferError {
  const map: Record<number, TransferErrorCode> = {
    [ERR.FILE_NOT_FOUND]: 'not-found',
    [ERR.ACCESS_VIOLATION]: 'permission',
    [ERR.DISK_FULL]: 'no-space',
    [ERR.FILE_EXISTS]: 'permission',
  };
  return new TransferError(map[code] ?? 'protocol', phase, `TFTP error ${code}: ${message}`);
}

interface Negotiated {
  blksize: number;
  windowsize: number;
  tsize?: number;
}

/** One client transfer: open phase (request to the well-known port), then the engine. */
class ClientTransfer {
  private sock: dgram.Socket | null = null;
  private ch: Channel | null = null;
  private phase: TransferPhase = 'open';
  private onPacket: (msg: Buffer, rinfo: dgram.RemoteInfo) => void = () => {};
  private onAbortHook: (err: TransferError) => void = () => {};
  private closed = false;
  private readonly abortListener = (): void => this.onAbortHook(new TransferError('aborted', this.phase, 'transfer aborted'));

  constructor(private readonly s: Settings) {}

  // ---- download -------------------------------------------------------------------

  async download(): Promise<Download> {
    this.checkAborted();
    await this.openSocket();
    try {
      const { peer, packet: p, offer } = await this.request('RRQ', this.offer(undefined));
      if (p.op === 'OACK') return this.receive(peer, this.accept(p.options, offer, peer), null);
      // The server ignored our options: plain RFC 1350, 512-byte blocks, lock-step.
      if (p.op === 'DATA' && p.block === 1) return this.receive(peer, { blksize: DEFAULT_BLKSIZE, windowsize: 1 }, p.data);
      throw this.protocol(peer, `unexpected ${p.op} in reply to RRQ`);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private receive(peer: Peer, n: Negotiated, firstData: Buffer | null): Download {
    const s = this.s;
    this.phase = 'read';
    const ch = new Channel(this.sock!, peer);
    this.ch = ch;
    let receiver: BlockReceiver | null = null;
    const body = new BodyQueue(
      Math.max(s.highWaterMark, 2 * n.windowsize * n.blksize),
      () => receiver?.resume(),
      () => {
        // The consumer stopped reading: tell the server, free the socket.
        if (!this.closed) {
          receiver?.cancel();
          ch.send(encodeError(ERR.NOT_DEFINED, 'Transfer cancelled'));
          this.close();
        }
      },
    );
    receiver = new BlockReceiver(
      ch,
      body,
      {
        blksize: n.blksize,
        windowsize: n.windowsize,
        rtoMs: s.rtoMs,
        retries: s.retries,
        onProgress: s.onProgress,
        onEvent: s.onEvent,
        initial: firstData === null ? ackPacket(0) : undefined,
      },
      (r) => {
        if (r.ok) {
          this.dally();
          return;
        }
        body.fail(this.endError(r, 'read'));
        if (r.reason === 'protocol' || r.reason === 'sink') ch.send(encodeError(ERR.ILLEGAL_OPERATION));
        this.close();
      },
    );
    const rx = receiver;
    this.onAbortHook = (err) => {
      rx.cancel();
      ch.send(encodeError(ERR.NOT_DEFINED, 'Transfer aborted'));
      body.fail(err);
      this.close();
    };
    this.onPacket = (msg, rinfo) => {
      if (!this.fromPeer(rinfo, peer, msg)) return;
      const op = peekOpcode(msg);
      if (op === OP.DATA && msg.length >= 4) rx.onData(peekBlock(msg), msg.subarray(4));
      else if (op === OP.OACK) rx.repeatControl(); // our ACK 0 was lost
      else if (op === OP.ERROR) {
        const d = decode(msg);
        rx.cancel();
        body.fail(d.ok && d.packet.op === 'ERROR' ? peerError(d.packet.code, d.packet.message, 'read') : new TransferError('protocol', 'read'));
        this.close();
      } else {
        rx.cancel();
        body.fail(this.protocol(peer, 'unexpected packet during download', 'read'));
        this.close();
      }
    };
    rx.start();
    if (firstData !== null) rx.onData(1, firstData);
    return { size: n.tsize, body };
  }

  // ---- upload ---------------------------------------------------------------------

  async upload(body: AsyncIterable<Buffer>, size: number): Promise<void> {
    const s = this.s;
    this.checkAborted();
    await this.openSocket();
    let src: StreamSource | null = null;
    try {
      const { peer, packet: p, offer } = await this.request('WRQ', this.offer(size));
      let n: Negotiated;
      if (p.op === 'OACK') n = this.accept(p.options, offer, peer);
      else if (p.op === 'ACK' && p.block === 0) n = { blksize: DEFAULT_BLKSIZE, windowsize: 1 };
      else throw this.protocol(peer, `unexpected ${p.op} in reply to WRQ`);
      this.phase = 'write';
      const ch = new Channel(this.sock!, peer);
      this.ch = ch;
      const source = new StreamSource(body, n.blksize, Math.max(64, 4 * n.windowsize), size);
      src = source;
      await new Promise<void>((resolve, reject) => {
        const sender = new BlockSender(
          ch,
          source,
          { blksize: n.blksize, windowsize: n.windowsize, rtoMs: s.rtoMs, retries: s.retries, onProgress: s.onProgress, onEvent: s.onEvent },
          (r) => {
            if (r.ok) {
              s.onProgress?.(r.bytes);
              resolve();
              return;
            }
            // Tell the server so it discards the partial file.
            if (r.reason !== 'timeout') ch.send(encodeError(ERR.NOT_DEFINED, 'Transfer aborted'));
            if (r.reason === 'source' && !(r.error instanceof BodySizeError)) reject(r.error);
            else reject(this.endError(r, 'write'));
          },
        );
        this.onAbortHook = (err) => {
          sender.cancel();
          ch.send(encodeError(ERR.NOT_DEFINED, 'Transfer aborted'));
          reject(err);
        };
        this.onPacket = (msg, rinfo) => {
          if (!this.fromPeer(rinfo, peer, msg)) return;
          const op = peekOpcode(msg);
          if (op === OP.ACK && msg.length >= 4) sender.onAck(peekBlock(msg));
          else if (op === OP.OACK) sender.onAck(0); // a repeated OACK stands for ACK 0
          else if (op === OP.ERROR) {
            const d = decode(msg);
            sender.cancel();
            reject(d.ok && d.packet.op === 'ERROR' ? peerError(d.packet.code, d.packet.message, 'write') : new TransferError('protocol', 'write'));
          } else {
            sender.cancel();
            reject(this.protocol(peer, 'unexpected packet during upload', 'write'));
          }
        };
        sender.start();
      });
    } finally {
      src?.close();
      this.close();
    }
  }

  // ---- shared ---------------------------------------------------------------------

  /**
   * Sends the request and returns the server's first answer that is not an error. A server
   * that refuses the options (RFC 2347: ERROR 8) is asked again without them.
   */
  private async request(
    op: 'RRQ' | 'WRQ',
    offer: Array<[string, string]>,
  ): Promise<{ peer: Peer; packet: TftpPacket; offer: Array<[string, string]> }> {
    for (;;) {
      const { msg, peer } = await this.firstReply(encodeRequest(op, this.s.path, 'octet', offer));
      const d = decode(msg);
      if (!d.ok) throw this.protocol(peer, 'malformed first reply');
      const p = d.packet;
      if (p.op !== 'ERROR') return { peer, packet: p, offer };
      if (p.code === ERR.OPTION_NEGOTIATION && offer.length > 0) {
        offer = [];
        continue;
      }
      throw peerError(p.code, p.message, 'open');
    }
  }

  private offer(tsize: number | undefined): Array<[string, string]> {
    const s = this.s;
    const opts: Array<[string, string]> = [];
    if (s.blksize !== DEFAULT_BLKSIZE) opts.push(['blksize', String(s.blksize)]);
    opts.push(['tsize', String(tsize ?? 0)]);
    // RFC 2349 counts whole seconds (1-255); ask for our retransmission interval.
    opts.push(['timeout', String(clamp(Math.round(s.rtoMs / 1000), 1, 255))]);
    if (s.windowsize > 1) opts.push(['windowsize', String(s.windowsize)]);
    return opts;
  }

  /** Checks an OACK against what we offered (RFC 2347: only offered options, never larger). */
  private accept(got: TftpOptions, offer: Array<[string, string]>, peer: Peer): Negotiated {
    const offered = new Map(offer);
    const n: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1 };
    for (const [name, value] of got) {
      const asked = offered.get(name);
      if (asked === undefined) throw this.refuse(peer, `server acknowledged unrequested option ${name}`);
      if (name === 'blksize') {
        const v = intOption(value, MIN_BLKSIZE, Number(asked));
        if (v === undefined) throw this.refuse(peer, 'bad blksize in OACK');
        n.blksize = v;
      } else if (name === 'windowsize') {
        const v = intOption(value, 1, Number(asked));
        if (v === undefined) throw this.refuse(peer, 'bad windowsize in OACK');
        n.windowsize = v;
      } else if (name === 'tsize') {
        const v = intOption(value, 0, Number.MAX_SAFE_INTEGER);
        if (v !== undefined) n.tsize = v;
      }
      // timeout: the server's own retransmission interval; nothing for us to adopt.
    }
    return n;
  }

  private refuse(peer: Peer, why: string): TransferError {
    this.sock?.send(encodeError(ERR.OPTION_NEGOTIATION), peer.port, peer.address);
    return new TransferError('protocol', this.phase, why);
  }

  private protocol(peer: Peer, why: string, phase: TransferPhase = this.phase): TransferError {
    try {
      this.sock?.send(encodeError(ERR.ILLEGAL_OPERATION), peer.port, peer.address);
    } catch {
      // closed
    }
    return new TransferError('protocol', phase, why);
  }

  private endError(r: Extract<EndResult, { ok: false }>, phase: TransferPhase): TransferError {
    if (r.reason === 'timeout') return new TransferError('timeout', phase, 'TFTP server stopped answering');
    if (r.error instanceof TransferError) return r.error;
    const msg = r.error instanceof Error ? r.error.message : r.reason;
    return new TransferError('protocol', phase, msg);
  }

  /** True for packets from the transfer's peer; answers strangers with ERROR 5 (RFC 1350). */
  private fromPeer(rinfo: dgram.RemoteInfo, peer: Peer, msg: Buffer): boolean {
    if (rinfo.port === peer.port && rinfo.address === peer.address) return true;
    if (peekOpcode(msg) !== OP.ERROR) this.ch?.sendTo(encodeError(ERR.UNKNOWN_TID), { address: rinfo.address, port: rinfo.port });
    return false;
  }

  private checkAborted(): void {
    if (this.s.signal?.aborted) throw new TransferError('aborted', 'open', 'transfer aborted');
  }

  private async openSocket(): Promise<void> {
    const sock = createUdpSocket(this.s.host);
    sock.on('error', () => {}); // send failures surface as timeouts
    sock.on('message', (msg, rinfo) => {
      try {
        this.onPacket(msg, rinfo);
      } catch {
        // never throw out of the socket handler
      }
    });
    this.sock = sock;
    // From the router's own address when it has one of the server's family here, else any.
    const local = this.s.localAddress;
    const from = local !== undefined && isIP(local) === isIP(this.s.host) ? local : undefined;
    try {
      await bindSocket(sock, 0, from).catch((err: unknown) => {
        if (from === undefined) throw err;
        return bindSocket(sock, 0); // that address is not on this host (a test's router)
      });
    } catch (err) {
      this.close();
      throw new TransferError('protocol', 'open', `cannot bind a UDP socket: ${(err as Error).message}`);
    }
    this.s.signal?.addEventListener('abort', this.abortListener, { once: true });
  }

  /** Sends the request to the well-known port until the server answers from its TID. */
  private firstReply(request: Buffer): Promise<{ msg: Buffer; peer: Peer }> {
    const s = this.s;
    return new Promise((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout | null = null;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        timer = null;
        this.onPacket = () => {};
        this.onAbortHook = () => {};
      };
      const send = (): void => {
        try {
          this.sock?.send(request, s.port, s.host);
        } catch {
          // socket closed: the abort path rejects
        }
      };
      const tick = (): void => {
        if (++tries > s.retries) {
          done();
          reject(new TransferError('timeout', 'open', `no answer from ${s.host}`));
          return;
        }
        send();
        timer = setTimeout(tick, s.rtoMs);
      };
      this.onPacket = (msg, rinfo) => {
        if (rinfo.address !== s.host && rinfo.address !== `::ffff:${s.host}`) return;
        done();
        resolve({ msg, peer: { address: rinfo.address, port: rinfo.port } });
      };
      this.onAbortHook = (err) => {
        done();
        reject(err);
      };
      send();
      timer = setTimeout(tick, s.rtoMs);
    });
  }

  /** After the final ACK, keep the TID briefly to re-ACK a resent last block (RFC 1350). */
  private dally(): void {
    this.s.signal?.removeEventListener('abort', this.abortListener);
    this.onAbortHook = () => {};
    const sock = this.sock;
    if (!sock) return;
    sock.unref();
    setTimeout(() => this.close(), Math.max(this.s.rtoMs, 1000) + 200).unref();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.s.signal?.removeEventListener('abort', this.abortListener);
    if (this.ch) this.ch.close();
    else {
      try {
        this.sock?.close();
      } catch {
        // already closed
      }
    }
  }
}

/** The download body: blocks queue here until the consumer pulls them. */
class BodyQueue implements BlockSink, AsyncIterable<Buffer> {
  private q: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private error: unknown = null;
  private wake: (() => void) | null = null;
  private cancelled = false;

  constructor(
    private readonly hwm: number,
    private readonly onDrain: () => void,
    private readonly onCancel: () => void,
  ) {}

  write(data: Buffer): boolean {
    this.q.push(data);
    this.bytes += data.length;
    this.notify();
    return this.bytes < this.hwm;
  }

  finish(): Promise<void> {
    this.ended = true;
    this.notify();
    return Promise.resolve();
  }

  fail(err: unknown): void {
    if (this.ended || this.error) return;
    this.error = err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        for (;;) {
          if (this.q.length > 0) {
            // Hand over everything queued at once: fewer, larger chunks for the consumer.
            const items = this.q;
            this.q = [];
            const out = items.length === 1 ? items[0]! : Buffer.concat(items);
            this.bytes = 0;
            this.onDrain();
            return { value: out, done: false };
          }
          if (this.error) throw this.error;
          if (this.ended || this.cancelled) return { value: undefined, done: true };
          await new Promise<void>((r) => (this.wake = r));
        }
      },
      return: async (): Promise<IteratorResult<Buffer>> => {
        if (!this.ended && !this.error && !this.cancelled) {
          this.cancelled = true;
          this.onCancel();
        }
        return { value: undefined, done: true };
      },
    };
  }
}

// ---- lower-level helpers (benchmarks, scripts) -------------------------------------

export interface TftpGetOptions extends TftpClientOptions {
  host: string;
  port: number;
  path: string;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** Downloads into a writable stream (respecting its backpressure); resolves with byte count. */
export async function tftpGet(o: TftpGetOptions, out: Writable): Promise<{ bytes: number; size?: number }> {
  const client = new TftpTransferClient(o);
  const d = await client.download({ host: o.host, port: o.port, path: o.path, blksize: o.blksize, signal: o.signal, onProgress: o.onProgress, timeoutSec: o.timeoutSec });
  let bytes = 0;
  for await (const chunk of d.body) {
    bytes += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  return { bytes, size: d.size };
}

/** Uploads `size` bytes from `body`. */
export function tftpPut(o: TftpGetOptions, body: AsyncIterable<Buffer>, size: number): Promise<void> {
  const client = new TftpTransferClient(o);
  return client.upload({ host: o.host, port: o.port, path: o.path, blksize: o.blksize, signal: o.signal, onProgress: o.onProgress, timeoutSec: o.timeoutSec }, body, size);
}
