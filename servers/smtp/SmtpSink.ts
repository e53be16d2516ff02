/**
 * The lab's SMTP sink: smtp-server accepts every message (no relay), mailparser reads it,
 * and the sink keeps it in its state folder (`<id>.eml` + `<id>.json`), so scenarios and
 * tools read status mail back after a down/up. Beside SMTP it serves a subset of
 * Mailpit's REST API (./MailpitApi.ts), so clients written for Mailpit read it unchanged.
 *
 * Faults follow Mailpit's chaos triggers (an error code at MAIL FROM, RCPT TO or AUTH with
 * a probability, replied as `451 Chaos sender error`), plus refusing connections and
 * dropping them once the envelope is sent.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface ChaosTrigger {
  ErrorCode: number;
  /** 0–100: the chance each command fails. */
  Probability: number;
}

/** Mailpit's `ChaosTriggers` shape. */
export interface ChaosTriggers {
  Sender: ChaosTrigger;
  Recipient: ChaosTrigger;
  Authentication: ChaosTrigger;
}

export interface SmtpFaults {
  /** Every connection is greeted with 554 and closed. */
  refuse?: boolean;
  /** The connection is dropped once RCPT TO is answered (mid-transaction). */
  disconnect?: boolean;
  /** Mailpit-style chaos: an error code at MAIL FROM / RCPT TO / AUTH, with a probability. */
  chaos?: Partial<ChaosTriggers>;
}

export interface MailAddress {
  Name: string;
  Address: string;
}

/** What is kept per message (Mailpit's message fields that a summary or a read needs). */
export interface StoredMessage {
  ID: string;
  MessageID: string;
  Read: boolean;
  From: MailAddress;
  To: MailAddress[];
  Cc: MailAddress[];
  Bcc: MailAddress[];
  ReplyTo: MailAddress[];
  ReturnPath: string;
  Subject: string;
  /** Received (server time, ISO). */
  Created: string;
  /** The Date header (ISO), or Created. */
  Date: string;
  Username: string;
  Tags: string[];
  Size: number;
  Text: string;
  HTML: string;
  Attachments: { PartID: string; FileName: string; ContentType: string; ContentID: string; Size: number }[];
  Headers: Record<string, string[]>;
}

export interface SmtpLogEntry {
  time: Date;
  kind: 'connect' | 'message' | 'refused' | 'dropped' | 'error';
  client?: string;
  from?: string;
  to?: string[];
  subject?: string;
  id?: string;
  outcome: 'ok' | 'refused' | 'failed' | 'dropped';
  detail?: string;
}

export interface SmtpSinkOptions {
  address: string;
  port: number;
  /** Where messages are kept. */
  dir: string;
  faults?: SmtpFaults;
  /** Oldest messages go beyond this many (Mailpit's default: 500). */
  maxMessages?: number;
  /** Largest message accepted (bytes). */
  maxSize?: number;
  now?: () => Date;
}

const NO_TRIGGER: ChaosTrigger = { ErrorCode: 451, Probability: 0 };

/** Mailpit's defaults: 451 at MAIL and RCPT, 535 at AUTH. */
export function chaosTriggers(c: Partial<ChaosTriggers> | undefined): ChaosTriggers {
  return {
    Sender: { ...NO_TRIGGER, ...c?.Sender },
    Recipient: { ...NO_TRIGGER, ...c?.Recipient },
    Authentication: { ...NO_TRIGGER, ErrorCode: 535, ...c?.Authentication },
  };
}

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

const fires = (t: ChaosTrigger) => t.Probability > 0 && randomInt(0, 100) < t.Probability;

