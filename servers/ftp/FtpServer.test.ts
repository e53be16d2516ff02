/**
 * FtpServer against real clients on loopback: basic-ftp (an independent client) and the
 * router's FtpTransferClient. Each test binds its own random 127.x.y.z address.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Client, FTPError } from 'basic-ftp';
import { afterEach, describe, expect, it } from 'vitest';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import { TransferError, type TransferEndpoint } from '../../router/transfer/types.ts';
import { randomLoopback } from '../../test/helpers/net.ts';
import { FtpServer, type FtpServerOptions } from './FtpServer.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Lab {
  server: FtpServer;
  root: string;
  address: string;
  /** Every control reply and line basic-ftp logged, to check nothing leaks a server path. */
  replies: string[];
  client(user?: string, password?: string): Promise<Client>;
  endpoint(p: string, extra?: Partial<TransferEndpoint>): TransferEndpoint;
}

async function lab(over: Partial<FtpServerOptions> = {}): Promise<Lab> {
  const root = mkdtempSync(path.join(tmpdir(), 'flashlab-ftp-'));
  const address = randomLoopback();
  const pasvBase = randomInt(20000, 60000);
  const server = new FtpServer({
    address,
    port: 0,
    root,
    pasvRange: [pasvBase, pasvBase + 20],
    accounts: [
      { user: 'admin', password: 'cisco', home: 'admin', write: true },
      { user: 'reader', password: 'r3ad', home: 'reader', write: false },
      { user: 'small', password: 'q', home: 'small', write: true, quotaBytes: 100_000 },
    ],
    anonymous: { home: 'pub' },
    ...over,
  });
  await server.start();
  const replies: string[] = [];
  const clients: Client[] = [];
  cleanups.push(async () => {
    for (const c of clients) c.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });
  return {
    server,
    root,
    address,
    replies,
    async client(user = 'admin', password = 'cisco') {
      const c = new Client(10_000);
      clients.push(c);
      c.ftp.verbose = true;
      c.ftp.log = (m: string) => void replies.push(m);
      await c.access({ host: address, port: server.port, user, password });
      return c;
    },
    endpoint(p, extra = {}) {
      return { host: address, port: server.port, path: p, username: 'admin', password: 'cisco', timeoutSec: 10, ...extra };
    },
  };
}

async function fetchBuffer(c: Client, p: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await c.downloadTo(
    new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
    p,
  );
  return Buffer.concat(chunks);
}

async function collect(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

async function ftpCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FTPError) return e.code;
    throw e;
  }
  throw new Error('expected an FTP error reply');
}

/** The error reply's full text ("550 ..."). */
async function ftpReply(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FTPError) return e.message;
    throw e;
  }
  throw new Error('expected an FTP error reply');
}

async function transferError(p: Promise<unknown>): Promise<TransferError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransferError) return e;
    throw e;
  }
  throw new Error('expected a TransferError');
}

/** Files in a directory, temp files included: a failed upload must leave none. */
const entries = (dir: string) => readdirSync(dir).sort();

