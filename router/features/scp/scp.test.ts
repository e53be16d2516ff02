/**
 * The SCP server against a fake exec channel that plays the client's side of the protocol
 * byte by byte: pushes in every IOS destination form, refusal before data when flash is
 * short, a push cut midway, access checks, pulls. (Real clients: test/interop/netmiko-scp.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestRouter, type TestRouter } from '../../../test/helpers/router.ts';
import { parseScpCommand, scpExec, scpState, splitShellWords } from './index.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** The client end of an exec channel: what the server wrote, and a way to answer. */
class FakeChannel extends Duplex {
  private out = Buffer.alloc(0);
  private waiter?: () => void;
  exitStatus?: number;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.out = Buffer.concat([this.out, chunk]);
    this.waiter?.();
    cb();
  }

  exit(status: number): void {
    this.exitStatus = status;
  }

  /** Client → server bytes. */
  send(data: Buffer | string): void {
    this.push(typeof data === 'string' ? Buffer.from(data, 'binary') : data);
  }

  /** The client closes its side (scp's stdin EOF). */
  eof(): void {
    this.push(null);
  }

  /** The next `n` bytes the server sent (waits for them). */
  async next(n: number): Promise<Buffer> {
    while (this.out.length < n) await this.more();
    const r = this.out.subarray(0, n);
    this.out = this.out.subarray(n);
    return r;
  }

  /** The next line the server sent, newline dropped. */
  async readLine(): Promise<string> {
    while (!this.out.includes(0x0a)) await this.more();
    const i = this.out.indexOf(0x0a);
    const r = this.out.subarray(0, i).toString('binary');
    this.out = this.out.subarray(i + 1);
    return r;
  }

  private more(): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`server went quiet; pending: ${JSON.stringify(this.out.toString('binary'))}`)), 5000);
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = undefined;
        resolve();
      };
    });
  }
}

let t: TestRouter | undefined;
afterEach(() => {
  if (t) rmSync(t.dir, { recursive: true, force: true });
  t = undefined;
});

async function router(opts: Parameters<typeof makeTestRouter>[0] = {}, enable = true): Promise<TestRouter> {
  t = await makeTestRouter(opts);
  if (enable) await t.run('configure terminal', 'ip scp server enable', 'end');
  return t;
}

/** Starts `scp ...` on a fresh channel as a user of the given privilege. */
function start(tr: TestRouter, command: string, privilege = 15) {
  const ch = new FakeChannel();
  const done = scpExec(tr.router, command, ch, privilege);
  return { ch, done };
}

/** A complete, well-behaved push of `data` named `name` to `dest`. */
async function push(tr: TestRouter, dest: string, name: string, data: Buffer): Promise<number | undefined> {
  const { ch, done } = start(tr, `scp -t ${dest}`);
  expect((await ch.next(1))[0]).toBe(0);
  ch.send(`C0644 ${data.length} ${name}\n`);
  expect((await ch.next(1))[0]).toBe(0);
  for (let i = 0; i < data.length; i += 7000) ch.send(data.subarray(i, i + 7000));
  ch.send(Buffer.from([0]));
  expect((await ch.next(1))[0]).toBe(0);
  ch.eof();
  await done;
  return ch.exitStatus;
}

describe('ip scp server enable', () => {
  it('is off by default, shows in running-config when on, and goes with no', async () => {
    const tr = await router({}, false);
    expect(scpState(tr.router).serverEnabled).toBe(false);
    expect(await tr.run('show running-config | include scp')).not.toContain('scp');
    await tr.run('configure terminal', 'ip scp server enable', 'end');
    expect(scpState(tr.router).serverEnabled).toBe(true);
    expect(await tr.run('show running-config | include scp')).toContain('ip scp server enable');
    await tr.run('configure terminal', 'no ip scp server enable', 'end');
    expect(scpState(tr.router).serverEnabled).toBe(false);
  });
});

