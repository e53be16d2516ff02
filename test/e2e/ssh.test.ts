/**
 * The router's SSH server end to end: ssh2's client and the stock OpenSSH client (through
 * sshpass) against a real Router on a random loopback address.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey, RouterSshServer, type SshRouter } from '../../router/access/SshServer.ts';
import type { Router } from '../../router/Router.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';

const { Client } = ssh2;

// The server is typed against an interface; the real Router must keep fitting it.
const routerFits = (r: Router): SshRouter => r;
void routerFits;

const address = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
let t: TestRouter;
let server: RouterSshServer;

beforeAll(async () => {
  t = await makeTestRouter();
  server = new RouterSshServer({ router: t.router, address, port: 0, hostKey: generateHostKey() });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  if (t) rmSync(t.dir, { recursive: true, force: true });
});

function connect(extra: Partial<ConnectConfig> & { answer?: string } = {}): Promise<InstanceType<typeof Client>> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const { answer, ...cfg } = extra;
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.on('close', () => reject(new Error('connection closed')));
    if (answer !== undefined) {
      c.on('keyboard-interactive', (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => answer)));
    }
    c.connect({ host: address, port: server.port, username: 'admin', readyTimeout: 10_000, ...cfg });
  });
}

/** A shell channel with everything it printed, and a way to wait for more. */
interface Shell {
  stream: ClientChannel;
  out(): string;
  /** Waits until the output after `from` matches; returns that part of the output. */
  waitFor(re: RegExp, from?: number, ms?: number): Promise<string>;
  send(s: string): void;
  mark(): number;
  closed: Promise<void>;
}

