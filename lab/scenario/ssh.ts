/**
 * The scenario runner's SSH driver: logs in to a router as a person would (password, a pty,
 * `enable` and its secret, `terminal length 0`), sends one line at a time and reads until
 * the router wants input again — its CLI prompt, or a question it answers from the step's
 * answers (first match) or by IOS's default. Every exchange goes to the transcript.
 */
import ssh2 from 'ssh2';
import { compilePattern } from './schema.ts';

const { Client } = ssh2;

export interface Answer {
  prompt: string;
  send: string;
}

export interface Exchange {
  node: string;
  /** What was typed (secrets masked). */
  sent: string;
  /** What the router printed unasked since the last exchange (syslog lines, banners). */
  before: string;
  /** What the router printed, echo included, cleaned of terminal control codes. */
  output: string;
  /** The output without the echoed line and the closing prompt: what expectations look at. */
  response: string;
  /** The prompt the exchange started from (`R1#`). */
  prompt: string;
  answered: { question: string; send: string }[];
  /** The router closed the session (reload, exit). */
  closed: boolean;
  timedOut: boolean;
  /** Why the exchange failed (an unanswered question, a timeout). */
  error?: string;
  ms: number;
  /** Login, enable and terminal setup, shown collapsed in reports. */
  setup?: boolean;
}

/** `R1>`, `R1#`, `R1(config)#`, `R1(config-line)#`, `rommon 1 >`. */
export const CLI_PROMPT = /^(?:[A-Za-z][\w.-]*(?:\([\w./-]+\))?[>#]|rommon \d+ ?>) ?$/;
const CONFIG_PROMPT = /\([\w./-]+\)#\s*$/;

/** Questions IOS asks, and what a silent user answers (Enter), or undefined: must be answered. */
const DEFAULT_DIALOGS: { re: RegExp; answer?: string; what: string }[] = [
  { re: /\[confirm\]\s*$/, answer: '', what: '[confirm]' },
  { re: /\]\?\s*$/, answer: '', what: '[default]?' },
  { re: /\[yes\/no\]:?\s*$/, what: '[yes/no]' },
  { re: /Password:\s*$/i, what: 'Password:' },
];

/** IOS asks for pasted text (a certificate) with this line, then reads until a blank line. */
const PASTE_REQUEST = /End with a blank line or the word "quit" on a line by itself\n/;

interface ReadRequest {
  answers: Answer[];
  timeoutMs: number;
  sent: string;
  startAt: number;
  mask?: boolean;
  /** Text pasted, then a blank line, when the router asks for it (`cli: { paste }`). */
  paste?: string;
}

/** How long output must stay quiet before the tail is taken as "waiting for input". */
const SETTLE_MS = 25;

/** Strips what a terminal interprets: CSI sequences, BEL, backspaced characters, CRs. */
export function cleanTerminal(raw: string): string {
  let s = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\x07/g, '');
  s = s.replace(/\r+\n/g, '\n').replace(/\r/g, '');
  // Apply backspaces the way the terminal would (the line editor redraws with them).
  if (s.includes('\b')) {
    let out = '';
    for (const ch of s) {
      if (ch === '\b') {
        if (out.length && !out.endsWith('\n')) out = out.slice(0, -1);
      } else out += ch;
    }
    s = out;
  }
  return s;
}

/** Output minus the echoed command line and the prompt that ends it. */
export function responseOf(output: string, echoed: boolean): string {
  let s = output;
  if (echoed) {
    const nl = s.indexOf('\n');
    s = nl >= 0 ? s.slice(nl + 1) : '';
  }
  const nl = s.lastIndexOf('\n');
  const last = s.slice(nl + 1);
  if (CLI_PROMPT.test(last)) s = s.slice(0, Math.max(0, nl));
  return s;
}

export interface SshCliOptions {
  node: string;
  host: string;
  port: number;
  user: string;
  password: string;
  enableSecret?: string;
  /** Every exchange, as it completes. */
  onExchange?: (e: Exchange) => void;
}

export class SshCli {
  private client?: InstanceType<typeof Client>;
  private stream?: ssh2.ClientChannel;
  private raw = '';
  /** How much of `raw` earlier exchanges took. */
  private consumed = 0;
  private closed = true;
  /** An exchange is reading its reply (it reports a close itself). */
  private reading = false;
  private wake?: () => void;
  /** The last prompt seen. */
  prompt = '';

