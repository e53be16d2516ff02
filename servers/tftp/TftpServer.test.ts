/**
 * TftpServer and TftpTransferClient against each other and against raw datagrams, over
 * real UDP sockets on 127.0.0.1 (ephemeral ports, temp dirs). Short timeouts throughout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { TftpServer, type TftpLogEntry } from './TftpServer.ts';
import { TftpTransferClient, type TftpClientOptions } from './TftpClient.ts';
import { TransferError } from '../../router/transfer/types.ts';
import { decode, encodeAck, encodeData, encodeError, encodeRequest, type TftpPacket } from './packets.ts';
import { randomLoopback } from '../../test/helpers/net.ts';

const HOST = '127.0.0.1';
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

let base: string;
let root: string;
let server: TftpServer;
const files: Record<string, Buffer> = {};

function put(name: string, data: Buffer): void {
  const full = path.join(root, name);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, data);
  files[name] = data;
}

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'flashlab-tftp-test-'));
  root = path.join(base, 'root');
  fs.mkdirSync(root);
  put('small.txt', Buffer.from('hello tftp\nsecond line\n'));
  put('one.bin', randomBytes(1_000_003));
  put('k200.bin', randomBytes(200_001));
  put('exact.bin', randomBytes(512 * 64)); // a multiple of blksize: ends with an empty DATA
  put('empty.bin', Buffer.alloc(0));
  put('sub/dir/deep.bin', randomBytes(5000));
  fs.mkdirSync(path.join(root, 'up'));
  fs.writeFileSync(path.join(base, 'secret.txt'), 'outside the root');
  fs.symlinkSync(path.join(root, 'one.bin'), path.join(root, 'link.bin'));
  fs.symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'escape.txt'));
  fs.symlinkSync(path.join(root, 'sub'), path.join(root, 'linkdir'));
  server = new TftpServer({ port: 0, root, allowWrite: true, allowCreate: true, retries: 3 });
  await server.start();
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

afterEach(() => server.setFaults(undefined));

function client(o: TftpClientOptions = {}): TftpTransferClient {
  // 1 s without progress fails; 20 tries in that second (50 ms apart) keep loss tests quick.
  return new TftpTransferClient({ timeoutSec: 1, retries: 19, ...o });
}

async function fetch(name: string, o: TftpClientOptions & { blksize?: number; srv?: TftpServer } = {}): Promise<{ data: Buffer; size?: number }> {
  const d = await client(o).download({ host: HOST, port: (o.srv ?? server).port, path: name, blksize: o.blksize });
  const parts: Buffer[] = [];
  for await (const b of d.body) parts.push(b);
  return { data: Buffer.concat(parts), size: d.size };
}

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function send(name: string, data: Buffer, o: TftpClientOptions & { blksize?: number; srv?: TftpServer; chunk?: number } = {}): Promise<void> {
  await client(o).upload({ host: HOST, port: (o.srv ?? server).port, path: name, blksize: o.blksize }, chunked(data, o.chunk ?? 65536), data.length);
}

async function rejection(p: Promise<unknown>): Promise<TransferError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TransferError);
    return err as TransferError;
  }
  throw new Error('expected a TransferError');
}

/**
 * Waits for the server to log `file` after index `since` of its log (the entry lands when
 * the server sees the last packet, which can be after the client is already done).
 */