function shell(c: InstanceType<typeof Client>, window: { rows: number; cols: number } = { rows: 24, cols: 80 }): Promise<Shell> {
  return new Promise((resolve, reject) => {
    c.shell({ term: 'vt100', ...window }, (err, stream) => {
      if (err) return reject(err);
      let buf = '';
      const waiters: (() => void)[] = [];
      stream.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        for (const w of waiters.splice(0)) w();
      });
      const closed = new Promise<void>((r) => stream.on('close', () => r()));
      resolve({
        stream,
        out: () => buf,
        mark: () => buf.length,
        send: (s) => stream.write(s),
        closed,
        waitFor(re, from = 0, ms = 5000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`timed out waiting for ${re} in ${JSON.stringify(buf.slice(from))}`)), ms);
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

function exec(c: InstanceType<typeof Client>, command: string): Promise<{ out: string; code: number | null }> {
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

describe('SSH login', () => {
  it('accepts the right password', async () => {
    const c = await connect({ password: 'admin' });
    c.end();
  });

  it('refuses a wrong password', async () => {
    await expect(connect({ password: 'wrong', authHandler: ['password'] })).rejects.toThrow(/authentication methods failed/);
  });

  it('accepts keyboard-interactive and refuses a wrong answer', async () => {
    const c = await connect({ tryKeyboard: true, authHandler: ['keyboard-interactive'], answer: 'admin' });
    c.end();
    await expect(connect({ tryKeyboard: true, authHandler: ['keyboard-interactive'], answer: 'nope' })).rejects.toThrow(/authentication methods failed/);
  });
});

describe('SSH shell', () => {
  it('shows the prompt, runs commands, answers ? and Tab, recalls history', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);

    let m = sh.mark();
    sh.send('show privilege\r');
    expect(await sh.waitFor(/R1>$/, m)).toBe('show privilege\r\nCurrent privilege level is 1\r\nR1>');

    // ? lists the keywords and gives the typed text back.
    m = sh.mark();
    sh.send('show ?');
    const help = await sh.waitFor(/R1>show $/, m);
    expect(help).toMatch(/^show \?\r\n/);
    expect(help).toMatch(/\r\n {2}privilege +Show current privilege level\r\n/);
    expect(help).toMatch(/\r\n {2}version +/);
    m = sh.mark();
    sh.send('priv\t');
    await sh.waitFor(/privilege $/, m);
    m = sh.mark();
    sh.send('\r');
    expect(await sh.waitFor(/R1>$/, m)).toContain('Current privilege level is 1');

    // Tab at the start of a line, then up-arrow runs the last command again.
    m = sh.mark();
    sh.send('sh\t');
    await sh.waitFor(/^show $/, m);
    sh.send('\x15');
    m = sh.mark();
    sh.send('\x1b[A');
    await sh.waitFor(/show privilege $/, m);
    m = sh.mark();
    sh.send('\r');
    expect(await sh.waitFor(/R1>$/, m)).toContain('Current privilege level is 1');

    sh.send('exit\r');
    await sh.closed;
    c.end();
  });

  it('answers dialogs, aborts one with Ctrl-C, and leaves config mode with Ctrl-C', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);

    let m = sh.mark();
    sh.send('enable\r');
    await sh.waitFor(/Password: $/, m);
    m = sh.mark();
    sh.send('\x03');
    expect(await sh.waitFor(/R1>$/, m)).toMatch(/^\^C\r\nR1>$/);

    m = sh.mark();
    sh.send('enable\r');
    await sh.waitFor(/Password: $/, m);
    m = sh.mark();
    sh.send('cisco\r');
    // The secret never comes back.
    expect(await sh.waitFor(/R1#$/, m)).toBe('\r\nR1#');

    m = sh.mark();
    sh.send('copy running-config startup-config\r');
    await sh.waitFor(/Destination filename \[startup-config\]\? $/, m);
    m = sh.mark();
    sh.send('\r');
    expect(await sh.waitFor(/R1#$/, m)).toMatch(/Building configuration\.\.\.\r\n\[OK\]\r\n/);

    m = sh.mark();
    sh.send('configure terminal\r');
    await sh.waitFor(/R1\(config\)#$/, m);
    m = sh.mark();
    sh.send('\x03');
    await sh.waitFor(/\^C\r\n[^]*R1#$/, m);
    sh.send('exit\r');
    await sh.closed;
    c.end();
  });

  it('pages with --More-- at the pty height and with terminal length 5', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c, { rows: 6, cols: 80 });
    await sh.waitFor(/R1>$/);
    let m = sh.mark();
    sh.send('show version\r');
    let page = await sh.waitFor(/ --More-- $/, m);
    // rows 6: five lines, then the pager line.
    expect(page.split('\r\n').length - 2).toBe(5);
    m = sh.mark();
    sh.send('q');
    await sh.waitFor(/R1>$/, m);

    sh.send('terminal length 5\r');
    await sh.waitFor(/R1>$/, sh.mark());
    m = sh.mark();
    sh.send('show version\r');
    page = await sh.waitFor(/ --More-- $/, m);
    expect(page).toContain('Cisco IOS XE Software');
    expect(page.split('\r\n').length - 2).toBe(4);
    m = sh.mark();
    sh.send(' ');
    page = await sh.waitFor(/ --More-- $/, m);
    expect(page.split('\r\n').length - 1).toBe(4);
    m = sh.mark();
    sh.send('q');
    await sh.waitFor(/R1>$/, m);
    expect(sh.out()).not.toContain('Configuration register is');

    sh.send('exit\r');
    await sh.closed;
    c.end();
  });

  it('prints syslog messages after terminal monitor and redraws the typed line', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    // Without terminal monitor a vty sees no log lines, as on IOS.
    const before = sh.mark();
    t.router.log.emit('SYS', 5, 'QUIET', 'not for this vty');
    sh.send('terminal monitor\r');
    expect(await sh.waitFor(/monitor\r\nR1>$/, before)).not.toContain('QUIET');
    sh.send('show priv');
    await sh.waitFor(/show priv$/);
    const m = sh.mark();
    t.router.log.emit('SYS', 5, 'TEST', 'hello from the test');
    expect(await sh.waitFor(/R1>show priv$/, m)).toMatch(/^\r\n.*%SYS-5-TEST: hello from the test\r\nR1>show priv$/);
    sh.send('ilege\r');
    await sh.waitFor(/Current privilege level is 1/, m);
    sh.send('exit\r');
    await sh.closed;
    c.end();
  });

  it('runs pasted lines in order', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    const m = sh.mark();
    sh.send('terminal length 0\r\nshow privilege\r\nshow reload\r\n');
    const out = await sh.waitFor(/No reload is scheduled\.\r\nR1>$/, m);
    expect(out).toBe('terminal length 0\r\nR1>show privilege\r\nCurrent privilege level is 1\r\nR1>show reload\r\nNo reload is scheduled.\r\nR1>');
    sh.send('exit\r');
    await sh.closed;
    c.end();
  });
});

describe('SSH exec', () => {
  it('runs a command, no prompt, exit status 0; several lines run in turn', async () => {
    const c = await connect({ password: 'admin' });
    const one = await exec(c, 'show privilege');
    expect(one).toEqual({ out: 'Current privilege level is 1\r\n', code: 0 });
    const two = await exec(c, 'show privilege\nshow version');
    expect(two.code).toBe(0);
    expect(two.out).toMatch(/^Current privilege level is 1\r\nCisco IOS XE Software, Version/);
    expect(two.out).not.toContain('R1>');
    expect(two.out).toContain('Configuration register is 0x2102');
    c.end();
  });
});

describe('SSH and the router life cycle', () => {
  it('closes sessions when the router stops and refuses logins until it runs again', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    const gone = new Promise<void>((r) => c.on('close', () => r()));
    t.router.powerOff();
    await sh.closed;
    await gone;
    await expect(connect({ password: 'admin' })).rejects.toThrow();
    await t.router.powerOn();
    const again = await connect({ password: 'admin' });
    again.end();
  });
});

describe('SSH and reload', () => {
  it('drops the vty on reload, refuses logins while booting, accepts them once running', async () => {
    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    sh.send('enable\r');
    await sh.waitFor(/Password: $/);
    sh.send('cisco\r');
    await sh.waitFor(/R1#$/);
    const m = sh.mark();
    sh.send('reload\r');
    const asked = await sh.waitFor(/(\[yes\/no\]: |\[confirm\])$/, m);
    if (asked.endsWith('[yes/no]: ')) {
      sh.send('no\r');
      await sh.waitFor(/\[confirm\]$/, m);
    }
    const gone = new Promise<void>((r) => c.on('close', () => r()));
    sh.send('\r');
    await sh.closed;
    await gone;
    expect(t.router.state).toBe('booting');
    await expect(connect({ password: 'admin' })).rejects.toThrow();
    // The test router's clock is frozen: the reboot happens when the test moves it on.
    t.clock.advance(1000);
    await t.router.waitFor(['running'], 10_000);
    const again = await connect({ password: 'admin' });
    expect((await exec(again, 'show privilege')).out).toBe('Current privilege level is 1\r\n');
    again.end();
  });
});

describe('misbehaving clients', () => {
  it('survives garbage, a half handshake and a client vanishing mid-session', async () => {
    const { connect: tcp } = await import('node:net');
    await new Promise<void>((resolve) => {
      const sock = tcp(server.port, address, () => sock.write('GET / HTTP/1.0\r\n\r\n\x00\xff\xfe garbage\r\n'));
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
      setTimeout(() => sock.destroy(), 500);
    });
    await new Promise<void>((resolve) => {
      const sock = tcp(server.port, address, () => {
        sock.write('SSH-2.0-Broken\r\n');
        setTimeout(() => sock.destroy(), 100);
      });
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
    });

    const c = await connect({ password: 'admin' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    const before = t.router.sessions.size;
    sh.send('show ver');
    // Drop the TCP connection under the client: no exit, no channel close.
    (c as unknown as { _sock: { destroy(): void } })._sock.destroy();
    for (let i = 0; i < 50 && t.router.sessions.size >= before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.router.sessions.size).toBe(before - 1);

    const ok = await connect({ password: 'admin' });
    expect((await exec(ok, 'show privilege')).code).toBe(0);
    ok.end();
  });

  it('ip ssh time-out drops a client that never logs in; a logged-in session outlives it', async () => {
    const { connect: tcp } = await import('node:net');
    await t.run('configure terminal', 'ip ssh time-out 1', 'end');
    try {
      const logged = await connect({ password: 'admin' });
      const silent = await new Promise<{ closed: boolean; banner: string }>((resolve) => {
        let banner = '';
        const sock = tcp(server.port, address);
        sock.on('data', (d: Buffer) => (banner += d.toString()));
        sock.on('error', () => {});
        sock.on('close', () => resolve({ closed: true, banner }));
        // Well past the time-out; the server must have closed it by then.
        setTimeout(() => {
          resolve({ closed: false, banner });
          sock.destroy();
        }, 5000);
      });
      expect(silent.banner).toMatch(/^SSH-2\.0-Cisco-1\.25/);
      expect(silent.closed).toBe(true);
      // The session that logged in before is not cut by the negotiation timer.
      expect((await exec(logged, 'show privilege')).code).toBe(0);
      logged.end();
    } finally {
      await t.run('configure terminal', 'no ip ssh time-out', 'end');
    }
  });
});

/** Runs a program; resolves with its output and exit code (never blocks the event loop). */
function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function requireTool(cmd: string, args: string[], pkg: string): Promise<void> {
  try {
    await run(cmd, args);
  } catch (e) {
    throw new Error(`${cmd} is missing: install the Debian package ${pkg} (apt-get install -y ${pkg}) — ${(e as Error).message}`);
  }
}

describe('stock OpenSSH client', () => {
  const sshArgs = (extra: string[]) => [
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR',
    '-o', 'PubkeyAuthentication=no',
    '-o', 'ConnectTimeout=10',
    ...extra,
    '-p', String(server.port),
    `admin@${address}`,
  ];

  it('runs show version through sshpass + ssh (keyboard-interactive, then password)', async () => {
    await requireTool('sshpass', ['-V'], 'sshpass');
    await requireTool('ssh', ['-V'], 'openssh-client');
    const kbd = await run('sshpass', ['-p', 'admin', 'ssh', ...sshArgs([]), 'show version']);
    expect(kbd.stderr).toBe('');
    expect(kbd.code).toBe(0);
    expect(kbd.stdout).toMatch(/^Cisco IOS XE Software, Version 16\.10\.01\r\n/);
    expect(kbd.stdout).toContain('R1 uptime is');

    const pw = await run('sshpass', ['-p', 'admin', 'ssh', ...sshArgs(['-o', 'PreferredAuthentications=password']), 'show privilege']);
    expect(pw).toMatchObject({ code: 0, stdout: 'Current privilege level is 1\r\n' });

    const bad = await run('sshpass', ['-p', 'wrong', 'ssh', ...sshArgs(['-o', 'NumberOfPasswordPrompts=1']), 'show version']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toBe('');
  });
});

describe('AAA over SSH: the login privilege and SCP follow exec authorization', () => {
  /** The first reply byte of `scp -t` as this user: 0 = go ahead, 1 = refused. */
  async function scpReply(user: string, password: string): Promise<string> {
    const c = await connect({ username: user, password });
    try {
      return await new Promise<string>((resolve, reject) => {
        c.exec('scp -t bootflash:aaa-test.bin', (err, stream) => {
          if (err) return reject(err);
          let got = '';
          stream.on('data', (d: Buffer) => {
            got += d.toString('latin1');
            if (got.length) {
              resolve(got[0] === '\x00' ? 'ok' : `refused: ${got.slice(1).trim()}`);
              stream.end();
            }
          });
          stream.on('close', () => resolve(got ? got : 'closed'));
        });
      });
    } finally {
      c.end();
    }
  }

  it('under aaa new-model alone a privilege-15 user starts at 1 and may not copy; exec authorization gives the level back', async () => {
    await t.run('configure terminal', 'username ops privilege 15 secret ops', 'ip scp server enable', 'end');
    expect(await scpReply('ops', 'ops')).toBe('ok');
    await t.run('configure terminal', 'aaa new-model', 'aaa authentication login default local', 'end');
    expect(await scpReply('ops', 'ops')).toBe('refused: scp: Permission denied');
    const c = await connect({ username: 'ops', password: 'ops' });
    const sh = await shell(c);
    await sh.waitFor(/R1>$/);
    c.end();
    await t.run('configure terminal', 'aaa authorization exec default local', 'end');
    expect(await scpReply('ops', 'ops')).toBe('ok');
    await t.run('configure terminal', 'no aaa new-model', 'no ip scp server enable', 'no username ops', 'end');
  });
});
