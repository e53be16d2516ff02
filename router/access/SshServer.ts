/**
 * The router's SSH server (its vty lines): password and keyboard-interactive logins against
 * the router's local users, an interactive shell driven through the LineEditor, and exec
 * channels that run command lines non-interactively (`ssh router "show version"`).
 */
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import { listenOn } from './listen.ts';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel, Session } from 'ssh2';
import type { SessionOptions } from '../cli/CliSession.ts';
import { type ScpRouter, scpExec } from '../features/scp/index.ts';
import { type EditorSession, LineEditor } from './LineEditor.ts';
import type { LoginGuard } from '../../servers/guard/LoginGuard.ts';

const { Server, utils } = ssh2;

/** The session surface the SSH server drives (CliSession provides it). */
export interface SshCliSession extends EditorSession {
  terminal: { length: number; width: number };
  showPrompt(): void;
  close(): void;
  idle(): Promise<void>;
}

/** What the SSH server needs from a router (Router provides it); ScpRouter for `scp` execs. */
export interface SshRouter extends ScpRouter {
  readonly state: string;
  /** How many vty lines the configuration has (`line vty 0 4`: 5). */
  vtyLines(): number;
  authenticate(user: string, password: string): boolean;
  /** `transport input` on the vty lines: `telnet` alone (or `none`) shuts SSH out. */
  vtyAccepts?(protocol: 'ssh' | 'telnet'): boolean;
  /** The privilege a login starts at (user level, AAA exec authorization). */
  loginPrivilege?(user: string): number;
  /** `ip ssh authentication-retries`. */
  readonly sshAuthRetries?: number;
  /** `ip ssh time-out`: seconds a client has from connecting to a completed login. */
  readonly sshTimeoutSec?: number;
  openSession(opts: Omit<SessionOptions, 'privilege'> & { privilege?: number }): SshCliSession;
}

export interface RouterSshServerOptions {
  router: SshRouter;
  address: string;
  /** 0 picks a free port (read it back from `port`). */
  port: number;
  hostKey: string | Buffer;
  /** Slows, then refuses, password guessing per client address (IOS `login block-for`). */
  loginGuard?: LoginGuard;
}

/**
 * What a client sees when every configured vty line is taken: IOS closes the connection,
 * and its own telnet/ssh client reports it in these words.
 */
export const VTY_REFUSAL = '% Connection refused by remote host';
/** ssh2 reads no packet over RFC 4253's 35,000-byte minimum; a longer exec request gets this. */
export const REQUEST_TOO_LONG = '%Error: request too long (an SSH packet carries at most 35000 bytes)';

/** IOS drops the connection after this many failed logins (`ip ssh authentication-retries 3`). */
const AUTH_RETRIES = 3;
/** IOS's default `ip ssh time-out 120`. */
const NEGOTIATION_TIMEOUT_SEC = 120;
const DEFAULT_LENGTH = 24;
const DEFAULT_WIDTH = 80;

/** Host keys live in hostKey.ts (made so that they always load). */
export { generateHostKey } from './hostKey.ts';

export class RouterSshServer {
  private readonly opts: RouterSshServerOptions;
  private server?: InstanceType<typeof Server>;
  /**
   * The listening socket is ours, not ssh2's: ssh2 hears of a client only once it has sent
   * its version line, and `ip ssh time-out` must also cover a client that sends nothing.
   */
  private tcp?: TcpServer;
  /** `ip ssh time-out` timers of connections not yet logged in, by `address:port` of the peer. */
  private readonly negotiating = new Map<string, NodeJS.Timeout>();
  /** Every open TCP connection, so stop() never waits on a silent one. */
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Connection>();
  /** vty numbers in use; a new session takes the lowest free one, as IOS assigns lines. */
  private readonly vtys = new Set<number>();
  private boundPort = 0;

  constructor(opts: RouterSshServerOptions) {
    this.opts = opts;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new Server({ hostKeys: [this.opts.hostKey], ident: 'Cisco-1.25' }, (client, info) =>
      this.onConnection(client, info.ip, info.port),
    );
    const tcp = createServer((socket) => this.onSocket(server, socket));
    this.server = server;
    this.tcp = tcp;
    try {
      this.boundPort = await listenOn(tcp, this.opts.port, this.opts.address);
    } catch (e) {
      this.server = undefined;
      this.tcp = undefined;
      throw e;
    }
  }

