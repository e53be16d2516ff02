/**
 * `copy` end to end: a router with the real TFTP and FTP clients, the lab's real TFTP, FTP
 * and DNS servers, real sockets on a random 127.x.y.z address. Each failure is produced by
 * the server's own fault switches and must show IOS's text and leave flash as it was.
 */
import { createHash, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tuneCopy } from '../../router/features/copy/index.ts';
import { makeImage } from '../../router/image/format.ts';
import type { Router } from '../../router/Router.ts';
import { FtpTransferClient } from '../../router/transfer/FtpTransferClient.ts';
import type { TransferClient } from '../../router/transfer/types.ts';
import { DnsServer } from '../../servers/dns/DnsServer.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const ADDR = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
const DOMAIN = 'lab.example';

let root: string;
let tftpRoot: string;
let ftpRoot: string;
let tftp: TftpServer;
let ftp: FtpServer;
let dns: DnsServer;
/** The image every upgrade test fetches: 300 KB, a real image header for the ISR4300. */
let image: Buffer;
const IMAGE = 'isr4300-universalk9.16.12.04.SPA.bin';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'flashlab-e2e-copy-'));
  tftpRoot = join(root, 'tftp');
  ftpRoot = join(root, 'ftp');
  mkdirSync(join(tftpRoot, 'images'), { recursive: true });
  mkdirSync(join(ftpRoot, 'admin'), { recursive: true });
  mkdirSync(join(ftpRoot, 'pub'), { recursive: true });
  for (const p of [join(tftpRoot, 'images', IMAGE), join(ftpRoot, 'admin', IMAGE), join(ftpRoot, 'pub', IMAGE)]) {
    await makeImage(p, { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: 300_000 });
  }
  image = readFileSync(join(tftpRoot, 'images', IMAGE));
  // 3 MB: more than the 2 MB flash of the space tests.
  await makeImage(join(tftpRoot, 'big.bin'), { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: 3_000_000 });
  await makeImage(join(ftpRoot, 'admin', 'big.bin'), { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: 3_000_000 });

  tftp = new TftpServer({ address: ADDR, port: 0, root: tftpRoot, allowRead: true, allowWrite: true, allowCreate: true, timeoutSec: 1, retries: 2 });
  const pasv = randomInt(20000, 60000);
  ftp = new FtpServer({
    address: ADDR,
    port: 0,
    root: ftpRoot,
    pasvRange: [pasv, pasv + 30],
    accounts: [{ user: 'admin', password: 'cisco', home: 'admin', write: true }],
    anonymous: { home: 'pub' },
  });
  dns = new DnsServer({ address: ADDR, port: 0, records: { [`tftpsrv.${DOMAIN}`]: ADDR, [`ftp.${DOMAIN}`]: ADDR } });
  await Promise.all([tftp.start(), ftp.start(), dns.start()]);
});

