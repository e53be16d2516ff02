/**
 * An ssh2 client for tests that drive a router's vty as a user would: a shell with a pty
 * (every byte it printed, and a way to wait for more) or an exec channel.
 */
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';

const { Client } = ssh2;
export type SshClient = InstanceType<typeof Client>;

export function sshConnect(host: string, port: number, extra: Partial<ConnectConfig> = {}): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.on('close', () => reject(new Error('connection closed')));
    c.connect({ host, port, username: 'admin', password: 'admin', readyTimeout: 10_000, ...extra });
  });
}

/** A shell channel with everything it printed, and a way to wait for more. */
export interface Shell {
  stream: ClientChannel;
  out(): string;
  /** Waits until the output after `from` matches; returns that part of the output. */
  waitFor(re: RegExp, from?: number, ms?: number): Promise<string>;
  send(s: string | Buffer): void;
  mark(): number;
  closed: Promise<void>;
}

export function openShell(c: SshClient, window: { rows: number; cols: number } = { rows: 24, cols: 80 }): Promise<Shell> {
  return new Promise((resolve, reject) => {
    c.shell({ term: 'vt100', ...window }, (err, stream) => {
      if (err) return reject(err);
      let buf = '';
      const waiters: (() => void)[] = [];
      stream.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        for (const w of waiters.splice(0)) w();
      });
      stream.stderr.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        for (const w of waiters.splice(0)) w();
      });
      const closed = new Promise<void>((r) => stream.on('close', () => r()));
      resolve({
        stream,
        out: () => buf,
        mark: () => buf.length,
        send: (s) => void stream.write(s),
        closed,
        waitFor(re, from = 0, ms = 5000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`timed out waiting for ${re} in ${JSON.stringify(buf.slice(from).slice(-2000))}`)), ms);
            const check = () => {
              const part = buf.slice(from);
              if (re.test(part)) {
                clearTimeout(timer);
                res(part);
              } else waiters.push(check);
            };
            check();
          });
        },
      });
    });
  });
}

/** Runs an exec request; resolves with what it printed and its exit code when the channel closes. */
export function sshExec(c: SshClient, command: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let out = '';
      let code: number | null = null;
      stream.on('data', (d: Buffer) => (out += d.toString('utf8')));
      stream.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
      stream.on('exit', (c: number | null) => (code = c));
      stream.on('close', () => resolve({ out, code }));
    });
  });
}