describe('scp -t (push to the router)', () => {
  it('stores the file through every IOS destination form', async () => {
    const tr = await router();
    const data = randomBytes(100_000);
    const fs = tr.router.fs.default;
    expect(await push(tr, 'bootflash:/a.bin', 'local.bin', data)).toBe(0);
    expect(await push(tr, 'bootflash:b.bin', 'local.bin', data)).toBe(0);
    expect(await push(tr, 'flash:c.bin', 'local.bin', data)).toBe(0);
    expect(await push(tr, 'd.bin', 'local.bin', data)).toBe(0);
    // A device (or directory) as destination takes the sender's file name.
    expect(await push(tr, 'bootflash:', 'e.bin', data)).toBe(0);
    await tr.run('mkdir bootflash:images', '');
    expect(await push(tr, 'bootflash:/images', 'f.bin', data)).toBe(0);
    for (const p of ['a.bin', 'b.bin', 'c.bin', 'd.bin', 'e.bin', 'images/f.bin']) {
      expect(fs.stat(p)?.size, p).toBe(data.length);
      expect(await fs.md5(p), p).toBe(md5(data));
    }
    expect(fs.exists('local.bin')).toBe(false);
    expect(await tr.run('verify /md5 bootflash:/a.bin')).toContain(`= ${md5(data)}`);
  });

  it('takes -p times and an empty file, and replaces an existing file', async () => {
    const tr = await router();
    const { ch, done } = start(tr, 'scp -p -t bootflash:/x.txt');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send('T1700000000 0 1700000000 0\n');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send('C0644 0 x.txt\n');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send(Buffer.from([0]));
    expect((await ch.next(1))[0]).toBe(0);
    ch.eof();
    await done;
    expect(ch.exitStatus).toBe(0);
    expect(tr.router.fs.default.stat('x.txt')?.size).toBe(0);
    expect(await push(tr, 'bootflash:/x.txt', 'x.txt', Buffer.from('new\n'))).toBe(0);
    expect(await tr.router.fs.default.readText('x.txt')).toBe('new\n');
  });

  it('writes to a partition (slot0:1:file) on classic IOS', async () => {
    const tr = await router({ platform: 'c3900' });
    const data = randomBytes(5000);
    expect(await push(tr, 'slot0:1:img.bin', 'img.bin', data)).toBe(0);
    expect(await tr.router.fs.get('slot0:1')!.md5('img.bin')).toBe(md5(data));
    expect(tr.router.fs.get('slot0:2')!.exists('img.bin')).toBe(false);
  });

  it('refuses a file that does not fit before any data, leaving flash as it was', async () => {
    const tr = await router({ fsSizes: { bootflash: 1024 * 1024 } });
    const fs = tr.router.fs.default;
    const before = { free: fs.freeBytes, files: fs.list('').map((e) => e.name) };
    const { ch, done } = start(tr, 'scp -t bootflash:/big.bin');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send(`C0644 ${2 * 1024 * 1024} big.bin\n`);
    expect(await ch.readLine()).toBe('\x01scp: bootflash:/big.bin: No space left on device');
    await done;
    expect(ch.exitStatus).toBe(1);
    expect(fs.exists('big.bin')).toBe(false);
    expect({ free: fs.freeBytes, files: fs.list('').map((e) => e.name) }).toEqual(before);
  });

  it('words the refusal as classic IOS does on an ISR G2', async () => {
    const tr = await router({ platform: 'c3900', fsSizes: { slot0: 64 * 1024 } });
    const { ch, done } = start(tr, 'scp -t slot0:2:big.bin');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send('C0644 40000 big.bin\n');
    expect(await ch.readLine()).toBe('\x01scp: slot0:2:/big.bin: Not enough space on device');
    await done;
    expect(ch.exitStatus).toBe(1);
  });

  it('a push cut midway leaves nothing behind and gives the space back', async () => {
    const tr = await router();
    const fs = tr.router.fs.default;
    const free = fs.freeBytes;
    const { ch, done } = start(tr, 'scp -t bootflash:/cut.bin');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send('C0644 300000 cut.bin\n');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send(randomBytes(120_000));
    await new Promise((r) => setTimeout(r, 20));
    ch.eof();
    await done;
    expect(ch.exitStatus).toBe(1);
    expect(fs.exists('cut.bin')).toBe(false);
    expect(fs.freeBytes).toBe(free);
  });

  it('a client that reports an error instead of the final 0 gets no file', async () => {
    const tr = await router();
    const { ch, done } = start(tr, 'scp -t bootflash:/bad.bin');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send('C0644 10 bad.bin\n');
    expect((await ch.next(1))[0]).toBe(0);
    ch.send(Buffer.alloc(10));
    ch.send('\x01read error\n');
    expect(await ch.readLine()).toBe('\x01scp: bootflash:/bad.bin: read error');
    await done;
    expect(ch.exitStatus).toBe(1);
    expect(tr.router.fs.default.exists('bad.bin')).toBe(false);
  });

  it('refuses when the SCP server is off, or the user is below privilege 15', async () => {
    const tr = await router({}, false);
    for (const [priv, why] of [
      [15, 'server disabled'],
      [1, 'privilege 1'],
    ] as const) {
      if (why === 'privilege 1') await tr.run('configure terminal', 'ip scp server enable', 'end');
      const { ch, done } = start(tr, 'scp -t bootflash:/x.bin', priv);
      expect(await ch.readLine(), why).toBe('\x01scp: Permission denied');
      await done;
      expect(ch.exitStatus, why).toBe(1);
    }
    expect(tr.router.fs.default.exists('x.bin')).toBe(false);
  });

  it('refuses recursive copies and unknown devices', async () => {
    const tr = await router();
    let s = start(tr, 'scp -r -t bootflash:/d');
    expect(await s.ch.readLine()).toBe('\x01scp: recursive copy is not supported');
    await s.done;
    expect(s.ch.exitStatus).toBe(1);
    s = start(tr, 'scp -t nosuch:/x.bin');
    expect(await s.ch.readLine()).toBe('\x01scp: nosuch:/x.bin: No device available');
    await s.done;
    expect(s.ch.exitStatus).toBe(1);
  });
});

