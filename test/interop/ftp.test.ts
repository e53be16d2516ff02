/**
 * Interop with independent implementations (Debian packages, installed by CI):
 *   curl  <-> lab FtpServer      (package curl)
 *   dig    -> lab DnsServer      (package bind9-dnsutils)
 *   FtpTransferClient <-> vsftpd (package vsftpd)
 * A missing binary fails the test with the package to install; nothing is skipped.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { TransferError } from '../../router/transfer/types.ts';
import { DnsServer } from '../../servers/dns/DnsServer.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { requireBinary, runCommand, startVsftpd, tryCommand } from '../helpers/peers.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function labFtp(): Promise<{ server: FtpServer; root: string }> {
  const root = tempDir('flashlab-interop-ftp-');
  const pasv = randomInt(20000, 60000);
  const server = new FtpServer({
    address: '127.0.0.1',
    port: 0,
    root,
    pasvRange: [pasv, pasv + 20],
    accounts: [
      { user: 'admin', password: 'cisco', home: 'admin', write: true },
      { user: 'reader', password: 'r3ad', home: 'reader', write: false },
    ],
  });
  await server.start();
  cleanups.push(() => server.stop());
  return { server, root };
}

/** curl's exit code (0 on success), without throwing. */
async function curlExit(args: string[]): Promise<number> {
  return (await tryCommand(requireBinary('curl', 'curl'), args)).code;
}

describe('curl against the lab FtpServer', () => {
  it('downloads a file (md5 matches)', async () => {
    const curl = requireBinary('curl', 'curl');
    const { server, root } = await labFtp();
    const data = randomBytes(5 * 1024 * 1024 + 3);
    mkdirSync(path.join(root, 'admin', 'images'));
    writeFileSync(path.join(root, 'admin', 'images', 'c8000v.bin'), data);
    const out = path.join(tempDir('flashlab-interop-out-'), 'got.bin');
    await runCommand(curl, ['-sS', '--fail', '-o', out, `ftp://admin:cisco@127.0.0.1:${server.port}/images/c8000v.bin`]);
    expect(md5(readFileSync(out))).toBe(md5(data));
  });

  it('uploads a file with -T, and a read-only account is refused with nothing left', async () => {
    const curl = requireBinary('curl', 'curl');
    const { server, root } = await labFtp();
    const data = randomBytes(3 * 1024 * 1024 + 1);
    const src = path.join(tempDir('flashlab-interop-src-'), 'config.txt');
    writeFileSync(src, data);
    await runCommand(curl, ['-sS', '--fail', '-T', src, `ftp://admin:cisco@127.0.0.1:${server.port}/backup.bin`]);
    expect(md5(readFileSync(path.join(root, 'admin', 'backup.bin')))).toBe(md5(data));
    expect(readdirSync(path.join(root, 'admin'))).toEqual(['backup.bin']);

    // curl exit 25: "upload failed" (the server refused STOR).
    expect(await curlExit(['-sS', '--fail', '-T', src, `ftp://reader:r3ad@127.0.0.1:${server.port}/x.bin`])).toBe(25);
    expect(readdirSync(path.join(root, 'reader'))).toEqual([]);
    // curl exit 67: login denied.
    expect(await curlExit(['-sS', '--fail', '-o', '/dev/null', `ftp://admin:nope@127.0.0.1:${server.port}/backup.bin`])).toBe(67);
  });
});

describe('dig against the lab DnsServer', () => {
  it('gets A answers (UDP and TCP) and NXDOMAIN', async () => {
    const dig = requireBinary('dig', 'bind9-dnsutils');
    const dns = new DnsServer({ address: randomLoopback(), port: 0, records: { 'ftp.lab.test': '127.0.0.21' } });
    await dns.start();
    cleanups.push(() => dns.stop());
    // Asynchronous child processes: the server answers from this same event loop.
    const ask = (...args: string[]) => runCommand(dig, [`@${dns.address}`, '-p', String(dns.port), '+time=2', '+tries=1', ...args]);
    expect((await ask('+short', 'FTP.lab.test')).trim()).toBe('127.0.0.21');
    expect((await ask('+short', '+tcp', 'ftp.lab.test')).trim()).toBe('127.0.0.21');
    const nx = await ask('nothing.lab.test');
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/flags: qr aa/);
    expect(dns.log.map((e) => [e.transport, e.result])).toEqual([
      ['udp', 'answer'],
      ['tcp', 'answer'],
      ['udp', 'nxdomain'],
    ]);
  });
});

describe('FtpTransferClient against vsftpd', () => {
  it('downloads and uploads with matching md5, and maps a missing file to not-found', async () => {
    const vs = await startVsftpd({ write: true });
    cleanups.push(() => vs.stop());
    const data = randomBytes(4 * 1024 * 1024 + 9);
    writeFileSync(path.join(vs.root, 'image.bin'), data, { mode: 0o644 });
    mkdirSync(path.join(vs.root, 'incoming'), { mode: 0o777 });
    const ep = { host: vs.address, port: vs.port, username: 'anonymous', password: 'r1@r1.lab.test', timeoutSec: 10 };
    const client = new FtpTransferClient();

    const dl = await client.download({ ...ep, path: 'image.bin' });
    expect(dl.size).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const c of dl.body) chunks.push(c);
    expect(md5(Buffer.concat(chunks))).toBe(md5(data));

    async function* body() {
      for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024);
    }
    await client.upload({ ...ep, path: 'incoming/back.bin' }, body(), data.length);
    expect(md5(readFileSync(path.join(vs.root, 'incoming', 'back.bin')))).toBe(md5(data));

    const err = await client.download({ ...ep, path: 'missing.bin' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ code: 'not-found', phase: 'open' });
  });
});
