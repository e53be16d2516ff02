/**
 * A mock Cisco IDA locator over HTTPS (node:https). The router sends its cisco.com
 * username and password and an image name; the locator answers with the full URL of the
 * image on a lab server (FTP, TFTP or this server's own HTTPS). It also serves the images
 * in its root under `/images/` over HTTPS and, for `copy http://`, over plain HTTP.
 *
 * Request (either locator path, GET query or POST form `application/x-www-form-urlencoded`):
 *
 *   POST /cgi-bin/new-ida/locator/locator.pl      (also /cgi-bin/ida/locator/locator.pl)
 *   username=cco&password=secret&image=isr4300-universalk9.16.12.04.SPA.bin
 *
 * Answer: `text/plain`, one `key=value` per line, always `status` first:
 *
 *   200  status=ok / url=https://www.cisco.com/images/<image> / size=<bytes> / md5=<hex>
 *   400  status=error / code=missing-field / message=...        (username, password or image absent)
 *   401  status=error / code=bad-credentials / message=...
 *   403  status=error / code=not-registered / message=... register ...   (crypto image, account not registered)
 *   404  status=error / code=unknown-image / message=...
 *   500  status=error / code=internal-error / message=...        (fault http-500)
 *
 * The certificate it presents is one of several prepared chains (good, unknown-ca, expired,
 * not-yet-valid, wrong-host, self-signed), switched at runtime like any fault.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { posix, resolve, sep } from 'node:path';

export const CERT_MODES = ['good', 'unknown-ca', 'expired', 'not-yet-valid', 'wrong-host', 'self-signed'] as const;
export type CertMode = (typeof CERT_MODES)[number];

export const LOCATOR_PATHS = ['/cgi-bin/new-ida/locator/locator.pl', '/cgi-bin/ida/locator/locator.pl'];

export interface IdaFaults {
  /** Which certificate the HTTPS side presents (default `good`). */
  certificate?: CertMode;
  /** Every login is refused (401). */
  wrongCredentials?: boolean;
  /** Every account is treated as not registered for crypto downloads (403 on k9 images). */
  notRegistered?: boolean;
  /** Every image is unknown (404). */
  unknownImage?: boolean;
  /** Every request gets 500. */
  http500?: boolean;
  /** Requests are read, then never answered. */
  stall?: boolean;
  /** The connection is reset once the request has arrived. */
  reset?: boolean;
}

export interface IdaAccount {
  user: string;
  password: string;
  /** Registered for crypto (k9) image downloads. */
  crypto: boolean;
}

export interface IdaCatalogEntry {
  image: string;
  /** Full URL of the image on a lab server. */
  url: string;
  /** A crypto (k9) image: only accounts registered for crypto may have it. */
  crypto: boolean;
  size?: number;
  md5?: string;
}

export interface TlsChain {
  keyPem: string;
  /** Leaf first, then any intermediates. */
  chainPem: string;
}

export interface IdaServerOptions {
  address: string;
  /** HTTPS port (0 = ephemeral). */
  port: number;
  /** Plain HTTP port for the images (0 = ephemeral, undefined = none). */
  httpPort?: number;
  /** Folder whose files are served under /images/. */
  root: string;
  /** The name this server's own image URLs carry (`www.cisco.com`). */
  hostname: string;
  accounts: IdaAccount[];
  catalog: IdaCatalogEntry[];
  certificates: Record<CertMode, TlsChain>;
  faults?: IdaFaults;
  now?: () => Date;
}

export type IdaLogKind = 'locate' | 'download';

export interface IdaLogEntry {
  time: Date;
  kind: IdaLogKind;
  scheme: 'https' | 'http';
  method: string;
  path: string;
  user?: string;
  /** The password as sent (scenarios check what the router sent). */
  password?: string;
  image?: string;
  status: number;
  /** The URL answered, or the error code. */
  answer?: string;
  outcome: 'ok' | 'refused' | 'failed' | 'dropped';
  certificate: CertMode;
}

const MAX_FORM = 16 * 1024;

/** Known CPU families' k9 marker: `universalk9`, `adventerprisek9`… */
export function isCryptoImage(name: string): boolean {
  return /k9/i.test(name);
}

export class IdaServer {
  readonly log: IdaLogEntry[] = [];
  private https?: HttpsServer;
  private http?: HttpServer;
  private faults: IdaFaults;
  private readonly sockets = new Set<Socket>();
  private _port = 0;
  private _httpPort = 0;