  /** A new TCP connection: the `ip ssh time-out` clock starts now, then ssh2 takes over. */
  private onSocket(server: InstanceType<typeof Server>, socket: Socket): void {
    socket.on('error', () => {});
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    // A client that has not logged in within the time-out is cut, as IOS closes the TCP
    // connection: a silent or stalled peer cannot hold a socket forever. Real time, not the
    // lab clock: it protects sockets, not a scenario's story.
    const timer = setTimeout(() => socket.destroy(), (this.opts.router.sshTimeoutSec ?? NEGOTIATION_TIMEOUT_SEC) * 1000);
    timer.unref();
    this.negotiating.set(key, timer);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      clearTimeout(timer);
      if (this.negotiating.get(key) === timer) this.negotiating.delete(key);
    });
    server.injectSocket(socket);
  }

  /** The client logged in: the negotiation time-out no longer applies. */
  private loggedIn(peer: string, port: number): void {
    const key = `${peer}:${port}`;
    clearTimeout(this.negotiating.get(key));
    this.negotiating.delete(key);
  }

  async stop(): Promise<void> {
    const server = this.server;
    const tcp = this.tcp;
    if (!server || !tcp) return;
    this.server = undefined;
    this.tcp = undefined;
    for (const c of this.clients) {
      try {
        c.end();
      } catch {
        // already gone
      }
    }
    this.clients.clear();
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** A rebooting or powered-off router has no vty to answer on. */
  private accepting(): boolean {
    const s = this.opts.router.state;
    return s !== 'booting' && s !== 'stopped';
  }

  private onConnection(client: Connection, peer: string, peerPort: number): void {
    client.on('error', () => {});
    if (!this.accepting() || this.opts.router.vtyAccepts?.('ssh') === false) {
      client.end();
      return;
    }
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    // A terminal answers each key: Nagle's algorithm would hold an echo for the peer's
    // delayed ACK (40 ms and more), as OpenSSH avoids for interactive sessions.
    (client as Connection & { setNoDelay?(on: boolean): void }).setNoDelay?.(true);
    let user = '';
    let failures = 0;
    const guard = this.opts.loginGuard;
    client.on('authentication', (ctx: AuthContext) => {
      const refuse = (counted = true) => {
        let delayMs = 0;
        if (counted && (ctx.method === 'password' || ctx.method === 'keyboard-interactive')) {
          failures++;
          delayMs = guard?.failed(peer, ctx.username) ?? 0;
        }
        // Each failed password after the first is answered later (guessing is slowed).
        setTimeout(() => {
          if (failures >= (this.opts.router.sshAuthRetries ?? AUTH_RETRIES) || !this.accepting()) {
            ctx.reject();
            client.end();
          } else ctx.reject(['password', 'keyboard-interactive']);
        }, delayMs).unref();
      };
      const accept = () => {
        guard?.succeeded(peer);
        user = ctx.username;
        ctx.accept();
      };
      if (!this.accepting()) return refuse(false);
      // Quiet period after too many failures from this address: refused, whatever the password.
      if ((ctx.method === 'password' || ctx.method === 'keyboard-interactive') && guard && guard.refusal(peer, ctx.username) > 0) {
        ctx.reject();
        client.end();
        return;
      }
      if (ctx.method === 'password') {
        if (this.opts.router.authenticate(ctx.username, ctx.password)) accept();
        else refuse();
      } else if (ctx.method === 'keyboard-interactive') {
        ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers) => {
          if (this.accepting() && this.opts.router.authenticate(ctx.username, answers[0] ?? '')) accept();
          else refuse();
        });
      } else ctx.reject(['password', 'keyboard-interactive']);
    });
    // Sessions accepted whose shell or exec request has not come yet.
    const unstarted = new Set<Session>();
    client.on('error', (e: Error) => {
      if (/Bad packet length/.test(e.message)) for (const s of unstarted) answerOversized(client, s);
    });
    client.on('ready', () => {
      this.loggedIn(peer, peerPort);
      client.on('session', (accept) => {
        const session = accept();
        unstarted.add(session);
        session.once('close', () => unstarted.delete(session));
        this.onSession(client, session, user, peer, () => unstarted.delete(session));
      });
      // Port forwarding and the like: IOS offers none of it.
      client.on('tcpip', (_a, reject) => reject());
      client.on('request', (_a, reject) => reject?.());
    });
  }

  /** The lowest free vty line, or undefined when every configured one is taken. */
  private takeVty(): number | undefined {
    let n = 0;
    while (this.vtys.has(n)) n++;
    if (n >= this.opts.router.vtyLines()) return undefined;
    this.vtys.add(n);
    return n;
  }

  /** No vty free: IOS's refusal, then the connection closes. */
  private refuse(client: Connection, channel: ServerChannel): void {
    channel.on('error', () => {});
    try {
      channel.write(`${VTY_REFUSAL}\r\n`);
      channel.exit(1);
      channel.end();
    } catch {
      // the client went first
    }
    client.end();
  }

  private onSession(client: Connection, ssh: Session, user: string, peer: string, onStart: () => void): void {
    ssh.on('error', () => {});
    let pty: { cols: number; rows: number } | undefined;
    let started = false;
    let applied: { length: number; width: number } | undefined;
    let cli: SshCliSession | undefined;

    // The pty size becomes the terminal size unless the user set `terminal length/width`
    // since (Netmiko's `terminal length 0` must survive a window resize).
    const applySize = () => {
      if (!cli || !pty) return;
      // 0 means the client did not say; a 1-row window would page before every line.
      const want = { length: pty.rows > 0 ? Math.max(2, pty.rows) : DEFAULT_LENGTH, width: pty.cols > 0 ? pty.cols : DEFAULT_WIDTH };
      if (applied && (cli.terminal.length !== applied.length || cli.terminal.width !== applied.width)) return;
      cli.terminal.length = want.length;
      cli.terminal.width = want.width;
      applied = want;
    };

    ssh.on('pty', (accept, _reject, info) => {
      pty = { cols: info.cols, rows: info.rows };
      accept?.();
      applySize();
    });
    ssh.on('window-change', (accept, _reject, info) => {
      pty = { cols: info.cols, rows: info.rows };
      accept?.();
      applySize();
    });
    ssh.on('env', (accept) => accept?.());
    ssh.on('signal', (accept) => accept?.());
    for (const unsupported of ['x11', 'auth-agent', 'sftp', 'subsystem'] as const) {
      ssh.on(unsupported, (_accept: unknown, reject: (() => void) | undefined) => reject?.());
    }

    ssh.on('shell', (accept, reject) => {
      if (started || !this.accepting()) return reject?.();
      started = true;
      onStart();
      const channel = accept();
      cli = this.startShell(client, channel, user, peer);
      if (cli) {
        applySize();
        if (!pty) applied = { length: cli.terminal.length, width: cli.terminal.width };
      }
    });
    ssh.on('exec', (accept, reject, info) => {
      if (started || !this.accepting()) return reject?.();
      started = true;
      onStart();
      const channel = accept();
      // scp pushes/pulls (Netmiko, Ansible net_put) speak the scp protocol, not CLI lines.
      if (/^\s*scp\s/.test(info.command)) {
        this.runScp(client, channel, user, info.command);
        return;
      }
      void this.runExec(client, channel, user, peer, info.command);
    });
  }

  private startShell(client: Connection, channel: ServerChannel, user: string, peer: string): SshCliSession | undefined {
    const vty = this.takeVty();
    if (vty === undefined) {
      this.refuse(client, channel);
      return undefined;
    }
    channel.on('error', () => {});
    let ended = false;
    // Output is gathered and sent once per tick: echoing key by key would cost an SSH packet
    // per key (a 100 KB paste, 100,000 packets). Back-pressure: once the channel holds more
    // than its high-water mark, the editor stops reading input until it drains.
    let queued = '';
    let editorBlocked = false;
    let channelFull = false;
    const unblock = () => {
      if (!editorBlocked) return;
      editorBlocked = false;
      editor.drained();
    };
    const flush = () => {
      const text = queued;
      queued = '';
      if (ended || text === '') return;
      if (channel.write(text)) unblock();
      else channelFull = true;
    };
    const editor: LineEditor = new LineEditor({
      write: (text) => {
        if (ended) return true;
        if (queued === '') queueMicrotask(flush);
        queued += text;
        const ok = !channelFull && queued.length + channel.writableLength < channel.writableHighWaterMark;
        if (!ok) editorBlocked = true;
        return ok;
      },
      flow: (reading) => (reading ? channel.resume() : channel.pause()),
    });
    channel.on('drain', () => {
      channelFull = false;
      unblock();
    });
    const finish = () => {
      if (ended) return;
      flush(); // the session's last words (the reload banner) go out before the channel ends
      ended = true;
      this.vtys.delete(vty);
      // IOS drops the whole connection when the vty session ends (exit, reload).
      try {
        channel.exit(0);
        channel.end();
      } catch {
        // the client went first
      }
      client.end();
    };
    let session: SshCliSession;
    try {
      session = this.opts.router.openSession({
        user,
        lineName: `vty${vty}`,
        peer,
        interactive: true,
        out: (t) => editor.output(t),
        notify: (l) => editor.notify(l),
        onClose: finish,
      });
    } catch {
      finish();
      return undefined;
    }
    editor.attach(session);
    channel.on('data', (d: Buffer) => editor.input(d));
    // The client hung up (channel or whole connection): the vty session ends with it.
    const hangUp = () => {
      session.close();
      finish();
    };
    channel.on('close', hangUp);
    client.on('close', hangUp);
    session.showPrompt();
    return session;
  }

  /** An scp transfer holds a vty line while it runs, as on IOS (it is an exec session there). */
  private runScp(client: Connection, channel: ServerChannel, user: string, command: string): void {
    const vty = this.takeVty();
    if (vty === undefined) return this.refuse(client, channel);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.vtys.delete(vty);
    };
    channel.once('close', release);
    const r = this.opts.router;
    void scpExec(r, command, channel, r.loginPrivilege?.(user) ?? r.system.users.get(user)?.privilege ?? 1).finally(release);
  }

  /**
   * `ssh router "cmd"`: each line runs in turn, no prompts, no paging, exit status 0. The
   * connection stays up for the client to close, so one connection may run several.
   */
  private async runExec(client: Connection, channel: ServerChannel, user: string, peer: string, command: string): Promise<void> {
    const vty = this.takeVty();
    if (vty === undefined) return this.refuse(client, channel);
    channel.on('error', () => {});
    let closed = false;
    let session: SshCliSession | undefined;
    // The client gave up (its channel or its whole connection): the command is aborted and
    // cleans up as after Ctrl-C, rather than run on for nobody.
    const hangUp = () => {
      closed = true;
      session?.close();
    };
    channel.on('close', hangUp);
    client.on('close', hangUp);
    // Back-pressure: while the client has not taken what was written (its window is shut
    // and the channel holds its high-water mark), the session runs no further line.
    let drained: Promise<void> | undefined;
    const backlog = (): Promise<void> | undefined => {
      if (closed || channel.writableLength < channel.writableHighWaterMark) return undefined;
      drained ??= new Promise<void>((resolve) => {
        const done = () => {
          channel.removeListener('drain', done);
          channel.removeListener('close', done);
          client.removeListener('close', done);
          drained = undefined;
          resolve();
        };
        channel.on('drain', done);
        channel.on('close', done);
        client.on('close', done);
      });
      return drained;
    };
    try {
      session = this.opts.router.openSession({
        backlog,
        user,
        lineName: `vty${vty}`,
        peer,
        interactive: false,
        out: (t) => {
          // A scripted session prints its prompt after each line; IOS's exec channel does not.
          if (closed || (session && t === session.prompt())) return;
          channel.write(t.replace(/\r?\n/g, '\r\n'));
        },
      });
      const lines = command.split(/\r?\n/);
      while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
      for (const line of lines) session.submit(line);
      await session.idle();
    } catch {
      // a failing router must not take the SSH server with it; the client sees status 0 anyway
    } finally {
      client.removeListener('close', hangUp);
      session?.close();
      this.vtys.delete(vty);
      if (!closed) {
        try {
          channel.exit(0);
          channel.end();
        } catch {
          // the client went first
        }
      }
    }
  }
}

/**
 * ssh2 drops a connection whose packet exceeds 35,000 bytes without a word. Before it goes,
 * the session the request was for gets an IOS error, exit status 1 and a close, written
 * with ssh2's own protocol object (it has no public call for a channel not yet opened).
 */
function answerOversized(client: Connection, session: Session): void {
  const proto = (client as unknown as { _protocol?: ChannelProtocol })._protocol;
  const id = (session as unknown as { _chanInfo?: { outgoing?: { id?: number } } })._chanInfo?.outgoing?.id;
  if (!proto || id === undefined) return;
  try {
    // The request was sent wanting a reply: it is granted, then answered with the error.
    proto.channelSuccess(id);
    proto.channelData(id, Buffer.from(`${REQUEST_TOO_LONG}\r\n`));
    proto.exitStatus(id, 1);
    proto.channelEOF(id);
    proto.channelClose(id);
  } catch {
    // ssh2 changed its internals: the connection still closes, as before
  }
}

interface ChannelProtocol {
  channelSuccess(id: number): void;
  channelData(id: number, data: Buffer): void;
  exitStatus(id: number, status: number): void;
  channelEOF(id: number): void;
  channelClose(id: number): void;
}
