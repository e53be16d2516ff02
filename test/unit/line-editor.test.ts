/**
 * The line discipline against a real CliSession with a tiny command set of its own, and a
 * fake terminal that renders what the editor writes (CR, LF, backspace, overwrite).
 */
import { describe, expect, it } from 'vitest';
import { CliEngine } from '../../router/cli/CliEngine.ts';
import { CliSession, MAX_LINE_LENGTH } from '../../router/cli/CliSession.ts';
import { Dialogs } from '../../router/cli/dialogs.ts';
import type { Feature } from '../../router/cli/types.ts';
import { LineEditor } from '../../router/access/LineEditor.ts';

interface Ctx {
  hostname: string;
  release?: () => void;
}

const feature: Feature<Ctx> = {
  name: 'test',
  commands: [
    { mode: 'user', syntax: 'show test', help: { show: 'Show running system information', test: 'Test output' }, run: (c) => c.print('test output') },
    { mode: 'user', syntax: 'show lines', help: { lines: 'Twelve lines' }, run: (c) => c.print(Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n')) },
    { mode: 'user', syntax: 'show echo <text:LINE>', help: { echo: 'Echo' }, run: (c) => c.print(`echo:${c.args.text}`) },
    {
      mode: 'user',
      syntax: 'slow',
      help: { slow: 'Runs until aborted' },
      run: (c) =>
        new Promise<void>((resolve) => {
          c.signal.addEventListener('abort', () => {
            c.print('stopped');
            resolve();
          });
        }),
    },
    {
      mode: 'user',
      syntax: 'wait',
      help: { wait: 'Runs until the test releases it' },
      run: (c) =>
        new Promise<void>((resolve) => {
          c.router.release = () => {
            c.print('released');
            resolve();
          };
        }),
    },
    {
      mode: 'user',
      syntax: 'remove <file>',
      help: { remove: 'Asks for confirmation' },
      async run(c) {
        const name = await c.ask(Dialogs.deleteFilename(c.args.file!));
        const ok = await c.confirm(Dialogs.deleteConfirm(String(name)));
        c.print(ok ? `removed ${String(name)}` : 'kept');
      },
    },
    {
      mode: 'user',
      syntax: 'login',
      help: { login: 'Asks for a password' },
      async run(c) {
        const pw = await c.ask(Dialogs.password());
        c.print(`got ${String(pw).length} chars`);
      },
    },
    {
      mode: 'user',
      syntax: 'upload',
      help: { upload: 'The seed dialog and form fields' },
      async run(c) {
        const go = await c.confirm({ kind: 'yesno', text: "Copy 'f' from Flash to server\n as 'f'?", colon: false });
        const count = await c.ask({ kind: 'field', text: 'Repeat count', default: '5' });
        const target = await c.ask({ kind: 'field', text: 'Target IP address' });
        c.print(`go=${go} count=${String(count)} target=${String(target)}`);
      },
    },
    { mode: 'user', syntax: 'configure terminal', help: { configure: 'Enter configuration mode' }, run: (c) => c.enterMode('config') },
    { mode: 'config', syntax: 'hostname <name>', help: { hostname: 'Set system name' }, run: (c) => void (c.router.hostname = c.args.name!) },
    { mode: 'config', syntax: 'end', help: { end: 'Exit from configure mode' }, run: (c) => c.session.exitMode(true) },
    { mode: 'user', syntax: 'exit', help: { exit: 'Exit from the EXEC' }, run: (c) => c.session.close() },
    { mode: 'user', syntax: 'show dots', help: { dots: 'Progress marks, then a line' }, run: (c) => (c.write('...'), c.print('done')) },
  ],
};

const engine = new CliEngine<Ctx>([feature]);

/** Renders the byte stream a terminal would show: enough of a VT100 for CR, LF and BS. */
class FakeTerminal {
  raw = '';
  lines: string[] = [''];
  row = 0;
  col = 0;
  write(text: string): void {
    this.raw += text;
    for (const ch of text) {
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') {
        this.row++;
        if (this.row >= this.lines.length) this.lines.push('');
      } else if (ch === '\b') this.col = Math.max(0, this.col - 1);
      else {
        const l = this.lines[this.row]!.padEnd(this.col, ' ');
        this.lines[this.row] = l.slice(0, this.col) + ch + l.slice(this.col + 1);
        this.col++;
      }
    }
  }
  /** The line the cursor is on, trailing blanks dropped. */
  get current(): string {
    return this.lines[this.row]!.trimEnd();
  }
  get screen(): string {
    return this.lines.map((l) => l.trimEnd()).join('\n');
  }
}

/** Lets promise chains inside the session and the editor's deferred checks run. */
const settle = () => new Promise((r) => setTimeout(r, 5));

async function setup(opts: { length?: number; write?: (t: string) => boolean; flow?: (reading: boolean) => void } = {}) {
  const term = new FakeTerminal();
  const ctx: Ctx = { hostname: 'R1' };
  const editor = new LineEditor({
    write: (t) => {
      term.write(t);
      return opts.write?.(t) ?? true;
    },
    flow: opts.flow,
  });
  const session = new CliSession<Ctx>(
    { engine, context: ctx, hostname: () => ctx.hostname },
    { user: 'admin', lineName: 'vty0', privilege: 1, interactive: true, out: (t) => editor.output(t), notify: (l) => editor.notify(l) },
  );
  session.terminal.length = opts.length ?? 0;
  editor.attach(session);
  session.showPrompt();
  await settle();
  return { term, ctx, editor, session, type: (s: string | Buffer) => editor.input(s) };
}


describe('LineEditor', () => {
  it('echoes typing, submits on Enter and converts output line ends to CRLF', async () => {
    const t = await setup();
    t.type('show test');
    expect(t.term.current).toBe('R1>show test');
    t.type('\r');
    await settle();
    expect(t.term.raw).toBe('R1>show test\r\ntest output\r\nR1>');
    expect(t.term.raw).not.toMatch(/[^\r]\n/);
  });

  it('takes CR, LF, CR LF and CR NUL each as one Enter, even split across chunks', async () => {
    const t = await setup();
    for (const chunk of ['show echo a\r', '\nshow echo b\r\0', 'show echo c\n', 'show echo d\r']) {
      t.type(chunk);
      await settle();
    }
    t.type('\n'); // the LF of the last CR LF, arriving in its own chunk
    await settle();
    const out = t.term.raw;
    expect(out.match(/echo:\w/g)).toEqual(['echo:a', 'echo:b', 'echo:c', 'echo:d']);
    // Four commands, four prompts after the first: no empty Enter slipped in.
    expect(out.match(/R1>/g)).toHaveLength(5);
    expect(t.session.history).toEqual(['show echo a', 'show echo b', 'show echo c', 'show echo d']);
  });

  it('edits with backspace, DEL, Ctrl-U, Ctrl-W and arrows without corrupting the line', async () => {
    const t = await setup();
    t.type('show tesx\x7f');
    expect(t.term.current).toBe('R1>show tes');
    t.type('t\b\bst');
    expect(t.term.current).toBe('R1>show test');
    t.type('\x15');
    expect(t.term.current).toBe('R1>');
    expect(t.editor.line).toBe('');
    t.type('show foo\x17');
    expect(t.term.current).toBe('R1>show');
    t.type('\x17show echo bd');
    // Left arrow (both CSI and SS3 forms), then insert in the middle.
    t.type('\x1b[D\x1bOD');
    t.type('X');
    expect(t.term.current).toBe('R1>show echo Xbd');
    t.type('\x1bb\x1bf'); // Esc B / Esc F: a word left, a word right
    expect(t.term.col).toBe('R1>show echo Xbd'.length);
    t.type('\x01'); // Ctrl-A to the start, Ctrl-E back to the end
    expect(t.term.col).toBe(3);
    t.type('\x05');
    expect(t.term.col).toBe('R1>show echo Xbd'.length);
    t.type('\x1b[D\x1b[3~'); // Delete key removes the character under the cursor
    expect(t.term.current).toBe('R1>show echo Xb');
    t.type('\x1b\r'); // a lone Esc does not eat the Enter after it
    await settle();
    expect(t.term.raw).toContain('echo:Xb\r\n');
  });

  it('? lists help, keeps the typed text and accepts more input', async () => {
    const t = await setup();
    t.type('show ?');
    expect(t.term.raw).toContain('R1>show ?\r\n');
    expect(t.term.raw).toMatch(/\r\n {2}test +Test output\r\n/);
    expect(t.term.current).toBe('R1>show');
    expect(t.editor.line).toBe('show ');
    t.type('sh?');
    expect(t.term.raw).toContain('R1>show sh?\r\n');
    t.type('\x7f\x7ftest\r');
    await settle();
    expect(t.term.raw).toContain('test output\r\nR1>');
  });

  it('Tab completes a unique keyword and leaves an ambiguous one alone', async () => {
    const t = await setup();
    t.type('sh\t');
    expect(t.term.current).toBe('R1>show');
    expect(t.editor.line).toBe('show ');
    t.type('te\t');
    expect(t.editor.line).toBe('show test ');
    const before = t.term.raw;
    t.type('\x15s\t'); // "s": show, slow — ambiguous
    expect(t.editor.line).toBe('s');
    expect(t.term.raw.slice(before.length)).not.toContain('\x07');
  });

  it('walks the history with up/down arrows and Ctrl-P/Ctrl-N, restoring the draft', async () => {
    const t = await setup();
    t.type('show echo one\r');
    await settle();
    t.type('show echo two\r');
    await settle();
    t.type('dra');
    t.type('\x1b[A');
    expect(t.term.current).toBe('R1>show echo two');
    t.type('\x10');
    expect(t.term.current).toBe('R1>show echo one');
    t.type('\x10'); // past the oldest: stays
    expect(t.term.current).toBe('R1>show echo one');
    t.type('\x1b[B');
    expect(t.term.current).toBe('R1>show echo two');
    t.type('\x0e');
    expect(t.term.current).toBe('R1>dra');
    t.type('\x1b'); // an escape sequence split across chunks
    t.type('[A');
    expect(t.term.current).toBe('R1>show echo two');
    t.type('\r');
    await settle();
    expect(t.term.raw.match(/echo:two/g)).toHaveLength(2);
  });

  it('Ctrl-C aborts a running command; Ctrl-^ x does too', async () => {
    const t = await setup();
    t.type('slow\r');
    await settle();
    t.type('\x03');
    await settle();
    expect(t.term.raw).toMatch(/slow\r\n\^Cstopped\r\nR1>$/);
    t.type('slow\r');
    await settle();
    t.type('\x1e');
    t.type('x');
    await settle();
    expect(t.term.raw).toMatch(/slow\r\nstopped\r\nR1>$/);
  });

  it('Ctrl-C at the EXEC prompt drops the typed text and starts a fresh prompt', async () => {
    const t = await setup();
    t.type('show te\x03');
    expect(t.term.raw).toBe('R1>show te^C\r\nR1>');
    expect(t.editor.line).toBe('');
    t.type('show test\r');
    await settle();
    expect(t.term.raw).toContain('test output');
  });

  it('Ctrl-C and Ctrl-Z leave configuration mode', async () => {
    const t = await setup();
    t.type('configure terminal\r');
    await settle();
    expect(t.term.current).toBe('R1(config)#');
    t.type('host\x03');
    await settle();
    expect(t.term.raw).toContain('R1(config)#host^C\r\nR1>');
    expect(t.session.mode).toBe('user');
    t.type('configure terminal\r');
    await settle();
    t.type('hostname R2\r');
    await settle();
    expect(t.term.current).toBe('R2(config)#');
    t.type('\x1a');
    await settle();
    expect(t.term.raw).toMatch(/R2\(config\)#\^Z\r\nR2>$/);
    t.type('show test\r');
    await settle();
    expect(t.term.raw).toMatch(/R2>show test\r\ntest output\r\nR2>$/);
  });

  it('runs pasted lines in order, echoing each at its own prompt', async () => {
    const t = await setup();
    t.type('show echo 1\rshow echo 2\r\nshow echo 3\n');
    await settle();
    expect(t.term.raw).toBe(
      'R1>show echo 1\r\necho:1\r\nR1>show echo 2\r\necho:2\r\nR1>show echo 3\r\necho:3\r\nR1>',
    );
  });

  it('keeps type-ahead unechoed while a command runs and echoes it at the next prompt', async () => {
    const t = await setup();
    t.type('wait\r');
    await settle();
    t.type('show te');
    t.type('st\r');
    await settle();
    expect(t.term.raw).toBe('R1>wait\r\n');
    t.ctx.release!();
    await settle();
    expect(t.term.raw).toBe('R1>wait\r\nreleased\r\nR1>show test\r\ntest output\r\nR1>');
  });

  it('pages with --More--: space shows a page, Enter a line, q stops', async () => {
    const t = await setup({ length: 5 });
    t.type('show lines\r');
    await settle();
    expect(t.term.raw).toMatch(/line 4\r\n --More-- $/);
    expect(t.term.raw).not.toContain('line 5');
    t.type(' ');
    await settle();
    expect(t.term.raw).toMatch(/line 8\r\n --More-- $/);
    t.type('\r');
    await settle();
    expect(t.term.raw).toMatch(/line 9\r\n --More-- $/);
    t.type('q');
    await settle();
    expect(t.term.raw).not.toContain('line 10');
    expect(t.term.current).toBe('R1>');
    // The keys went to the pager, not into the next command line.
    expect(t.editor.line).toBe('');
    t.type('show test\r');
    await settle();
    expect(t.term.raw).toMatch(/R1>show test\r\ntest output\r\nR1>$/);
  });

  it('answers --More-- from type-ahead, one key per page', async () => {
    const t = await setup({ length: 5 });
    t.type('show lines\r  ');
    await settle();
    expect(t.term.raw).toContain('line 12');
    expect(t.term.current).toBe('R1>');
  });

  it('answers dialogs: echoed text for a question, Enter to confirm', async () => {
    const t = await setup();
    t.type('remove a.bin\r');
    await settle();
    expect(t.term.current).toBe('Delete filename [a.bin]?');
    t.type('b.bin\r');
    await settle();
    expect(t.term.raw).toContain('Delete filename [a.bin]? b.bin\r\n');
    expect(t.term.current).toBe('Delete b.bin? [confirm]');
    t.type('\r');
    await settle();
    expect(t.term.raw).toMatch(/Delete b\.bin\? \[confirm\]\r\nremoved b\.bin\r\nR1>$/);
  });

  it('waits for answers at the seed yes/no form and at form fields', async () => {
    const t = await setup();
    t.type('upload\r');
    await settle();
    expect(t.term.current).toBe("as 'f'? [yes/no]".padStart(" as 'f'? [yes/no]".length));
    t.type('yes\r');
    await settle();
    expect(t.term.current).toBe('Repeat count [5]:');
    t.type('\r');
    await settle();
    expect(t.term.current).toBe('Target IP address:');
    t.type('127.0.0.9\r');
    await settle();
    expect(t.term.raw).toMatch(/go=true count=5 target=127\.0\.0\.9\r\nR1>$/);
  });

  it('does not echo secret input', async () => {
    const t = await setup();
    t.type('login\r');
    await settle();
    expect(t.term.current).toBe('Password:');
    t.type('s3cret\x7fT\r');
    await settle();
    expect(t.term.raw).not.toContain('s3cre');
    expect(t.term.raw).toMatch(/Password: \r\ngot 6 chars\r\nR1>$/);
  });

  it('Ctrl-C at a dialog aborts the command', async () => {
    const t = await setup();
    t.type('remove a.bin\r');
    await settle();
    t.type('xy\x03');
    await settle();
    expect(t.term.raw).toMatch(/Delete filename \[a\.bin\]\? xy\^C\r\nR1>$/);
    t.type('show test\r');
    await settle();
    expect(t.term.raw).toMatch(/R1>show test\r\ntest output\r\nR1>$/);
  });

  it('prints a syslog line and redraws the prompt and typed text', async () => {
    const t = await setup();
    t.type('show te\x1b[D');
    t.session.notify('*Mar  1 00:00:01.000: %SYS-5-TEST: hello');
    expect(t.term.raw).toBe('R1>show te\b\r\n*Mar  1 00:00:01.000: %SYS-5-TEST: hello\r\nR1>show te\b');
    t.type('s');
    expect(t.term.current).toBe('R1>show tse');
  });

  it('prints a multi-line broadcast with CRLF line ends', async () => {
    const t = await setup();
    t.session.notify('\n\n***\n*** --- SHUTDOWN NOW ---\n***\n');
    expect(t.term.raw).toBe('R1>\r\n\r\n\r\n***\r\n*** --- SHUTDOWN NOW ---\r\n***\r\n\r\nR1>');
  });

  it('Ctrl-V types a literal ?', async () => {
    const t = await setup();
    t.type('show echo why\x16?\r');
    await settle();
    expect(t.term.raw).toContain('echo:why?\r\n');
  });

  it('decodes UTF-8 split across chunks and ignores input after the session closed', async () => {
    const t = await setup();
    const bytes = Buffer.from('show echo é\r');
    t.type(bytes.subarray(0, 11));
    t.type(bytes.subarray(11));
    await settle();
    expect(t.term.raw).toContain('echo:é');
    let closed = false;
    t.type('exit\r');
    await settle();
    closed = t.session.isClosed;
    expect(closed).toBe(true);
    const len = t.term.raw.length;
    t.type('show test\r');
    await settle();
    expect(t.term.raw.length).toBe(len);
  });

  it('drops unknown escape sequences whole, and a byte outside the grammar ends one as the key it is', async () => {
    const t = await setup();
    // ESC O then Enter: the Enter counts.
    t.type('show test\x1bO\r');
    await settle();
    expect(t.term.raw).toContain('R1>show test\r\ntest output\r\nR1>');
    // ESC [ then Ctrl-C: the Ctrl-C counts.
    t.type('show te\x1b[\x03');
    expect(t.term.raw.endsWith('^C\r\nR1>')).toBe(true);
    // An unknown CSI (parameters, intermediate, final) and a runaway one are dropped whole.
    t.type('\x1b[1;5Zsh\x1b[' + '9'.repeat(200) + '~ow test\r');
    await settle();
    expect(t.term.raw.endsWith('R1>show test\r\ntest output\r\nR1>')).toBe(true);
    // ESC ESC [ D: the second ESC starts the sequence; left arrow moves the cursor.
    t.type('show tst\x1b\x1b[D\x1b[De\r');
    await settle();
    expect(t.term.raw.endsWith('test output\r\nR1>')).toBe(true);
  });

  it('takes no more than the line length, ringing the bell', async () => {
    const t = await setup();
    t.type('show echo ' + 'a'.repeat(2000));
    expect(t.editor.line.length).toBe(MAX_LINE_LENGTH);
    expect(t.term.raw).toContain('\x07');
    t.type('\r');
    await settle();
    expect(t.term.raw).toContain(`echo:${'a'.repeat(MAX_LINE_LENGTH - 'show echo '.length)}\r\n`);
  });

  it('stops reading while the terminal has not taken the output, and reads again once drained', async () => {
    let full = false;
    const flow: boolean[] = [];
    const t = await setup({ write: () => !full, flow: (r) => flow.push(r) });
    full = true;
    t.type('?'.repeat(1000));
    // The first ? filled the terminal: the other 999 wait, and reading stopped.
    expect(t.term.raw.split('Show running system information').length - 1).toBe(1);
    expect(flow).toEqual([false]);
    full = false;
    t.editor.drained();
    expect(t.term.raw.split('Show running system information').length - 1).toBe(1000);
    expect(flow).toEqual([false, true]);
  });

  it('stops reading when the type-ahead is full, and reads again as it drains', async () => {
    const flow: boolean[] = [];
    const t = await setup({ flow: (r) => flow.push(r) });
    t.type('wait\r');
    await settle();
    t.type('show test\r'.repeat(1000));
    expect(flow).toEqual([false]);
    t.ctx.release!();
    await settle();
    await settle();
    expect(flow).toEqual([false, true]);
    expect(t.term.raw.split('test output').length - 1).toBe(1000);
  });

  it('a command that ends without a newline (progress marks) still gives the prompt, on its own line', async () => {
    const t = await setup();
    t.type('show dots | include nothing\r');
    await settle();
    expect(t.term.raw.endsWith('...\r\nR1>')).toBe(true);
    t.type('show test\r');
    await settle();
    expect(t.term.raw.endsWith('test output\r\nR1>')).toBe(true);
  });
});