  constructor(private readonly opts: IdaServerOptions) {
    this.faults = opts.faults ?? {};
  }

  get port(): number {
    return this._port;
  }

  get httpPort(): number {
    return this._httpPort;
  }

  get certificateMode(): CertMode {
    return this.faults.certificate ?? 'good';
  }

  setFaults(f: IdaFaults): void {
    const before = this.certificateMode;
    this.faults = { ...f };
    if (this.https && this.certificateMode !== before) this.https.setSecureContext(this.tlsOptions());
  }

  private tlsOptions(): { key: string; cert: string } {
    const c = this.opts.certificates[this.certificateMode];
    return { key: c.keyPem, cert: c.chainPem };
  }

  async start(): Promise<void> {
    const https = createHttpsServer(this.tlsOptions(), (req, res) => this.handle(req, res, 'https'));
    https.on('tlsClientError', () => {}); // a client refusing our certificate is the point of some modes
    this.https = https;
    this._port = await this.listen(https, this.opts.port);
    if (this.opts.httpPort !== undefined) {
      const http = createHttpServer((req, res) => this.handle(req, res, 'http'));
      this.http = http;
      try {
        this._httpPort = await this.listen(http, this.opts.httpPort);
      } catch (e) {
        // Port 80 privileged or taken: a high one serves as well (the lab maps it).
        if (this.opts.httpPort === 0) throw e;
        this._httpPort = await this.listen(http, 0);
      }
    }
  }

