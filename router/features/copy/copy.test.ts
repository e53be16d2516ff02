/**
 * The copy feature against a fake TransferClient: dialogs, credential precedence, every
 * error mapping, space checks, and that a failed copy leaves flash exactly as it was.
 * (Real sockets and servers: test/e2e/copy.test.ts.)
 */
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestRouter, type TestRouter } from '../../../test/helpers/router.ts';
import type { Router, RouterEnv } from '../../Router.ts';
import { TransferError, type Download, type TransferClient, type TransferEndpoint } from '../../transfer/types.ts';
import { copyConfig, tuneCopy } from './index.ts';
import { hhmmss, Progress } from './output.ts';
import { decodeType7, encodeType7 } from './type7.ts';
import { classify, displayUrl } from './urls.ts';

const CHUNK = 16 * 1024;

/** A scriptable stand-in for the TFTP/FTP clients. */
class FakeClient implements TransferClient {
  readonly files = new Map<string, Buffer>();
  readonly received = new Map<string, Buffer>();
  readonly calls: TransferEndpoint[] = [];
  /** Report the size before the data (FTP SIZE / TFTP tsize). */
  announceSize = true;
  failOpen?: TransferError;
  /** Fail once this many bytes moved. */
  failAfter?: { bytes: number; error: TransferError };
  /** After the first chunk, wait until the transfer is aborted. */
  hang = false;
  served = 0;
  /** Resolves when the first chunk was handed out. */
  firstChunk: Promise<void>;
  private gotFirst!: () => void;

  constructor(readonly scheme: 'tftp' | 'ftp') {
    this.firstChunk = new Promise((r) => (this.gotFirst = r));
  }

  async download(ep: TransferEndpoint): Promise<Download> {
    this.calls.push(ep);
    if (this.failOpen) throw this.failOpen;
    const data = this.files.get(ep.path);
    if (!data) throw new TransferError('not-found', 'open');
    const self = this;
    const body = (async function* () {
      for (let i = 0; i < data.length; i += CHUNK) {
        if (self.failAfter && i >= self.failAfter.bytes) throw self.failAfter.error;
        if (self.hang && i > 0) await waitAbort(ep.signal!, 'read');
        const c = data.subarray(i, i + CHUNK);
        self.served += c.length;
        self.gotFirst();
        yield c;
      }
    })();
    return { size: this.announceSize ? data.length : undefined, body };
  }

  async upload(ep: TransferEndpoint, body: AsyncIterable<Buffer>, size: number): Promise<void> {
    this.calls.push(ep);
    if (this.failOpen) throw this.failOpen;
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of body) {
      parts.push(c);
      n += c.length;
      this.served = n;
      this.gotFirst();
      if (this.failAfter && n > this.failAfter.bytes) throw this.failAfter.error;
      if (this.hang) await waitAbort(ep.signal!, 'write');
    }
    expect(n).toBe(size);
    this.received.set(ep.path, Buffer.concat(parts));
  }
}

function waitAbort(signal: AbortSignal, phase: 'read' | 'write'): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new TransferError('aborted', phase));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

const routers: TestRouter[] = [];
afterEach(() => {
  for (const t of routers.splice(0)) rmSync(t.dir, { recursive: true, force: true });
});

async function lab(opts: { platform?: string; fsSizes?: Record<string, number>; servicePort?: RouterEnv['servicePort'] } = {}) {
  const tftp = new FakeClient('tftp');
  const ftp = new FakeClient('ftp');
  const { servicePort, ...rest } = opts;
  // The fake servers stand at loopback addresses, which the router's seal lets through.
  const t = await makeTestRouter({ ...rest, env: { transfer: { tftp, ftp }, ...(servicePort ? { servicePort } : {}) } });
  routers.push(t);
  return { t, r: t.router, tftp, ftp, run: t.run };
}

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Free bytes and the file list of every file system: "flash as it was". */
function snapshot(r: Router) {
  return r.fs.all().map((fs) => ({ fs: fs.displayName, free: fs.freeBytes, files: fs.walk({ deleted: true }).map((e) => `${e.path}:${e.size}`) }));
}

async function put(r: Router, url: string, data: Buffer) {
  const { fs, path } = r.fs.parse(url);
  const w = fs.createWriter(path, data.length);
  await w.write(data);
  await w.commit();
}