describe('scp -f (pull from the router)', () => {
  it('sends the file, waiting for each acknowledgement', async () => {
    const tr = await router();
    const data = randomBytes(200_000);
    expect(await push(tr, 'bootflash:/pull.bin', 'pull.bin', data)).toBe(0);
    const { ch, done } = start(tr, 'scp -f bootflash:/pull.bin');
    ch.send(Buffer.from([0]));
    expect(await ch.readLine()).toBe(`C0644 ${data.length} pull.bin`);
    ch.send(Buffer.from([0]));
    const got = await ch.next(data.length);
    expect((await ch.next(1))[0]).toBe(0);
    ch.send(Buffer.from([0]));
    await done;
    expect(ch.exitStatus).toBe(0);
    expect(md5(got)).toBe(md5(data));
  });

  it('reports a missing file as an scp error', async () => {
    const tr = await router();
    const { ch, done } = start(tr, "scp -f 'bootflash:/no such.bin'");
    ch.send(Buffer.from([0]));
    expect(await ch.readLine()).toBe('\x01scp: bootflash:/no such.bin: No such file or directory');
    await done;
    expect(ch.exitStatus).toBe(1);
  });
});

describe('command line', () => {
  it('reads flags and shell-quoted paths as clients send them', () => {
    expect(splitShellWords(`scp -t 'a b'"c"\\ d`)).toEqual(['scp', '-t', 'a bc d']);
    expect(splitShellWords(`scp -t 'it'"'"'s'`)).toEqual(['scp', '-t', "it's"]);
    expect(parseScpCommand('scp -t bootflash:/x')).toEqual({ mode: 'sink', preserveTimes: false, recursive: false, paths: ['bootflash:/x'] });
    expect(parseScpCommand('scp -p -f a b')).toEqual({ mode: 'source', preserveTimes: true, recursive: false, paths: ['a', 'b'] });
    expect(parseScpCommand('scp -t a b')).toBeUndefined();
    expect(parseScpCommand('scp -x -t a')).toBeUndefined();
    expect(parseScpCommand('show version')).toBeUndefined();
  });
});
