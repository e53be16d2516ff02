/**
 * A subset of Mailpit's REST API over the SMTP sink, with Mailpit's paths and JSON shapes
 * (lower-case summary keys, PascalCase message keys; plain-text errors with 400), so
 * clients and test helpers written for Mailpit read the lab's mail unchanged:
 *
 *   GET    /api/v1/messages?start=&limit=        MessagesSummary, newest first
 *   DELETE /api/v1/messages  {"IDs":[...]}      delete those, or all when none given
 *   GET    /api/v1/search?query=&start=&limit=  MessagesSummary of the matches
 *   DELETE /api/v1/search?query=                delete the matches
 *   GET    /api/v1/message/{ID|latest}          Message (marks it read)
 *   GET    /api/v1/message/{ID}/headers         { "Header": ["value", ...] }
 *   GET    /api/v1/message/{ID}/raw             the message as received
 *   GET    /api/v1/chaos, PUT /api/v1/chaos     ChaosTriggers
 *   GET    /livez, /readyz                      health
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ChaosTrigger, ChaosTriggers, SmtpSink, StoredMessage } from './SmtpSink.ts';

const MAX_BODY = 64 * 1024;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function summary(m: StoredMessage) {
  return {
    ID: m.ID,
    MessageID: m.MessageID,
    Read: m.Read,
    From: m.From,
    To: m.To,
    Cc: m.Cc,
    Bcc: m.Bcc,
    ReplyTo: m.ReplyTo,
    Subject: m.Subject,
    Created: m.Created,
    Username: m.Username,
    Tags: m.Tags,
    Size: m.Size,
    Attachments: m.Attachments.length,
    Snippet: m.Text.replace(/\s+/g, ' ').trim().slice(0, 250),
  };
}

function message(m: StoredMessage) {
  return {
    ID: m.ID,
    MessageID: m.MessageID,
    From: m.From,
    To: m.To,
    Cc: m.Cc,
    Bcc: m.Bcc,
    ReplyTo: m.ReplyTo,
    ReturnPath: m.ReturnPath,
    Subject: m.Subject,
    ListUnsubscribe: { Header: '', Links: [], Errors: '', HeaderPost: '' },
    Date: m.Date,
    Tags: m.Tags,
    Username: m.Username,
    Text: m.Text,
    HTML: m.HTML,
    Size: m.Size,
    Inline: [],
    Attachments: m.Attachments,
  };
}

/** Query words, quotes keeping spaces (`subject:"Auto Upgrade"`). */
function words(q: string): string[] {
  return [...q.matchAll(/(?:[^\s"]+|"[^"]*")+/g)].map((w) => w[0].replace(/"/g, ''));
}

/** Mailpit's search filters this sink knows: to: from: cc: subject: message-id: is:read is:unread, free text, `-`/`!` negation. */
export function matches(m: StoredMessage, query: string): boolean {
  const addr = (list: { Name: string; Address: string }[]) => list.map((a) => `${a.Name} <${a.Address}>`).join(' ').toLowerCase();
  return words(query).every((w) => {
    const neg = /^[-!]/.test(w);
    const word = (neg ? w.slice(1) : w).toLowerCase();
    const i = word.indexOf(':');
    const [key, val] = i > 0 ? [word.slice(0, i), word.slice(i + 1)] : ['', word];
    let hit: boolean;
    switch (key) {
      case 'to':
        hit = addr([...m.To, ...m.Bcc]).includes(val);
        break;
      case 'from':
        hit = addr([m.From]).includes(val);
        break;
      case 'cc':
        hit = addr(m.Cc).includes(val);
        break;
      case 'subject':
        hit = m.Subject.toLowerCase().includes(val);
        break;
      case 'message-id':
        hit = m.MessageID.toLowerCase() === val;
        break;
      case 'is':
        hit = val === 'read' ? m.Read : val === 'unread' ? !m.Read : false;
        break;
      default:
        hit = [m.Subject, m.Text, addr([m.From, ...m.To, ...m.Cc])].some((t) => t.toLowerCase().includes(word));
    }
    return neg ? !hit : hit;
  });
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new ApiError(400, 'invalid JSON body');
  }
}

function trigger(v: unknown, name: string, defaultCode: number): ChaosTrigger | undefined {
  if (v === undefined) return undefined;
  const t = v as { ErrorCode?: unknown; Probability?: unknown };
  const code = t.ErrorCode ?? defaultCode;
  const p = t.Probability ?? 0;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) throw new ApiError(400, `${name}: ErrorCode must be 400-599`);
  if (typeof p !== 'number' || p < 0 || p > 100) throw new ApiError(400, `${name}: Probability must be 0-100`);
  return { ErrorCode: code, Probability: p };
}

export class MailpitApi {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private _port = 0;

  constructor(
    private readonly sink: SmtpSink,
    private readonly opts: { address: string; port: number },
  ) {}

  get port(): number {
    return this._port;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((e: Error) => {
        const status = e instanceof ApiError ? e.status : 400;
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(e.message);
      });
    });
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.opts.port, this.opts.address, () => ok());
    });
    this._port = (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private page(all: StoredMessage[], url: URL) {
    const start = Math.max(0, Number(url.searchParams.get('start') ?? 0) || 0);
    const limit = Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50);
    const slice = all.slice(start, start + limit);
    const everything = this.sink.list();
    return {
      total: everything.length,
      unread: everything.filter((m) => !m.Read).length,
      count: slice.length,
      messages_count: all.length,
      messages_unread: all.filter((m) => !m.Read).length,
      start,
      tags: [],
      messages: slice.map(summary),
    };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const m = req.method ?? 'GET';
    const json = (v: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    const text = (v: string | Buffer, type = 'text/plain; charset=utf-8') => {
      res.writeHead(200, { 'content-type': type });
      res.end(v);
    };
    if (p === '/livez' || p === '/readyz') return text('ok');
    if (p === '/api/v1/messages') {
      if (m === 'GET') return json(this.page(this.sink.list(), url));
      if (m === 'DELETE') {
        const b = await jsonBody(req);
        const ids = b.IDs ?? [];
        if (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string')) throw new ApiError(400, 'IDs must be a list of strings');
        this.sink.remove(ids as string[]);
        return text('ok');
      }
    }
    if (p === '/api/v1/search') {
      const q = url.searchParams.get('query') ?? '';
      if (!q.trim()) throw new ApiError(400, 'Error: no search query');
      const hits = this.sink.list().filter((x) => matches(x, q));
      if (m === 'GET') return json(this.page(hits, url));
      if (m === 'DELETE') {
        if (hits.length) this.sink.remove(hits.map((x) => x.ID)); // remove([]) would mean all
        return text('ok');
      }
    }
    const one = /^\/api\/v1\/message\/([^/]+)(?:\/(headers|raw))?$/.exec(p);
    if (one && m === 'GET') {
      const msg = this.sink.get(decodeURIComponent(one[1]!));
      if (!msg) throw new ApiError(404, 'Message not found');
      if (one[2] === 'raw') return text(this.sink.raw(msg.ID) ?? '', 'text/plain; charset=utf-8');
      if (one[2] === 'headers') return json(msg.Headers);
      this.sink.markRead(msg.ID);
      return json(message(msg));
    }
    if (p === '/api/v1/chaos') {
      if (m === 'GET') return json(this.sink.chaos);
      if (m === 'PUT') {
        const b = await jsonBody(req);
        const c: Partial<ChaosTriggers> = {};
        const s = trigger(b.Sender, 'Sender', 451);
        const r = trigger(b.Recipient, 'Recipient', 451);
        const a = trigger(b.Authentication, 'Authentication', 535);
        if (s) c.Sender = s;
        if (r) c.Recipient = r;
        if (a) c.Authentication = a;
        this.sink.setChaos(c);
        return json(this.sink.chaos);
      }
    }
    throw new ApiError(404, `no route ${m} ${p}`);
  }
}