async function readFlash(r: Router, url: string): Promise<Buffer> {
  const { fs, path } = r.fs.parse(url);
  const parts: Buffer[] = [];
  for await (const c of fs.openRead(path)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('URLs', () => {
  it('parses every URL form of S3.3–S3.5', () => {
    expect(classify('tftp:')).toEqual({ kind: 'net', scheme: 'tftp' });
    expect(classify('tftp://127.10.1.1/dir/file')).toEqual({ kind: 'net', scheme: 'tftp', host: '127.10.1.1', path: 'dir/file' });
    expect(classify('ftp://user:pa@ss@h/d/f')).toEqual({ kind: 'net', scheme: 'ftp', host: 'h', user: 'user', password: 'pa@ss', path: 'd/f' });
    expect(classify('ftp://bob@h')).toEqual({ kind: 'net', scheme: 'ftp', host: 'h', user: 'bob' });
    expect(classify('running-config')).toEqual({ kind: 'running' });
    expect(classify('run')).toEqual({ kind: 'running' });
    expect(classify('system:running-config')).toEqual({ kind: 'running' });
    expect(classify('start')).toEqual({ kind: 'local', url: 'nvram:startup-config' });
    expect(classify('slot0:1:file')).toEqual({ kind: 'local', url: 'slot0:1:file' });
    expect(classify('scp://h/f')).toEqual({ kind: 'unsupported', url: 'scp://h/f' });
  });

  it('masks credentials typed in the URL, and only those', () => {
    expect(displayUrl({ scheme: 'ftp', user: 'u', password: 'p' }, 'h', 'f')).toBe('ftp://*****:*****@h/f');
    expect(displayUrl({ scheme: 'ftp', user: 'u' }, 'h', 'f')).toBe('ftp://*****@h/f');
    expect(displayUrl({ scheme: 'ftp' }, 'h', 'd/f')).toBe('ftp://h/d/f');
  });

  it('type 7 passwords decode and round-trip', () => {
    expect(decodeType7('0822455D0A16')).toBe('cisco');
    expect(decodeType7(encodeType7('s3cr3t!', 5))).toBe('s3cr3t!');
    expect(decodeType7('zz')).toBeUndefined();
  });
});

describe('output', () => {
  it('draws one mark per unit, the last partial unit included, and wraps', () => {
    let s = '';
    const p = new Progress((t) => (s += t), 10, 5);
    p.prefix('Loading: ');
    p.update(25);
    expect(s).toBe('Loading: !!');
    p.update(120);
    p.finish(121);
    p.endLine();
    expect(s).toBe('Loading: !!!!!\n!!!!!\n!!!\n');
    expect(hhmmss(3723.9)).toBe('01:02:03');
  });
});

describe('download dialogs', () => {
  it('copy tftp: flash: asks host, source, destination; the host is remembered', async () => {
    const { r, tftp, run } = await lab();
    const data = bytes(100_000);
    tftp.files.set('images/new.bin', data);
    const out = await run('copy tftp: flash:', '127.10.1.1', 'images/new.bin', '');
    expect(out).toContain('Address or name of remote host []? 127.10.1.1\n');
    expect(out).toContain('Source filename []? images/new.bin\n');
    expect(out).toContain('Destination filename [new.bin]? \n');
    expect(out).toContain('Accessing tftp://127.10.1.1/images/new.bin...\n');
    expect(out).toMatch(/Loading images\/new\.bin from 127\.10\.1\.1 \(via GigabitEthernet0\/0\/0\): !+\n\[OK - 100000 bytes\]\n\n100000 bytes copied in \d+\.\d{3} secs \(\d+ bytes\/sec\)\n$/);
    expect((await readFlash(r, 'bootflash:new.bin')).equals(data)).toBe(true);
    const again = await run('copy tftp: flash:', '', 'images/new.bin', 'second.bin');
    expect(again).toContain('Address or name of remote host [127.10.1.1]? \n');
    expect(r.fs.default.stat('second.bin')?.size).toBe(100_000);
  });

  it('a URL with host and path asks only for the destination; a partition takes the file', async () => {
    const { r, tftp, run } = await lab({ platform: 'c3900' });
    tftp.files.set('dir/your-ios', bytes(5000));
    const out = await run('copy tftp://127.23.1.129/dir/your-ios slot0:1:', '');
    expect(out.startsWith('Destination filename [your-ios]? \nAccessing tftp://127.23.1.129/dir/your-ios...\n')).toBe(true);
    expect(out).toContain('(via GigabitEthernet0/0): !\n[OK - 5000 bytes]');
    expect(r.fs.get('slot0:1')!.stat('your-ios')?.size).toBe(5000);
    expect(r.fs.get('slot0:2')!.stat('your-ios')).toBeUndefined();
  });

  it('warns before overwriting; declining keeps the old file and transfers nothing', async () => {
    const { r, tftp, run } = await lab();
    await put(r, 'bootflash:f.bin', bytes(10, 9));
    tftp.files.set('f.bin', bytes(3000));
    const out = await run('copy tftp://127.10.1.1/f.bin flash:', '', 'n');
    expect(out).toContain('%Warning:There is a file already existing with this name \nDo you want to over write? [confirm]');
    expect(out).not.toContain('Accessing');
    expect(tftp.calls).toHaveLength(0);
    expect(r.fs.default.stat('f.bin')?.size).toBe(10);
    const yes = await run('copy tftp://127.10.1.1/f.bin flash:', '', '');
    expect(yes).toContain('[OK - 3000 bytes]');
    expect(r.fs.default.stat('f.bin')?.size).toBe(3000);
  });

  it('file prompt quiet asks nothing, not even before overwriting', async () => {
    const { r, tftp, run } = await lab();
    await put(r, 'bootflash:f.bin', bytes(10));
    tftp.files.set('f.bin', bytes(2000));
    await run('configure terminal', 'file prompt quiet', 'end');
    const out = await run('copy tftp://127.10.1.1/f.bin flash:');
    expect(out.startsWith('Accessing tftp://127.10.1.1/f.bin...\n')).toBe(true);
    expect(r.fs.default.stat('f.bin')?.size).toBe(2000);
  });

  it('file prompt noisy confirms the parts the URL already gave', async () => {
    const { tftp, run } = await lab();
    tftp.files.set('f.bin', bytes(2000));
    await run('configure terminal', 'file prompt noisy', 'end');
    const out = await run('copy tftp://127.10.1.1/f.bin flash:', '', '', '');
    expect(out).toContain('Address or name of remote host [127.10.1.1]? \nSource filename [f.bin]? \nDestination filename [f.bin]? \n');
    expect(out).toContain('[OK - 2000 bytes]');
  });

  it('a destination directory takes the source name; a missing directory is refused before any transfer', async () => {
    const { r, tftp, run } = await lab();
    tftp.files.set('f.bin', bytes(2000));
    await run('mkdir bootflash:img', '');
    expect(await run('copy tftp://127.10.1.1/f.bin bootflash:img', '')).toContain('Destination filename [img/f.bin]?');
    expect(r.fs.default.stat('img/f.bin')?.size).toBe(2000);
    const out = await run('copy tftp://127.10.1.1/f.bin bootflash:nodir/f.bin', '');
    expect(out).toContain('%Error opening bootflash:/nodir/f.bin (No such file or directory)');
    expect(tftp.calls).toHaveLength(1);
  });
});

describe('upload dialogs', () => {
  it('copy flash:f tftp: asks host and destination, with defaults; TFTP prints marks and the byte line', async () => {
    const { r, tftp, run } = await lab();
    const data = bytes(70_000);
    await put(r, 'bootflash:memleak.tcl', data);
    const out = await run('copy bootflash:memleak.tcl tftp:', '127.10.6.243', '');
    expect(out).toMatch(/^Address or name of remote host \[\]\? 127\.10\.6\.243\nDestination filename \[memleak\.tcl\]\? \n!+\n70000 bytes copied in \d+\.\d{3} secs \(\d+ bytes\/sec\)\n$/);
    expect(tftp.received.get('memleak.tcl')!.equals(data)).toBe(true);
  });

  it('copy flash: tftp: asks the source first; a URL gives the defaults', async () => {
    const { r, tftp, run } = await lab();
    await put(r, 'bootflash:a.bin', bytes(100));
    const out = await run('copy flash: tftp://127.10.9.9/backup/a.bin', 'a.bin', '', '');
    expect(out).toContain('Source filename []? a.bin\nAddress or name of remote host [127.10.9.9]? \nDestination filename [backup/a.bin]? \n');
    expect(tftp.received.get('backup/a.bin')?.length).toBe(100);
  });

  it('a missing source fails before anything is asked of the network', async () => {
    const { tftp, run } = await lab();
    expect(await run('copy flash:nothing.bin tftp:')).toBe('%Error opening bootflash:/nothing.bin (No such file or directory)\n');
    expect(tftp.calls).toHaveLength(0);
  });

  it('FTP upload on IOS XE: Writing <dest> !!! and the byte line', async () => {
    const { r, ftp, run } = await lab();
    await put(r, 'bootflash:cfg.txt', bytes(500));
    const out = await run('copy bootflash:cfg.txt ftp://u:p@127.10.1.1/r1.cfg', '', '');
    expect(out).toMatch(/Destination filename \[r1\.cfg\]\? \nWriting r1\.cfg !\n500 bytes copied in/);
    expect(ftp.received.get('r1.cfg')?.length).toBe(500);
  });

  it("classic IOS FTP upload: the seed's checksum and yes/no dialog, then its closing lines", async () => {
    const { r, ftp, run } = await lab({ platform: 'c3900' });
    const data = bytes(200_000);
    await put(r, 'slot0:1:your-ios', data);
    const out = await run('copy slot0:1:your-ios ftp://myuser:mypass@127.23.1.129/dirt/sysadmin/your-ios', 'yes');
    expect(out).toMatch(
      /^Verifying checksum for 'your-ios' \(file # 1\)\.\.\. OK\nCopy 'your-ios' from Flash to server\n as 'dirt\/sysadmin\/your-ios'\? \[yes\/no\] yes\n!+\nUpload to server done\nFlash device copy took 00:00:0\d \[hh:mm:ss\]\n$/,
    );
    expect(ftp.received.get('dirt/sysadmin/your-ios')!.equals(data)).toBe(true);
    expect(ftp.calls[0]).toMatchObject({ username: 'myuser', password: 'mypass' });
    const no = await run('copy slot0:1:your-ios ftp://myuser:mypass@127.23.1.129/other', 'no');
    expect(no).toContain("as 'other'? [yes/no] no\n");
    expect(ftp.calls).toHaveLength(1);
  });

  it('copy running-config tftp: uploads the configuration as <hostname>-confg', async () => {
    const { r, tftp, run } = await lab();
    const out = await run('copy running-config tftp:', '127.10.1.1', '');
    expect(out).toContain('Destination filename [r1-confg]? ');
    expect(tftp.received.get('r1-confg')!.toString()).toBe(r.runningConfig().join('\n') + '\n');
  });

  it('copy tftp: running-config applies the lines', async () => {
    const { r, tftp, run } = await lab();
    tftp.files.set('new-confg', Buffer.from('hostname EDGE\nip ftp username fred\nend\n'));
    const out = await run('copy tftp://127.10.1.1/new-confg running-config', '');
    expect(out).toContain('Destination filename [running-config]? ');
    expect(out).toContain('[OK - 39 bytes]');
    expect(r.system.hostname).toBe('EDGE');
    expect(copyConfig(r).ftpUsername).toBe('fred');
  });

  it('running-config to and from flash', async () => {
    const { r, run } = await lab();
    expect(await run('copy running-config flash:backup.cfg', '')).toMatch(/bytes copied in/);
    await run('configure terminal', 'hostname OTHER', 'end');
    await run('copy flash:backup.cfg running-config', '');
    expect(r.system.hostname).toBe('R1');
  });
});

describe('flash to flash', () => {
  it('is handed to the filesystem feature', async () => {
    const { r, run } = await lab();
    await put(r, 'bootflash:a.bin', bytes(1000));
    const out = await run('copy bootflash:a.bin usbflash0:', '');
    expect(out).toContain('Copy in progress...C');
    expect(r.fs.get('usbflash0')!.stat('a.bin')?.size).toBe(1000);
  });
});

describe('FTP credentials (S3.1)', () => {
  it('URL first, then ip ftp username/password, then anonymous with user@host.domain', async () => {
    const { ftp, run } = await lab();
    ftp.files.set('f', bytes(10));
    await run('copy ftp://alice:wonder@127.10.1.1/f flash:a', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'alice', password: 'wonder' });

    await run('copy ftp://127.10.1.1/f flash:b', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'anonymous', password: 'lab@R1' });

    await run('configure terminal', 'ip domain name example.com', 'end');
    await run('copy ftp://127.10.1.1/f flash:c', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'anonymous', password: 'lab@R1.example.com' });

    await run('configure terminal', 'ip ftp username bob', 'end');
    await run('copy ftp://127.10.1.1/f flash:d', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'bob', password: 'lab@R1.example.com' });

    await run('configure terminal', 'ip ftp password 7 0822455D0A16', 'end');
    await run('copy ftp://127.10.1.1/f flash:e', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'bob', password: 'cisco' });

    // A user in the URL without a password still takes the configured password.
    await run('copy ftp://carol@127.10.1.1/f flash:g', '');
    expect(ftp.calls.at(-1)).toMatchObject({ username: 'carol', password: 'cisco' });
  });

  it('the session user makes the generated password', async () => {
    const { r, ftp } = await lab();
    ftp.files.set('f', bytes(10));
    await r.exec(['copy ftp://127.10.1.1/f flash:a', ''], { user: 'netops' });
    expect(ftp.calls.at(-1)?.password).toBe('netops@R1');
  });

  it('credentials typed in the URL are never echoed', async () => {
    const { ftp, run } = await lab();
    ftp.files.set('f', bytes(10));
    const out = await run('copy ftp://alice:wonder@127.10.1.1/f flash:a', '');
    expect(out).toContain('Accessing ftp://*****:*****@127.10.1.1/f...');
    expect(out).not.toContain('wonder');
    ftp.failOpen = new TransferError('login', 'open');
    const bad = await run('copy ftp://alice:wonder@127.10.1.1/f flash:b', '');
    expect(bad).toContain('%Error opening ftp://*****:*****@127.10.1.1/f (Incorrect Login/Password)');
    expect(bad).not.toContain('wonder');
  });

  it('ip ftp / ip tftp settings reach the clients and show in running-config', async () => {
    const { r, ftp, tftp, run } = await lab();
    ftp.files.set('f', bytes(10));
    tftp.files.set('f', bytes(10));
    await run('configure terminal', 'ip ftp username bob', 'ip ftp password cisco', 'no ip ftp passive', 'ip tftp blocksize 8192', 'end');
    const cfg = r.runningConfig().join('\n');
    expect(cfg).toContain('ip ftp username bob\nip ftp password cisco\nno ip ftp passive\n');
    expect(cfg).toContain('ip tftp blocksize 8192\n');
    await run('copy ftp://127.10.1.1/f flash:a', '');
    expect(ftp.calls.at(-1)).toMatchObject({ passive: false, username: 'bob', password: 'cisco' });
    await run('copy tftp://127.10.1.1/f flash:b', '');
    expect(tftp.calls.at(-1)?.blksize).toBe(8192);
    await run('configure terminal', 'no ip ftp username', 'no ip ftp password', 'ip ftp passive', 'no ip tftp blocksize', 'end');
    expect(r.runningConfig().join('\n')).not.toMatch(/ip ftp|ip tftp/);
    expect(await run('configure terminal', 'ip ftp password 7 nothex', 'end')).toContain('% Invalid encrypted password');
  });
});

