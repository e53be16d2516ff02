/**
 * One CLI session (an SSH shell, an exec channel, the console, or the boot-time replay of
 * startup-config): mode stack, privilege, dialogs, paging, history. Input arrives as lines;
 * output leaves through `out` with `\n` line ends (the access layer adapts them).
 */
import type { CliEngine } from './CliEngine.ts';
import { type Dialog, dialogAnswer, dialogDefault, dialogPrompt } from './dialogs.ts';
import { parsePipe } from './pipe.ts';
import type { CommandContext } from './types.ts';

/**
 * The longest command line a session takes. IOS's line buffer is bounded too; this bound
 * also bounds the work one line can cost (matching, help, `|` parsing).
 */
export const MAX_LINE_LENGTH = 1024;
export const LINE_TOO_LONG = `% Line too long: at most ${MAX_LINE_LENGTH} characters`;

/** C0 controls and DEL; a tab is white space, as IOS's parser takes it. */
const CONTROL_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const INVALID_CHARACTER = '% Invalid input: control characters are not allowed in a name';

/** An error a command reports to the user: printed as is, never with a stack. */
export class CliError extends Error {}

export interface SessionHost<C> {
  readonly engine: CliEngine<C>;
  readonly context: C;
  hostname(): string;
  /** Answers a dialog without asking (`file prompt quiet`); undefined means ask. */
  preAnswer?(d: Dialog): string | boolean | undefined;
  /** Called when the session leaves configuration mode (for %SYS-5-CONFIG_I). */
  onConfigExit?(session: CliSession<C>): void;
  /**
   * A lone unknown word in EXEC is a host to connect to: the host looks it up (printing
   * `Translating "word"...`) before the session reports it unknown.
   */
  lookupWord?(word: string, out: (text: string) => void, signal: AbortSignal): Promise<void>;
}

export interface SessionOptions {
  user: string;
  /** `vty0`, `console`. */
  lineName: string;
  /** The peer's address, `console` has none. */
  peer?: string;
  privilege: number;
  /** Interactive sessions page output and wait for dialog answers; others answer defaults when input runs out. */
  interactive: boolean;
  out: (text: string) => void;
  /** Called when the session ends (exit, logout, reload). */
  onClose?: () => void;
  /** Scripted sessions that only want command output (control API `exec`): no prompts. */
  noPrompt?: boolean;
  /** Shows an unsolicited line (the access layer redraws the typed input after it). */
  notify?: (line: string) => void;
  /**
   * Back-pressure for sessions fed all their lines at once (an exec channel): a promise while
   * the output already written is not drained; the next line runs once it settles.
   */
  backlog?: () => Promise<void> | undefined;
  /** Called when a command asks a question and waits for its answer (scripted transcripts). */
  onQuestion?: (d: Dialog) => void;
}

interface ModeFrame {
  id: string;
  data?: unknown;
}

export class CliSession<C> {
  readonly user: string;
  readonly lineName: string;
  readonly peer?: string;
  privilege: number;
  readonly interactive: boolean;
  /** `monitor`: syslog lines reach this vty (`terminal monitor`); the console always gets them. */
  terminal = { length: 24, width: 80, monitor: false };
  readonly history: string[] = [];
  private stack: ModeFrame[];
  private readonly queue: string[] = [];
  private pendingAsk?: (line: string) => void;
  private busy = false;
  private closed = false;
  private abort?: AbortController;
  private idleWaiters: (() => void)[] = [];
  // Pager state: lines waiting for the user to press a key at --More--.
  private pagerLines: string[] = [];
  /** Index of the next pager line to show. */
  private pagerNext = 0;
  private pagerShown = 0;
  private pagerWaiting?: () => void;
  /** True while the prompt shows no echo (Password:). */
  secretInput = false;

  constructor(
    private readonly host: SessionHost<C>,
    private readonly opts: SessionOptions,
  ) {
    this.user = opts.user;
    this.lineName = opts.lineName;
    this.peer = opts.peer;
    this.privilege = opts.privilege;
    this.interactive = opts.interactive;
    if (!opts.interactive) this.terminal.length = 0;
    this.stack = [{ id: opts.privilege >= 15 ? 'exec' : 'user' }];
  }

  /** Who is typing, as IOS's syslog and reload lines name them: `admin on vty0 (10.0.0.5)`, or `console`. */
  origin(): string {
    return this.lineName === 'console' ? 'console' : `${this.user} on ${this.lineName}${this.peer ? ` (${this.peer})` : ''}`;
  }

  get mode(): string {
    return this.stack[this.stack.length - 1]!.id;
  }