  private listen(server: HttpsServer | HttpServer, port: number): Promise<number> {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    });
    return new Promise((ok, fail) => {
      server.once('error', fail);
      server.listen(port, this.opts.address, () => {
        server.off('error', fail);
        ok((server.address() as { port: number }).port);
      });
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(
      [this.https, this.http].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve())),
    );
    this.https = this.http = undefined;
  }

  private record(e: Omit<IdaLogEntry, 'time' | 'certificate'>): void {
    this.log.push({ time: this.opts.now?.() ?? new Date(), certificate: this.certificateMode, ...e });
  }

  private handle(req: IncomingMessage, res: ServerResponse, scheme: 'https' | 'http'): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const base = { scheme, method, path: url.pathname };
    const isLocator = LOCATOR_PATHS.includes(url.pathname);
    const kind: IdaLogKind = isLocator ? 'locate' : 'download';
    readBody(req, isLocator ? MAX_FORM : 0).then(
      (body) => {
        if (this.faults.reset) {
          this.record({ ...base, kind, status: 0, outcome: 'dropped', answer: 'reset' });
          resetConnection(req.socket);
          return;
        }
        if (this.faults.stall) {
          this.record({ ...base, kind, status: 0, outcome: 'dropped', answer: 'stalled' });
          return; // never answered; stop() destroys the socket
        }
        if (this.faults.http500) {
          this.record({ ...base, kind, status: 500, outcome: 'failed', answer: 'internal-error' });
          return reply(res, 500, { status: 'error', code: 'internal-error', message: 'Internal server error' });
        }
        if (isLocator && scheme === 'https') return this.locate(res, method, url, body, base);
        if (url.pathname.startsWith('/images/') && (method === 'GET' || method === 'HEAD')) return void this.download(res, method, url, base);
        this.record({ ...base, kind, status: 404, outcome: 'refused', answer: 'not-found' });
        reply(res, 404, { status: 'error', code: 'not-found', message: `no such path ${url.pathname}` });
      },
      (e: Error) => {
        this.record({ ...base, kind, status: 413, outcome: 'refused', answer: e.message });
        reply(res, 413, { status: 'error', code: 'too-large', message: e.message });
      },
    );
  }

  private locate(res: ServerResponse, method: string, url: URL, body: string, base: { scheme: 'https' | 'http'; method: string; path: string }): void {
    if (method !== 'GET' && method !== 'POST') {
      this.record({ ...base, kind: 'locate', status: 405, outcome: 'refused', answer: 'method' });
      return reply(res, 405, { status: 'error', code: 'method-not-allowed', message: 'use GET or POST' });
    }
    const form = method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    const user = form.get('username') ?? undefined;
    const password = form.get('password') ?? undefined;
    const image = form.get('image') ?? undefined;
    const who = { ...base, kind: 'locate' as const, user, password, image };
    const missing = (['username', 'password', 'image'] as const).filter((k) => !form.get(k));
    if (missing.length) {
      this.record({ ...who, status: 400, outcome: 'refused', answer: 'missing-field' });
      return reply(res, 400, { status: 'error', code: 'missing-field', message: `missing field${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}` });
    }
    const account = this.opts.accounts.find((a) => a.user === user && a.password === password);
    if (!account || this.faults.wrongCredentials) {
      this.record({ ...who, status: 401, outcome: 'refused', answer: 'bad-credentials' });
      return reply(res, 401, { status: 'error', code: 'bad-credentials', message: 'Invalid cisco.com username or password' });
    }
    const entry = this.faults.unknownImage ? undefined : this.catalog().find((c) => c.image === image);
    if (!entry) {
      this.record({ ...who, status: 404, outcome: 'refused', answer: 'unknown-image' });
      return reply(res, 404, { status: 'error', code: 'unknown-image', message: `Image ${image} not found on Cisco server` });
    }
    if (entry.crypto && (!account.crypto || this.faults.notRegistered)) {
      this.record({ ...who, status: 403, outcome: 'refused', answer: 'not-registered' });
      return reply(res, 403, {
        status: 'error',
        code: 'not-registered',
        message: `User ${user} is not registered for crypto software downloads. Please register at https://www.cisco.com/cgi-bin/Software/Crypto/crypto_main.pl and try again`,
      });
    }
    this.record({ ...who, status: 200, outcome: 'ok', answer: entry.url });
    const answer: Record<string, string> = { status: 'ok', url: entry.url };
    if (entry.size !== undefined) answer.size = String(entry.size);
    if (entry.md5) answer.md5 = entry.md5;
    reply(res, 200, answer);
  }

  /** The configured catalog, then this server's own images (served under /images/). */
  private catalog(): IdaCatalogEntry[] {
    return [...this.opts.catalog, ...this.ownImages];
  }

  private ownImages: IdaCatalogEntry[] = [];

  /** Reads the root once at start (names, sizes, MD5s) so locator answers carry them. */
  async indexRoot(): Promise<void> {
    const out: IdaCatalogEntry[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const d of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = resolve(dir, d.name);
        const r = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) await walk(p, r);
        else if (d.isFile()) {
          const md5 = await new Promise<string>((ok, fail) => {
            const h = createHash('md5');
            createReadStream(p).on('data', (c) => h.update(c)).on('end', () => ok(h.digest('hex'))).on('error', fail);
          });
          const st = await fsp.stat(p);
          out.push({ image: posix.basename(r), url: `https://${this.opts.hostname}/images/${r}`, crypto: isCryptoImage(d.name), size: st.size, md5 });
        }
      }
    };
    await walk(this.opts.root, '');
    this.ownImages = out;
  }

  private async download(res: ServerResponse, method: string, url: URL, base: { scheme: 'https' | 'http'; method: string; path: string }): Promise<void> {
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname.slice('/images/'.length));
    } catch {
      rel = '\0';
    }
    const root = resolve(this.opts.root);
    const p = resolve(root, rel);
    const inside = p.startsWith(root + sep) && !rel.includes('\0');
    const st = inside ? await fsp.lstat(p).catch(() => undefined) : undefined;
    if (!st || !st.isFile()) {
      this.record({ ...base, kind: 'download', image: rel, status: 404, outcome: 'refused', answer: 'not-found' });
      return reply(res, 404, { status: 'error', code: 'not-found', message: `no such image ${rel}` });
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': st.size });
    if (method === 'HEAD') {
      this.record({ ...base, kind: 'download', image: rel, status: 200, outcome: 'ok', answer: 'head' });
      return void res.end();
    }
    const stream = createReadStream(p);
    stream.pipe(res);
    res.on('close', () => {
      stream.destroy();
      this.record({ ...base, kind: 'download', image: rel, status: 200, outcome: res.writableFinished ? 'ok' : 'dropped', answer: String(st.size) });
    });
  }
}

/** TCP RST where the socket allows it (plain TCP); a TLS socket wraps its handle, so it is closed without a reply. */
function resetConnection(s: Socket): void {
  const raw = (s as Socket & { _parent?: Socket })._parent ?? s;
  try {
    raw.resetAndDestroy();
  } catch {
    s.destroy();
  }
  s.destroy();
}

function reply(res: ServerResponse, status: number, fields: Record<string, string>): void {
  const body = `${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request body up to `max` bytes (0: none expected, anything sent is drained). */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (max && size > max) {
        fail(new Error(`request body over ${max} bytes`));
        req.destroy();
        return;
      }
      if (max) chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

/** Parses a locator answer (`key=value` lines). */
export function parseLocatorAnswer(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
