/**
 * Sessions that never hang (issue 13, items 1-6; issue 7, item 2): each finding replayed
 * through a real pty or exec channel over SSH (ssh2's client) against a real router, with
 * real TFTP transfers where a copy is involved.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey, REQUEST_TOO_LONG, RouterSshServer, VTY_REFUSAL } from '../../router/access/SshServer.ts';
import { LINE_TOO_LONG, MAX_LINE_LENGTH } from '../../router/cli/CliSession.ts';
import { tuneCopy } from '../../router/features/copy/index.ts';
import { makeImage } from '../../router/image/format.ts';
import type { Router } from '../../router/Router.ts';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';
import { openShell, type Shell, type SshClient, sshConnect, sshExec } from '../helpers/ssh.ts';

const address = randomLoopback();
const IMAGE = 'isr4300-universalk9.16.12.04.SPA.bin';
let t: TestRouter;
let server: RouterSshServer;
let tftp: TftpServer;
let tftpRoot: string;
const clients: SshClient[] = [];

beforeAll(async () => {
  tftpRoot = mkdtempSync(join(tmpdir(), 'flashlab-e2e-terminal-'));
  mkdirSync(join(tftpRoot, 'images'));
  await makeImage(join(tftpRoot, 'images', IMAGE), { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: 400_000 });
  tftp = new TftpServer({ address, port: 0, root: tftpRoot, allowRead: true, allowWrite: false, allowCreate: false, timeoutSec: 1, retries: 2 });
  await tftp.start();
  t = await makeTestRouter({
    env: {
      servicePort: (_a, service) => {
        if (service === 'tftp') return tftp.port;
        throw new Error(`no ${service} server in this test`);
      },
      transfer: { tftp: new TftpTransferClient(), ftp: new FtpTransferClient() },
    },
  });
  tuneCopy(t.router, { timeoutSec: 1, bytesPerMark: 4096 });
  await t.run('configure terminal', 'username ops privilege 15 secret opspw', 'end');
  server = new RouterSshServer({ router: t.router, address, port: 0, hostKey: generateHostKey() });
  await server.start();
});

// Each test starts with every vty free.
afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  await until(() => t.router.sessions.size === 0);
});

afterAll(async () => {
  await server?.stop();
  await tftp?.stop();
  if (t) rmSync(t.dir, { recursive: true, force: true });
  rmSync(tftpRoot, { recursive: true, force: true });
});

/** A client logged in as admin (privilege 1), or as ops (privilege 15). */
async function client(user: 'admin' | 'ops' = 'admin'): Promise<SshClient> {
  const c = await sshConnect(address, server.port, user === 'ops' ? { username: 'ops', password: 'opspw' } : {});
  clients.push(c);
  return c;
}

/** A logged-in pty at the `R1>` prompt (rows 24 unless asked). */
async function login(rows = 24): Promise<Shell> {
  const sh = await openShell(await client(), { rows, cols: 80 });
  await sh.waitFor(/R1>$/);
  return sh;
}

