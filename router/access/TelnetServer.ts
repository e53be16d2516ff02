/**
 * The router's telnet server (RFC 854): the same vty lines as SSH, reached over plain TCP.
 * IOS's login dialog (`User Access Verification`, `Username:`, `Password:`, `% Login
 * invalid`) against the router's local users, then the shared LineEditor and CliSession —
 * the only telnet-specific parts are option negotiation and stripping IAC sequences.
 * `transport input` on the vty lines decides whether a connection is taken at all.
 */
import { listenOn } from './listen.ts';
import { createServer, type Server, type Socket } from 'node:net';
import type { SessionOptions } from '../cli/CliSession.ts';
import { type EditorSession, LineEditor } from './LineEditor.ts';

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;
const OPT_ECHO = 1;
const OPT_SGA = 3;
const OPT_NAWS = 31;

/** IOS gives up after this many failed logins on one connection. */
const LOGIN_ATTEMPTS = 3;

/** The session surface the telnet server drives (CliSession provides it). */
export interface TelnetCliSession extends EditorSession {
  terminal: { length: number; width: number };
  showPrompt(): void;
  close(): void;
}

export interface TelnetRouter {
  readonly state: string;
  /** Open sessions, for the next free vty number (SSH and telnet share the lines). */
  readonly sessions: Iterable<{ readonly lineName: string }>;
  authenticate(user: string, password: string): boolean;
  /** Does `transport input` on the vty lines admit this protocol? */
  vtyAccepts(protocol: 'ssh' | 'telnet'): boolean;
  openSession(opts: Omit<SessionOptions, 'privilege'> & { privilege?: number }): TelnetCliSession;
}

export interface RouterTelnetServerOptions {
  router: TelnetRouter;
  address: string;
  /** 0 picks a free port (read it back from `port`). */
  port: number;
}

/**
 * Splits a telnet byte stream into data and commands: IAC IAC is a literal 255, option
 * negotiation is answered, NAWS gives the window size. State survives chunk boundaries.
 */
class TelnetDecoder {
  private state: 'data' | 'iac' | 'opt' | 'sb' | 'sb-iac' = 'data';
  private verb = 0;
  private sb: number[] = [];

  constructor(
    private readonly reply: (bytes: number[]) => void,
    private readonly onWindow: (cols: number, rows: number) => void,
  ) {}

  /** Returns the data bytes of this chunk. */
  feed(chunk: Buffer): Buffer {
    const out: number[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac';
          else out.push(b);
          break;
        case 'iac':
          if (b === IAC) {
            out.push(IAC);
            this.state = 'data';
          } else if (b === SB) {
            this.sb = [];
            this.state = 'sb';
          } else if (b >= WILL && b <= DONT) {
            this.verb = b;
            this.state = 'opt';
          } else this.state = 'data'; // NOP, GA, AYT…: nothing to do
          break;
        case 'opt':
          this.answer(this.verb, b);
          this.state = 'data';
          break;
        case 'sb':
          if (b === IAC) this.state = 'sb-iac';
          else if (this.sb.length < 64) this.sb.push(b);
          break;
        case 'sb-iac':
          if (b === SE) {
            this.subnegotiation(this.sb);
            this.state = 'data';
          } else {
            if (b === IAC && this.sb.length < 64) this.sb.push(IAC);
            this.state = 'sb';
          }
          break;
      }
    }
    return Buffer.from(out);
  }

  /** We echo and suppress go-ahead (already offered); we want NAWS; everything else is refused. */
  private answer(verb: number, opt: number): void {
    if (verb === DO) {
      if (opt !== OPT_ECHO && opt !== OPT_SGA) this.reply([IAC, WONT, opt]);
    } else if (verb === WILL) {
      if (opt !== OPT_NAWS) this.reply([IAC, DONT, opt]);
    }
  }

  private subnegotiation(sb: number[]): void {
    if (sb[0] === OPT_NAWS && sb.length >= 5) this.onWindow((sb[1]! << 8) | sb[2]!, (sb[3]! << 8) | sb[4]!);
  }
}