  constructor(private readonly opts: SshCliOptions) {}

  get connected(): boolean {
    return !this.closed;
  }

  get inConfigMode(): boolean {
    return CONFIG_PROMPT.test(this.prompt);
  }

  /** Logs in, then enable and terminal length 0. */
  async connect(timeoutMs = 15_000): Promise<void> {
    this.close();
    const started = Date.now();
    const client = new Client();
    this.client = client;
    this.raw = '';
    this.consumed = 0;
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        client.end();
        reject(new Error(`SSH to ${this.opts.node} (${this.opts.host}:${this.opts.port}) failed: ${e.message}`));
      };
      client.once('error', fail);
      client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => this.opts.password)));
      client.once('ready', () => {
        client.removeListener('error', fail);
        client.on('error', () => {});
        client.shell({ term: 'vt100', cols: 250, rows: 24 }, (err, stream) => {
          if (err) return fail(err);
          this.stream = stream;
          this.closed = false;
          stream.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
          stream.stderr.on('data', (d: Buffer) => this.onData(d.toString('utf8')));
          stream.on('close', () => this.onClose());
          client.on('close', () => this.onClose());
          resolve();
        });
      });
      client.connect({
        host: this.opts.host,
        port: this.opts.port,
        username: this.opts.user,
        password: this.opts.password,
        tryKeyboard: true,
        readyTimeout: timeoutMs,
        // Lab routers make a fresh host key each start: nothing to pin.
        hostVerifier: () => true,
      });
    });
    const first = await this.read({ answers: [], timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)), sent: '', startAt: 0 });
    first.setup = true;
    this.emit(first);
    if (first.error || first.closed) throw new Error(`${this.opts.node}: no CLI prompt after login${first.error ? ` (${first.error})` : ''}`);
    // User EXEC (`r1>`) needs enable; ROMmon (`rommon 1 >`) has no such thing.
    if (/^[A-Za-z][\w.-]*>$/.test(this.prompt) && !this.prompt.startsWith('rommon')) {
      const en = await this.send('enable', { answers: [{ prompt: 'Password:', send: this.opts.enableSecret ?? '' }], timeoutMs: 10_000, setup: true, mask: true });
      if (en.error || !this.prompt.endsWith('#')) throw new Error(`${this.opts.node}: enable failed: ${en.error ?? en.output.trim()}`);
    }
    if (this.prompt.startsWith('rommon')) return;
    const tl = await this.send('terminal length 0', { timeoutMs: 10_000, setup: true });
    if (tl.error) throw new Error(`${this.opts.node}: terminal length 0 failed: ${tl.error}`);
  }

  /** Sends one line and reads until the router wants input again. */
  async send(line: string, o: { answers?: Answer[]; timeoutMs?: number; setup?: boolean; mask?: boolean; paste?: string } = {}): Promise<Exchange> {
    if (this.closed || !this.stream) {
      const e: Exchange = { node: this.opts.node, sent: line, before: '', output: '', response: '', prompt: this.prompt, answered: [], closed: true, timedOut: false, error: 'not connected', ms: 0 };
      this.emit(e);
      return e;
    }
    const startAt = this.raw.length;
    const before = cleanTerminal(this.raw.slice(this.consumed, startAt));
    this.stream.write(`${line}\r`);
    const e = await this.read({ answers: o.answers ?? [], timeoutMs: o.timeoutMs ?? 30_000, sent: line, startAt, mask: o.mask, paste: o.paste });
    e.before = before;
    if (o.setup) e.setup = true;
    this.emit(e);
    // A session left waiting on a question, or still busy, is no use to the next step.
    if (e.error && !e.closed) this.close();
    return e;
  }

  close(): void {
    this.closed = true;
    try {
      this.stream?.close();
    } catch {
      // already gone
    }
    this.client?.end();
    this.client = undefined;
    this.stream = undefined;
    this.wake?.();
  }

  private emit(e: Exchange): void {
    this.opts.onExchange?.(e);
  }

  private onData(text: string): void {
    this.raw += text;
    this.wake?.();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // The router hung up between exchanges (a scheduled reload): what it printed last
    // belongs in the transcript of the step running now.
    if (!this.reading && this.raw.length > this.consumed) {
      const output = cleanTerminal(this.raw.slice(this.consumed));
      this.consumed = this.raw.length;
      this.emit({ node: this.opts.node, sent: '', before: '', output, response: output, prompt: this.prompt, answered: [], closed: true, timedOut: false, ms: 0 });
    }
  }

  /**
   * Reads from `startAt` until a prompt, a question, the session's end or the timeout.
   * Questions are answered in place; each is taken only once it has stood still briefly,
   * so a question arriving in pieces is not answered half-read.
   */
  private async read(r: ReadRequest): Promise<Exchange> {
    this.reading = true;
    try {
      return await this.readLoop(r);
    } finally {
      this.reading = false;
    }
  }

  private async readLoop(r: ReadRequest): Promise<Exchange> {
    const t0 = Date.now();
    const answers = r.answers.map((a) => ({ re: compilePattern(a.prompt), send: a.send }));
    const answered: Exchange['answered'] = [];
    const startPrompt = this.prompt;
    // Offset (in cleaned text) from which a new question line may start: past the last answer.
    let answeredAt = -1;
    const deadline = t0 + r.timeoutMs;
    let error: string | undefined;
    let timedOut = false;
    let lastLen = -1;
    let stableSince = Date.now();

    const text = () => cleanTerminal(this.raw.slice(r.startAt));
    let pasted = r.paste === undefined;
    for (;;) {
      const now = Date.now();
      if (this.raw.length !== lastLen) {
        lastLen = this.raw.length;
        stableSince = now;
      }
      const out = text();
      const nl = out.lastIndexOf('\n');
      const tail = out.slice(nl + 1);
      const lineStart = nl + 1;
      const settled = now - stableSince >= SETTLE_MS;
      // The echo of what we sent ends with a newline: only a tail after it can be the prompt.
      const pastEcho = r.sent === '' ? true : nl >= 0;
      // A paste request has no prompt to wait on: its instruction line is the cue.
      if (!pasted && settled && PASTE_REQUEST.test(out)) {
        pasted = true;
        const lines = r.paste!.split(/\r?\n/).filter((l) => l.trim() !== '');
        answered.push({ question: 'Enter the base 64 encoded ... (paste)', send: `${lines.length} lines` });
        this.stream?.write(`${lines.join('\r')}\r\r`);
        answeredAt = out.length;
        lastLen = -1;
        continue;
      }
      if (settled && pastEcho && lineStart > answeredAt && tail.trim() !== '') {
        if (CLI_PROMPT.test(tail)) {
          this.prompt = tail.trimEnd();
          break;
        }
        const mine = answers.find((a) => a.re.test(tail));
        const dflt = DEFAULT_DIALOGS.find((d) => d.re.test(tail));
        if (mine || dflt) {
          if (!mine && dflt?.answer === undefined) {
            error = `unanswered question "${tail.trim()}": add an answer for it (answers: [{ prompt: ..., send: ... }])`;
            break;
          }
          const send = mine ? mine.send : dflt!.answer!;
          answered.push({ question: tail.trim(), send: r.mask || /password/i.test(tail) ? (send === '' ? '' : '*****') : send });
          answeredAt = out.length;
          this.stream?.write(`${send}\r`);
          lastLen = -1;
          continue;
        }
      }
      if (this.closed) break;
      if (now >= deadline) {
        timedOut = true;
        error = `timed out after ${((now - t0) / 1000).toFixed(1)}s waiting for the prompt${tail.trim() ? ` (last line: "${tail.trim().slice(0, 120)}")` : ''}`;
        break;
      }
      await new Promise<void>((res) => {
        const t = setTimeout(done, settled ? Math.min(250, deadline - now) : SETTLE_MS);
        function done() {
          clearTimeout(t);
          res();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    const output = text();
    this.consumed = this.raw.length;
    return {
      node: this.opts.node,
      sent: r.sent,
      before: '',
      output,
      response: responseOf(output, r.sent !== ''),
      prompt: startPrompt,
      answered,
      closed: this.closed,
      timedOut,
      error,
      ms: Date.now() - t0,
    };
  }
}