  get modeData(): unknown {
    return this.stack[this.stack.length - 1]!.data;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Is the session waiting for a key at --More--? */
  get atMore(): boolean {
    return this.pagerWaiting !== undefined;
  }

  /**
   * What the session waits for: a command line at its prompt, the answer to a question, or
   * nothing (a command runs, or --More-- waits for a key). The terminal reads this instead
   * of guessing from the text printed last, which a command may end without a newline.
   */
  get awaiting(): 'line' | 'answer' | undefined {
    if (this.closed || this.atMore) return undefined;
    if (this.pendingAsk) return 'answer';
    return this.busy || this.queue.length > 0 ? undefined : 'line';
  }

  /** Lines run so far, for prompts that count them (`rommon 3 >`). */
  private lineCount = 1;

  prompt(): string {
    const m = this.host.engine.mode(this.mode);
    if (m.standalone) return m.prompt.replace('{n}', String(this.lineCount));
    return this.host.hostname() + m.prompt;
  }

  /** An unsolicited message (syslog) on an interactive terminal. */
  notify(line: string): void {
    if (this.opts.notify) this.opts.notify(line);
    else this.out(`\n${line}\n`);
  }

  /** Writes the prompt (the access layer calls this once after the banner). */
  showPrompt(): void {
    if (this.opts.noPrompt) return;
    this.out(this.prompt());
  }

  enterMode(id: string, data?: unknown): void {
    this.host.engine.mode(id); // throws for an unknown mode: a programming error
    if (id === 'exec' || id === 'user') this.stack = [{ id }];
    else if (this.stack.some((f) => f.id === id)) {
      while (this.mode !== id) this.stack.pop();
      this.stack[this.stack.length - 1] = { id, data };
    } else this.stack.push({ id, data });
  }

  /** `exit` from a configuration mode; `end` / Ctrl-Z leave configuration entirely. */
  exitMode(all = false): void {
    const wasConfig = this.stack.length > 1;
    if (all) this.stack = [this.stack[0]!];
    else if (this.stack.length > 1) this.stack.pop();
    if (wasConfig && this.stack.length === 1) this.host.onConfigExit?.(this);
  }

  setPrivilege(level: number): void {
    this.privilege = level;
    this.stack = [{ id: level >= 15 ? 'exec' : 'user' }];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort?.abort();
    this.pendingAsk = undefined;
    // A listing waiting at --More-- ends with the session.
    this.pagerLines = [];
    this.pagerNext = 0;
    const pager = this.pagerWaiting;
    this.pagerWaiting = undefined;
    pager?.();
    this.opts.onClose?.();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** A typed line (without its newline). */
  submit(line: string): void {
    if (this.closed) return;
    this.queue.push(line);
    this.pump();
  }

  /** Ctrl-C: abort what runs; in configuration mode, leave it as Ctrl-Z does. */
  interrupt(): void {
    // A pending question is released first, so the command sees the abort at once.
    if (this.pendingAsk) {
      const r = this.pendingAsk;
      this.pendingAsk = undefined;
      r('\u0003');
    }
    if (this.abort) {
      this.abort.abort();
      return;
    }
    if (this.stack.length > 1) {
      this.out('\n');
      this.exitMode(true);
      this.showPrompt();
    }
  }

  /** Ctrl-Z: leave configuration mode. */
  ctrlZ(): void {
    if (this.busy) return;
    if (this.stack.length > 1) this.exitMode(true);
    this.out('\n');
    this.showPrompt();
  }

  /** A key pressed at --More--: space shows a page, Enter a line, anything else stops. */
  moreKey(key: string): void {
    const resume = this.pagerWaiting;
    if (!resume) return;
    this.pagerWaiting = undefined;
    this.out('\r          \r'); // wipe " --More-- " as IOS does
    if (key === ' ') this.pagerShown = 0;
    else if (key === '\r' || key === '\n') this.pagerShown = Math.max(0, this.terminal.length - 2);
    else {
      this.pagerLines = [];
      this.pagerNext = 0;
    }
    resume();
  }

  help(line: string): string {
    const h = this.host.engine.help(this.mode, line, this.host.context);
    if ('invalidAt' in h) {
      return line.trim().split(/\s+/).length <= 1 ? '% Unrecognized command\n' : this.caret(h.invalidAt);
    }
    if (h.partial) return h.entries.map((e) => e.word).join('  ') + '\n\n';
    const width = Math.max(...h.entries.map((e) => e.word.length)) + 2;
    return h.entries.map((e) => `  ${e.word.padEnd(width)}${e.help}`.trimEnd()).join('\n') + '\n\n';
  }

  complete(line: string): string | undefined {
    return this.host.engine.complete(this.mode, line, this.host.context);
  }

  /** Resolves when every queued line has run (for scripted sessions). */
  idle(): Promise<void> {
    if (this.closed || (!this.busy && this.queue.length === 0)) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      if (this.pendingAsk) {
        const r = this.pendingAsk;
        this.pendingAsk = undefined;
        this.atLineStart = true; // the terminal echoed the answer and its Enter
        r(this.queue.shift()!);
        continue;
      }
      if (this.busy) return;
      if (this.closed) break;
      const backlog = this.opts.backlog?.();
      if (backlog) {
        // Held as if running, so idle() waits and dialog answers stay queued in order.
        this.busy = true;
        void backlog.finally(() => {
          this.busy = false;
          this.pump();
        });
        return;
      }
      const line = this.queue.shift()!;
      this.atLineStart = true;
      this.busy = true;
      void this.run(line).finally(() => {
        this.busy = false;
        if (!this.closed) {
          // Progress marks (`verify`'s dots) whose result line a `| include` filtered away.
          if (!this.atLineStart) this.out('\n');
          this.showPrompt();
        }
        this.pump();
      });
      return;
    }
    if (!this.busy && !this.pendingAsk) for (const w of this.idleWaiters.splice(0)) w();
    // A scripted session whose input ran out answers its pending question with the default.
    if (!this.interactive && this.pendingAsk && this.queue.length === 0) {
      const r = this.pendingAsk;
      this.pendingAsk = undefined;
      r('\u0000');
    }
  }

  private caret(column: number): string {
    return ' '.repeat(this.prompt().length + column) + '^\n% Invalid input detected at \'^\' marker.\n\n';
  }

  /**
   * Runs one line in the current mode; sub-modes fall back to their parents as IOS does.
   * Whatever the line printed (an error too) is paged from a fresh count and shown in full
   * before the prompt comes back.
   */
  async run(line: string): Promise<void> {
    this.pagerShown = 0;
    try {
      await this.runLine(line);
    } finally {
      await this.drainPager();
    }
  }

  private async runLine(line: string): Promise<void> {
    if (line.length > MAX_LINE_LENGTH) return this.print(LINE_TOO_LONG);
    // A terminal never hands a control character to the parser, but an exec request can:
    // no host or file name may hold one, so the line is refused where it first appears.
    const control = CONTROL_CHAR.exec(line);
    if (control) return this.out(this.caret(control.index));
    const trimmed = line.trim();
    this.lineCount++;
    if (trimmed === '' || trimmed.startsWith('!')) return;
    if (this.history[this.history.length - 1] !== line) this.history.push(line);
    if (this.history.length > 20) this.history.shift();
    const pipe = parsePipe(line);
    if (pipe.kind === 'invalid') return void this.out(this.caret(pipe.column));
    if (pipe.kind === 'incomplete') return this.print('% Incomplete command.\n');
    if (pipe.kind === 'ok') line = pipe.command;
    let mode = this.mode;
    let result = this.host.engine.match(mode, line, this.host.context);
    // A line unknown in a configuration sub-mode is tried in the modes above it; on success
    // the session moves there (IOS leaves `(config-line)#` when a global command is typed).
    const fallback: string[] = [];
    while (result.kind !== 'ok' && this.host.engine.mode(mode).parent && this.host.engine.mode(mode).parent !== 'exec') {
      mode = this.host.engine.mode(mode).parent!;
      fallback.push(mode);
      const r = this.host.engine.match(mode, line, this.host.context);
      if (r.kind === 'ok') {
        result = r;
        while (this.stack.length > 1 && this.mode !== mode) this.stack.pop();
      }
    }
    if (result.kind !== 'ok') {
      if (fallback.length) result = this.host.engine.match(this.mode, line, this.host.context);
      await this.reportFailure(result, line);
      return;
    }
    const { handler, args, keywords } = result;
    const abort = new AbortController();
    this.abort = abort;
    const captured: string[] | undefined = pipe.kind === 'ok' ? [] : undefined;
    const firstWord = line.trim().split(/\s+/)[0]!.toLowerCase();
    const ctx: CommandContext<C> = {
      line,
      args,
      has: (k) => keywords.has(k),
      negated: firstWord === 'no' && keywords.has('no'),
      router: this.host.context,
      session: this,
      signal: abort.signal,
      // With a `| filter`, printed lines are held back and filtered when the command ends.
      print: (text) => {
        if (!captured) return this.print(text);
        for (const l of text.split('\n')) captured.push(l);
      },
      write: (text) => this.out(text),
      ask: (d) => this.ask(d, abort.signal),
      confirm: async (d) => (await this.ask(d, abort.signal)) === true,
      enterMode: (id, data) => this.enterMode(id, data),
    };
    try {
      await handler.run(ctx);
    } catch (e) {
      if (e instanceof CliError) this.print(e.message);
      else if (!(e instanceof AbortedError)) this.print(`%Error: ${(e as Error).message ?? String(e)}`);
    } finally {
      this.abort = undefined;
    }
    if (captured && pipe.kind === 'ok') {
      const lines = pipe.filter(captured);
      if (lines.length) this.print(lines.join('\n'));
    }
  }

  private async reportFailure(result: { kind: string; column?: number }, line: string): Promise<void> {
    if (result.kind === 'ambiguous') this.print(`% Ambiguous command:  "${line.trim()}"`);
    else if (result.kind === 'incomplete') this.print('% Incomplete command.\n');
    else if (result.kind === 'invalid') {
      const tokens = line.trim().split(/\s+/);
      // A lone unknown word in EXEC is taken as a host name to connect to, as IOS does.
      if (tokens.length === 1 && (this.mode === 'user' || this.mode === 'exec') && result.column === line.indexOf(tokens[0]!)) {
        if (this.host.lookupWord) {
          const abort = new AbortController();
          this.abort = abort;
          try {
            await this.host.lookupWord(tokens[0]!, (t) => this.opts.out(t), abort.signal);
          } finally {
            this.abort = undefined;
          }
        }
        this.print('% Unknown command or computer name, or unable to find computer address');
      } else this.out(this.caret(result.column ?? 0));
    }
  }

  /** Asks a question; resolves with the interpreted answer (boolean for confirm/yes-no). */
  async ask(d: Dialog, signal?: AbortSignal): Promise<string | boolean> {
    const pre = this.host.preAnswer?.(d);
    if (pre !== undefined) return pre;
    await this.drainPager();
    for (;;) {
      this.out(dialogPrompt(d));
      this.secretInput = d.kind === 'secret';
      const raw = await new Promise<string>((resolve) => {
        this.pendingAsk = resolve;
        this.pump();
        if (this.pendingAsk === resolve) this.opts.onQuestion?.(d);
      });
      this.secretInput = false;
      if (raw === '\u0003' || signal?.aborted) {
        this.out('\n');
        throw new AbortedError();
      }
      if (raw === '\u0000') {
        this.out('\n');
        return dialogDefault(d);
      }
      if (d.kind !== 'secret' && CONTROL_CHAR.test(raw)) {
        if (!this.interactive) this.out('\n'); // a terminal echoed the Enter already
        throw new CliError(INVALID_CHARACTER);
      }
      if (!this.interactive || d.kind === 'secret') this.out(d.kind === 'secret' ? '\n' : raw + '\n');
      const a = dialogAnswer(d, raw);
      if (a !== undefined) return a;
      this.out("% Please answer 'yes' or 'no'.\n");
    }
  }

  /** Whether the last output ended a line (the prompt must start one). */
  private atLineStart = true;

  private out(text: string): void {
    if (text === '') return;
    this.atLineStart = /[\r\n]$/.test(text);
    this.opts.out(text);
  }

  private print(text: string): void {
    const lines = text.split('\n');
    if (this.terminal.length === 0 || !this.interactive) {
      this.out(lines.map((l) => l + '\n').join(''));
      return;
    }
    // A loop, not push(...lines): a spread of 130k lines overflows the stack.
    for (const l of lines) this.pagerLines.push(l);
    void this.drainPager();
  }

  private draining?: Promise<void>;
  private drainPager(): Promise<void> {
    if (this.draining) return this.draining;
    this.draining = (async () => {
      while (this.pagerNext < this.pagerLines.length && !this.closed) {
        const page = Math.max(1, this.terminal.length - 1);
        if (this.pagerShown >= page) {
          this.out(' --More-- ');
          await new Promise<void>((r) => (this.pagerWaiting = r));
          continue;
        }
        // A page at a time, read by index: shift() on a 130k-line listing is quadratic.
        const end = Math.min(this.pagerLines.length, this.pagerNext + page - this.pagerShown);
        let text = '';
        for (let i = this.pagerNext; i < end; i++) text += this.pagerLines[i] + '\n';
        this.pagerShown += end - this.pagerNext;
        this.pagerNext = end;
        this.out(text);
      }
      this.pagerLines = [];
      this.pagerNext = 0;
    })().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }
}

/** Thrown inside a command when the user aborted a question or a transfer. */
export class AbortedError extends Error {
  constructor() {
    super('aborted');
  }
}
