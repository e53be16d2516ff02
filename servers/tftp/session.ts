/**
 * The TFTP transfer engine shared by TftpServer and the router's TftpTransferClient: one
 * sender (DATA out, ACKs in) and one receiver (DATA in, ACKs out), each with RFC 7440
 * windows, block-number rollover, retransmission and bounded retries. Who sends and who
 * receives depends only on the direction (server RRQ = client upload = sender).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { OP, writeHeader } from './packets.ts';

/** Faults a lab server injects into the packets it sends (see TftpServer). */
export interface TftpFaults {
  /** Drop every Nth packet sent by a transfer. */
  dropEveryN?: number;
  /** Drop each sent packet with this probability (0..1). */
  dropProbability?: number;
  /** Delay each sent packet by this many milliseconds. */
  delayMs?: number;
  /** Stop sending (DATA) or acknowledging (ACK) once this many data bytes moved: the transfer hangs. */
  stallAfterBytes?: number;
  /** Ignore every request silently. */
  refuseAll?: boolean;
}

export interface Peer {
  address: string;
  port: number;
}

/**
 * dgram calls its lookup function for every send to an address string; the default
 * (dns.lookup) defers even an IP literal by a tick. Answering IP literals synchronously
 * removes that hop from the per-packet path.
 */
export function fastLookup(
  host: string,
  opts: LookupOneOptions,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(host);
  if (family !== 0) cb(null, host, family);
  else dnsLookup(host, opts, cb);
}

export function createUdpSocket(host: string): dgram.Socket {
  return dgram.createSocket({
    type: isIP(host) === 6 ? 'udp6' : 'udp4',
    lookup: fastLookup,
    // A window of large blocks must fit in the receive queue or it is dropped wholesale.
    recvBufferSize: 4 * 1024 * 1024,
    sendBufferSize: 4 * 1024 * 1024,
  });
}

