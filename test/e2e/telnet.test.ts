/**
 * The router's telnet server over a real TCP socket on a random loopback address: IOS's
 * login dialog, the shared CLI, `transport input` deciding who gets in, three failed logins
 * and the line is dropped.
 */
import { connect, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey, RouterSshServer } from '../../router/access/SshServer.ts';
import { RouterTelnetServer } from '../../router/access/TelnetServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';

const address = randomLoopback();
let t: TestRouter;
let server: RouterTelnetServer;

beforeAll(async () => {
  t = await makeTestRouter();
  server = new RouterTelnetServer({ router: t.router, address, port: 0 });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  t?.router.powerOff();
});

/** A bare telnet client: collects what the router sends (IAC sequences kept apart). */
class Client {
  text = '';
  iac: number[] = [];
  closed: Promise<void>;
  private waiters: (() => void)[] = [];
  constructor(readonly sock: Socket) {
    this.closed = new Promise((r) => sock.on('close', () => r()));
    sock.on('data', (d: Buffer) => {
      let i = 0;
      while (i < d.length) {
        if (d[i] === 255) {
          this.iac.push(d[i]!, d[i + 1]!, d[i + 2]!);
          i += 3;
        } else this.text += String.fromCharCode(d[i++]!);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (!re.test(this.text)) {
      if (Date.now() > end || this.sock.destroyed) throw new Error(`no ${re} in ${JSON.stringify(this.text)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.text;
  }
  send(s: string): void {
    this.sock.write(s);
  }
}

async function open(port = server.port): Promise<Client> {
  const sock = connect(port, address);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return new Client(sock);
}

async function setTransport(words: string): Promise<void> {
  await t.run('configure terminal', 'line vty 0 4', `transport input ${words}`, 'end');
}

describe('telnet to a router', () => {
  it('transport input ssh (the default) shuts telnet out: the connection closes at once', async () => {
    expect(t.router.configText()).toContain('line vty 0 4\n login local\n transport input ssh\n');
    const c = await open();
    await c.closed;
    expect(c.text).toBe('');
  });

  it('with transport input all: IOS login, the CLI with its line editing, exit drops the line', async () => {
    await setTransport('all');
    expect(t.router.configText()).toContain(' transport input telnet ssh\n');
    const c = await open();
    await c.waitFor(/Username: $/);
    expect(c.text).toBe('\r\n\r\nUser Access Verification\r\n\r\nUsername: ');
    // IOS offers to echo and to suppress go-ahead, and asks for the window size.
    expect(c.iac).toEqual([255, 251, 1, 255, 251, 3, 255, 253, 31]);
    // Window 100x40 (NAWS), then the user name typed with CR NUL as telnet clients end lines.
    c.sock.write(Buffer.from([255, 251, 31, 255, 250, 31, 0, 100, 0, 40, 255, 240]));
    c.send('admin\r\0');
    await c.waitFor(/Password: $/);
    expect(c.text).toContain('Username: admin\r\nPassword: ');
    c.send('admin\r\n');
    await c.waitFor(/R1>$/);
    expect(c.text).not.toMatch(/Password: admin/);
    c.send('show privilege\r\n');
    await c.waitFor(/Current privilege level is 1\r\nR1>$/);
    const session = [...t.router.sessions].find((s) => s.lineName.startsWith('vty'))!;
    expect(session.terminal).toMatchObject({ width: 100, length: 40 });
    expect(session.origin()).toMatch(/^admin on vty\d+ \(127\./);
    // Paged at the window's 40 rows, as on SSH.
    c.send('show version\r');
    await c.waitFor(/ --More-- $/);
    c.send('q');
    await c.waitFor(/R1>$/);
    c.send('enable\r\n');
    await c.waitFor(/Password: $/);
    c.send('cisco\r\n');
    await c.waitFor(/R1#$/);
    c.send('terminal length 0\r');
    await c.waitFor(/R1#$/);
    // The same editor as SSH: Tab completes.
    c.send('show ver\t');
    await c.waitFor(/R1#show version $/);
    c.send('\r');
    await c.waitFor(/Configuration register is 0x2102\r\n(\r\n)?R1#$/, 10_000);
    c.send('exit\r\n');
    await c.closed;
  });

  it('three wrong passwords: % Login invalid each time, then the line drops', async () => {
    await setTransport('telnet');
    const c = await open();
    for (let i = 0; i < 3; i++) {
      await c.waitFor(new RegExp(`(Username: [^]*){${i + 1}}$`));
      c.send('admin\r\n');
      await c.waitFor(new RegExp(`(Password: [^]*){${i + 1}}$`));
      c.send('wrong\r\n');
    }
    await c.closed;
    expect(c.text.match(/% Login invalid/g)).toHaveLength(3);
  });

  it('transport input telnet shuts SSH out; transport input none shuts both', async () => {
    await setTransport('telnet');
    const ssh = new RouterSshServer({ router: t.router, address, port: 0, hostKey: generateHostKey() });
    await ssh.start();
    try {
      // A real SSH client gets no further than the key exchange: the vty refuses it.
      const client = new ssh2.Client();
      const outcome = await new Promise<string>((resolve) => {
        client.on('ready', () => resolve('ready'));
        client.on('error', () => resolve('refused'));
        client.on('close', () => resolve('refused'));
        client.connect({ host: address, port: ssh.port, username: 'admin', password: 'admin', readyTimeout: 5000 });
      });
      client.end();
      expect(outcome).toBe('refused');
      await setTransport('none');
      const tn = await open();
      await tn.closed;
      expect(tn.text).toBe('');
    } finally {
      await ssh.stop();
      await setTransport('ssh');
    }
  });
});
