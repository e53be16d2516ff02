/**
 * The terminal line discipline shared by every interactive access method (SSH shell, and a
 * future console or telnet line): it turns the raw keys a terminal sends into edited lines
 * for a CLI session and turns the session's `\n` output into `\r\n` for the terminal.
 *
 * The session says what it waits for (`awaiting`: a line at its prompt, or an answer); until
 * then keys are kept as type-ahead and replayed, echoed, when it asks. Input is read only
 * while the terminal takes the output (`write` returning false stops it until `drained()`)
 * and while the type-ahead has room, so a client that never reads costs bounded memory.
 */
import { StringDecoder } from 'node:string_decoder';
import { MAX_LINE_LENGTH } from '../cli/CliSession.ts';

/** What the editor needs from a CLI session (CliSession has all of it). */
export interface EditorSession {
  readonly atMore: boolean;
  /** A command line at the prompt, the answer to a question, or nothing yet. */
  readonly awaiting: 'line' | 'answer' | undefined;
  readonly secretInput: boolean;
  readonly isClosed: boolean;
  readonly history: readonly string[];
  prompt(): string;
  submit(line: string): void;
  interrupt(): void;
  ctrlZ(): void;
  help(line: string): string;
  complete(line: string): string | undefined;
  moreKey(key: string): void;
}

/** Keys longer than one character are named keys decoded from escape sequences. */
type Key = string;

type InputState = 'busy' | 'prompt' | 'dialog';

/** Keys kept while a command runs; beyond this the editor stops reading (IOS's type-ahead is bounded too). */
const MAX_TYPEAHEAD = 4096;

/** Parameter bytes kept per escape sequence; a longer one is dropped when it ends. */
const MAX_ESC_PARAMS = 16;

const CTRL = (c: string) => String.fromCharCode(c.charCodeAt(0) & 0x1f);

export class LineEditor {
  private session?: EditorSession;
  private readonly write: (text: string) => boolean | void;
  private readonly flow?: (reading: boolean) => void;
  private readonly maxLine: number;
  private readonly decoder = new StringDecoder('utf8');

  private buffer = '';
  private cursor = 0;
  private state: InputState = 'busy';
  /** Keys typed while a command runs, replayed when the session asks for input again. */
  private typeahead: Key[] = [];
  /** The session's output after its last newline: the prompt or question to redraw. */
  private sessionTail = '';
  /** Whether the terminal cursor sits at column 0 (for placing syslog lines). */
  private atLineStart = true;
  private checkQueued = false;

  // Decoder state, kept across chunks because a client may split a sequence anywhere.
  private lastWasCR = false;
  private esc: '' | 'esc' | 'csi' | 'ss3' = '';
  private escParams = '';
  private ctrlCaret = false;
  private quoteNext = false;

  // History browsing: index into session.history, and the line being typed before browsing.
  private histIndex = -1;
  private draft = '';

  // Flow control: decoded keys not yet handled, and why handling them stopped.
  private pending: Key[] = [];
  private pendingAt = 0;
  private outputBlocked = false;
  private reading = true;
  private pumping = false;

  /**
   * `write` sends text to the terminal and may return false when the terminal has not taken
   * it yet (then call `drained()` when it has); `flow(false)` asks the host to stop reading
   * the terminal's input, `flow(true)` to read again.
   */
  constructor(opts: {
    write: (text: string) => boolean | void;
    flow?: (reading: boolean) => void;
    session?: EditorSession;
    maxLine?: number;
  }) {
    this.write = opts.write;
    this.flow = opts.flow;
    this.maxLine = opts.maxLine ?? MAX_LINE_LENGTH;
    if (opts.session) this.attach(opts.session);
  }

  /** Binds the session (created after the editor, because its `out` must reach the editor). */
  attach(session: EditorSession): void {
    this.session = session;
  }

  /** The line typed so far (tests, diagnostics). */
  get line(): string {
    return this.buffer;
  }