afterAll(async () => {
  await Promise.all([tftp?.stop(), ftp?.stop(), dns?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

const routers: TestRouter[] = [];
afterEach(() => {
  tftp.setFaults({});
  ftp.setFaults({});
  dns.setFaults({});
  for (const t of routers.splice(0)) rmSync(t.dir, { recursive: true, force: true });
});

/**
 * A router whose well-known ports lead to the servers above, with short timeouts (the
 * copy feature's tuning: a silent server fails in about a second, not IOS's half-minute).
 */
async function router(opts: { fsSizes?: Record<string, number>; platform?: string; tftpClient?: TransferClient } = {}): Promise<TestRouter> {
  const t = await makeTestRouter({
    ...opts,
    env: {
      servicePort: (address, service) => {
        expect(address).toBe(ADDR); // the router dials what DNS / the URL named
        if (service === 'tftp') return tftp.port;
        if (service === 'ftp') return ftp.port;
        if (service === 'dns') return dns.port;
        throw new Error(`no ${service} server in this test`);
      },
      transfer: { tftp: opts.tftpClient ?? new TftpTransferClient(), ftp: new FtpTransferClient() },
    },
  });
  routers.push(t);
  tuneCopy(t.router, { timeoutSec: 1, dnsTimeoutMs: 300 });
  await t.run('configure terminal', `ip name-server ${ADDR}`, `ip domain name ${DOMAIN}`, 'end');
  return t;
}

function snapshot(r: Router) {
  return r.fs.all().map((fs) => ({ fs: fs.displayName, free: fs.freeBytes, files: fs.walk({ deleted: true }).map((e) => `${e.path}:${e.size}`) }));
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function verifyMd5(t: TestRouter, url: string): Promise<string | undefined> {
  return /= ([0-9a-f]{32})/.exec(await t.run(`verify /md5 ${url}`))?.[1];
}

describe('upgrades through names from the lab DNS', () => {
  it('TFTP: copy tftp://<name>/... bootflash:, verify /md5 matches the source', async () => {
    const t = await router();
    const out = await t.run(`copy tftp://tftpsrv/images/${IMAGE} bootflash:`, '');
    expect(out).toContain(`Accessing tftp://tftpsrv/images/${IMAGE}...\nTranslating "tftpsrv"...domain server (${ADDR}) [OK]\n`);
    expect(out).toMatch(new RegExp(`Loading images/${IMAGE.replace(/\./g, '\\.')} from ${ADDR.replace(/\./g, '\\.')} \\(via GigabitEthernet0/0/0\\): !+\\n\\[OK - 300000 bytes\\]\\n\\n300000 bytes copied in \\d+\\.\\d{3} secs \\(\\d+ bytes/sec\\)\\n$`));
    expect(await verifyMd5(t, `bootflash:${IMAGE}`)).toBe(md5(image));
    expect(tftp.log.at(-1)).toMatchObject({ request: 'RRQ', outcome: 'ok', bytes: 300_000 });
  });

  it('TFTP with ip tftp blocksize 8192', async () => {
    const t = await router();
    await t.run('configure terminal', 'ip tftp blocksize 8192', 'end');
    expect(await t.run(`copy tftp://tftpsrv/images/${IMAGE} bootflash:`, '')).toContain('[OK - 300000 bytes]');
    expect(tftp.log.at(-1)?.options.blksize).toBe('8192');
    expect(await verifyMd5(t, `bootflash:${IMAGE}`)).toBe(md5(image));
  });

  it('FTP: copy ftp://user:pass@<fqdn>/... flash:, verify /md5 matches', async () => {
    const t = await router();
    const out = await t.run(`copy ftp://admin:cisco@ftp.${DOMAIN}/${IMAGE} flash:`, '');
    expect(out).toContain(`Accessing ftp://*****:*****@ftp.${DOMAIN}/${IMAGE}...\nTranslating "ftp.${DOMAIN}"...domain server (${ADDR}) [OK]\n`);
    expect(out).toContain('[OK - 300000 bytes]');
    expect(out).not.toContain('cisco');
    expect(await verifyMd5(t, `bootflash:${IMAGE}`)).toBe(md5(image));
  });

  it('FTP anonymous: the server log shows the generated user@host.domain password', async () => {
    const t = await router();
    const out = await t.run(`copy ftp://ftp/${IMAGE} flash:`, '');
    expect(out).toContain('[OK - 300000 bytes]');
    expect(ftp.log.filter((e) => e.kind === 'login').at(-1)).toMatchObject({ user: 'anonymous', password: `lab@R1.${DOMAIN}`, outcome: 'ok' });
    expect(await verifyMd5(t, `bootflash:${IMAGE}`)).toBe(md5(image));
  });

  it('a classic router fetches into a flash partition (slot0:1:)', async () => {
    const t = await router({ platform: 'c3900' });
    const out = await t.run(`copy tftp://tftpsrv/images/${IMAGE} slot0:1:your-ios`, '');
    expect(out).toContain('(via GigabitEthernet0/0): !');
    expect(await verifyMd5(t, 'slot0:1:your-ios')).toBe(md5(image));
  });
});

describe('uploads land on the server intact', () => {
  it('copy bootflash:f tftp:', async () => {
    const t = await router();
    await t.run(`copy tftp://${ADDR}/images/${IMAGE} bootflash:up-tftp.bin`, '');
    const out = await t.run('copy bootflash:up-tftp.bin tftp:', ADDR, '');
    expect(out).toMatch(/Destination filename \[up-tftp\.bin\]\? \n!+\n300000 bytes copied in/);
    expect(md5(readFileSync(join(tftpRoot, 'up-tftp.bin')))).toBe(md5(image));
  });

  it('copy flash:f ftp: with ip ftp username/password', async () => {
    const t = await router();
    await t.run(`copy tftp://${ADDR}/images/${IMAGE} bootflash:up-ftp.bin`, '');
    await t.run('configure terminal', 'ip ftp username admin', 'ip ftp password cisco', 'end');
    const out = await t.run(`copy flash:up-ftp.bin ftp://ftp.${DOMAIN}/up-ftp.bin`, '', '');
    expect(out).toMatch(/Writing up-ftp\.bin !+\n300000 bytes copied in/);
    expect(md5(readFileSync(join(ftpRoot, 'admin', 'up-ftp.bin')))).toBe(md5(image));
  });

  it("classic FTP upload with the seed's dialog", async () => {
    const t = await router({ platform: 'c3900' });
    await t.run(`copy tftp://${ADDR}/images/${IMAGE} slot0:1:your-ios`, '');
    const out = await t.run(`copy slot0:1:your-ios ftp://admin:cisco@${ADDR}/your-ios`, 'yes');
    expect(out).toMatch(/^Verifying checksum for 'your-ios' \(file # 1\)\.\.\. OK\nCopy 'your-ios' from Flash to server\n as 'your-ios'\? \[yes\/no\] yes\n!+\nUpload to server done\nFlash device copy took 00:00:\d\d \[hh:mm:ss\]\n$/);
    expect(md5(readFileSync(join(ftpRoot, 'admin', 'your-ios')))).toBe(md5(image));
  });
});

describe('failures from real server faults: IOS text, flash as it was', () => {
  async function failing(cmd: string[], expected: string | RegExp, prepare?: (t: TestRouter) => Promise<void>) {
    const t = await router();
    if (prepare) await prepare(t);
    const before = snapshot(t.router);
    const out = await t.run(...cmd);
    if (typeof expected === 'string') expect(out).toContain(expected);
    else expect(out).toMatch(expected);
    expect(snapshot(t.router)).toEqual(before);
    return out;
  }

  it('TFTP server silent (refuseAll): %Error opening (Timed out)', async () => {
    tftp.setFaults({ refuseAll: true });
    const out = await failing([`copy tftp://${ADDR}/images/${IMAGE} flash:`, ''], `Accessing tftp://${ADDR}/images/${IMAGE}...\n%Error opening tftp://${ADDR}/images/${IMAGE} (Timed out)\n`);
    expect(out).not.toContain('Loading');
  });

  it('TFTP stalls midway: the marks end in timeouts and [timed out], then %Error reading (Timed out)', async () => {
    tftp.setFaults({ stallAfterBytes: 100_000 });
    await failing([`copy tftp://${ADDR}/images/${IMAGE} flash:`, ''], new RegExp(`\\(via GigabitEthernet0/0/0\\): !*\\.+ \\[timed out\\]\\n%Error reading tftp://${ADDR.replace(/\./g, '\\.')}/images/${IMAGE.replace(/\./g, '\\.')} \\(Timed out\\)\\n$`));
  });

  it('TFTP file missing: (No such file or directory)', async () => {
    await failing([`copy tftp://${ADDR}/images/nothing.bin flash:`, ''], `%Error opening tftp://${ADDR}/images/nothing.bin (No such file or directory)`);
  });

  it('FTP wrong password: (Incorrect Login/Password)', async () => {
    ftp.setFaults({ wrongPassword: true });
    await failing([`copy ftp://admin:cisco@${ADDR}/${IMAGE} flash:`, ''], `%Error opening ftp://*****:*****@${ADDR}/${IMAGE} (Incorrect Login/Password)`);
  });

  it('FTP file missing: (No such file or directory)', async () => {
    await failing([`copy ftp://admin:cisco@${ADDR}/nothing.bin flash:`, ''], `%Error opening ftp://*****:*****@${ADDR}/nothing.bin (No such file or directory)`);
  });

  it('FTP read-only account refuses the upload: (Permission denied)', async () => {
    ftp.setFaults({ readOnly: true });
    await failing(['copy bootflash:isr4300-universalk9.16.10.01.SPA.bin ftp://admin:cisco@' + ADDR + '/ro.bin', '', ''], `%Error opening ftp://*****:*****@${ADDR}/ro.bin (Permission denied)`);
  });

  it('FTP upload into a folder the server lacks: (No such file or directory)', async () => {
    await failing(
      ['copy bootflash:isr4300-universalk9.16.10.01.SPA.bin ftp://admin:cisco@' + ADDR + '/no-such-folder/up.bin', '', ''],
      `%Error opening ftp://*****:*****@${ADDR}/no-such-folder/up.bin (No such file or directory)`,
    );
  });

  it('FTP server full (552): %Error writing (No space left on device)', async () => {
    ftp.setFaults({ quotaFull: true });
    await failing(['copy bootflash:isr4300-universalk9.16.10.01.SPA.bin ftp://admin:cisco@' + ADDR + '/full.bin', '', ''], `%Error writing ftp://*****:*****@${ADDR}/full.bin (No space left on device)`);
  });

  it('FTP connection dropped midway: %Error reading (Connection reset by peer)', async () => {
    ftp.setFaults({ disconnectAfterBytes: 100_000 });
    await failing([`copy ftp://admin:cisco@${ADDR}/${IMAGE} flash:`, ''], `%Error reading ftp://*****:*****@${ADDR}/${IMAGE} (Connection reset by peer)\n`);
  });

  it('DNS answers NXDOMAIN: (Unknown host)', async () => {
    dns.setFaults({ nxdomain: [`tftpsrv.${DOMAIN}`] });
    await failing([`copy tftp://tftpsrv/images/${IMAGE} flash:`, ''], `Translating "tftpsrv"...domain server (${ADDR})\n%Error opening tftp://tftpsrv/images/${IMAGE} (Unknown host)\n`);
  });

  it('DNS down: (Unknown host) after the name server stays silent', async () => {
    dns.setFaults({ down: true });
    await failing([`copy tftp://tftpsrv/images/${IMAGE} flash:`, ''], `Translating "tftpsrv"...domain server (${ADDR})\n%Error opening tftp://tftpsrv/images/${IMAGE} (Unknown host)\n`);
  });

  it('TFTP loss the transfer survives: a . for each timeout among the marks, then [OK]', async () => {
    tftp.setFaults({ dropEveryN: 40 });
    const t = await router();
    tuneCopy(t.router, { timeoutSec: 1, bytesPerMark: 16_384 });
    const out = await t.run(`copy tftp://${ADDR}/images/${IMAGE} flash:`, '');
    const marks = /\(via GigabitEthernet0\/0\/0\): ([!.\n]+)\[OK - (\d+) bytes\]/.exec(out);
    expect(marks, out).not.toBeNull();
    expect(marks![1]).toContain('.');
    expect(marks![1]).toContain('!');
    expect(Number(marks![2])).toBe(image.length);
  });

  it('Ctrl-C in the middle of a TFTP download: (Aborted), nothing kept', async () => {
    tftp.setFaults({ delayMs: 5 });
    const t = await router();
    tuneCopy(t.router, { bytesPerMark: 4096 });
    const before = snapshot(t.router);
    let out = '';
    const s = t.router.openSession({ user: 'lab', lineName: 'vty0', privilege: 15, interactive: false, noPrompt: true, out: (x) => (out += x) });
    s.submit(`copy tftp://${ADDR}/images/${IMAGE} flash:`);
    s.submit('');
    await waitFor(() => out.includes('!'), 10_000);
    s.interrupt();
    await s.idle();
    s.close();
    expect(out).toMatch(new RegExp(`!\\n%Error reading tftp://${ADDR.replace(/\./g, '\\.')}/images/\\S+ \\(Aborted\\)\\n$`));
    expect(snapshot(t.router)).toEqual(before);
  });
});

describe('a 2 MB flash and a 3 MB image', () => {
  it('FTP SIZE: refused before the transfer', async () => {
    const t = await router({ fsSizes: { bootflash: 2_000_000 } });
    const before = snapshot(t.router);
    const out = await t.run(`copy ftp://admin:cisco@${ADDR}/big.bin flash:`, '');
    expect(out).toBe(`Destination filename [big.bin]? \nAccessing ftp://*****:*****@${ADDR}/big.bin...\n%Error copying ftp://*****:*****@${ADDR}/big.bin (No space left on device)\n`);
    expect(snapshot(t.router)).toEqual(before);
    // SIZE answered, RETR never sent: the server logged no download of the file at all.
    await new Promise((r) => setTimeout(r, 200));
    expect(ftp.log.some((e) => e.kind === 'download' && e.file?.endsWith('big.bin'))).toBe(false);
  });

  it('TFTP tsize: refused before the transfer (classic wording)', async () => {
    const t = await router({ platform: 'c3900', fsSizes: { flash0: 2_000_000 } });
    const before = snapshot(t.router);
    const out = await t.run(`copy tftp://${ADDR}/big.bin flash0:`, '');
    expect(out).toBe(`Destination filename [big.bin]? \nAccessing tftp://${ADDR}/big.bin...\n%Error copying tftp://${ADDR}/big.bin (Not enough space on device)\n`);
    expect(snapshot(t.router)).toEqual(before);
    // tsize came in the OACK: the router answered with an error before the first DATA block.
    await waitFor(() => tftp.log.some((e) => e.file === 'big.bin' && e.outcome !== 'ok'));
    expect(tftp.log.filter((e) => e.file === 'big.bin').at(-1)?.bytes).toBe(0);
  });

  it('TFTP with the size unknown: refused during the write', async () => {
    // The router's TFTP client always offers tsize and the lab server always answers it, so
    // this wrapper hides the announced size: the bytes still come over the real socket.
    const real = new TftpTransferClient();
    const noTsize: TransferClient = {
      scheme: 'tftp',
      download: async (ep) => ({ body: (await real.download(ep)).body }),
      upload: (ep, body, size) => real.upload(ep, body, size),
    };
    const t = await router({ fsSizes: { bootflash: 2_000_000 }, tftpClient: noTsize });
    const before = snapshot(t.router);
    const out = await t.run(`copy tftp://${ADDR}/big.bin flash:`, '');
    expect(out).toMatch(new RegExp(`\\(via GigabitEthernet0/0/0\\): !+\\n%Error copying tftp://${ADDR.replace(/\./g, '\\.')}/big\\.bin \\(No space left on device\\)\\n$`));
    expect(snapshot(t.router)).toEqual(before);
  });
});