export class RouterTelnetServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  /** vty numbers taken by connections still logging in (no session yet). */
  private readonly vtys = new Set<number>();

  constructor(private readonly opts: RouterTelnetServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((sock) => this.onConnection(sock));
    this.server = server;
    try {
      this.boundPort = await listenOn(server, this.opts.port, this.opts.address);
    } catch (e) {
      this.server = undefined;
      throw e;
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accepting(): boolean {
    const s = this.opts.router.state;
    return s !== 'booting' && s !== 'stopped';
  }

  private onConnection(sock: Socket): void {
    sock.on('error', () => {});
    // `transport input ssh` (or a rebooting router): the vty does not take the connection.
    if (!this.accepting() || !this.opts.router.vtyAccepts('telnet')) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.setNoDelay(true);
    const peer = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    let window: { cols: number; rows: number } | undefined;
    let session: TelnetCliSession | undefined;
    const applyWindow = () => {
      // A window reported as 0 rows (or never) keeps IOS's default of 24.
      if (session && window && window.rows > 1) session.terminal.length = window.rows;
      if (session && window && window.cols > 0) session.terminal.width = window.cols;
    };
    const decoder = new TelnetDecoder(
      (bytes) => sock.write(Buffer.from(bytes)),
      (cols, rows) => {
        window = { cols, rows };
        applyWindow();
      },
    );
    // IOS offers to echo and to suppress go-ahead, and asks for the window size.
    sock.write(Buffer.from([IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA, IAC, DO, OPT_NAWS]));
    const write = (text: string) => {
      if (!sock.destroyed) sock.write(Buffer.from(text, 'utf8').toString('binary').replace(/\xff/g, '\xff\xff'), 'binary');
    };
    let onData: (data: Buffer) => void = () => {};
    sock.on('data', (chunk: Buffer) => {
      const data = decoder.feed(chunk);
      if (data.length) onData(data);
    });
    const vty = this.takeVty();
    const done = () => {
      this.vtys.delete(vty);
      this.sockets.delete(sock);
    };
    sock.on('close', () => {
      done();
      session?.close();
    });

    const login = new LoginDialog(write, (user) => {
      const editor = new LineEditor({ write });
      try {
        session = this.opts.router.openSession({
          user,
          lineName: `vty${vty}`,
          peer,
          interactive: true,
          out: (t) => editor.output(t),
          notify: (l) => editor.notify(l),
          onClose: () => sock.end(),
        });
      } catch {
        sock.end();
        return;
      }
      editor.attach(session);
      applyWindow();
      onData = (d) => editor.input(normalizeEnter(d));
      session.showPrompt();
    }, (user, password) => this.accepting() && this.opts.router.authenticate(user, password), () => sock.end());
    onData = (d) => login.input(normalizeEnter(d).toString('utf8'));
    login.start();
  }

  private takeVty(): number {
    // SSH and telnet share the vty lines: the next one free on the router or held here.
    const used = new Set([...this.opts.router.sessions].map((x) => x.lineName));
    let n = 0;
    while (this.vtys.has(n) || used.has(`vty${n}`)) n++;
    this.vtys.add(n);
    return n;
  }
}

/** Telnet clients end a line with CR LF or CR NUL (RFC 854); the editor wants a lone CR. */
function normalizeEnter(d: Buffer): Buffer {
  return Buffer.from(d.toString('binary').replace(/\r\n|\r\0/g, '\r').replace(/\n/g, '\r'), 'binary');
}

/**
 * IOS's vty login with `login local`: `Username:` echoed, `Password:` not, three tries, then
 * the connection is closed.
 */
class LoginDialog {
  private phase: 'user' | 'password' | 'done' = 'user';
  private buffer = '';
  private user = '';
  private failures = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly loggedIn: (user: string) => void,
    private readonly check: (user: string, password: string) => boolean,
    private readonly hangUp: () => void,
  ) {}

  start(): void {
    this.write('\r\n\r\nUser Access Verification\r\n\r\nUsername: ');
  }

  input(text: string): void {
    for (const ch of text) {
      if (this.phase === 'done') return;
      if (ch === '\r') this.enter();
      else if (ch === '\x7f' || ch === '\b') {
        if (this.buffer.length) {
          this.buffer = this.buffer.slice(0, -1);
          if (this.phase === 'user') this.write('\b \b');
        }
      } else if (ch === '\x03') {
        this.buffer = '';
        this.write('\r\n');
        this.prompt();
      } else if (ch >= ' ' && this.buffer.length < 128) {
        this.buffer += ch;
        if (this.phase === 'user') this.write(ch);
      }
    }
  }

  private prompt(): void {
    this.write(this.phase === 'user' ? 'Username: ' : 'Password: ');
  }

  private enter(): void {
    const typed = this.buffer;
    this.buffer = '';
    this.write('\r\n');
    if (this.phase === 'user') {
      if (typed === '') return this.prompt();
      this.user = typed;
      this.phase = 'password';
      return this.prompt();
    }
    if (this.check(this.user, typed)) {
      this.phase = 'done';
      this.write('\r\n');
      this.loggedIn(this.user);
      return;
    }
    this.failures++;
    this.write('% Login invalid\r\n\r\n');
    if (this.failures >= LOGIN_ATTEMPTS) {
      this.phase = 'done';
      this.hangUp();
      return;
    }
    this.phase = 'user';
    this.prompt();
  }
}