describe('name resolution', () => {
  it('uses ip host without a Translating line', async () => {
    const { tftp, run } = await lab();
    tftp.files.set('f', bytes(10));
    await run('configure terminal', 'ip host tftpsrv 127.10.7.7', 'end');
    const out = await run('copy tftp://tftpsrv/f flash:', '');
    expect(out).not.toContain('Translating');
    expect(out).toContain('Accessing tftp://tftpsrv/f...\nLoading f from 127.10.7.7');
    expect(tftp.calls[0]!.host).toBe('127.10.7.7');
  });

  it('an unknown name fails with (Unknown host), with and without lookup', async () => {
    const { r, tftp, run } = await lab();
    const before = snapshot(r);
    const out = await run('copy tftp://nosuch/f flash:', '');
    expect(out).toContain('Accessing tftp://nosuch/f...\nTranslating "nosuch"...domain server (255.255.255.255)\n%Error opening tftp://nosuch/f (Unknown host)\n');
    await run('configure terminal', 'no ip domain lookup', 'end');
    const off = await run('copy tftp://nosuch/f flash:', '');
    expect(off).not.toContain('Translating');
    expect(off).toContain('%Error opening tftp://nosuch/f (Unknown host)');
    expect(tftp.calls).toHaveLength(0);
    expect(snapshot(r)).toEqual(before);
  });

  it('silent name servers: each one is named, then (Unknown host)', async () => {
    // A UDP socket that never answers stands in for both servers; servicePort leads there.
    const silent = createSocket('udp4');
    await new Promise<void>((ok) => silent.bind(0, '127.0.0.1', ok));
    try {
      const port = silent.address().port;
      const { r, tftp, run } = await lab({ servicePort: (_a, s) => (s === 'dns' ? port : 1) });
      tuneCopy(r, { dnsTimeoutMs: 200 });
      // 127.0.0.2 has nothing bound at that port: refused at once, and named all the same.
      await run('configure terminal', 'ip name-server 127.0.0.1 127.0.0.2', 'end');
      const out = await run('copy tftp://far.example/f flash:', '');
      expect(out).toContain('Translating "far.example"...domain server (127.0.0.1) (127.0.0.2)\n%Error opening tftp://far.example/f (Unknown host)\n');
      expect(tftp.calls).toHaveLength(0);
    } finally {
      silent.close();
    }
  });
});

