/**
 * The node protocol: how a lab talks to a node that runs in another process (a node agent,
 * `flashlab node`, in a network namespace or a container). HTTP/1.1 and JSON over a Unix
 * socket in the lab's state folder:
 *
 *   GET  /info                        NodeInfo (state, address, ports as bound)
 *   GET  /health                      { healthy }
 *   POST /exec { lines }              { output }          routers, privilege 15, no prompts
 *   POST /transcript { lines, user?, answers?, yes? }    { text, refused, stoppedAt? }
 *   POST /faults { faults }           {}                  servers, the topology's words
 *   GET  /logs                        log entries (servers) or console + buffer (routers)
 *   GET  /router                      RouterStatus (state, boot time, ROMmon reason, default fs)
 *   GET  /file?path=p                 ServerFile: size and MD5 of a file under the server's root
 *   GET  /events?since=n&wait=ms      { next, events }: syslog, state, log and warn events
 *                                     after sequence n, held up to `wait` ms until one comes
 *   POST /clock { now }               the lab clock moved: the node's clock follows to `now`
 *                                     (ms since the epoch), firing what falls due in order
 *   POST /stop                        {} then the node stops and the agent exits
 *
 * A refused call answers 400 `{ error }` with the message the embedded runtime would throw.
 *
 * Why a Unix socket rather than loopback TCP: the file is reachable from the lab's process
 * whatever network namespace the agent sits in (a namespace has its own loopback), its mode
 * bits keep other users out without a token, and it never takes a port the node needs.
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import type { NodeEvent, NodeHandle, NodeInfo, RouterStatus, ServerFile, TranscriptOptions, TranscriptReply } from './types.ts';

/** Events an agent keeps for a lab that has not read them yet (older ones are dropped). */
const EVENT_RING = 5000;
/** The longest an events request is held open. */
const MAX_WAIT_MS = 30_000;
const MAX_BODY = 1024 * 1024;

interface Sequenced {
  seq: number;
  event: NodeEvent;
}

/** What the agent adds to a node handle: the clock it follows and how it stops. */
export interface AgentControls {
  followClock(nowMs: number): void;
  stop(): Promise<void>;
}

class BadRequest extends Error {}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new BadRequest('request body too large');
    chunks.push(c as Buffer);
  }
  if (!chunks.length) return {};
  const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest('expected a JSON object');
  return v as Record<string, unknown>;
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadRequest(`"${what}" must be a list of strings`);
  return v as string[];
}

/** Serves one node's handle on `socketPath` until `close()`. */
export class NodeProtocolServer {
  private readonly ring: Sequenced[] = [];
  private seq = 0;
  private readonly waiters = new Set<() => void>();
  private server?: Server;

  constructor(
    private readonly handle: NodeHandle,
    private readonly controls: AgentControls,
  ) {
    handle.subscribe((e) => this.push(e));
  }