  /** Session output: `\n` becomes `\r\n`; then the editor works out whether input is wanted. */
  output(text: string): void {
    if (text === '') return;
    this.emit(text.replace(/\r?\n/g, '\r\n'));
    const lastNl = text.lastIndexOf('\n');
    this.sessionTail = lastNl >= 0 ? text.slice(lastNl + 1) : this.sessionTail + text;
    const lastCr = this.sessionTail.lastIndexOf('\r');
    if (lastCr >= 0) this.sessionTail = this.sessionTail.slice(lastCr + 1);
    this.scheduleCheck();
  }

  /** A syslog line or broadcast: printed on its own lines, then the prompt and typed text drawn again. */
  notify(line: string): void {
    const s = this.session;
    if (!s || s.isClosed) return;
    if (!this.atLineStart) this.emit('\r\n');
    // Broadcasts (the reload banner) span several lines.
    this.emit(`${line.replace(/\r?\n/g, '\r\n')}\r\n`);
    if (this.state !== 'busy' || s.atMore) {
      this.emit(this.sessionTail);
      if (this.state !== 'busy' && !s.secretInput) this.emit(this.buffer + '\b'.repeat(this.buffer.length - this.cursor));
    }
  }

  /** Raw bytes or text from the terminal. */
  input(data: string | Buffer): void {
    const text = typeof data === 'string' ? data : this.decoder.write(data);
    for (const key of this.decode(text)) this.pending.push(key);
    this.pumpInput();
  }

  /** The terminal took everything written so far: input is read again. */
  drained(): void {
    this.outputBlocked = false;
    this.pumpInput();
  }