export function bindSocket(sock: dgram.Socket, port: number, address?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    sock.once('error', onError);
    sock.bind({ port, address, exclusive: true }, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

/** One transfer's path to its peer; applies the lab's faults to what it sends. */
export class Channel {
  closed = false;
  private count = 0;
  private stalled = false;

  constructor(
    readonly socket: dgram.Socket,
    readonly peer: Peer,
    private readonly faults: () => TftpFaults | undefined = () => undefined,
  ) {}

  /** `dataBytes`: data bytes this packet delivers or acknowledges in total (for stallAfterBytes). */
  send(msg: Buffer | Buffer[], dataBytes = -1): void {
    if (this.closed) return;
    const f = this.faults();
    if (f !== undefined) {
      this.count++;
      if (this.stalled) return;
      if (f.stallAfterBytes !== undefined && dataBytes > f.stallAfterBytes) {
        this.stalled = true;
        return;
      }
      if (f.dropEveryN !== undefined && f.dropEveryN > 0 && this.count % f.dropEveryN === 0) return;
      if (f.dropProbability !== undefined && f.dropProbability > 0 && Math.random() < f.dropProbability) return;
      if (f.delayMs !== undefined && f.delayMs > 0) {
        setTimeout(() => this.sendTo(msg, this.peer), f.delayMs);
        return;
      }
    }
    this.sendTo(msg, this.peer);
  }

  /** Sends without faults, e.g. ERROR 5 to a stranger. */
  sendTo(msg: Buffer | Buffer[], to: Peer): void {
    if (this.closed) return;
    try {
      this.socket.send(msg, to.port, to.address);
    } catch {
      // The socket closed under us (stop() racing a timer): nothing left to tell anyone.
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

export interface FlowParams {
  blksize: number;
  windowsize: number;
  /** Retransmission interval. */
  rtoMs: number;
  /** Retransmissions without progress before giving up. */
  retries: number;
  /** Called with the number of data bytes confirmed so far. */
  onProgress?: (bytes: number) => void;
  /** A retransmission after silence, or a block ahead of the one expected (IOS's `.` and `O`). */
  onEvent?: (event: TransferEvent) => void;
}

export type TransferEvent = 'timeout' | 'out-of-order';

export type EndResult =
  | { ok: true; bytes: number }
  | { ok: false; reason: 'timeout' | 'source' | 'sink' | 'protocol'; bytes: number; error?: unknown };

/** Blocks to send, numbered from 1; a block shorter than blksize is the last one. */
export interface BlockSource {
  /** Block `n`, or null when it is not loaded yet (then call wait). */
  block(n: number): Buffer | null;
  /** Resolves once block `n` is available; rejects when the source failed. */
  wait(n: number): Promise<void>;
  /** Blocks below `n` were acknowledged and will not be asked for again. */
  release(n: number): void;
}

/** Where received blocks go. */
export interface BlockSink {
  /** Takes the next in-order block; false asks the receiver to hold its ACKs until resume(). */
  write(data: Buffer): boolean;
  /** After the last block: resolves when the data is safe, then the final ACK goes out. */
  finish(): Promise<void>;
}

/** Absolute block number nearest above `ref` whose low 16 bits are `wire` (rollover 65535 -> 0). */
function unwrapFrom(ref: number, wire: number): number {
  return ref + ((wire - (ref & 0xffff)) & 0xffff);
}

/** Sends DATA windows and retransmits until every block is acknowledged. */
export class BlockSender {
  private base = 1; // oldest unacknowledged block
  private next = 1; // next block to transmit
  private high = 0; // highest block transmitted so far
  private last = Number.POSITIVE_INFINITY; // number of the final (short) block once known
  private lastLen = 0;
  private retries = 0;
  private timerBase = Date.now();
  private timer: NodeJS.Timeout | null = null;
  // Blocks we sent more than once: a duplicate ACK for one of them that comes right after
  // the first ACK may be the receiver's echo of our duplicate, and answering it would start
  // the Sorcerer's Apprentice (RFC 1123 4.2.3.1). A later one is the receiver's timer.
  private ambLo = 1;
  private ambHi = 0;
  private advancedAt = 0;
  private rewoundFor = -1;
  private rewoundAt = 0;
  // Round-trip estimate (one sample in flight, Karn: none across a resend).
  private srtt = 0;
  private sampleBlock = 0;
  private sampleAt = 0;
  private waiting = false;
  private done = false;

  constructor(
    private readonly ch: Channel,
    private readonly src: BlockSource,
    private readonly p: FlowParams & { preamble?: Buffer },
    private readonly onEnd: (r: EndResult) => void,
  ) {}

  private preamble: Buffer | null = null;

  start(): void {
    this.preamble = this.p.preamble ?? null;
    this.timerBase = Date.now();
    if (this.preamble) this.ch.send(this.preamble);
    else this.pump();
    this.arm();
  }

  /** The peer repeated its request: our first packet was probably lost. */
  repeatPreamble(): void {
    if (this.preamble && !this.done) this.ch.send(this.preamble);
  }

  get bytesAcked(): number {
    return this.base > this.last ? (this.last - 1) * this.p.blksize + this.lastLen : (this.base - 1) * this.p.blksize;
  }

  onAck(wire: number): void {
    if (this.done) return;
    if (this.preamble) {
      if (wire !== 0) return;
      this.preamble = null;
      this.progress();
      this.pump();
      return;
    }
    const k = unwrapFrom(this.base - 1, wire);
    if (k > this.high) return; // stale ACK from before a rollover, or bogus
    const now = Date.now();
    if (k >= this.base) {
      const partial = k < this.high;
      if (this.sampleBlock !== 0 && k >= this.sampleBlock) {
        const rtt = now - this.sampleAt;
        this.srtt = this.srtt === 0 ? rtt : (7 * this.srtt + rtt) / 8;
        this.sampleBlock = 0;
      }
      this.base = k + 1;
      this.advancedAt = now;
      this.src.release(this.base);
      this.progress();
      if (k >= this.last) {
        this.finish({ ok: true, bytes: this.bytesAcked });
        return;
      }
      this.p.onProgress?.(this.bytesAcked);
      // RFC 7440: an ACK inside the window means the receiver missed k+1; restart there.
      if (partial) this.rewind();
      else this.pump();
    } else if (k === this.base - 1) {
      // Duplicate ACK: the receiver's timer fired waiting for `base` (lost), or a gap.
      const echo = Math.max(20, 4 * this.srtt);
      if (k >= this.ambLo && k <= this.ambHi && now - this.advancedAt < echo) return;
      if (this.rewoundFor === k && now - this.rewoundAt < echo) return;
      this.rewoundFor = k;
      this.rewoundAt = now;
      this.rewind();
    }
  }

  /** Resends from `base`; those blocks now exist twice, so mark them for the echo check. */
  private rewind(): void {
    this.ambLo = this.base;
    this.ambHi = this.high;
    this.sampleBlock = 0;
    this.next = this.base;
    this.pump();
  }

  cancel(): void {
    this.stop();
  }

  private progress(): void {
    this.retries = 0;
    this.timerBase = Date.now();
    this.rewoundFor = -1;
  }

  private pump(): void {
    const bs = this.p.blksize;
    const end = this.base + this.p.windowsize;
    while (!this.done && this.next <= this.last && this.next < end) {
      const n = this.next;
      const payload = this.src.block(n);
      if (payload === null) {
        if (!this.waiting) {
          this.waiting = true;
          this.src.wait(n).then(
            () => {
              this.waiting = false;
              this.pump();
            },
            (error: unknown) => this.finish({ ok: false, reason: 'source', bytes: this.bytesAcked, error }),
          );
        }
        return;
      }
      const hdr = Buffer.allocUnsafe(4);
      writeHeader(hdr, OP.DATA, n);
      // Scatter/gather: the payload is a view into the read buffer, never copied.
      this.ch.send(payload.length > 0 ? [hdr, payload] : hdr, (n - 1) * bs + payload.length);
      if (payload.length < bs) {
        this.last = n;
        this.lastLen = payload.length;
      }
      if (n > this.high) {
        this.high = n;
        if (this.sampleBlock === 0) {
          this.sampleBlock = n;
          this.sampleAt = Date.now();
        }
      }
      this.next = n + 1;
    }
  }

  private arm(): void {
    if (this.timer === null && !this.done) this.timer = setTimeout(this.onTimer, this.p.rtoMs);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.done) return;
    const idle = Date.now() - this.timerBase;
    if (idle < this.p.rtoMs) {
      this.timer = setTimeout(this.onTimer, this.p.rtoMs - idle);
      return;
    }
    if (++this.retries > this.p.retries) {
      this.finish({ ok: false, reason: 'timeout', bytes: this.bytesAcked });
      return;
    }
    this.timerBase = Date.now();
    this.p.onEvent?.('timeout');
    if (this.preamble) {
      this.ch.send(this.preamble);
    } else {
      this.rewind();
    }
    this.arm();
  };

  private stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(r: EndResult): void {
    if (this.done) return;
    this.stop();
    this.onEnd(r);
  }
}

/** Receives DATA in order, acknowledges each window, and re-acknowledges on timeout. */
export class BlockReceiver {
  private expected = 1;
  private windowCount = 0;
  private nakSent = false;
  private paused = false;
  private ackHeld = false;
  private finishing = false;
  private done = false;
  private bytes = 0;
  private retries = 0;
  private timerBase = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private control: Buffer;

  constructor(
    private readonly ch: Channel,
    private readonly sink: BlockSink,
    private readonly p: FlowParams & { initial?: Buffer },
    private readonly onEnd: (r: EndResult) => void,
  ) {
    this.control = p.initial ?? ackPacket(0);
  }

  get received(): number {
    return this.bytes;
  }

  private lastWasShort = false;

  start(): void {
    if (this.p.initial) this.ch.send(this.p.initial);
    this.timerBase = Date.now();
    this.arm();
  }

  /** The peer repeated its request: resend our answer to it (OACK or ACK 0). */
  repeatControl(): void {
    if (!this.done && this.expected === 1) this.ch.send(this.control);
  }

  onData(wire: number, payload: Buffer): void {
    if (this.done) {
      // Dallying: the sender missed our final ACK and resent the last block.
      if (this.lastWasShort && wire === ((this.expected - 1) & 0xffff)) this.ch.send(this.control, this.bytes);
      return;
    }
    if (this.finishing) return;
    if (payload.length > this.p.blksize) {
      this.finish({ ok: false, reason: 'protocol', bytes: this.bytes, error: new Error('DATA larger than blksize') });
      return;
    }
    if (wire !== (this.expected & 0xffff)) {
      // A block past the one expected arrived before it: out of order (a duplicate is not).
      if (((wire - this.expected) & 0xffff) < 0x8000) this.p.onEvent?.('out-of-order');
      // A duplicate (our ACK was lost) or a gap (a block was lost, RFC 7440): ACK the last
      // in-order block, once until progress, so a burst of strays yields a single answer.
      if (!this.nakSent && !this.ackHeld && !this.paused) {
        this.nakSent = true;
        this.windowCount = 0;
        this.sendAck();
      }
      return;
    }
    this.expected++;
    this.bytes += payload.length;
    this.windowCount++;
    this.nakSent = false;
    this.retries = 0;
    this.timerBase = Date.now();
    const more = this.sink.write(payload);
    this.p.onProgress?.(this.bytes);
    if (payload.length < this.p.blksize) {
      this.finishing = true;
      this.lastWasShort = true;
      this.sink.finish().then(
        () => {
          this.finishing = false;
          this.sendAck();
          this.finish({ ok: true, bytes: this.bytes });
        },
        (error: unknown) => {
          this.finishing = false;
          this.finish({ ok: false, reason: 'sink', bytes: this.bytes, error });
        },
      );
      return;
    }
    if (!more) this.paused = true;
    if (this.windowCount >= this.p.windowsize) {
      this.windowCount = 0;
      if (this.paused) this.ackHeld = true;
      else this.sendAck();
    }
  }

  /** The sink drained: release a held ACK. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.ackHeld && !this.done) {
      this.ackHeld = false;
      this.timerBase = Date.now();
      this.sendAck();
    }
  }

  cancel(): void {
    this.stop();
  }

  private sendAck(): void {
    // Before block 1 the answer is our first reply (OACK or ACK 0), never a bare ACK 0
    // that would cancel the options the OACK granted.
    if (this.expected > 1) this.control = ackPacket(this.expected - 1);
    this.ch.send(this.control, this.bytes);
  }

  private arm(): void {
    if (this.timer === null && !this.done) this.timer = setTimeout(this.onTimer, this.p.rtoMs);
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.done) return;
    const idle = Date.now() - this.timerBase;
    // Holding ACKs for a slow consumer, or writing the last block: not the peer's fault.
    if (idle < this.p.rtoMs || this.ackHeld || this.paused || this.finishing) {
      this.timer = setTimeout(this.onTimer, Math.max(1, this.p.rtoMs - idle));
      if (this.ackHeld || this.paused || this.finishing) this.timerBase = Date.now();
      return;
    }
    if (++this.retries > this.p.retries) {
      this.finish({ ok: false, reason: 'timeout', bytes: this.bytes });
      return;
    }
    this.timerBase = Date.now();
    this.p.onEvent?.('timeout');
    this.windowCount = 0; // the sender restarts its window after our re-ACK
    this.ch.send(this.control, this.bytes);
    this.arm();
  };

  private stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(r: EndResult): void {
    if (this.done) return;
    this.stop();
    this.onEnd(r);
  }
}

export function ackPacket(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  writeHeader(b, OP.ACK, block);
  return b;
}

interface Chunk {
  index: number;
  buf: Buffer;
  len: number;
  ready: boolean;
  promise: Promise<void>;
}

/**
 * Reads a file in large chunks ahead of the sender, so the per-block path is a subarray.
 * Chunk buffers are recycled once every block in them was acknowledged: a resend of such
 * a block still queued in libuv would carry stale bytes, but the receiver already has that
 * block and discards it, so recycling is safe and spares the allocator and the GC.
 */
export class FileSource implements BlockSource {
  private readonly chunks = new Map<number, Chunk>();
  private readonly perChunk: number;
  private readonly chunkBytes: number;
  private readonly pool: Buffer[] = [];
  private cur: Chunk | null = null; // last chunk served: most calls hit it
  private lowest = 0; // lowest chunk index still held
  private eofChunk = Number.POSITIVE_INFINITY;
  private error: unknown = null;

  constructor(
    private readonly fd: number,
    private readonly blksize: number,
    windowsize: number,
  ) {
    // ~1 MiB per read, and at least two windows so a rewind never needs an evicted chunk.
    this.perChunk = Math.max(16, 2 * windowsize, Math.ceil((1 << 20) / blksize));
    this.chunkBytes = this.perChunk * blksize;
    this.load(0);
  }

  block(n: number): Buffer | null {
    const c = Math.floor((n - 1) / this.perChunk);
    let ch = this.cur;
    if (ch === null || ch.index !== c) {
      ch = this.chunks.get(c) ?? null;
      if (ch === null || !ch.ready) {
        if (ch === null) this.load(c);
        return null;
      }
      this.cur = ch;
      if (c < this.eofChunk && !this.chunks.has(c + 1)) this.load(c + 1); // read ahead
    }
    const off = (n - 1 - c * this.perChunk) * this.blksize;
    if (off >= ch.len) return ch.buf.subarray(0, 0);
    return ch.buf.subarray(off, Math.min(off + this.blksize, ch.len));
  }

  wait(n: number): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    const c = Math.floor((n - 1) / this.perChunk);
    if (!this.chunks.has(c)) this.load(c);
    return this.chunks.get(c)!.promise;
  }

  release(n: number): void {
    // Only when `n` passes the end of the oldest chunk: one comparison per ACK otherwise.
    while ((this.lowest + 1) * this.perChunk < n) {
      const old = this.chunks.get(this.lowest);
      this.chunks.delete(this.lowest);
      if (old?.ready && this.pool.length < 2) this.pool.push(old.buf);
      if (this.cur === old) this.cur = null;
      this.lowest++;
    }
  }

  private load(c: number): void {
    if (c > this.eofChunk || c < this.lowest) return;
    const size = this.chunkBytes;
    const buf = this.pool.pop() ?? Buffer.allocUnsafeSlow(size);
    const entry: Chunk = { index: c, buf, len: 0, ready: false, promise: Promise.resolve() };
    entry.promise = new Promise<void>((resolve, reject) => {
      const readAt = (got: number): void => {
        fs.read(this.fd, buf, got, size - got, c * size + got, (err, n) => {
          if (err) {
            this.error = err;
            reject(err);
            return;
          }
          got += n;
          if (n > 0 && got < size) {
            readAt(got); // regular files read short only at EOF, but be exact anyway
            return;
          }
          entry.len = got;
          entry.ready = true;
          if (got < size) this.eofChunk = Math.min(this.eofChunk, c);
          resolve();
        });
      };
      readAt(0);
    });
    entry.promise.catch(() => {}); // surfaced through wait(); never unhandled
    this.chunks.set(c, entry);
  }
}

/** The body handed to an upload was shorter or longer than the size announced. */
export class BodySizeError extends Error {
  override name = 'BodySizeError';
}

/**
 * Cuts an arbitrary byte stream into blocks, keeping unacknowledged ones for resends.
 * With `expectedSize`, a stream that ends short or runs long fails instead of sending a
 * truncated file.
 */
export class StreamSource implements BlockSource {
  private blocks: Buffer[] = [];
  private head = 0; // index in `blocks` of block number `first`
  private first = 1;
  private carry: Buffer | null = null;
  private total = 0;
  private ended = false;
  private error: unknown = null;
  private pulling: Promise<void> | null = null;
  private readonly it: AsyncIterator<Buffer>;

  constructor(
    body: AsyncIterable<Buffer>,
    private readonly blksize: number,
    private readonly readAhead: number,
    private readonly expectedSize?: number,
  ) {
    this.it = body[Symbol.asyncIterator]();
  }

  private get available(): number {
    return this.first + (this.blocks.length - this.head); // first block number not yet cut
  }

  block(n: number): Buffer | null {
    if (n < this.available) {
      if (!this.ended && this.available - n < this.readAhead) void this.fill(n + this.readAhead).catch(() => {});
      return this.blocks[this.head + (n - this.first)]!;
    }
    if (!this.ended || this.error) void this.fill(n + this.readAhead).catch(() => {});
    return null;
  }

  wait(n: number): Promise<void> {
    return this.fill(n);
  }

  release(n: number): void {
    if (n <= this.first) return;
    const drop = Math.min(n - this.first, this.blocks.length - this.head);
    this.head += drop;
    this.first += drop;
    if (this.head > 1024 && this.head * 2 > this.blocks.length) {
      this.blocks = this.blocks.slice(this.head);
      this.head = 0;
    }
  }

  /** Stops the body iterator (transfer ended early). */
  close(): void {
    if (!this.ended) {
      this.ended = true;
      void Promise.resolve(this.it.return?.()).catch(() => {});
    }
  }

  private async fill(n: number): Promise<void> {
    while (this.available <= n) {
      if (this.error) throw this.error;
      if (this.ended) return;
      if (this.pulling === null) {
        this.pulling = this.pullOnce().finally(() => {
          this.pulling = null;
        });
      }
      await this.pulling;
    }
  }

  private async pullOnce(): Promise<void> {
    let r: IteratorResult<Buffer>;
    try {
      r = await this.it.next();
    } catch (err) {
      this.error = err;
      throw err;
    }
    if (this.ended) return;
    if (r.done) {
      this.ended = true;
      if (this.expectedSize !== undefined && this.total !== this.expectedSize) {
        this.error = new BodySizeError(`body ended at ${this.total} of ${this.expectedSize} bytes`);
        throw this.error;
      }
      // The final block is shorter than blksize; zero bytes when the size is a multiple.
      this.blocks.push(this.carry ?? Buffer.alloc(0));
      this.carry = null;
      return;
    }
    let chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.total += chunk.length;
    if (this.expectedSize !== undefined && this.total > this.expectedSize) {
      this.error = new BodySizeError(`body longer than ${this.expectedSize} bytes`);
      throw this.error;
    }
    const bs = this.blksize;
    if (this.carry) {
      const need = bs - this.carry.length;
      if (chunk.length < need) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      this.blocks.push(Buffer.concat([this.carry, chunk.subarray(0, need)]));
      this.carry = null;
      chunk = chunk.subarray(need);
    }
    let off = 0;
    while (chunk.length - off >= bs) {
      this.blocks.push(chunk.subarray(off, off + bs));
      off += bs;
    }
    if (off < chunk.length) this.carry = Buffer.from(chunk.subarray(off)); // copy: the caller may reuse its buffer
  }
}

/** netascii (RFC 764) for the sending side: LF -> CR LF, CR -> CR NUL. */
export async function* netasciiEncode(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let o = 0;
    for (const c of chunk) {
      if (c === 0x0a) {
        out[o++] = 0x0d;
        out[o++] = 0x0a;
      } else if (c === 0x0d) {
        out[o++] = 0x0d;
        out[o++] = 0x00;
      } else out[o++] = c;
    }
    yield out.subarray(0, o);
  }
}

/** netascii for the receiving side; keeps a CR that ends one block for the next. */
export function netasciiDecoder(): { push(b: Buffer): Buffer; end(): Buffer } {
  let pendingCR = false;
  return {
    push(b: Buffer): Buffer {
      const out = Buffer.allocUnsafe(b.length + 1);
      let o = 0;
      let i = 0;
      if (pendingCR && b.length > 0) {
        pendingCR = false;
        const c = b[0]!;
        if (c === 0x0a) out[o++] = 0x0a;
        else if (c === 0x00) out[o++] = 0x0d;
        else {
          out[o++] = 0x0d;
          out[o++] = c;
        }
        i = 1;
      }
      for (; i < b.length; i++) {
        const c = b[i]!;
        if (c !== 0x0d) {
          out[o++] = c;
          continue;
        }
        if (i + 1 === b.length) {
          pendingCR = true;
          break;
        }
        const d = b[++i]!;
        if (d === 0x0a) out[o++] = 0x0a;
        else if (d === 0x00) out[o++] = 0x0d;
        else {
          out[o++] = 0x0d;
          out[o++] = d;
        }
      }
      return out.subarray(0, o);
    },
    end(): Buffer {
      const tail = pendingCR ? Buffer.from([0x0d]) : Buffer.alloc(0);
      pendingCR = false;
      return tail;
    },
  };
}