async function logged(file: string, since: number, srv: TftpServer = server): Promise<TftpLogEntry> {
  for (let i = 0; i < 300; i++) {
    const e = srv.log.slice(since).find((x) => x.file === file);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no log entry for ${file}`);
}

function partFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tftp-part'));
}

/** A bare UDP socket for speaking TFTP by hand. */
class Raw {
  private queue: Array<{ msg: Buffer; port: number }> = [];
  private waiter: (() => void) | null = null;
  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (msg, rinfo) => {
      this.queue.push({ msg, port: rinfo.port });
      this.waiter?.();
    });
  }
  static async open(): Promise<Raw> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, HOST, () => r()));
    return new Raw(s);
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(buf: Buffer, port: number): void {
    this.sock.send(buf, port, HOST);
  }
  async next(timeoutMs = 2000): Promise<{ p: TftpPacket; port: number; raw: Buffer }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no packet');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
    const { msg, port } = this.queue.shift()!;
    const d = decode(msg);
    if (!d.ok) throw new Error(`undecodable reply ${msg.toString('hex')}`);
    return { p: d.packet, port, raw: msg };
  }
  async silent(ms: number): Promise<boolean> {
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }
  close(): void {
    this.sock.close();
  }
}

describe('downloads', () => {
  it('plain lock-step at 512: exact bytes, size from tsize, logged', async () => {
    const mark = server.log.length;
    const { data, size } = await fetch('one.bin');
    expect(md5(data)).toBe(md5(files['one.bin']!));
    expect(size).toBe(1_000_003);
    const e = await logged('one.bin', mark);
    expect(e).toMatchObject({ request: 'RRQ', direction: 'read', outcome: 'ok', bytes: 1_000_003, mode: 'octet' });
    expect(e.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it.each([512, 1468, 8192])('negotiates blksize %i (OACK and DATA size) and transfers exactly', async (bs) => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'one.bin', 'octet', [['blksize', String(bs)]]), server.port);
      const oack = await raw.next();
      expect(oack.p).toEqual({ op: 'OACK', options: new Map([['blksize', String(bs)]]) });
      raw.send(encodeAck(0), oack.port);
      const d1 = await raw.next();
      expect(d1.p.op === 'DATA' && d1.p.block === 1 && d1.p.data.length).toBe(bs);
      expect(d1.port).toBe(oack.port);
      raw.send(encodeError(0, 'enough'), oack.port);
    } finally {
      raw.close();
    }
    const mark = server.log.length;
    const { data } = await fetch('one.bin', { blksize: bs });
    expect(md5(data)).toBe(md5(files['one.bin']!));
    expect((await logged('one.bin', mark)).options.blksize).toBe(bs === 512 ? undefined : String(bs));
  });

  it('ends a file that is a multiple of blksize with an empty block, and serves empty files', async () => {
    expect(md5((await fetch('exact.bin')).data)).toBe(md5(files['exact.bin']!));
    const e = await fetch('empty.bin', { blksize: 1468 });
    expect(e.data.length).toBe(0);
    expect(e.size).toBe(0);
    expect(md5((await fetch('sub/dir/deep.bin')).data)).toBe(md5(files['sub/dir/deep.bin']!));
  });

  it('answers tsize=0 with the file size', async () => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'k200.bin', 'octet', [['TSIZE', '0']]), server.port);
      const r = await raw.next();
      expect(r.p).toEqual({ op: 'OACK', options: new Map([['tsize', '200001']]) });
      raw.send(encodeError(0, 'done'), r.port);
    } finally {
      raw.close();
    }
  });

  it('honours the timeout option: a missing ACK brings the block again after ~1 s', async () => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'k200.bin', 'octet', [['timeout', '3']]), server.port);
      const r3 = await raw.next();
      expect(r3.p).toEqual({ op: 'OACK', options: new Map([['timeout', '3']]) });
      raw.send(encodeError(0, 'bye'), r3.port);

      raw.send(encodeRequest('RRQ', 'k200.bin', 'octet', [['timeout', '1']]), server.port);
      const oack = await raw.next();
      raw.send(encodeAck(0), oack.port);
      const first = await raw.next();
      const t0 = Date.now();
      expect(first.p.op === 'DATA' && first.p.block).toBe(1);
      const again = await raw.next(2500);
      const dt = Date.now() - t0;
      expect(again.raw).toEqual(first.raw);
      expect(dt).toBeGreaterThan(700);
      expect(dt).toBeLessThan(2000);
      raw.send(encodeError(0, 'bye'), oack.port);
    } finally {
      raw.close();
    }
  });

  it.each([8, 16])('windowsize %i: sends a whole window before waiting, and transfers exactly', async (ws) => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'one.bin', 'octet', [['windowsize', String(ws)]]), server.port);
      const oack = await raw.next();
      expect(oack.p).toEqual({ op: 'OACK', options: new Map([['windowsize', String(ws)]]) });
      raw.send(encodeAck(0), oack.port);
      const blocks: number[] = [];
      for (let i = 0; i < ws; i++) {
        const d = await raw.next();
        if (d.p.op === 'DATA') blocks.push(d.p.block);
      }
      expect(blocks).toEqual(Array.from({ length: ws }, (_, i) => i + 1));
      expect(await raw.silent(150)).toBe(true); // nothing beyond the window until our ACK
      raw.send(encodeAck(ws), oack.port);
      const nextWindow = await raw.next();
      expect(nextWindow.p.op === 'DATA' && nextWindow.p.block).toBe(ws + 1);
      raw.send(encodeError(0, 'bye'), oack.port);
    } finally {
      raw.close();
    }
    const mark = server.log.length;
    const { data } = await fetch('one.bin', { windowsize: ws, blksize: 1468 });
    expect(md5(data)).toBe(md5(files['one.bin']!));
    expect((await logged('one.bin', mark)).options.windowsize).toBe(String(ws));
  });

  it('a repeated request (our OACK lost) gets the OACK again from the same TID, not a second transfer', async () => {
    const raw = await Raw.open();
    const mark = server.log.length;
    try {
      const rrq = encodeRequest('RRQ', 'small.txt', 'octet', [['tsize', '0']]);
      raw.send(rrq, server.port);
      const first = await raw.next();
      raw.send(rrq, server.port);
      const second = await raw.next();
      expect(first.p).toEqual({ op: 'OACK', options: new Map([['tsize', String(files['small.txt']!.length)]]) });
      expect(second.raw).toEqual(first.raw);
      expect(second.port).toBe(first.port);
      raw.send(encodeAck(0), first.port);
      const d = await raw.next();
      expect(d.p.op === 'DATA' && d.p.data.toString()).toBe(files['small.txt']!.toString());
      raw.send(encodeAck(1), first.port);
      expect((await logged('small.txt', mark)).outcome).toBe('ok');
      expect(server.log.slice(mark).filter((e) => e.file === 'small.txt').length).toBe(1);
    } finally {
      raw.close();
    }
  });

  it('another request from the same port starts a new transfer at once, even while the old one is ending', async () => {
    const raw = await Raw.open();
    try {
      for (let i = 0; i < 10; i++) {
        raw.send(encodeRequest('RRQ', 'k200.bin', 'octet', [['timeout', '3']]), server.port);
        const old = await raw.next();
        expect(old.p).toEqual({ op: 'OACK', options: new Map([['timeout', '3']]) });
        // The client gives up on that transfer and asks again, differently, on the same port:
        // the new request may reach the server before the old session has read the ERROR.
        raw.send(encodeError(0, 'bye'), old.port);
        raw.send(encodeRequest('RRQ', 'k200.bin', 'octet', [['timeout', '1']]), server.port);
        const next = await raw.next();
        expect(next.p).toEqual({ op: 'OACK', options: new Map([['timeout', '1']]) });
        expect(next.port).not.toBe(old.port);
        raw.send(encodeError(0, 'bye'), next.port);
      }
    } finally {
      raw.close();
    }
  });

  it('netascii mode converts LF to CR LF', async () => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'small.txt', 'netascii'), server.port);
      const d = await raw.next();
      expect(d.p.op === 'DATA' && d.p.data.toString('latin1')).toBe('hello tftp\r\nsecond line\r\n');
      raw.send(encodeAck(1), d.port);
    } finally {
      raw.close();
    }
  });
});

describe('uploads', () => {
  it.each([
    [512, 1, 65536],
    [1468, 8, 1000],
    [8192, 16, 4096],
  ])('blksize %i windowsize %i (body in %i-byte chunks): exact file, renamed into place', async (bs, ws, chunk) => {
    const name = `up/u-${bs}-${ws}.bin`;
    const mark = server.log.length;
    await send(name, files['one.bin']!, { blksize: bs, windowsize: ws, chunk });
    expect(md5(fs.readFileSync(path.join(root, name)))).toBe(md5(files['one.bin']!));
    const e = await logged(name, mark);
    expect(e).toMatchObject({ request: 'WRQ', direction: 'write', outcome: 'ok', bytes: 1_000_003 });
    expect(e.options.tsize).toBe('1000003'); // tsize announced by the client and echoed
    expect(partFiles(path.join(root, 'up'))).toEqual([]);
  });

  it('uploads empty files and exact multiples of blksize, and overwrites', async () => {
    await send('up/empty.bin', Buffer.alloc(0));
    expect(fs.readFileSync(path.join(root, 'up/empty.bin')).length).toBe(0);
    await send('up/exact.bin', files['exact.bin']!);
    expect(md5(fs.readFileSync(path.join(root, 'up/exact.bin')))).toBe(md5(files['exact.bin']!));
    await send('up/exact.bin', files['small.txt']!);
    expect(fs.readFileSync(path.join(root, 'up/exact.bin'), 'utf8')).toBe(files['small.txt']!.toString());
  });

  it('a failed upload leaves nothing behind', async () => {
    const mark = server.log.length;
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(100_000);
      throw new Error('source broke');
    }
    await expect(client().upload({ host: HOST, port: server.port, path: 'up/broken.bin' }, failing(), 1_000_000)).rejects.toThrow('source broke');
    // A body shorter than announced is refused too, rather than leaving a truncated file.
    const e = await rejection(client().upload({ host: HOST, port: server.port, path: 'up/short.bin' }, chunked(randomBytes(5000), 1000), 9000));
    expect(e.code).toBe('protocol');
    await logged('up/short.bin', mark);
    await logged('up/broken.bin', mark);
    expect(fs.existsSync(path.join(root, 'up/broken.bin'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'up/short.bin'))).toBe(false);
    expect(partFiles(path.join(root, 'up'))).toEqual([]);
  });
});

describe('block-number rollover (more than 65535 blocks)', () => {
  const big = randomBytes(65536 * 512 + 777); // 65538 blocks at 512: wraps 65535 -> 0 -> 1 -> 2

  it('downloads and uploads 32 MiB + 777 bytes at blksize 512', async () => {
    fs.writeFileSync(path.join(root, 'big.bin'), big);
    const { data } = await fetch('big.bin', { windowsize: 16 });
    expect(data.length).toBe(big.length);
    expect(md5(data)).toBe(md5(big));
    await send('up/big.bin', big, { windowsize: 16, chunk: 1 << 20 });
    expect(md5(fs.readFileSync(path.join(root, 'up/big.bin')))).toBe(md5(big));
    fs.rmSync(path.join(root, 'up/big.bin'));
  });
});

describe('packet loss and delay (server-side faults)', () => {
  it.each([1, 8])('download survives dropEveryN=7 at windowsize %i', async (ws) => {
    server.setFaults({ dropEveryN: 7 });
    const { data } = await fetch('k200.bin', { blksize: 1468, windowsize: ws });
    expect(md5(data)).toBe(md5(files['k200.bin']!));
  });

  it('reports what IOS marks: a gap in a window is out of order, silence a timeout', async () => {
    server.setFaults({ dropEveryN: 7 });
    const events: string[] = [];
    const d = await client({ windowsize: 8 }).download({ host: HOST, port: server.port, path: 'k200.bin', blksize: 1468, onEvent: (e) => events.push(e) });
    const parts: Buffer[] = [];
    for await (const b of d.body) parts.push(b);
    expect(md5(Buffer.concat(parts))).toBe(md5(files['k200.bin']!));
    expect(events).toContain('out-of-order');
    server.setFaults({ dropEveryN: 7 });
    const timeouts: string[] = [];
    const d1 = await client({ windowsize: 1 }).download({ host: HOST, port: server.port, path: 'k200.bin', blksize: 1468, onEvent: (e) => timeouts.push(e) });
    for await (const _ of d1.body);
    expect(timeouts).toContain('timeout');
    expect(timeouts).not.toContain('out-of-order');
  });

  it.each([1, 16])('download survives dropProbability 0.05 at windowsize %i', async (ws) => {
    server.setFaults({ dropProbability: 0.05 });
    const { data } = await fetch('one.bin', { blksize: 1468, windowsize: ws });
    expect(md5(data)).toBe(md5(files['one.bin']!));
  });

  it.each([
    [{ dropEveryN: 5 }, 1],
    [{ dropProbability: 0.05 }, 8],
  ])('upload survives %o (lost ACKs) at windowsize %i', async (faults, ws) => {
    server.setFaults(faults);
    const name = `up/lossy-${ws}.bin`;
    const mark = server.log.length;
    await send(name, files['k200.bin']!, { blksize: 1468, windowsize: ws });
    await logged(name, mark);
    expect(md5(fs.readFileSync(path.join(root, name)))).toBe(md5(files['k200.bin']!));
  });

  it('delayMs slows the server but the transfer completes', async () => {
    server.setFaults({ delayMs: 20 });
    const t0 = Date.now();
    const { data } = await fetch('sub/dir/deep.bin', { blksize: 1468, timeoutSec: 2, retries: 5 });
    expect(md5(data)).toBe(md5(files['sub/dir/deep.bin']!));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4 * 20); // OACK + 4 DATA, each delayed
  });
});

describe('failures map to TransferError codes', () => {
  it('a server that stalls mid-download gives timeout/read within the timeout', async () => {
    server.setFaults({ stallAfterBytes: 100_000 });
    const d = await client().download({ host: HOST, port: server.port, path: 'one.bin', blksize: 1468 });
    let got = 0;
    const t0 = Date.now();
    let err: unknown;
    try {
      for await (const b of d.body) got += b.length;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TransferError);
    expect((err as TransferError).code).toBe('timeout');
    expect((err as TransferError).phase).toBe('read');
    expect(got).toBeLessThanOrEqual(100_000);
    expect(got).toBeGreaterThan(50_000);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a server that stops ACKing an upload gives timeout/write, and keeps no partial file', async () => {
    // Its own server with one retry, so it too gives up quickly (after 2 x 1 s).
    const srv = new TftpServer({ port: 0, root, allowWrite: true, allowCreate: true, retries: 1, faults: { stallAfterBytes: 50_000 } });
    await srv.start();
    try {
      const t0 = Date.now();
      const e = await rejection(send('up/stalled.bin', files['k200.bin']!, { blksize: 1468, srv }));
      expect([e.code, e.phase]).toEqual(['timeout', 'write']);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(partFiles(path.join(root, 'up')).length).toBe(1); // being written while it hangs
      expect((await logged('up/stalled.bin', 0, srv)).outcome).toBe('timeout');
      expect(fs.existsSync(path.join(root, 'up/stalled.bin'))).toBe(false);
      expect(partFiles(path.join(root, 'up'))).toEqual([]);
    } finally {
      await srv.stop();
    }
  });

  it('refuseAll: no answer at all gives timeout/open within the timeout', async () => {
    server.setFaults({ refuseAll: true });
    const t0 = Date.now();
    const e = await rejection(fetch('one.bin'));
    expect([e.code, e.phase]).toEqual(['timeout', 'open']);
    const up = await rejection(send('up/refused.bin', Buffer.from('x')));
    expect([up.code, up.phase]).toEqual(['timeout', 'open']);
    expect(Date.now() - t0).toBeLessThan(4500); // two transfers, 1 s each
    expect(server.log.filter((e) => e.file === 'up/refused.bin')).toEqual([]); // ignored silently
  });

  it('missing file gives not-found (ERROR 1)', async () => {
    const mark = server.log.length;
    const e = await rejection(fetch('nope.bin'));
    expect([e.code, e.phase]).toEqual(['not-found', 'open']);
    expect((await logged('nope.bin', mark)).outcome).toBe('not-found');
  });

  it('writes refused by policy give permission; creation refused gives not-found', async () => {
    const ro = new TftpServer({ port: 0, root });
    const noCreate = new TftpServer({ port: 0, root, allowWrite: true });
    await ro.start();
    await noCreate.start();
    try {
      const e1 = await rejection(send('up/x.bin', Buffer.from('x'), { srv: ro }));
      expect([e1.code, e1.phase]).toEqual(['permission', 'open']);
      const e2 = await rejection(send('up/new.bin', Buffer.from('x'), { srv: noCreate }));
      expect([e2.code, e2.phase]).toEqual(['not-found', 'open']);
      fs.writeFileSync(path.join(root, 'up/existing.bin'), 'old');
      await send('up/existing.bin', Buffer.from('new contents'), { srv: noCreate });
      expect(fs.readFileSync(path.join(root, 'up/existing.bin'), 'utf8')).toBe('new contents');
    } finally {
      await ro.stop();
      await noCreate.stop();
    }
    const noRead = new TftpServer({ port: 0, root, allowRead: false });
    await noRead.start();
    try {
      const e3 = await rejection(fetch('one.bin', { srv: noRead }));
      expect([e3.code, e3.phase]).toEqual(['permission', 'open']);
    } finally {
      await noRead.stop();
    }
  });

  it.each(['../secret.txt', 'sub/../../secret.txt', '/etc/passwd', `${'/'}${'x'}`, 'link.bin', 'escape.txt', 'linkdir/dir/deep.bin', 'sub\\dir\\deep.bin'])(
    'refuses %s with ERROR 2 and no server path in the message',
    async (name) => {
      const raw = await Raw.open();
      try {
        raw.send(encodeRequest('RRQ', name), server.port);
        const r = await raw.next();
        expect(r.p.op).toBe('ERROR');
        if (r.p.op === 'ERROR') {
          expect(r.p.code).toBe(2);
          expect(r.p.message).not.toContain(base);
          expect(r.p.message).not.toContain('/');
        }
        raw.send(encodeRequest('WRQ', name), server.port);
        const w = await raw.next();
        expect(w.p.op === 'ERROR' && w.p.code).toBe(2);
      } finally {
        raw.close();
      }
      const e = await rejection(fetch(name));
      expect(e.code).toBe('permission');
      expect(fs.readFileSync(path.join(base, 'secret.txt'), 'utf8')).toBe('outside the root');
    },
  );

  it('an abort during download gives aborted, and the server hears about it', async () => {
    const ac = new AbortController();
    const mark = server.log.length;
    const d = await client().download({ host: HOST, port: server.port, path: 'one.bin', signal: ac.signal, onProgress: (n) => n > 20_000 && ac.abort() });
    const e = await (async () => {
      try {
        for await (const _ of d.body) void _;
      } catch (err) {
        return err as TransferError;
      }
      throw new Error('expected abort');
    })();
    expect(e.code).toBe('aborted');
    const entry = await logged('one.bin', mark);
    expect(entry.outcome).toBe('peer-error');
    // Aborting before the request is even sent.
    const ac2 = new AbortController();
    ac2.abort();
    expect((await rejection(client().download({ host: HOST, port: server.port, path: 'one.bin', signal: ac2.signal }))).code).toBe('aborted');
  });
});

describe('RFC 1350 error handling; the server keeps serving', () => {
  it('answers malformed packets and unknown opcodes with ERROR 4 (and ERRORs with nothing)', async () => {
    const raw = await Raw.open();
    try {
      for (const bad of [Buffer.from([0]), Buffer.from([0, 1, 0x66, 0x69]), Buffer.from([0, 9, 0, 0]), encodeData(1, Buffer.from('x')), encodeAck(3), Buffer.from([0, 1, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0])]) {
        raw.send(bad, server.port);
        const r = await raw.next();
        expect(r.p.op === 'ERROR' && r.p.code, bad.toString('hex')).toBe(4);
      }
      raw.send(encodeError(0, 'hello?'), server.port);
      expect(await raw.silent(200)).toBe(true);
      raw.send(encodeRequest('RRQ', 'small.txt', 'mail'), server.port);
      const m = await raw.next();
      expect(m.p.op === 'ERROR' && m.p.code).toBe(4);
    } finally {
      raw.close();
    }
    expect(md5((await fetch('small.txt')).data)).toBe(md5(files['small.txt']!));
  });

  it('answers a stranger with ERROR 5 and carries on with the real peer', async () => {
    const raw = await Raw.open();
    const stranger = await Raw.open();
    const got: Buffer[] = [];
    try {
      raw.send(encodeRequest('RRQ', 'k200.bin'), server.port);
      let r = await raw.next();
      const tid = r.port;
      for (;;) {
        if (r.p.op !== 'DATA') throw new Error(`unexpected ${r.p.op}`);
        got.push(r.p.data);
        if (r.p.block === 3) {
          stranger.send(encodeAck(3), tid);
          const e = await stranger.next();
          expect(e.p.op === 'ERROR' && e.p.code).toBe(5);
          expect(e.port).toBe(tid);
        }
        raw.send(encodeAck(r.p.block), tid);
        if (r.p.data.length < 512) break;
        r = await raw.next();
        expect(r.port).toBe(tid);
      }
    } finally {
      raw.close();
      stranger.close();
    }
    expect(md5(Buffer.concat(got))).toBe(md5(files['k200.bin']!));
  });

  it('a malformed packet from the peer ends that transfer with ERROR 4', async () => {
    const mark = server.log.length;
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'k200.bin'), server.port);
      const d = await raw.next();
      raw.send(Buffer.from([0, 4, 0]), d.port);
      const e = await raw.next();
      expect(e.p.op === 'ERROR' && e.p.code).toBe(4);
    } finally {
      raw.close();
    }
    expect((await logged('k200.bin', mark)).outcome).toBe('illegal-operation');
  });

  it('survives a storm of random datagrams on both its ports', async () => {
    const raw = await Raw.open();
    try {
      raw.send(encodeRequest('RRQ', 'one.bin'), server.port);
      const d = await raw.next();
      for (let i = 0; i < 2000; i++) {
        const b = randomBytes(Math.floor(Math.random() * 40));
        if (b.length >= 2 && i % 2 === 0) (b[0] = 0), (b[1] = 1 + (i % 7));
        raw.send(b, i % 3 === 0 ? d.port : server.port);
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      raw.close();
    }
    expect(md5((await fetch('k200.bin', { blksize: 8192 })).data)).toBe(md5(files['k200.bin']!));
  });
});

describe('client against servers without option support', () => {
  /** A minimal RFC 1350 server: ignores options or rejects them with ERROR 8. */
  async function plainServer(data: Buffer, mode: 'ignore' | 'error8'): Promise<{ port: number; requests: Buffer[]; close(): void }> {
    const main = dgram.createSocket('udp4');
    await new Promise<void>((r) => main.bind(0, HOST, () => r()));
    const requests: Buffer[] = [];
    const socks: dgram.Socket[] = [main];
    main.on('message', (msg, rinfo) => {
      requests.push(msg);
      const d = decode(msg);
      const t = dgram.createSocket('udp4');
      socks.push(t);
      t.bind(0, HOST, () => {
        if (mode === 'error8' && d.ok && d.packet.op === 'RRQ' && d.packet.options.size > 0) {
          t.send(encodeError(8), rinfo.port, rinfo.address);
          return;
        }
        let block = 1;
        const sendBlock = () => t.send(encodeData(block, data.subarray((block - 1) * 512, block * 512)), rinfo.port, rinfo.address);
        t.on('message', (ack) => {
          const a = decode(ack);
          if (!a.ok || a.packet.op !== 'ACK' || a.packet.block !== (block & 0xffff)) return;
          if ((block - 1) * 512 + 512 > data.length) return; // that was the last block
          block++;
          sendBlock();
        });
        sendBlock();
      });
    });
    return { port: main.address().port, requests, close: () => socks.forEach((s) => s.close()) };
  }

  it.each(['ignore', 'error8'] as const)('falls back to 512-byte lock-step when the server will not negotiate (%s)', async (mode) => {
    const data = randomBytes(5000);
    const srv = await plainServer(data, mode);
    try {
      const d = await client({ windowsize: 8 }).download({ host: HOST, port: srv.port, path: 'f', blksize: 8192 });
      expect(d.size).toBeUndefined();
      const parts: Buffer[] = [];
      for await (const b of d.body) parts.push(b);
      expect(md5(Buffer.concat(parts))).toBe(md5(data));
      const first = decode(srv.requests[0]!);
      expect(first.ok && first.packet.op === 'RRQ' && Object.fromEntries(first.packet.options)).toMatchObject({ blksize: '8192', tsize: '0', windowsize: '8' });
      if (mode === 'error8') {
        const retry = decode(srv.requests[1]!);
        expect(retry.ok && retry.packet.op === 'RRQ' && retry.packet.options.size).toBe(0);
      }
    } finally {
      srv.close();
    }
  });
});

describe('session worker threads', () => {
  it('serves concurrent downloads from its workers, with a fault set while they run', async () => {
    const srv = new TftpServer({ port: 0, root, workers: 2 });
    await srv.start();
    try {
      expect(srv.workerThreads).toBe(2);
      // Set after start: the workers hear of it before the next request they take.
      srv.setFaults({ dropEveryN: 7 });
      const events: string[][] = [];
      const runs = Array.from({ length: 6 }, async (_, i) => {
        events[i] = [];
        const d = await client().download({ host: HOST, port: srv.port, path: 'k200.bin', blksize: 1468, onEvent: (e) => events[i]!.push(e) });
        const parts: Buffer[] = [];
        for await (const b of d.body) parts.push(b);
        return Buffer.concat(parts);
      });
      for (const data of await Promise.all(runs)) expect(md5(data)).toBe(md5(files['k200.bin']!));
      // Every 7th packet dropped: each lock-step download waited out a lost block at least once.
      for (const e of events) expect(e).toContain('timeout');
      for (let i = 0; i < 100 && srv.log.length < 6; i++) await new Promise((r) => setTimeout(r, 20));
      expect(srv.log.map((e) => [e.file, e.outcome, e.bytes])).toEqual(Array.from({ length: 6 }, () => ['k200.bin', 'ok', files['k200.bin']!.length]));
    } finally {
      await srv.stop();
    }
  });

  it('a worker transfer stalled by a runtime fault times out and its upload leaves nothing', async () => {
    const srv = new TftpServer({ port: 0, root, allowWrite: true, allowCreate: true, retries: 1, workers: 2 });
    await srv.start();
    try {
      srv.setFaults({ stallAfterBytes: 50_000 });
      const e = await rejection(send('up/stalled-in-worker.bin', files['k200.bin']!, { blksize: 1468, srv }));
      expect([e.code, e.phase]).toEqual(['timeout', 'write']);
      expect((await logged('up/stalled-in-worker.bin', 0, srv)).outcome).toBe('timeout');
      expect(fs.existsSync(path.join(root, 'up/stalled-in-worker.bin'))).toBe(false);
      expect(partFiles(path.join(root, 'up'))).toEqual([]);
    } finally {
      await srv.stop();
    }
  });

  it('stop ends transfers running in workers: logged as aborted, temp files gone, before it resolves', async () => {
    const srv = new TftpServer({ port: 0, root, allowWrite: true, allowCreate: true, workers: 2 });
    await srv.start();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    async function* slowBody(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(4096, 1); // the server has a temp file once this lands
      await held;
    }
    const upload = client().upload({ host: HOST, port: srv.port, path: 'up/cut-short.bin' }, slowBody(), 8192).catch((e: unknown) => e);
    for (let i = 0; i < 200 && partFiles(path.join(root, 'up')).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(partFiles(path.join(root, 'up')).length).toBe(1);
    await srv.stop();
    expect(srv.log.filter((e) => e.file === 'up/cut-short.bin').map((e) => e.outcome)).toEqual(['aborted']);
    expect(partFiles(path.join(root, 'up'))).toEqual([]);
    expect(fs.existsSync(path.join(root, 'up/cut-short.bin'))).toBe(false);
    release();
    expect(await upload).toBeInstanceOf(TransferError);
  });

  it('workers: 0 keeps every transfer in the server thread', async () => {
    const srv = new TftpServer({ port: 0, root, workers: 0 });
    await srv.start();
    try {
      expect(srv.workerThreads).toBe(0);
      const { data } = await fetch('k200.bin', { srv });
      expect(md5(data)).toBe(md5(files['k200.bin']!));
    } finally {
      await srv.stop();
    }
  });
});

describe('client source address', () => {
  it("sends from the router's own address, so routers on one host are told apart", async () => {
    const mark = server.log.length;
    const own = randomLoopback();
    const d = await client().download({ host: HOST, port: server.port, path: 'small.txt', localAddress: own });
    for await (const _ of d.body);
    expect((await logged('small.txt', mark)).peer.startsWith(`${own}:`)).toBe(true);
  });
});