  /** Handles pending keys while the output drains and the type-ahead has room. */
  private pumpInput(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pendingAt < this.pending.length && !this.outputBlocked && this.typeahead.length < MAX_TYPEAHEAD) {
        this.key(this.pending[this.pendingAt++]!);
      }
      if (this.pendingAt >= this.pending.length) {
        this.pending = [];
        this.pendingAt = 0;
      }
    } finally {
      this.pumping = false;
    }
    const reading = !this.outputBlocked && this.typeahead.length < MAX_TYPEAHEAD;
    if (reading !== this.reading) {
      this.reading = reading;
      this.flow?.(reading);
    }
  }

  // ---- decoding -------------------------------------------------------------------------

  /**
   * Bytes to keys. Escape sequences follow ECMA-48's grammar: CSI (`ESC [`) takes parameter
   * and intermediate bytes up to one final byte, SS3 (`ESC O`) one final byte. A sequence
   * this editor does not know is dropped whole; a byte that cannot belong to it (Enter,
   * Ctrl-C, another ESC) ends it and counts as the key it is, so nothing typed is lost.
   */
  private *decode(text: string): Generator<Key> {
    for (const ch of text) {
      const code = ch.charCodeAt(0);
      if (this.esc === 'esc') {
        this.esc = '';
        if (ch === '[') {
          this.esc = 'csi';
          continue;
        }
        if (ch === 'O') {
          this.esc = 'ss3';
          continue;
        }
        // Meta-b / Meta-f move by words (IOS Esc B / Esc F); after a lone Esc any other
        // key (Enter, say) still counts.
        if (ch === 'b' || ch === 'B') yield 'word-left';
        else if (ch === 'f' || ch === 'F') yield 'word-right';
        else yield* this.plainKey(ch);
        continue;
      }
      if (this.esc === 'csi' || this.esc === 'ss3') {
        if (code >= 0x40 && code <= 0x7e) {
          const named = this.escParams.length <= MAX_ESC_PARAMS ? namedKey(this.esc, this.escParams, ch) : undefined;
          this.esc = '';
          this.escParams = '';
          if (named) yield named;
        } else if (code >= 0x20 && code <= 0x3f) {
          // Parameter and intermediate bytes; an absurdly long run is still one sequence.
          if (this.escParams.length <= MAX_ESC_PARAMS) this.escParams += ch;
        } else {
          this.esc = '';
          this.escParams = '';
          yield* this.plainKey(ch);
        }
        continue;
      }
      yield* this.plainKey(ch);
    }
  }

  /** A character outside any escape sequence. */
  private *plainKey(ch: string): Generator<Key> {
    // CR LF and CR NUL are one Enter (telnet and some SSH clients send them); LF alone too.
    if (this.lastWasCR) {
      this.lastWasCR = false;
      if (ch === '\n' || ch === '\0') return;
    }
    if (ch === '\r') {
      this.lastWasCR = true;
      yield '\r';
    } else if (ch === '\n') yield '\r';
    else if (ch === '\x1b') this.esc = 'esc';
    else yield ch;
  }

  // ---- dispatch -------------------------------------------------------------------------

  private key(k: Key): void {
    const s = this.session;
    if (!s || s.isClosed) return;
    // The session may be waiting already (its prompt is queued as a microtask check).
    if (this.state === 'busy' && s.awaiting) this.enterInputState();
    // Ctrl-^ x is IOS's escape sequence: it stops what runs, like Ctrl-C.
    if (this.ctrlCaret) {
      this.ctrlCaret = false;
      if (k === 'x' || k === 'X') {
        if (this.state !== 'prompt') this.abort(false);
        return;
      }
    }
    if (k === '\x1e') {
      this.ctrlCaret = true;
      return;
    }
    if (k === CTRL('c')) {
      this.abort(true);
      return;
    }
    if (s.atMore) {
      s.moreKey(k.length === 1 ? k : '\x1b');
      return;
    }
    if (this.state === 'busy') {
      this.typeahead.push(k);
      return;
    }
    this.edit(k);
  }

  /** Ctrl-C / Ctrl-^ x: stop the command or question, forget the type-ahead. */
  private abort(echo: boolean): void {
    const s = this.session!;
    this.typeahead = [];
    if (s.atMore) {
      // Stops the listing only: interrupt() here could hit a command that already returned
      // and is just draining its pager, and would then leave configuration mode instead.
      s.moreKey('\x03');
      return;
    }
    if (echo) this.emit('^C');
    const wasState = this.state;
    this.resetLine();
    if (wasState === 'dialog') {
      // The pending question takes Ctrl-C as its answer; interrupt() alone only flags the
      // command's abort signal while the question keeps waiting for a line.
      this.state = 'busy';
      this.sessionTail = '';
      s.submit('\x03');
      s.interrupt();
      return;
    }
    if (wasState === 'busy') {
      s.interrupt();
      return;
    }
    // At the prompt the session leaves configuration mode and redraws; in EXEC it does
    // nothing, so the editor starts a fresh prompt line itself.
    const before = this.emitted;
    s.interrupt();
    if (this.emitted === before) {
      this.emit('\r\n' + s.prompt());
      this.sessionTail = s.prompt();
    }
  }

  private edit(k: Key): void {
    const s = this.session!;
    const atPrompt = this.state === 'prompt';
    // Ctrl-V takes the next key literally: IOS's way to type a `?` into a command.
    if (this.quoteNext) {
      this.quoteNext = false;
      if (k.length === 1 && k >= ' ' && k !== '\x7f') this.splice(this.cursor, this.cursor, k);
      return;
    }
    switch (k) {
      case CTRL('v'):
        this.quoteNext = true;
        return;
      case '\r':
        return this.enter();
      case '\x7f':
      case '\b':
        if (this.cursor > 0) this.splice(this.cursor - 1, this.cursor, '');
        return;
      case CTRL('d'):
      case 'delete':
        if (this.cursor < this.buffer.length) this.splice(this.cursor, this.cursor + 1, '');
        return;
      case CTRL('u'):
      case CTRL('x'):
        this.splice(0, this.cursor, '');
        return;
      case CTRL('k'):
        this.splice(this.cursor, this.buffer.length, '');
        return;
      case CTRL('w'): {
        const start = wordStart(this.buffer, this.cursor);
        this.splice(start, this.cursor, '');
        return;
      }
      case CTRL('a'):
      case 'home':
        return this.moveTo(0);
      case CTRL('e'):
      case 'end':
        return this.moveTo(this.buffer.length);
      case CTRL('b'):
      case 'left':
        return this.moveTo(Math.max(0, this.cursor - 1));
      case CTRL('f'):
      case 'right':
        return this.moveTo(Math.min(this.buffer.length, this.cursor + 1));
      case 'word-left':
        return this.moveTo(wordStart(this.buffer, this.cursor));
      case 'word-right':
        return this.moveTo(wordEnd(this.buffer, this.cursor));
      case CTRL('l'):
      case CTRL('r'):
        this.emit('\r\n' + this.sessionTail);
        if (!s.secretInput) this.emit(this.buffer + '\b'.repeat(this.buffer.length - this.cursor));
        return;
      case CTRL('p'):
      case 'up':
        if (atPrompt) this.historyStep(-1);
        return;
      case CTRL('n'):
      case 'down':
        if (atPrompt) this.historyStep(1);
        return;
      case CTRL('z'):
        if (atPrompt) {
          this.emit('^Z');
          this.resetLine();
          this.state = 'busy';
          this.sessionTail = '';
          s.ctrlZ();
        }
        return;
      case '\t':
        if (atPrompt) this.tab();
        return;
      case '?':
        if (atPrompt) return this.help();
        break;
    }
    if (k.length !== 1 || k < ' ') return; // other control keys and unknown sequences
    this.splice(this.cursor, this.cursor, k);
  }

  private enter(): void {
    const s = this.session!;
    const line = this.buffer;
    // A secret question prints its own newline; everything else gets the echoed one.
    if (!s.secretInput) this.emit('\r\n');
    this.resetLine();
    this.state = 'busy';
    this.sessionTail = '';
    s.submit(line);
  }

  private help(): void {
    const s = this.session!;
    this.emit('?\r\n');
    this.emit(s.help(this.buffer).replace(/\r?\n/g, '\r\n'));
    // IOS keeps the typed text after the list, with the cursor at its end.
    this.cursor = this.buffer.length;
    this.emit(this.sessionTail + this.buffer);
  }

  private tab(): void {
    const s = this.session!;
    const done = s.complete(this.buffer);
    if (done === undefined || done === this.buffer) return;
    this.replace(done, done.length);
  }

  private historyStep(dir: -1 | 1): void {
    const hist = this.session!.history;
    if (this.histIndex < 0) {
      if (dir > 0 || hist.length === 0) return;
      this.draft = this.buffer;
      this.histIndex = hist.length - 1;
    } else {
      const next = this.histIndex + dir;
      if (next < 0) return;
      if (next >= hist.length) {
        this.histIndex = -1;
        this.replace(this.draft, this.draft.length);
        return;
      }
      this.histIndex = next;
    }
    const entry = hist[this.histIndex]!;
    this.replace(entry, entry.length);
  }

  // ---- line buffer and screen ------------------------------------------------------------

  private get echo(): boolean {
    return !this.session!.secretInput;
  }

  private resetLine(): void {
    this.quoteNext = false;
    this.buffer = '';
    this.cursor = 0;
    this.histIndex = -1;
    this.draft = '';
  }

  /** Replaces buffer[from, to) with text and redraws the changed part of the line. */
  private splice(from: number, to: number, text: string): void {
    const old = this.buffer;
    // A full line buffer takes no more characters: the bell, as IOS rings it.
    if (text !== '' && old.length - (to - from) + text.length > this.maxLine) {
      this.emit('\x07');
      return;
    }
    const next = old.slice(0, from) + text + old.slice(to);
    const cursor = from + text.length;
    // Plain typing and backspace at the end of the line: the cheap, common cases.
    if (this.echo && from === old.length && to === old.length && this.cursor === old.length) {
      this.buffer = next;
      this.cursor = cursor;
      this.emit(text);
      return;
    }
    if (this.echo && text === '' && to === old.length && from === old.length - 1 && this.cursor === old.length) {
      this.buffer = next;
      this.cursor = cursor;
      this.emit('\b \b');
      return;
    }
    this.replace(next, cursor);
  }

  /** Redraws the line from the first changed column using only backspaces and spaces. */
  private replace(next: string, cursor: number): void {
    const old = this.buffer;
    let common = 0;
    while (common < old.length && common < next.length && old[common] === next[common]) common++;
    if (this.echo) {
      let out = '';
      // Walk back to the first difference (or forward to it, re-printing what is there).
      if (this.cursor > common) out += '\b'.repeat(this.cursor - common);
      else out += old.slice(this.cursor, common);
      out += next.slice(common);
      const erase = Math.max(0, old.length - next.length);
      out += ' '.repeat(erase) + '\b'.repeat(erase);
      out += '\b'.repeat(next.length - cursor);
      this.emit(out);
    }
    this.buffer = next;
    this.cursor = cursor;
  }

  private moveTo(pos: number): void {
    if (pos === this.cursor) return;
    if (this.echo) this.emit(pos < this.cursor ? '\b'.repeat(this.cursor - pos) : this.buffer.slice(this.cursor, pos));
    this.cursor = pos;
  }

  private emitted = 0;
  private emit(text: string): void {
    if (text === '') return;
    this.emitted++;
    this.atLineStart = /[\r\n]$/.test(text);
    if (this.write(text) === false) this.outputBlocked = true;
  }

  // ---- input state ----------------------------------------------------------------------

  /**
   * Deferred a microtask: a question sets `secretInput` and starts waiting only after it
   * printed its prompt, and a prompt is printed before the session looks at its queue.
   */
  private scheduleCheck(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    queueMicrotask(() => {
      this.checkQueued = false;
      this.checkInput();
    });
  }

  private get wantsInput(): boolean {
    return this.state !== 'busy';
  }

  private checkInput(): void {
    const s = this.session;
    if (!s || s.isClosed) return;
    if (s.atMore) {
      // Type-ahead answers --More-- one key at a time, as a fast typist's would.
      const k = this.typeahead.shift();
      if (k !== undefined) s.moreKey(k.length === 1 ? k : '\x1b');
    } else if (this.state === 'busy' && s.awaiting) this.enterInputState();
    this.pumpInput();
  }

  /** The session asks for a line or an answer: type-ahead is replayed into it. */
  private enterInputState(): void {
    const s = this.session!;
    this.state = s.awaiting === 'line' ? 'prompt' : 'dialog';
    // A redraw shows the prompt itself, whatever a command printed before it on that line.
    if (this.state === 'prompt') this.sessionTail = s.prompt();
    this.resetLine();
    // Replays keys until one of them (Enter) hands a line to the session again.
    while (this.typeahead.length > 0 && this.wantsInput && !s.atMore && !s.isClosed) {
      this.edit(this.typeahead.shift()!);
    }
  }
}

function namedKey(kind: 'csi' | 'ss3', params: string, final: string): Key | undefined {
  switch (final) {
    case 'A':
      return 'up';
    case 'B':
      return 'down';
    case 'C':
      return 'right';
    case 'D':
      return 'left';
    case 'H':
      return 'home';
    case 'F':
      return 'end';
    case '~':
      if (kind !== 'csi') return undefined;
      if (params === '1' || params === '7') return 'home';
      if (params === '4' || params === '8') return 'end';
      if (params === '3') return 'delete';
      return undefined;
    default:
      return undefined;
  }
}

function wordStart(text: string, pos: number): number {
  let i = pos;
  while (i > 0 && text[i - 1] === ' ') i--;
  while (i > 0 && text[i - 1] !== ' ') i--;
  return i;
}

function wordEnd(text: string, pos: number): number {
  let i = pos;
  while (i < text.length && text[i] === ' ') i++;
  while (i < text.length && text[i] !== ' ') i++;
  return i;
}
