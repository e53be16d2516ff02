/**
 * The TFTP server's transfer workers: a few worker threads, each running whole transfers
 * (ServerSession, with its own socket) handed over by the server's request socket. Only
 * control crosses threads (a transfer opened, repeated, aborted; faults; its log entry and
 * its end), never a packet, so the packet path is the same as in the server's own thread.
 *
 * Under tsx (tests, `flashlab`) a worker starts from sessionWorker.boot.mjs, which loads
 * tsx first; the node agent's esbuild bundle builds the worker as its own file and names it
 * through FLASHLAB_TFTP_WORKER_BUNDLE (lab/runtime/agentBundle.ts).
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RequestPacket } from './packets.ts';
import type { Peer, TftpFaults } from './session.ts';
import type { ServerSettings, TftpLogEntry } from './serverSession.ts';

/** Messages to a worker. */
export type ToWorker =
  | { t: 'open'; id: number; key: string; req: RequestPacket; peer: Peer }
  | { t: 'repeat'; id: number; msg: Buffer; peer: Peer }
  | { t: 'abort'; id: number }
  | { t: 'faults'; faults: TftpFaults | undefined }
  | { t: 'stop' };

/** Messages from a worker. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'finished'; id: number }
  | { t: 'record'; entry: TftpLogEntry }
  | { t: 'forget'; id: number }
  /** A repeated request reached a transfer that had already ended: it asks for a new one. */
  | { t: 'again'; id: number; msg: Uint8Array; peer: Peer }
  | { t: 'stopped' };

/** What a worker starts with. */
export interface WorkerData {
  settings: ServerSettings;
  faults: TftpFaults | undefined;
}

/** The server side the pool reports to. */
export interface PoolOwner {
  record(entry: TftpLogEntry): void;
  forget(key: string, s: RemoteSession): void;
  /** Takes a request again, as if it had just arrived. */
  request(msg: Buffer, peer: Peer): void;
}

// Set by the agent bundle's build (esbuild `define`); absent when running from the sources.
declare const FLASHLAB_TFTP_WORKER_BUNDLE: string | undefined;

function workerEntry(): URL {
  if (typeof FLASHLAB_TFTP_WORKER_BUNDLE === 'string') return pathToFileURL(FLASHLAB_TFTP_WORKER_BUNDLE);
  return new URL('./sessionWorker.boot.mjs', import.meta.url);
}

/** FLASHLAB_TFTP_WORKERS when set (0 or 1: no workers), else the CPUs this process may use. */
export function defaultSessionWorkers(): number {
  const raw = process.env.FLASHLAB_TFTP_WORKERS;
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw);
    if (Number.isInteger(n) && n >= 0 && n <= 64) return n;
  }
  return availableParallelism();
}

/** A transfer running in a worker, as the request socket sees it. */
export class RemoteSession {
  finished = false;

  constructor(
    readonly id: number,
    readonly key: string,
    private readonly worker: PooledWorker,
    readonly req: RequestPacket,
    readonly started: Date,
  ) {}

  /**
   * The client sent its request again. Whether the transfer is still running is known only
   * in the worker (its end may be on its way here), so the worker decides: it repeats its
   * answer, or sends the request back as a new one.
   */
  repeat(msg: Buffer, peer: Peer): void {
    this.worker.post({ t: 'repeat', id: this.id, msg, peer });
  }

  abort(): void {
    this.worker.post({ t: 'abort', id: this.id });
  }
}

class PooledWorker {
  readonly sessions = new Map<number, RemoteSession>();
  private stopped?: () => void;
  dead = false;

  constructor(
    readonly thread: Worker,
    private readonly owner: PoolOwner,
  ) {
    thread.on('message', (m: FromWorker) => this.onMessage(m));
    thread.on('error', () => this.lost('session worker failed'));
    thread.on('exit', () => this.lost('session worker exited'));
  }

  post(m: ToWorker): void {
    if (!this.dead) this.thread.postMessage(m);
  }

  /** Resolves once every transfer of this worker is aborted, cleaned up and logged. */
  stop(): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.stopped = resolve;
      this.post({ t: 'stop' });
    }).then(() => this.thread.terminate().then(() => undefined));
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'finished': {
        const s = this.sessions.get(m.id);
        if (s) s.finished = true;
        return;
      }
      case 'record':
        this.owner.record(m.entry);
        return;
      case 'again': {
        const s = this.sessions.get(m.id);
        if (s) s.finished = true;
        this.owner.request(Buffer.from(m.msg.buffer, m.msg.byteOffset, m.msg.byteLength), m.peer);
        return;
      }
      case 'forget': {
        const s = this.sessions.get(m.id);
        this.sessions.delete(m.id);
        if (s) {
          s.finished = true;
          this.owner.forget(s.key, s);
        }
        return;
      }
      case 'stopped':
        this.dead = true;
        this.stopped?.();
        return;
    }
  }

  /** The thread died: its transfers are over; each gets an entry, as any failed transfer does. */
  private lost(message: string): void {
    if (this.dead) return;
    this.dead = true;
    for (const s of this.sessions.values()) {
      const entry: TftpLogEntry = {
        time: s.started,
        request: s.req.op as 'RRQ' | 'WRQ',
        peer: s.key,
        file: s.req.filename,
        direction: s.req.op === 'RRQ' ? 'read' : 'write',
        mode: s.req.mode,
        options: {},
        bytes: 0,
        outcome: 'error',
        durationMs: Date.now() - s.started.getTime(),
        message,
      };
      s.finished = true;
      this.owner.forget(s.key, s);
      this.owner.record(entry);
    }
    this.sessions.clear();
    this.stopped?.();
  }
}

export class SessionPool {
  private nextId = 1;

  private constructor(private readonly workers: PooledWorker[]) {}

  /** Starts `size` workers and resolves once each is ready to take transfers. */
  static async start(size: number, settings: ServerSettings, faults: TftpFaults | undefined, owner: PoolOwner): Promise<SessionPool> {
    const data: WorkerData = { settings, faults };
    const threads = Array.from({ length: size }, () => new Worker(workerEntry(), { workerData: data }));
    try {
      await Promise.all(
        threads.map(
          (t) =>
            new Promise<void>((resolve, reject) => {
              const onMessage = (m: FromWorker) => {
                if (m.t !== 'ready') return;
                t.off('message', onMessage);
                t.off('error', reject);
                resolve();
              };
              t.on('message', onMessage);
              t.once('error', reject);
            }),
        ),
      );
    } catch (e) {
      await Promise.all(threads.map((t) => t.terminate()));
      throw new Error(`TFTP session workers did not start: ${(e as Error).message}`);
    }
    return new SessionPool(threads.map((t) => new PooledWorker(t, owner)));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hands a new transfer to the worker with the fewest running; undefined when none is left. */
  open(key: string, req: RequestPacket, peer: Peer): RemoteSession | undefined {
    let best: PooledWorker | undefined;
    for (const w of this.workers) if (!w.dead && (!best || w.sessions.size < best.sessions.size)) best = w;
    if (!best) return undefined;
    const s = new RemoteSession(this.nextId++, key, best, req, new Date());
    best.sessions.set(s.id, s);
    best.post({ t: 'open', id: s.id, key, req, peer });
    return s;
  }

  setFaults(faults: TftpFaults | undefined): void {
    for (const w of this.workers) w.post({ t: 'faults', faults });
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