describe('failures: IOS text and nothing left behind', () => {
  const cases: { name: string; code: TransferError['code']; phase: TransferError['phase']; scheme: 'tftp' | 'ftp'; text: string }[] = [
    { name: 'server silent', code: 'timeout', phase: 'open', scheme: 'tftp', text: '%Error opening tftp://127.10.1.1/f.bin (Timed out)' },
    { name: 'file missing', code: 'not-found', phase: 'open', scheme: 'tftp', text: '%Error opening tftp://127.10.1.1/f.bin (No such file or directory)' },
    { name: 'wrong login', code: 'login', phase: 'open', scheme: 'ftp', text: '%Error opening ftp://127.10.1.1/f.bin (Incorrect Login/Password)' },
    { name: 'permission', code: 'permission', phase: 'open', scheme: 'ftp', text: '%Error opening ftp://127.10.1.1/f.bin (Permission denied)' },
    { name: 'refused (ftp)', code: 'refused', phase: 'open', scheme: 'ftp', text: '%Error opening ftp://127.10.1.1/f.bin (Connection refused)' },
    { name: 'refused (tftp)', code: 'refused', phase: 'open', scheme: 'tftp', text: '%Error opening tftp://127.10.1.1/f.bin (Timed out)' },
    { name: 'protocol', code: 'protocol', phase: 'open', scheme: 'tftp', text: '%Error opening tftp://127.10.1.1/f.bin (Protocol error)' },
  ];
  for (const c of cases) {
    it(`download, ${c.name}: ${c.text}`, async () => {
      const l = await lab();
      const before = snapshot(l.r);
      l[c.scheme].failOpen = new TransferError(c.code, c.phase);
      const out = await l.run(`copy ${c.scheme}://127.10.1.1/f.bin flash:`, '');
      expect(out).toBe(`Destination filename [f.bin]? \nAccessing ${c.scheme}://127.10.1.1/f.bin...\n${c.text}\n`);
      expect(snapshot(l.r)).toEqual(before);
    });
  }

  it('a transfer that stalls midway: the ! run ends, %Error reading (Timed out), no partial file', async () => {
    const { r, tftp, run } = await lab();
    tuneCopy(r, { bytesPerMark: CHUNK });
    tftp.files.set('f.bin', bytes(10 * CHUNK));
    tftp.failAfter = { bytes: 4 * CHUNK, error: new TransferError('timeout', 'read') };
    const before = snapshot(r);
    const out = await run('copy tftp://127.10.1.1/f.bin flash:', '');
    expect(out).toContain('(via GigabitEthernet0/0/0): !!!! [timed out]\n%Error reading tftp://127.10.1.1/f.bin (Timed out)\n');
    expect(snapshot(r)).toEqual(before);
  });

  it('a connection reset midway: %Error reading (Connection reset by peer)', async () => {
    const { r, ftp, run } = await lab();
    ftp.files.set('f.bin', bytes(5 * CHUNK));
    ftp.failAfter = { bytes: 2 * CHUNK, error: new TransferError('reset', 'read') };
    const before = snapshot(r);
    expect(await run('copy ftp://127.10.1.1/f.bin flash:', '')).toContain('%Error reading ftp://127.10.1.1/f.bin (Connection reset by peer)\n');
    expect(snapshot(r)).toEqual(before);
  });

  it('a failed overwrite keeps the old file', async () => {
    const { r, tftp, run } = await lab();
    await put(r, 'bootflash:f.bin', bytes(100, 5));
    tftp.files.set('f.bin', bytes(5 * CHUNK));
    tftp.failAfter = { bytes: 2 * CHUNK, error: new TransferError('timeout', 'read') };
    const before = snapshot(r);
    expect(await run('copy tftp://127.10.1.1/f.bin flash:', '', '')).toContain('%Error reading');
    expect(snapshot(r)).toEqual(before);
    expect((await readFlash(r, 'bootflash:f.bin')).equals(bytes(100, 5))).toBe(true);
  });

  it('uploads: read-only, full server, wrong login, missing on TFTP', async () => {
    const { r, ftp, tftp, run } = await lab();
    await put(r, 'bootflash:a.bin', bytes(3 * CHUNK));
    ftp.failOpen = new TransferError('permission', 'open');
    expect(await run('copy bootflash:a.bin ftp://127.10.1.1/a.bin', '', '')).toContain('\n%Error opening ftp://127.10.1.1/a.bin (Permission denied)\n');
    ftp.failOpen = new TransferError('no-space', 'open');
    expect(await run('copy bootflash:a.bin ftp://127.10.1.1/a.bin', '', '')).toContain('\n%Error writing ftp://127.10.1.1/a.bin (No space left on device)\n');
    ftp.failOpen = new TransferError('login', 'open');
    expect(await run('copy bootflash:a.bin ftp://127.10.1.1/a.bin', '', '')).toContain('\n%Error opening ftp://127.10.1.1/a.bin (Incorrect Login/Password)\n');
    ftp.failOpen = undefined;
    ftp.failAfter = { bytes: CHUNK, error: new TransferError('no-space', 'write') };
    expect(await run('copy bootflash:a.bin ftp://127.10.1.1/a.bin', '', '')).toMatch(/Writing a\.bin !*\n%Error writing ftp:\/\/127\.10\.1\.1\/a\.bin \(No space left on device\)\n$/);
    tftp.failOpen = new TransferError('not-found', 'open');
    expect(await run('copy bootflash:a.bin tftp://127.10.1.1/a.bin', '', '')).toContain('%Error opening tftp://127.10.1.1/a.bin (No such file or directory)');
  });
});