describe('FtpServer logins', () => {
  it('accepts a good password and refuses a bad one with 530, logging both', async () => {
    const l = await lab();
    const c = await l.client();
    expect(await c.pwd()).toBe('/');
    await expect(l.client('admin', 'wrong')).rejects.toMatchObject({ code: 530 });
    await expect(l.client('nobody', 'x')).rejects.toMatchObject({ code: 530 });
    expect(l.server.log.filter((e) => e.kind === 'login').map((e) => e.user)).toEqual(['admin']);
    const failed = l.server.log.filter((e) => e.kind === 'login-failed');
    expect(failed.map((e) => [e.user, e.password])).toEqual([
      ['admin', 'wrong'],
      ['nobody', 'x'],
    ]);
  });

  it('lets anonymous in with any password and logs the password as sent', async () => {
    const l = await lab();
    writeFileSync(path.join(l.root, 'pub', 'hello.txt'), 'hi');
    const c = await l.client('anonymous', 'r1@r1.lab.test');
    expect((await fetchBuffer(c, 'hello.txt')).toString()).toBe('hi');
    const login = l.server.log.find((e) => e.kind === 'login');
    expect(login).toMatchObject({ user: 'anonymous', password: 'r1@r1.lab.test', outcome: 'ok' });
    // Anonymous is read-only unless configured otherwise.
    expect(await ftpCode(c.uploadFrom(Readable.from([Buffer.from('x')]), 'up.txt'))).toBe(550);
    expect(entries(path.join(l.root, 'pub'))).toEqual(['hello.txt']);
  });

  it('leaves the process signal handlers alone (ftp-srv would exit on SIGINT)', async () => {
    const before = ['SIGINT', 'SIGTERM', 'SIGQUIT'].map((s) => process.listenerCount(s));
    await lab();
    expect(['SIGINT', 'SIGTERM', 'SIGQUIT'].map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('refuses anonymous when it is disabled', async () => {
    const l = await lab({ anonymous: false });
    await expect(l.client('anonymous', 'a@b')).rejects.toMatchObject({ code: 530 });
  });
});

describe('FtpServer transfers', () => {
  it('round-trips a file through basic-ftp with matching md5 and answers SIZE', async () => {
    const l = await lab();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(path.join(l.root, 'admin', 'image.bin'), data);
    const c = await l.client();
    expect(await c.size('image.bin')).toBe(data.length);
    expect(md5(await fetchBuffer(c, 'image.bin'))).toBe(md5(data));
    await c.uploadFrom(Readable.from([data]), 'copy.bin');
    expect(md5(readFileSync(path.join(l.root, 'admin', 'copy.bin')))).toBe(md5(data));
    expect(entries(path.join(l.root, 'admin'))).toEqual(['copy.bin', 'image.bin']);
    const dl = l.server.log.find((e) => e.kind === 'download');
    const ul = l.server.log.find((e) => e.kind === 'upload');
    expect(dl).toMatchObject({ user: 'admin', file: '/image.bin', bytes: data.length, outcome: 'ok' });
    expect(ul).toMatchObject({ user: 'admin', file: '/copy.bin', bytes: data.length, outcome: 'ok' });
  });

  it('round-trips a file through FtpTransferClient, size known before the data', async () => {
    const l = await lab();
    const data = randomBytes(2 * 1024 * 1024 + 5);
    mkdirSync(path.join(l.root, 'admin', 'images'));
    writeFileSync(path.join(l.root, 'admin', 'images', 'c8000v.bin'), data);
    const client = new FtpTransferClient();
    const progress: number[] = [];
    const dl = await client.download(l.endpoint('images/c8000v.bin', { onProgress: (n) => progress.push(n) }));
    expect(dl.size).toBe(data.length);
    const got = await collect(dl.body);
    expect(md5(got)).toBe(md5(data));
    expect(progress.at(-1)).toBe(data.length);

    async function* chunks() {
      for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
    }
    await client.upload(l.endpoint('images/back.bin'), chunks(), data.length);
    expect(md5(readFileSync(path.join(l.root, 'admin', 'images', 'back.bin')))).toBe(md5(data));
  });

  it('reports a missing file as not-found and an empty file as size 0', async () => {
    const l = await lab();
    writeFileSync(path.join(l.root, 'admin', 'empty.bin'), '');
    const client = new FtpTransferClient();
    const err = await transferError(client.download(l.endpoint('missing.bin')));
    expect(err).toMatchObject({ code: 'not-found', phase: 'open' });
    const dl = await client.download(l.endpoint('empty.bin'));
    expect(dl.size).toBe(0);
    expect((await collect(dl.body)).length).toBe(0);
  });

  it('refuses writes on a read-only account with 550 and leaves no file', async () => {
    const l = await lab();
    writeFileSync(path.join(l.root, 'reader', 'keep.txt'), 'keep');
    const c = await l.client('reader', 'r3ad');
    expect((await fetchBuffer(c, 'keep.txt')).toString()).toBe('keep');
    expect(await ftpCode(c.uploadFrom(Readable.from([randomBytes(1000)]), 'new.bin'))).toBe(550);
    expect(await ftpCode(c.remove('keep.txt'))).toBe(550);
    expect(await ftpCode(c.send('MKD sub'))).toBe(550);
    expect(await ftpCode(c.send('RNFR keep.txt'))).toBe(550);
    expect(entries(path.join(l.root, 'reader'))).toEqual(['keep.txt']);
    const err = await transferError(
      new FtpTransferClient().upload(l.endpoint('x.bin', { username: 'reader', password: 'r3ad' }), Readable.from([Buffer.from('x')]), 1),
    );
    expect(err.code).toBe('permission');
    expect(entries(path.join(l.root, 'reader'))).toEqual(['keep.txt']);
  });

  it('refuses an upload over quota with 552 and keeps nothing of it', async () => {
    const l = await lab();
    const c = await l.client('small', 'q');
    await c.uploadFrom(Readable.from([randomBytes(60_000)]), 'a.bin');
    expect(await ftpCode(c.uploadFrom(Readable.from([randomBytes(60_000)]), 'b.bin'))).toBe(552);
    expect(entries(path.join(l.root, 'small'))).toEqual(['a.bin']);
    // Overwriting counts the old copy as freed.
    await c.uploadFrom(Readable.from([randomBytes(90_000)]), 'a.bin');
    const err = await transferError(
      new FtpTransferClient().upload(
        l.endpoint('big.bin', { username: 'small', password: 'q' }),
        Readable.from([randomBytes(500_000)]),
        500_000,
      ),
    );
    expect(err.code).toBe('no-space');
    expect(entries(path.join(l.root, 'small'))).toEqual(['a.bin']);
  });
});

describe('FtpServer confinement', () => {
  it('refuses .., absolute paths and symlinks without ever showing the server path', async () => {
    const l = await lab();
    const home = path.join(l.root, 'admin');
    writeFileSync(path.join(l.root, 'secret.txt'), 'secret');
    mkdirSync(path.join(l.root, 'elsewhere'));
    writeFileSync(path.join(l.root, 'elsewhere', 'x.txt'), 'x');
    symlinkSync(path.join(l.root, 'secret.txt'), path.join(home, 'link.txt'));
    symlinkSync(path.join(l.root, 'elsewhere'), path.join(home, 'linkdir'));
    mkdirSync(path.join(home, 'sub'));
    const c = await l.client();

    const denied = '550 Permission denied';
    const missing = '550 No such file or directory';
    const cases: Array<[string, string]> = [
      ['../secret.txt', denied],
      ['sub/../../secret.txt', denied],
      ['/../secret.txt', denied],
      ['link.txt', denied],
      ['linkdir/x.txt', denied],
      // Absolute paths are taken inside the home, where this one does not exist.
      [path.join(l.root, 'secret.txt'), missing],
      ['nope.txt', missing],
    ];
    for (const [p, reply] of cases) {
      expect(await ftpReply(c.size(p)), `SIZE ${p}`).toBe(reply);
      expect(await ftpReply(fetchBuffer(c, p)), `RETR ${p}`).toBe(reply);
    }
    expect(await ftpReply(c.cd('..'))).toBe(denied);
    expect(await ftpReply(c.cd('linkdir'))).toBe(denied);
    const evil = () => Readable.from([Buffer.from('evil')]);
    expect(await ftpReply(c.uploadFrom(evil(), '../evil.txt'))).toBe(denied);
    expect(await ftpReply(c.uploadFrom(evil(), 'linkdir/evil.txt'))).toBe(denied);
    expect(await ftpReply(c.uploadFrom(evil(), 'link.txt'))).toBe(denied);
    await c.send('MKD made');
    await c.cd('sub');
    expect(await c.pwd()).toBe('/sub');
    await c.list();
    await c.list('/');

    expect(existsSync(path.join(l.root, 'evil.txt'))).toBe(false);
    expect(readdirSync(path.join(l.root, 'elsewhere'))).toEqual(['x.txt']);
    expect(readFileSync(path.join(l.root, 'secret.txt'), 'utf8')).toBe('secret');
    // Only what the server said (basic-ftp logs replies as `< ...`), not our own commands.
    const text = l.replies.filter((m) => m.startsWith('<')).join('\n');
    expect(text).toContain('550 Permission denied');
    expect(text).toContain('550 No such file or directory');
    expect(text).not.toContain(l.root);
    expect(text).not.toContain(tmpdir());
  });

  it('lists neither symlinks nor uploads in progress', async () => {
    const l = await lab();
    const home = path.join(l.root, 'admin');
    writeFileSync(path.join(home, 'a.bin'), 'a');
    symlinkSync(path.join(l.root, 'secret.txt'), path.join(home, 'link'));
    writeFileSync(path.join(home, '.~ftp-upload.abc.part'), 'partial');
    const c = await l.client();
    expect((await c.list()).map((f) => f.name)).toEqual(['a.bin']);
  });

  it('refuses an active-mode PORT that names another host', async () => {
    const l = await lab();
    const c = await l.client();
    expect(await ftpCode(c.send('PORT 10,1,2,3,200,10'))).toBe(501);
    expect(await ftpCode(c.send('PORT 127,0,0,257,200,10'))).toBe(501);
    expect(await ftpCode(c.send('EPRT |1|10.1.2.3|51210|'))).toBe(501);
  });
});

describe('FtpServer faults', () => {
  it('wrongPassword: every login fails with 530, the router sees a login error', async () => {
    const l = await lab({ faults: { wrongPassword: true } });
    await expect(l.client()).rejects.toMatchObject({ code: 530 });
    const err = await transferError(new FtpTransferClient().download(l.endpoint('x.bin')));
    expect(err).toMatchObject({ code: 'login', phase: 'open' });
    l.server.setFaults({});
    await l.client();
  });

  it('readOnly: a writable account gets 550 on STOR and nothing is written', async () => {
    const l = await lab();
    l.server.setFaults({ readOnly: true });
    const c = await l.client();
    expect(await ftpCode(c.uploadFrom(Readable.from([randomBytes(100)]), 'x.bin'))).toBe(550);
    expect(entries(path.join(l.root, 'admin'))).toEqual([]);
    l.server.setFaults({});
    await c.uploadFrom(Readable.from([randomBytes(100)]), 'x.bin');
    expect(entries(path.join(l.root, 'admin'))).toEqual(['x.bin']);
  });

  it('quotaFull: STOR gets 552 before any data, the router sees no-space', async () => {
    const l = await lab({ faults: { quotaFull: true } });
    const c = await l.client();
    expect(await ftpCode(c.uploadFrom(Readable.from([randomBytes(100)]), 'x.bin'))).toBe(552);
    const err = await transferError(new FtpTransferClient().upload(l.endpoint('y.bin'), Readable.from([randomBytes(100)]), 100));
    expect(err).toMatchObject({ code: 'no-space', phase: 'open' });
    expect(entries(path.join(l.root, 'admin'))).toEqual([]);
  });

  it('disconnectAfterBytes: a download fails with reset midway', async () => {
    const l = await lab();
    const data = randomBytes(2_000_000);
    writeFileSync(path.join(l.root, 'admin', 'image.bin'), data);
    l.server.setFaults({ disconnectAfterBytes: 300_000 });
    const dl = await new FtpTransferClient().download(l.endpoint('image.bin'));
    expect(dl.size).toBe(data.length);
    let got = 0;
    const err = await transferError(
      (async () => {
        for await (const chunk of dl.body) got += chunk.length;
      })(),
    );
    expect(err).toMatchObject({ code: 'reset', phase: 'read' });
    expect(got).toBeLessThanOrEqual(300_000);
    expect(l.server.log.find((e) => e.kind === 'download')).toMatchObject({ outcome: 'dropped' });
  });

  it('disconnectAfterBytes: an upload fails with reset and leaves no partial file', async () => {
    const l = await lab();
    l.server.setFaults({ disconnectAfterBytes: 300_000 });
    const data = randomBytes(2_000_000);
    const err = await transferError(new FtpTransferClient().upload(l.endpoint('image.bin'), Readable.from([data]), data.length));
    expect(err).toMatchObject({ code: 'reset', phase: 'write' });
    // The server drops the temp file once it sees the connection gone.
    await expect.poll(() => entries(path.join(l.root, 'admin'))).toEqual([]);
    await expect.poll(() => l.server.log.find((e) => e.kind === 'upload')?.outcome).toBe('dropped');
  });

  it('rateLimitBytesPerSec: transfers slow down to about the limit', async () => {
    const l = await lab();
    const data = randomBytes(400_000);
    writeFileSync(path.join(l.root, 'admin', 'image.bin'), data);
    const client = new FtpTransferClient();
    const timed = async () => {
      const t0 = performance.now();
      const dl = await client.download(l.endpoint('image.bin'));
      expect(md5(await collect(dl.body))).toBe(md5(data));
      return (performance.now() - t0) / 1000;
    };
    const fast = await timed();
    const rate = 200_000;
    l.server.setFaults({ rateLimitBytesPerSec: rate });
    const slow = await timed();
    // 400 kB at 200 kB/s is about 2 s; loose bounds, no tight timing.
    expect(slow).toBeGreaterThan((data.length / rate) * 0.6);
    expect(slow).toBeGreaterThan(fast * 3);
    const t0 = performance.now();
    await client.upload(l.endpoint('up.bin'), Readable.from([data.subarray(0, 200_000)]), 200_000);
    expect((performance.now() - t0) / 1000).toBeGreaterThan((200_000 / rate) * 0.6);
  });
});

describe('FtpTransferClient failures', () => {
  const closers: Server[] = [];
  afterEach(() => {
    for (const s of closers.splice(0)) s.close();
  });

  it('maps a closed port to refused', async () => {
    const address = randomLoopback();
    // Bind then close to get a port nothing listens on.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, address, r));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const err = await transferError(new FtpTransferClient().download({ host: address, port, path: 'x' }));
    expect(err).toMatchObject({ code: 'refused', phase: 'open' });
  });

  it('maps a silent server to timeout', async () => {
    const address = randomLoopback();
    const s = createServer(() => {}); // accepts, never greets
    closers.push(s);
    await new Promise<void>((r) => s.listen(0, address, r));
    const port = (s.address() as { port: number }).port;
    const t0 = Date.now();
    const err = await transferError(new FtpTransferClient().download({ host: address, port, path: 'x', timeoutSec: 1 }));
    expect(err.code).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('maps a transfer that stops making progress to timeout', async () => {
    const l = await lab();
    writeFileSync(path.join(l.root, 'admin', 'image.bin'), randomBytes(200_000));
    // 1 KiB, then nothing for about ten seconds.
    l.server.setFaults({ rateLimitBytesPerSec: 100 });
    const dl = await new FtpTransferClient().download(l.endpoint('image.bin', { timeoutSec: 1 }));
    const t0 = Date.now();
    const err = await transferError(collect(dl.body));
    expect(err).toMatchObject({ code: 'timeout', phase: 'read' });
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it('maps an abort to aborted, before and during a transfer', async () => {
    const l = await lab();
    writeFileSync(path.join(l.root, 'admin', 'image.bin'), randomBytes(1_000_000));
    l.server.setFaults({ rateLimitBytesPerSec: 100_000 });
    const client = new FtpTransferClient();
    const pre = new AbortController();
    pre.abort();
    expect(await transferError(client.download(l.endpoint('image.bin', { signal: pre.signal })))).toMatchObject({ code: 'aborted' });
    const ac = new AbortController();
    const dl = await client.download(l.endpoint('image.bin', { signal: ac.signal }));
    const err = await transferError(
      (async () => {
        for await (const _ of dl.body) ac.abort();
      })(),
    );
    expect(err.code).toBe('aborted');
  });
});