/** Mailpit-style IDs: 22 URL-safe characters. */
function newId(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

function addresses(a: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const list = a === undefined ? [] : Array.isArray(a) ? a : [a];
  return list.flatMap((o) => o.value).map((v) => ({ Name: v.name ?? '', Address: v.address ?? '' }));
}

export class SmtpSink {
  readonly log: SmtpLogEntry[] = [];
  private server?: SMTPServer;
  private faults: SmtpFaults;
  private _port = 0;
  private readonly messages: StoredMessage[] = [];
  private readonly listeners = new Set<(m: StoredMessage) => void>();

  constructor(private readonly opts: SmtpSinkOptions) {
    this.faults = opts.faults ?? {};
    mkdirSync(opts.dir, { recursive: true });
    this.load();
  }

  get port(): number {
    return this._port;
  }

  get chaos(): ChaosTriggers {
    return chaosTriggers(this.faults.chaos);
  }

  setFaults(f: SmtpFaults): void {
    this.faults = { ...f };
  }

  /** Mailpit's PUT /api/v1/chaos: omitted triggers reset. */
  setChaos(c: Partial<ChaosTriggers>): void {
    this.faults = { ...this.faults, chaos: chaosTriggers(c) };
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private record(e: Omit<SmtpLogEntry, 'time'>): void {
    this.log.push({ time: this.now(), ...e });
  }

  /** Messages kept from earlier runs, oldest first. */
  private load(): void {
    const ids = readdirSync(this.opts.dir).filter((f) => f.endsWith('.json'));
    for (const f of ids) {
      try {
        this.messages.push(JSON.parse(readFileSync(join(this.opts.dir, f), 'utf8')) as StoredMessage);
      } catch {
        // a damaged entry is skipped, not fatal: the rest of the mailbox still reads
      }
    }
    this.messages.sort((a, b) => a.Created.localeCompare(b.Created));
  }

  async start(): Promise<void> {
    const server = new SMTPServer({
      logger: false,
      banner: 'flashlab SMTP sink',
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      allowInsecureAuth: true,
      size: this.opts.maxSize ?? 50 * 1024 * 1024,
      onConnect: (session, cb) => {
        if (this.faults.refuse) {
          this.record({ kind: 'refused', client: session.remoteAddress, outcome: 'refused', detail: 'refuse fault' });
          return cb(smtpError(554, 'Service unavailable'));
        }
        this.record({ kind: 'connect', client: session.remoteAddress, outcome: 'ok' });
        cb();
      },
      onAuth: (auth, _session, cb) => {
        const t = this.chaos.Authentication;
        if (fires(t)) return cb(smtpError(t.ErrorCode, 'Chaos authentication error'));
        cb(null, { user: auth.username ?? '' });
      },
      onMailFrom: (_addr, _session, cb) => {
        const t = this.chaos.Sender;
        if (fires(t)) {
          this.record({ kind: 'refused', from: _addr.address, outcome: 'refused', detail: `${t.ErrorCode} Chaos sender error` });
          return cb(smtpError(t.ErrorCode, 'Chaos sender error'));
        }
        cb();
      },
      onRcptTo: (addr, session, cb) => {
        const t = this.chaos.Recipient;
        if (fires(t)) {
          this.record({ kind: 'refused', from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined, to: [addr.address], outcome: 'refused', detail: `${t.ErrorCode} Chaos recipient error` });
          return cb(smtpError(t.ErrorCode, 'Chaos recipient error'));
        }
        cb();
        if (this.faults.disconnect) {
          this.record({ kind: 'dropped', to: [addr.address], outcome: 'dropped', detail: 'disconnect fault' });
          setImmediate(() => this.dropSession(session));
        }
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (stream.sizeExceeded) {
            this.record({ kind: 'refused', outcome: 'refused', detail: 'message too large' });
            return cb(smtpError(552, 'Message exceeds fixed maximum message size'));
          }
          this.store(Buffer.concat(chunks), session).then(
            (m) => cb(null, `Ok: queued as ${m.ID}`),
            (e: Error) => {
              this.record({ kind: 'error', outcome: 'failed', detail: e.message });
              cb(smtpError(451, 'Local error in processing'));
            },
          );
        });
      },
    });
    server.on('error', (e: Error) => this.record({ kind: 'error', outcome: 'failed', detail: e.message }));
    this.server = server;
    await new Promise<void>((ok, fail) => {
      server.server.once('error', fail);
      server.listen(this.opts.port, this.opts.address, () => {
        server.server.off('error', fail);
        ok();
      });
    });
    this._port = (server.server.address() as { port: number }).port;
  }

  /** Closes the session's socket (the disconnect fault). */
  private dropSession(session: SMTPServerSession): void {
    for (const conn of (this.server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections ?? []) {
      if (conn.id === session.id) conn._socket.destroy();
    }
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const conn of (s as unknown as { connections: Set<{ _socket: Socket }> }).connections ?? []) conn._socket.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Parses, keeps (written to a temp name, then renamed) and announces one message. */
  private async store(raw: Buffer, session: SMTPServerSession): Promise<StoredMessage> {
    const p = await simpleParser(raw, { skipHtmlToText: false });
    const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
    const To = addresses(p.to);
    const Cc = addresses(p.cc);
    const seen = new Set([...To, ...Cc].map((a) => a.Address.toLowerCase()));
    const headers: Record<string, string[]> = {};
    for (const h of p.headerLines) {
      const i = h.line.indexOf(':');
      const name = i > 0 ? h.line.slice(0, i).trim() : h.key;
      (headers[name] ??= []).push(i > 0 ? h.line.slice(i + 1).trim() : '');
    }
    const created = this.now().toISOString();
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const m: StoredMessage = {
      ID: newId(),
      MessageID: (p.messageId ?? '').replace(/^<|>$/g, ''),
      Read: false,
      From: addresses(p.from)[0] ?? { Name: '', Address: mailFrom },
      To,
      Cc,
      Bcc: envelopeTo.filter((a) => !seen.has(a.toLowerCase())).map((a) => ({ Name: '', Address: a })),
      ReplyTo: addresses(p.replyTo),
      ReturnPath: mailFrom,
      Subject: p.subject ?? '',
      Created: created,
      Date: p.date ? p.date.toISOString() : created,
      Username: typeof session.user === 'string' ? session.user : '',
      Tags: [],
      Size: raw.length,
      Text: p.text ?? '',
      HTML: typeof p.html === 'string' ? p.html : '',
      Attachments: p.attachments.map((a, i) => ({ PartID: String(i + 2), FileName: a.filename ?? '', ContentType: a.contentType, ContentID: a.cid ?? '', Size: a.size })),
      Headers: headers,
    };
    const base = join(this.opts.dir, m.ID);
    writeFileSync(`${base}.eml.tmp`, raw);
    writeFileSync(`${base}.json.tmp`, JSON.stringify(m));
    renameSync(`${base}.eml.tmp`, `${base}.eml`);
    renameSync(`${base}.json.tmp`, `${base}.json`);
    this.messages.push(m);
    while (this.messages.length > (this.opts.maxMessages ?? 500)) this.remove([this.messages[0]!.ID]);
    this.record({ kind: 'message', from: m.From.Address, to: envelopeTo, subject: m.Subject, id: m.ID, outcome: 'ok' });
    for (const l of this.listeners) l(m);
    return m;
  }

  /** Newest first, as Mailpit lists them. */
  list(): StoredMessage[] {
    return [...this.messages].reverse();
  }

  get(id: string): StoredMessage | undefined {
    return id === 'latest' ? this.messages.at(-1) : this.messages.find((m) => m.ID === id);
  }

  raw(id: string): Buffer | undefined {
    const m = this.get(id);
    const p = m && join(this.opts.dir, `${m.ID}.eml`);
    return p && existsSync(p) ? readFileSync(p) : undefined;
  }

  markRead(id: string, read = true): void {
    const m = this.get(id);
    if (!m || m.Read === read) return;
    m.Read = read;
    writeFileSync(join(this.opts.dir, `${m.ID}.json`), JSON.stringify(m));
  }

  /** Deletes these messages (all of them when `ids` is empty). */
  remove(ids: string[]): number {
    const doomed = ids.length ? this.messages.filter((m) => ids.includes(m.ID)) : [...this.messages];
    for (const m of doomed) {
      rmSync(join(this.opts.dir, `${m.ID}.eml`), { force: true });
      rmSync(join(this.opts.dir, `${m.ID}.json`), { force: true });
      this.messages.splice(this.messages.indexOf(m), 1);
    }
    return doomed.length;
  }

  onMessage(f: (m: StoredMessage) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
}