describe('space', () => {
  it('a size known in advance that does not fit is refused before any data moves (IOS XE wording)', async () => {
    const { r, ftp, run } = await lab({ fsSizes: { bootflash: 2_000_000 } });
    ftp.files.set('big.bin', bytes(3_000_000));
    const before = snapshot(r);
    const out = await run('copy ftp://127.10.1.1/big.bin flash:', '');
    expect(out).toBe('Destination filename [big.bin]? \nAccessing ftp://127.10.1.1/big.bin...\n%Error copying ftp://127.10.1.1/big.bin (No space left on device)\n');
    expect(ftp.served).toBe(0);
    expect(snapshot(r)).toEqual(before);
  });

  it('classic wording, and an unknown size caught during the write', async () => {
    const { r, tftp, run } = await lab({ platform: 'c3900', fsSizes: { flash0: 2_000_000 } });
    tftp.files.set('big.bin', bytes(3_000_000));
    tftp.announceSize = false;
    const before = snapshot(r);
    const out = await run('copy tftp://127.10.1.1/big.bin flash0:', '');
    expect(out).toMatch(/\(via GigabitEthernet0\/0\): !+\n%Error copying tftp:\/\/127\.10\.1\.1\/big\.bin \(Not enough space on device\)\n$/);
    expect(tftp.served).toBeGreaterThan(0);
    expect(snapshot(r)).toEqual(before);
  });
});