  /** An event for the lab (also used by the agent for log lines and warnings). */
  push(event: NodeEvent): void {
    this.ring.push({ seq: ++this.seq, event });
    if (this.ring.length > EVENT_RING) this.ring.splice(0, this.ring.length - EVENT_RING);
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private async events(since: number, waitMs: number): Promise<{ next: number; events: NodeEvent[] }> {
    if (this.seq <= since && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, waitMs);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      });
    }
    return { next: this.seq, events: this.ring.filter((e) => e.seq > since).map((e) => e.event) };
  }

  private async route(req: IncomingMessage): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://node');
    const m = req.method ?? 'GET';
    const p = url.pathname;
    const h = this.handle;
    if (m === 'GET' && p === '/info') return h.info();
    if (m === 'GET' && p === '/health') return { healthy: await h.healthy() };
    if (m === 'GET' && p === '/logs') return h.logs();
    if (m === 'GET' && p === '/router') return h.routerStatus();
    if (m === 'GET' && p === '/file') return h.serverFile(url.searchParams.get('path') ?? '');
    if (m === 'GET' && p === '/events') {
      const since = Number(url.searchParams.get('since') ?? 0);
      const wait = Math.min(MAX_WAIT_MS, Math.max(0, Number(url.searchParams.get('wait') ?? 0)));
      if (!Number.isFinite(since) || !Number.isFinite(wait)) throw new BadRequest('"since" and "wait" must be numbers');
      return this.events(since, wait);
    }
    const b = m === 'POST' ? await readJson(req) : {};
    if (m === 'POST' && p === '/exec') return { output: await h.exec(stringList(b.lines, 'lines')) };
    if (m === 'POST' && p === '/transcript') {
      const o: TranscriptOptions = { answers: b.answers === undefined ? [] : stringList(b.answers, 'answers'), yes: b.yes === true };
      if (typeof b.user === 'string') o.user = b.user;
      return h.transcript(stringList(b.lines, 'lines'), o);
    }
    if (m === 'POST' && p === '/faults') {
      const f = b.faults;
      if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new BadRequest('"faults" must be an object');
      await h.setFaults(f as Record<string, unknown>);
      return {};
    }
    if (m === 'POST' && p === '/clock') {
      if (typeof b.now !== 'number' || !Number.isFinite(b.now)) throw new BadRequest('"now" must be ms since the epoch');
      this.controls.followClock(b.now);
      return { now: b.now };
    }
    if (m === 'POST' && p === '/stop') {
      setImmediate(() => void this.controls.stop());
      return {};
    }
    throw new BadRequest(`no route ${m} ${p}`);
  }

  async listen(socketPath: string): Promise<void> {
    rmSync(socketPath, { force: true });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.route(req).then(
        (v) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(v ?? {}));
        },
        (e: Error) => {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: e.message }));
        },
      );
    });
    // Long-polled event requests must not be cut by the default timeouts.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    // The lab keeps its connections alive between calls; an agent that closed idle ones after
    // 5 s (Node's default) raced the lab's next call on the same socket (EPIPE under load).
    server.keepAliveTimeout = 0;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  }

  async close(): Promise<void> {
    for (const w of this.waiters) w();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** A call the node refused (400): the message the node gave, as the embedded runtime throws it. */
export class NodeRefused extends Error {}

/** The lab's side of the protocol: a node handle whose node runs in an agent. */
export class RemoteNodeHandle implements NodeHandle {
  private cached: NodeInfo;
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private readonly calls = new Agent({ keepAlive: true, maxSockets: 16 });
  private readonly poll = new Agent({ keepAlive: true, maxSockets: 1 });
  private polling = false;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly socketPath: string,
    address: string,
  ) {
    this.cached = { name, kind, state: 'created', address, ports: {} };
  }

  private call<T>(method: 'GET' | 'POST', path: string, body?: unknown, agent = this.calls, retried = false): Promise<T> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        { socketPath: this.socketPath, path, method, agent, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let v: unknown;
            try {
              v = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              return reject(new Error(`${this.name}: the node agent answered ${res.statusCode} without JSON`));
            }
            if (res.statusCode === 200) resolve(v as T);
            else reject(new NodeRefused(String((v as { error?: string }).error ?? `status ${res.statusCode}`)));
          });
          res.on('error', reject);
        },
      );
      req.on('error', (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        // A kept-alive socket can die under a request that was never read (the agent closed
        // it as the request went out): that request never ran, so it is sent once more.
        if (req.reusedSocket && !retried && (code === 'ECONNRESET' || code === 'EPIPE')) return resolve(this.call<T>(method, path, body, agent, true));
        reject(new Error(`${this.name}: node agent unreachable (${code ?? e.message})`));
      });
      req.end(data);
    });
  }

  /** Reads the node's info now (after start, after a state change). */
  async refresh(): Promise<NodeInfo> {
    this.cached = await this.call<NodeInfo>('GET', '/info');
    return this.cached;
  }

  info(): NodeInfo {
    return this.cached;
  }

  async healthy(): Promise<boolean> {
    const h = await this.call<{ healthy: boolean }>('GET', '/health');
    if (h.healthy) await this.refresh();
    return h.healthy;
  }

  async exec(lines: string[]): Promise<string> {
    return (await this.call<{ output: string }>('POST', '/exec', { lines })).output;
  }

  transcript(lines: string[], o: TranscriptOptions): Promise<TranscriptReply> {
    return this.call('POST', '/transcript', { lines, ...o });
  }

  async setFaults(faults: Record<string, unknown>): Promise<void> {
    await this.call('POST', '/faults', { faults });
  }

  logs(): Promise<unknown[]> {
    return this.call('GET', '/logs');
  }

  routerStatus(): Promise<RouterStatus> {
    return this.call('GET', '/router');
  }

  serverFile(path: string): Promise<ServerFile> {
    return this.call('GET', `/file?path=${encodeURIComponent(path)}`);
  }

  async followClock(nowMs: number): Promise<void> {
    await this.call('POST', '/clock', { now: nowMs });
  }

  async stop(): Promise<void> {
    await this.call('POST', '/stop', {});
  }

  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads events as they come until `close()`; state events refresh `info()`. */
  startEvents(): void {
    if (this.polling) return;
    this.polling = true;
    void (async () => {
      let since = 0;
      while (this.polling) {
        try {
          const r = await this.call<{ next: number; events: NodeEvent[] }>('GET', `/events?since=${since}&wait=${MAX_WAIT_MS}`, undefined, this.poll);
          since = r.next;
          for (const e of r.events) {
            if (e.type === 'state') this.cached = { ...this.cached, state: e.state };
            for (const l of this.listeners) l(e);
          }
        } catch {
          // The agent is gone or going: stop() or the runtime says what happened.
          if (!this.polling) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
  }

  close(): void {
    this.polling = false;
    this.calls.destroy();
    this.poll.destroy();
  }
}
