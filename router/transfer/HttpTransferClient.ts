/**
 * The router's HTTP and HTTPS client (`copy http://…`, `copy https://…`, and the IDA
 * exchange the Auto-Upgrade Manager makes). HTTPS never trusts the host's CA store: the TLS
 * handshake runs with verification off, then the chain the server sent is checked against
 * the router's own trust anchors, dates at the router's own clock, and the host name
 * (./verifyChain.ts). Only a chain that passes gets a request; a refused one moves no bytes.
 */
import { X509Certificate } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { CertificateError, TransferError, type Download, type TlsTrust, type TransferClient, type TransferEndpoint, type TransferErrorCode } from './types.ts';
import { verifyChain } from './verifyChain.ts';

const DEFAULT_TIMEOUT_SEC = 30;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'HEAD';
  /** Extra headers (content-type for a form). */
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface HttpResponse {
  status: number;
  headers: IncomingMessage['headers'];
  size?: number;
  body: AsyncIterable<Buffer>;
}

function socketCode(e: NodeJS.ErrnoException): TransferErrorCode {
  if (e.code === 'ECONNREFUSED') return 'refused';
  if (e.code === 'ETIMEDOUT') return 'timeout';
  return 'reset';
}

/** The chain the server sent, leaf first (node gives it as linked issuer objects). */
function peerChain(s: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = s.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

export class HttpTransferClient implements TransferClient {
  constructor(readonly scheme: 'http' | 'https') {}

  /** Opens a connection (verified, for HTTPS) before a byte of the request is sent. */
  private connect(ep: TransferEndpoint, timeoutMs: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (e?: Error, s?: Socket) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ep.signal?.removeEventListener('abort', onAbort);
        if (e) {
          sock.destroy();
          reject(e);
        } else resolve(s!);
      };
      const onAbort = () => done(new TransferError('aborted', 'open'));
      const timer = setTimeout(() => done(new TransferError('timeout', 'open')), timeoutMs);
      let sock: Socket;
      if (this.scheme === 'https') {
        const trust: TlsTrust | undefined = ep.tls;
        if (!trust) throw new Error('https needs the router trust (endpoint.tls)');
        const tls = tlsConnect({
          host: ep.host,
          port: ep.port,
          servername: isIP(trust.servername) ? undefined : trust.servername,
          // Verification happens below against the router's trustpoints, not the host's store.
          rejectUnauthorized: false,
        });
        sock = tls;
        tls.once('secureConnect', () => {
          const chain = peerChain(tls);
          if (chain.length === 0) return done(new TransferError('protocol', 'open', 'server sent no certificate'));
          const failure = verifyChain(chain, trust.anchors, trust.servername, trust.now());
          if (failure) return done(new CertificateError(failure));
          done(undefined, tls);
        });
      } else {
        sock = netConnect({ host: ep.host, port: ep.port });
        sock.once('connect', () => done(undefined, sock));
      }
      sock.once('error', (e: NodeJS.ErrnoException) => done(new TransferError(socketCode(e), 'open', e.message)));
      sock.once('close', () => done(new TransferError('reset', 'open', 'connection closed during the handshake')));
      if (ep.signal?.aborted) onAbort();
      else ep.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One request on a fresh connection; the answer's status is the caller's to judge. */
  async request(ep: TransferEndpoint, req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = (ep.timeoutSec ?? DEFAULT_TIMEOUT_SEC) * 1000;
    const socket = await this.connect(ep, timeoutMs);
    const hostHeader = ep.tls?.servername ?? ep.host;
    const headers: Record<string, string> = { host: hostHeader, 'user-agent': 'cisco-IOS', connection: 'close', ...req.headers };
    if (ep.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${ep.username}:${ep.password ?? ''}`).toString('base64')}`;
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    return new Promise((resolve, reject) => {
      const r = request({ method: req.method, path: `/${ep.path}`, headers, createConnection: () => socket });
      const fail = (e: TransferError) => {
        r.destroy();
        socket.destroy();
        reject(e);
      };
      socket.setTimeout(timeoutMs, () => fail(new TransferError('timeout', 'open')));
      const onAbort = () => fail(new TransferError('aborted', 'open'));
      ep.signal?.addEventListener('abort', onAbort, { once: true });
      r.once('error', (e: NodeJS.ErrnoException) => fail(new TransferError(e.code === 'ECONNRESET' || e.message.includes('hang up') ? 'reset' : socketCode(e), 'open', e.message)));
      r.once('response', (res) => {
        ep.signal?.removeEventListener('abort', onAbort);
        const len = res.headers['content-length'];
        resolve({ status: res.statusCode ?? 0, headers: res.headers, size: len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined, body: this.body(res, socket, ep, timeoutMs) });
      });
      r.end(req.body);
    });
  }

  /** The response body; a stall, a reset or Ctrl-C midway ends it with a TransferError. */
  private async *body(res: IncomingMessage, socket: Socket, ep: TransferEndpoint, timeoutMs: number): AsyncIterable<Buffer> {
    let failure: TransferError | undefined;
    const stop = (e: TransferError) => {
      failure ??= e;
      res.destroy(e);
      socket.destroy();
    };
    socket.setTimeout(timeoutMs, () => stop(new TransferError('timeout', 'read')));
    const onAbort = () => stop(new TransferError('aborted', 'read'));
    ep.signal?.addEventListener('abort', onAbort, { once: true });
    let n = 0;
    try {
      for await (const chunk of res) {
        n += (chunk as Buffer).length;
        ep.onProgress?.(n);
        yield chunk as Buffer;
      }
      if (!res.complete) throw new TransferError('reset', 'read', 'connection closed before the end of the file');
    } catch (e) {
      if (failure) throw failure;
      if (e instanceof TransferError) throw e;
      throw new TransferError('reset', 'read', (e as Error).message);
    } finally {
      ep.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
    }
  }

  async download(from: TransferEndpoint): Promise<Download> {
    const res = await this.request(from, { method: 'GET' });
    if (res.status === 200) return { size: res.size, body: res.body };
    // Drain nothing further: the connection is closed with the error.
    void (async () => {
      try {
        for await (const _ of res.body) break;
      } catch {
        // ignored: only closing it
      }
    })();
    if (res.status === 404 || res.status === 410) throw new TransferError('not-found', 'open', `HTTP ${res.status}`);
    if (res.status === 401) throw new TransferError('login', 'open', `HTTP ${res.status}`);
    if (res.status === 403) throw new TransferError('permission', 'open', `HTTP ${res.status}`);
    throw new TransferError('protocol', 'open', `HTTP ${res.status}`);
  }

  upload(): Promise<void> {
    return Promise.reject(new TransferError('protocol', 'open', `uploads over ${this.scheme} are not supported`));
  }
}