describe('abort', () => {
  it('Ctrl-C mid-transfer stops it, says so, and leaves nothing', async () => {
    const { r, tftp } = await lab();
    tftp.files.set('f.bin', bytes(10 * CHUNK));
    tftp.hang = true;
    const before = snapshot(r);
    let out = '';
    const s = r.openSession({ user: 'lab', lineName: 'vty0', privilege: 15, interactive: false, noPrompt: true, out: (t) => (out += t) });
    s.submit('copy tftp://127.10.1.1/f.bin flash:');
    s.submit('');
    await tftp.firstChunk;
    s.interrupt();
    await s.idle();
    s.close();
    expect(out).toMatch(/: \n?%Error reading tftp:\/\/127\.10\.1\.1\/f\.bin \(Aborted\)\n$/);
    expect(tftp.calls[0]!.signal!.aborted).toBe(true);
    expect(snapshot(r)).toEqual(before);
  });

  it('Ctrl-C during an upload', async () => {
    const { r, tftp } = await lab();
    await put(r, 'bootflash:a.bin', bytes(5 * CHUNK));
    tftp.hang = true;
    let out = '';
    const s = r.openSession({ user: 'lab', lineName: 'vty0', privilege: 15, interactive: false, noPrompt: true, out: (t) => (out += t) });
    for (const l of ['copy bootflash:a.bin tftp://127.10.1.1/a.bin', '', '']) s.submit(l);
    await tftp.firstChunk;
    s.interrupt();
    await s.idle();
    s.close();
    expect(out).toContain('%Error writing tftp://127.10.1.1/a.bin (Aborted)\n');
    expect(tftp.received.size).toBe(0);
  });
});