async function enable(sh: Shell): Promise<void> {
  await type(sh, 'enable\r', /Password: $/);
  await type(sh, 'cisco\r', /R1#$/);
}

/** Sends keys and waits for the output that follows them to match. */
async function type(sh: Shell, keys: string, re: RegExp, ms = 5000): Promise<string> {
  const m = sh.mark();
  sh.send(keys);
  return sh.waitFor(re, m, ms);
}

/** The session is alive: a command typed now runs and the prompt returns. */
async function answers(sh: Shell, prompt = 'R1>'): Promise<void> {
  const out = await type(sh, 'show privilege\r', new RegExp(`Current privilege level is \\d+\\r\\n${prompt}$`));
  expect(out).toMatch(/^show privilege\r\n/);
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('item 1: verify | include in an interactive session', () => {
  it.each(['md5', 'sha512'])('verify /%s <file> | include x gives the prompt back, and keys and Ctrl-C work after it', async (alg) => {
    const sh = await login();
    await enable(sh);
    const out = await type(sh, `verify /${alg} bootflash:${t.router.platform.defaultImage} | include x\r`, /R1#$/);
    // The progress dots end their line; the prompt starts a new one.
    expect(out).toMatch(/\.+\r\nR1#$/);
    await answers(sh, 'R1#');
    await type(sh, 'show priv', /show priv$/);
    expect(await type(sh, '\x03', /R1#$/)).toBe('^C\r\nR1#');
    await answers(sh, 'R1#');
  });
});

describe('item 2: the --More-- pager', () => {
  it('does not page the error of the line after a paged command, and draws the prompt after it', async () => {
    const sh = await login(6);
    await type(sh, 'show version\r', / --More-- $/);
    await type(sh, 'q', /R1>$/);
    const err = await type(sh, 'xyz\r', /R1>$/);
    // With domain lookup on (the default) IOS first tries the word as a host name.
    expect(err).toBe('xyz\r\nTranslating "xyz"...domain server (255.255.255.255)\r\n% Unknown command or computer name, or unable to find computer address\r\nR1>');
    expect(err).not.toContain('--More--');
    await answers(sh);
  });

  it('a key that stops the listing and a line typed after it: the line runs once the prompt is back', async () => {
    const sh = await login(6);
    await type(sh, 'show version\r', / --More-- $/);
    const out = await type(sh, 'xyzzy\r', /computer address\r\nR1>$/);
    expect(out).toBe('\r          \rR1>yzzy\r\nTranslating "yzzy"...domain server (255.255.255.255)\r\n% Unknown command or computer name, or unable to find computer address\r\nR1>');
    await answers(sh);
  });

  it('an error longer than a page after a paged command pages from its own first line', async () => {
    const sh = await login(6);
    await type(sh, 'show version\r', / --More-- $/);
    await type(sh, ' ', / --More-- $/);
    await type(sh, 'q', /R1>$/);
    // The error is paged from its own first line: nothing left over from the listing's count.
    const out = await type(sh, 'show\r', /R1>$/);
    expect(out).toBe('show\r\n% Incomplete command.\r\n\r\nR1>');
    await answers(sh);
  });

  it('Ctrl-C at --More-- stops the listing and the next key still works', async () => {
    const sh = await login(6);
    await type(sh, 'show version\r', / --More-- $/);
    await type(sh, '\x03', /R1>$/);
    await answers(sh);
  });
});

describe('item 3: escape sequences', () => {
  it('a stray ESC O does not swallow Enter', async () => {
    const sh = await login();
    await type(sh, 'show privilege', /show privilege$/);
    const out = await type(sh, '\x1bO\r', /R1>$/);
    expect(out).toBe('\r\nCurrent privilege level is 1\r\nR1>');
  });

  it('a stray ESC [ does not swallow Ctrl-C, nor the keys after it', async () => {
    const sh = await login();
    await type(sh, 'show priv', /show priv$/);
    expect(await type(sh, '\x1b[\x03', /R1>$/)).toBe('^C\r\nR1>');
    // An unknown but complete sequence is dropped whole; the letters after it are typed.
    await type(sh, '\x1b[1;5Zshow privilege', /show privilege$/);
    expect(await type(sh, '\r', /R1>$/)).toBe('\r\nCurrent privilege level is 1\r\nR1>');
    // ESC ESC [ A: the second ESC starts the sequence; up-arrow recalls the last line.
    await type(sh, '\x1b\x1b[A', /show privilege $|show privilege$/);
    expect(await type(sh, '\r', /R1>$/)).toContain('Current privilege level is 1');
  });

  it('a runaway parameter string is one dropped sequence, not typed digits', async () => {
    const sh = await login();
    await type(sh, `\x1b[${'1;'.repeat(500)}~show privilege\r`, /level is 1\r\nR1>$/);
    expect(sh.out()).not.toMatch(/R1>1;/);
  });
});

describe('item 4: a copy whose exec client vanishes', () => {
  it('is aborted and cleaned up as by Ctrl-C: no file, free space back, the session gone', async () => {
    tftp.setFaults({ delayMs: 20 });
    try {
      const fs = t.router.fs.default;
      const free = fs.freeBytes;
      const sessions = t.router.sessions.size;
      // ops has privilege 15: the copy runs from privileged EXEC.
      const c = await sshConnect(address, server.port, { username: 'ops', password: 'opspw' });
      let out = '';
      await new Promise<void>((resolve, reject) =>
        c.exec(`copy tftp://${address}/images/${IMAGE} bootflash:`, (err, stream) => {
          if (err) return reject(err);
          stream.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('!')) resolve();
          });
        }),
      );
      expect(t.router.sessions.size).toBe(sessions + 1);
      // The client's TCP connection drops: no channel close, no exit.
      (c as unknown as { _sock: { destroy(): void } })._sock.destroy();
      await until(() => t.router.sessions.size === sessions && fs.freeBytes === free);
      expect(t.router.sessions.size).toBe(sessions);
      expect(fs.freeBytes).toBe(free);
      expect(fs.stat(IMAGE)).toBeUndefined();
      // Well past the time the whole transfer would take: nothing is installed later.
      await new Promise((r) => setTimeout(r, 3000));
      expect(fs.stat(IMAGE)).toBeUndefined();
      expect(fs.freeBytes).toBe(free);
    } finally {
      tftp.setFaults({});
    }
  });
});

describe('item 5: long requests and long outputs', () => {
  it('an exec request over 35 KB gets an IOS error and exit status 1, and the router still answers', async () => {
    const c = await client();
    const r = await sshExec(c, `show ${'x'.repeat(40_000)}`);
    expect(r).toEqual({ out: `${REQUEST_TOO_LONG}\r\n`, code: 1 });
    const ok = await client();
    expect(await sshExec(ok, 'show privilege')).toEqual({ out: 'Current privilege level is 1\r\n', code: 0 });
  });

  it('an exec line over the line length gets an IOS error; the lines around it run', async () => {
    const c = await client();
    const r = await sshExec(c, `show privilege\nshow ${'x'.repeat(MAX_LINE_LENGTH)}\nshow privilege`);
    expect(r).toEqual({ out: `Current privilege level is 1\r\n${LINE_TOO_LONG}\r\nCurrent privilege level is 1\r\n`, code: 0 });
  });

  it('show running-config | include on 130,000 lines: no stack overflow, over exec and over a pty', async () => {
    const hosts = t.router.system.hosts;
    for (let i = 0; i < 130_000; i++) hosts.set(`h${i}`, '127.0.0.9');
    try {
      const c = await client('ops');
      const r = await sshExec(c, 'show running-config | include ip host h12999[0-9] 127\nshow running-config | count ip host');
      expect(r.out).not.toContain('%Error');
      expect(r.out).toMatch(/^ip host h129990 127\.0\.0\.9\r\n(ip host h12999\d 127\.0\.0\.9\r\n){9}Number of lines which match regexp = 130000\r\n$/);
      const sh = await login();
      await enable(sh);
      await type(sh, 'terminal length 0\r', /R1#$/);
      const out = await type(sh, 'show running-config | include h1299(89|99) 127\r', /R1#$/, 20_000);
      expect(out).toMatch(/ip host h129989 127\.0\.0\.9\r\nip host h129999 127\.0\.0\.9\r\nR1#$/);
      // Paged: the first page of 130k lines, then Ctrl-C, and the session answers.
      await type(sh, 'terminal length 24\r', /R1#$/);
      await type(sh, 'show running-config\r', / --More-- $/, 20_000);
      await type(sh, '\x03', /R1#$/);
      await answers(sh, 'R1#');
    } finally {
      hosts.clear();
    }
  }, 60_000);
});

describe('item 6: realism', () => {
  it('enable at privilege 15 does not ask for the password', async () => {
    const sh = await login();
    await enable(sh);
    expect(await type(sh, 'enable\r', /R1#$/)).toBe('enable\r\nR1#');
    // Going down needs no password either, and back up asks again.
    expect(await type(sh, 'enable 5\r', /R1>$/)).toBe('enable 5\r\nR1>');
    await type(sh, 'enable\r', /Password: $/);
    await type(sh, 'cisco\r', /R1#$/);
  });

  it('clock set changes show clock, not show version uptime', async () => {
    const c = await client();
    const before = (await sshExec(c, 'show version')).out.match(/R1 uptime is (.*)\r\n/)?.[1];
    expect(before).toBeDefined();
    await t.run('clock set 10:00:00 1 January 2031');
    const after = await sshExec(c, 'show version\nshow clock');
    expect(after.out).toContain(`R1 uptime is ${before}\r\n`);
    expect(after.out).toMatch(/\*10:00:\d\d\.\d{3} UTC \w{3} Jan 1 2031/);
    // Out of range (found by the fuzz: the clock became NaN): refused, the clock unmoved.
    for (const bad of ['clock set 10:00:00 99999999999 Jan 2030', 'clock set 25:00:00 1 Jan 2030', 'clock set 10:00:00 31 Feb 2030']) {
      expect(await t.run(bad)).toContain('% Invalid input');
    }
    expect((await sshExec(c, 'show clock')).out).toMatch(/^\*10:00:\d\d\.\d{3} UTC \w{3} Jan 1 2031\r\n$/);
    await t.run('clock set 10:00:00 25 November 2026');
  });

  it('vty sessions are limited to the configured lines: line vty 0 4 takes 5, the sixth is refused', async () => {
    const shells = [];
    for (let i = 0; i < 5; i++) shells.push(await login());
    const c = await client();
    const refused = await new Promise<string>((resolve, reject) =>
      c.shell({ term: 'vt100', rows: 24, cols: 80 }, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => resolve(out));
      }),
    );
    expect(refused).toBe(`${VTY_REFUSAL}\r\n`);
    expect((await sshExec(await client(), 'show privilege').catch(() => ({ out: '', code: null }))).out).toBe(`${VTY_REFUSAL}\r\n`);
    // One line frees up: the next login gets it.
    shells[0]!.send('exit\r');
    await shells[0]!.closed;
    const sixth = await login();
    await answers(sixth);
    // line vty 0 15: sixteen lines.
    await t.run('configure terminal', 'line vty 0 15', 'end');
    try {
      expect(t.router.configText()).toContain('line vty 5 15\n login local\n transport input ssh\n');
      const more = await login();
      await answers(more);
      more.send('exit\r');
      await more.closed;
    } finally {
      await t.run('configure terminal', 'no line vty 5 15', 'end');
    }
    for (const sh of [...shells.slice(1), sixth]) {
      sh.send('exit\r');
      await sh.closed;
    }
  });

  it('control characters are refused in host and file names, typed or given as answers', async () => {
    const c = await client('ops');
    // Answers to the copy dialog (an exec request's next lines answer its questions).
    const asked = await sshExec(c, `copy bootflash:${t.router.platform.defaultImage} bootflash:\nco\x01py.bin`);
    expect(asked.out).toContain('% Invalid input: control characters are not allowed in a name');
    const remote = await sshExec(c, 'copy tftp: bootflash:\n127.0.0.1\x07x\nf.bin\n');
    expect(remote.out).toContain('% Invalid input: control characters are not allowed in a name');
    expect(t.router.fs.default.list('').some((e) => /[\x00-\x1f]/.test(e.path))).toBe(false);
    const mk = await sshExec(c, 'mkdir bootflash:ab\x01cd');
    expect(mk.out).toMatch(/\^\r\n% Invalid input detected at '\^' marker\./);
    expect(t.router.fs.default.list('').some((e) => e.path.includes('\x01'))).toBe(false);
    const cp = await sshExec(c, `copy tftp://127.0.0.1\x07x/f bootflash:`);
    expect(cp.out).toMatch(/% Invalid input detected at '\^' marker\./);
    const host = await sshExec(c, 'configure terminal\nip host a\x1bb 127.0.0.1\nend');
    expect(host.out).toMatch(/% Invalid input detected at '\^' marker\./);
    expect([...t.router.system.hosts.keys()].some((h) => /[\x00-\x1f]/.test(h))).toBe(false);
  });
});

describe('issue 7 item 2: a client that never reads', () => {
  it('100,000 ? on one pty line, never read: the lab stays within its memory bound, other sessions answer', async () => {
    const c = await client('ops');
    const stalled = await new Promise<import('ssh2').ClientChannel>((resolve, reject) =>
      c.shell({ term: 'vt100', rows: 24, cols: 80 }, (err, stream) => (err ? reject(err) : resolve(stream))),
    );
    // Never read: paused, ssh2's window to the server closes once its buffer is full.
    stalled.pause();
    const rssBefore = process.memoryUsage().rss;
    // `show ?` at R1#: about 1 KB of help per ?, 100 MB if nothing held the output back.
    stalled.write('show ' + '?'.repeat(100_000));
    let peak = rssBefore;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    // Measured: 12 MB with back-pressure; 151 MB within these 2 s without it (and growing).
    expect(peak - rssBefore).toBeLessThan(50 * 1024 * 1024);
    const other = await login();
    await answers(other);
    other.send('exit\r');
    await other.closed;
    c.end();
  }, 30_000);

  it('a 100 KB line through a pty is capped at the line length with the bell, and runs as an IOS error', async () => {
    const sh = await login();
    await type(sh, 'show ', /show $/);
    const out = await type(sh, `${'a'.repeat(100_000)}\r`, /R1>$/, 20_000);
    expect(out).toContain('\x07');
    const typed = /^(a+)\x07/.exec(out)?.[1] ?? '';
    expect(typed.length).toBe(MAX_LINE_LENGTH - 'show '.length);
    expect(out).toMatch(/% Invalid input detected at '\^' marker\.\r\n\r\nR1>$/);
    await answers(sh);
  }, 30_000);
});
