/**
 * Issue 7 items 3, 4 and 6 (FTP): passive listeners never leak, malformed commands get a
 * reply instead of an unhandled rejection, DELE/RMD/FEAT behave as vsftpd's, and password
 * guessing is slowed, then refused per address and per connection, each refusal logged.
 * A raw socket client speaks the protocol, so nothing smooths over what the server does.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { randomLoopback } from '../helpers/net.ts';

/** A line-at-a-time FTP control client. */
class RawFtp {
  private buf = '';
  private waiters: ((line: string) => void)[] = [];
  private lines: string[] = [];
  closed = false;
  constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        // Only final reply lines ("226 ..." not "226-...") complete a reply.
        if (/^\d{3} /.test(line)) {
          const w = this.waiters.shift();
          if (w) w(line);
          else this.lines.push(line);
        }
      }
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w('(closed)');
    });
    sock.on('error', () => {});
  }
  static async open(host: string, port: number): Promise<RawFtp> {
    const sock = connect(port, host);
    const c = new RawFtp(sock);
    await c.next(); // greeting
    return c;
  }
  next(timeoutMs = 5000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve('(closed)');
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve('(timeout)'), timeoutMs);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(line);
      });
    });
  }
  async cmd(line: string): Promise<string> {
    this.sock.write(`${line}\r\n`);
    return this.next();
  }
  close(): void {
    this.sock.destroy();
  }
}

let root: string;
let server: FtpServer;
let address: string;
let pasv: [number, number];
const labLog: string[] = [];
const rejections: unknown[] = [];
const onRejection = (e: unknown) => rejections.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  root = mkdtempSync(path.join(tmpdir(), 'flashlab-ftpabuse-'));
  mkdirSync(path.join(root, 'home', 'dir'), { recursive: true });
  writeFileSync(path.join(root, 'home', 'file.bin'), 'x');
  address = randomLoopback();
  const base = randomInt(20000, 60000);
  pasv = [base, base + 9];
  server = new FtpServer({
    address,
    port: 0,
    root,
    pasvRange: pasv,
    accounts: [{ user: 'lab', password: 'lab', home: 'home', write: true }],
    loginGuard: { attempts: 5, withinMs: 60_000, blockMs: 60_000, delayStepMs: 10, maxDelayMs: 50 },
    labLog: (l) => labLog.push(l),
  });
  await server.start();
});

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const login = async () => {
  const c = await RawFtp.open(address, server.port);
  expect(await c.cmd('USER lab')).toMatch(/^331 /);
  expect(await c.cmd('PASS lab')).toMatch(/^230 /);
  return c;
};

/** Ports of the passive range that accept a connection right now. */
async function openPassivePorts(): Promise<number[]> {
  const open: number[] = [];
  for (let p = pasv[0]; p <= pasv[1]; p++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(p, address);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) open.push(p);
  }
  return open;
}

describe('FTP server against careless and hostile clients', () => {
  it('LIST without PASV, then PASV at once, leaks no listener (50 sessions)', async () => {
    const tryOnce = async () => {
      const c = await login();
      c.sock.write('LIST\r\nPASV\r\n');
      const replies = [await c.next(), await c.next()];
      // At most this session's current passive listener is open while it lives.
      c.close();
      return replies;
    };
    for (let round = 0; round < 5; round++) {
      const all = await Promise.all(Array.from({ length: 10 }, tryOnce));
      for (const r of all) expect(r.some((l) => l.startsWith('227 '))).toBe(true);
    }
    await new Promise((r) => setTimeout(r, 300));
    // None is left once the sessions are gone...
    expect(await openPassivePorts()).toEqual([]);
    // ...and a second PASV in one session closes the first listener.
    const d = await login();
    expect(await d.cmd('PASV')).toMatch(/^227 /);
    expect(await d.cmd('PASV')).toMatch(/^227 /);
    expect(await openPassivePorts()).toHaveLength(1);
    d.close();
  });

  it('SITE, SITE CHMOD and OPTS without arguments get 501, with no unhandled rejection', async () => {
    const c = await login();
    expect(await c.cmd('SITE')).toMatch(/^501 /);
    expect(await c.cmd('SITE CHMOD')).toMatch(/^501 /);
    expect(await c.cmd('OPTS')).toMatch(/^501 /);
    expect(await c.cmd('SITE FOO')).toMatch(/^500 /);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);
    c.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(rejections).toEqual([]);
  });

  it('RMD on a file and DELE on a directory fail as vsftpd does; FEAT offers no AUTH TLS', async () => {
    const c = await login();
    expect(await c.cmd('RMD file.bin')).toBe('550 Remove directory operation failed.');
    expect(await c.cmd('DELE dir')).toBe('550 Delete operation failed.');
    c.sock.write('FEAT\r\n');
    const feat = await new Promise<string>((resolve) => {
      let text = '';
      const on = (d: string) => {
        text += d;
        if (/^211 End/m.test(text)) (c.sock.off('data', on), resolve(text));
      };
      c.sock.on('data', on);
    });
    await c.next();
    expect(feat).toContain(' PASV');
    expect(feat).not.toMatch(/AUTH/);
    expect(await c.cmd('AUTH TLS')).toMatch(/^5\d\d /);
    c.close();
  });

  it('closes a connection after 3 failed logins and blocks the address after 5', async () => {
    const before = labLog.length;
    const c = await RawFtp.open(address, server.port);
    for (let i = 0; i < 3; i++) {
      await c.cmd('USER lab');
      expect(await c.cmd('PASS wrong')).toMatch(/^530 /);
    }
    await new Promise((r) => setTimeout(r, 150));
    expect(c.closed).toBe(true);
    const d = await RawFtp.open(address, server.port);
    for (let i = 0; i < 2; i++) {
      await d.cmd('USER lab');
      expect(await d.cmd('PASS wrong')).toMatch(/^530 /);
    }
    const e = await RawFtp.open(address, server.port);
    await e.cmd('USER lab');
    // Blocked now: even the right password is refused, and the refusal is logged.
    expect(await e.cmd('PASS lab')).toMatch(/^530 Too many failed logins/);
    expect(labLog.slice(before).some((l) => l.includes(`failed logins from`) && l.includes('blocked for 60 s'))).toBe(true);
    expect(labLog.slice(before).some((l) => l.includes(`login refused from`))).toBe(true);
    expect(server.log.filter((x) => x.kind === 'login-failed').at(-1)).toMatchObject({ detail: 'blocked: too many failed logins' });
    for (const x of [d, e]) x.close();
  });

  it('keeps the password only in the newest login entries', async () => {
    const kept = server.log.filter((x) => x.password !== undefined).length;
    expect(kept).toBeLessThanOrEqual(100);
    expect(server.log.filter((x) => x.kind === 'login-failed' && x.password === 'wrong').length).toBeGreaterThan(0);
  });
});