describe('odd commands', () => {
  it('network to network, unsupported schemes and unknown devices are refused plainly', async () => {
    const { run } = await lab();
    expect(await run('copy tftp://1.1.1.1/a ftp://2.2.2.2/b')).toBe('%Error: copy between two network servers is not supported\n');
    expect(await run('copy scp://h/f flash:')).toBe('%Error opening scp://h/f (Protocol not supported)\n');
    expect(await run('copy tftp://1.1.1.1/a nodev:x')).toContain('(No device available)');
  });

  it('copy running-config startup-config stays with the system feature', async () => {
    const { run } = await lab();
    expect(await run('copy running-config startup-config', '')).toContain('[OK]');
  });
});

describe('progress marks', () => {
  it('timeouts and out-of-order blocks take a column among the ! marks, wrapping with them', async () => {
    const { Progress } = await import('./output.ts');
    let out = '';
    const p = new Progress((t) => (out += t), 10, 4);
    p.update(20);
    p.event('timeout');
    p.event('out-of-order');
    p.update(40);
    p.timedOut();
    p.endLine();
    expect(out).toBe('!!.O\n!! [timed out]\n');
  });
});

describe('the seal', () => {
  it('a copy to an address outside the lab never reaches a client and times out on the lab clock', async () => {
    const { t, tftp, ftp, run } = await lab();
    await put(t.router, 'bootflash:x', bytes(1000));
    const before = snapshot(t.router);
    const pending = run('copy tftp://192.0.2.9/image.bin bootflash:', '');
    await new Promise((r) => setTimeout(r, 20));
    t.clock.advance(60_000);
    const out = await pending;
    expect(out).toContain('%Error opening tftp://192.0.2.9/image.bin (Timed out)');
    const up = run('configure terminal', 'ip tcp synwait-time 5', 'end', 'copy bootflash:x ftp://u:p@192.0.2.9/x', '', '');
    await new Promise((r) => setTimeout(r, 20));
    t.clock.advance(5_000);
    expect(await up).toContain('%Error opening ftp://*****:*****@192.0.2.9/x (Timed out)');
    expect(tftp.calls).toEqual([]);
    expect(ftp.calls).toEqual([]);
    expect(snapshot(t.router)).toEqual(before);
  });
});
