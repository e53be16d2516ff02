import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTestRouter, type TestRouter } from '../../../test/helpers/router.ts';
import { makeSignedImage } from '../../../test/helpers/signing.ts';
import { TransferError, type ExchangeRequest, type TransferClient, type TransferEndpoint } from '../../transfer/types.ts';

/**
 * The AUM's logic against in-memory servers (a unit test isolates the module; the real
 * FTP/TFTP/HTTPS/SMTP path is covered by the scenarios in scenarios/aum-*.yml).
 */
class FakeServers {
  readonly files = new Map<string, Buffer>();
  readonly requests: { path: string; form: URLSearchParams }[] = [];
  /** The locator's answer to each form. */
  locate: (form: URLSearchParams) => { status: number; text: string } = () => ({ status: 404, text: 'status=error\ncode=unknown-image\n' });

  client(scheme: 'tftp' | 'ftp' | 'https'): TransferClient {
    return {
      scheme,
      download: async (ep: TransferEndpoint) => {
        const data = this.files.get(ep.path);
        if (!data) throw new TransferError('not-found', 'open');
        return {
          size: data.length,
          body: (async function* () {
            for (let i = 0; i < data.length; i += 32 * 1024) yield data.subarray(i, i + 32 * 1024);
          })(),
        };
      },
      upload: () => Promise.reject(new TransferError('permission', 'open')),
      request: async (ep: TransferEndpoint, req: ExchangeRequest) => {
        const form = new URLSearchParams(String(req.body ?? ''));
        this.requests.push({ path: ep.path, form });
        const a = this.locate(form);
        return { status: a.status, body: (async function* () { yield Buffer.from(a.text); })() };
      },
    };
  }

  async image(t: TestRouter, name: string, o: { version?: string; tamper?: boolean; size?: number; dramMb?: number; lacks?: string[]; platform?: string } = {}): Promise<Buffer> {
    const file = join(t.dir, `${name.replace(/\//g, '_')}.src`);
    await makeSignedImage(file, {
      platform: o.platform ?? t.router.platform.imagePlatform,
      version: o.version ?? '16.12.4',
      featureSet: 'universalk9',
      kind: 'system',
      size: o.size ?? 128 * 1024,
      tamper: o.tamper,
      seed: name,
      ...(o.dramMb ? { dramMb: o.dramMb } : {}),
      ...(o.lacks ? { unsupportedCommands: o.lacks } : {}),
    } as Parameters<typeof makeSignedImage>[1]);
    const data = readFileSync(file);
    this.files.set(name, data);
    return data;
  }
}

async function lab(opts: { flash?: number } = {}) {
  const servers = new FakeServers();
  const t = await makeTestRouter({
    env: { transfer: { tftp: servers.client('tftp'), ftp: servers.client('ftp'), https: servers.client('https') } },
    ...(opts.flash ? { fsSizes: { bootflash: opts.flash } } : {}),
  });
  return { t, servers };
}

async function reloaded(t: TestRouter) {
  // The lab clock is frozen in tests: the boot time passes when the test moves it.
  t.clock.advance(1);
  await t.router.waitFor(['running', 'rommon'], 10_000);
  expect(t.router.state).toBe('running');
}

describe('autoupgrade configuration (S4.13, S4.14)', () => {
  it('saves its lines, replays them after a reload, and the defaults stay silent', async () => {
    const { t } = await lab();
    expect(await t.run('show running-config')).not.toContain('autoupgrade');
    await t.run(
      'configure terminal',
      'no autoupgrade disk-cleanup image',
      'autoupgrade disk-cleanup irrecoverable',
      'autoupgrade ida url https://ida.lab.local/cgi-bin/new-ida/locator/locator.pl',
      'autoupgrade status email recipient ops@lab.local',
      'autoupgrade status email smtp-server smtp',
      'end',
      'write memory',
    );
    const want = [
      'no autoupgrade disk-cleanup image',
      'autoupgrade disk-cleanup irrecoverable',
      'autoupgrade ida url https://ida.lab.local/cgi-bin/new-ida/locator/locator.pl',
      'autoupgrade status email recipient ops@lab.local',
      'autoupgrade status email smtp-server smtp',
    ].join('\n');
    expect(await t.run('show running-config')).toContain(want);
    t.router.reload();
    await reloaded(t);
    expect(await t.run('show running-config')).toContain(want);
    expect(await t.run('configure terminal', 'autoupgrade status email recipient nobody', 'end')).toContain('% Invalid email address nobody');
  });

  it('show autoupgrade configuration unknown and debug autoupgrade', async () => {
    const { t } = await lab();
    expect(await t.run('show autoupgrade configuration unknown')).toBe('! Config Lines not understood by the current image:\nTotal 0 Invalid Config Lines\n');
    expect(await t.run('debug autoupgrade')).toContain('Auto upgrade events debugging is on');
    expect(await t.run('show debugging')).toContain('Auto Upgrade Manager:');
  });
});

describe('upgrade automatic getversion (S4.4, S4.9, S4.10, S4.11)', () => {
  it('downloads, verifies, sets boot system, saves; runversion in schedules the warm upgrade on the lab clock', async () => {
    const { t, servers } = await lab();
    await servers.image(t, 'isr4300-universalk9.16.12.04.SPA.bin');
    const out = await t.run('upgrade automatic getversion tftp://127.0.0.9/isr4300-universalk9.16.12.04.SPA.bin disk-management no');
    expect(out).toContain('Image Found: isr4300-universalk9.16.12.04.SPA.bin (131072 bytes)');
    expect(out).toContain('New image will be downloaded to bootflash:isr4300-universalk9.16.12.04.SPA.bin');
    expect(out).toMatch(/Loading isr4300-universalk9.16.12.04.SPA.bin from 127.0.0.9 \(via GigabitEthernet0\/0\/0\): !+\n\[OK - 131072 bytes\]/);
    expect(out).toContain('[download complete]\nVerifiying the image: .........................\nDone!\nImage Verification: PASS');
    expect(out).toContain("Use 'upgrade automatic runversion' command to reload manually.");
    expect(await t.run("show bootvar")).toContain("BOOT variable = bootflash:isr4300-universalk9.16.12.04.SPA.bin,12;");
    expect(await t.router.fs.get('nvram')!.readText('startup-config')).toContain('boot system bootflash:isr4300-universalk9.16.12.04.SPA.bin');

    const run = await t.run('upgrade automatic runversion in 01:15');
    expect(run).toContain('Upgrading to "bootflash:isr4300-universalk9.16.12.04.SPA.bin". Wait..');
    expect(run).toContain('(in 1 hour and 15 minutes) with image - bootflash:isr4300-universalk9.16.12.04.SPA.bin by');
    expect(run).toContain('Reload reason: Auto upgrade\nDevice will WARM UPGRADE in 1:15:00\nTo cancel the upgrade, enter the command "upgrade automatic abortversion"');
    expect(await t.run('show reload')).toContain('Reload reason: Auto upgrade');
    t.clock.advance(75 * 60_000);
    await reloaded(t);
    expect(await t.run('show version')).toContain('System image file is "bootflash:isr4300-universalk9.16.12.04.SPA.bin"');
    expect(await t.run('show logging')).toContain('%AUM-5-UPGRADE_COMPLETE: Upgrade from 16.10.1 to 16.12.4 completed');
  });

  it('abortversion cancels the scheduled upgrade reload; without one it says so', async () => {
    const { t, servers } = await lab();
    await servers.image(t, 'new.SPA.bin');
    await t.run('upgrade automatic getversion ftp://127.0.0.9/new.SPA.bin in 10');
    expect(await t.run('show reload')).toContain('Reload reason: Auto upgrade');
    const out = await t.run('upgrade automatic abortversion');
    expect(out).toContain('Auto upgrade of image which was scheduled earlier is aborted!');
    expect(await t.run('show reload')).toContain('No reload is scheduled.');
    expect(await t.run('show logging')).toContain('%SYS-5-SCHEDULED_RELOAD_CANCELLED');
    expect(await t.run('upgrade automatic abortversion')).toContain('%AUM: No auto upgrade is scheduled');
    t.clock.advance(15 * 60_000);
    expect(t.router.state).toBe('running');
  });

  it('a tampered image is refused, deleted, and the reason given on the console and in the log', async () => {
    const { t, servers } = await lab();
    await servers.image(t, 'bad.SPA.bin', { tamper: true });
    const before = await t.run('show bootvar');
    const out = await t.run('upgrade automatic getversion tftp://127.0.0.9/bad.SPA.bin now');
    expect(out).toContain('Image Verification: FAIL');
    expect(out).toContain('%AUM: Image bootflash:bad.SPA.bin failed signature verification');
    expect(t.router.fs.default.stat('bad.SPA.bin')).toBeUndefined();
    expect(await t.run('show bootvar')).toBe(before);
    expect(await t.run('show logging')).toContain('%AUM-3-DOWNLOAD_FAILED: Image bootflash:bad.SPA.bin failed signature verification');
    expect(t.router.state).toBe('running');
  });

  it('an image needing more memory than the router has is refused before any byte reaches flash', async () => {
    const { t, servers } = await lab();
    await servers.image(t, 'big.SPA.bin', { dramMb: 8192 });
    const free = t.router.fs.default.freeBytes;
    const out = await t.run('upgrade automatic getversion tftp://127.0.0.9/big.SPA.bin');
    expect(out).toContain('%AUM: Not enough memory to run image big.SPA.bin: it needs 8192Mb, the device has 1647Mb');
    expect(t.router.fs.default.freeBytes).toBe(free);
  });

  it('low flash: no fails with flash untouched; auto deletes old images (never the running one) and succeeds', async () => {
    const { t, servers } = await lab({ flash: 320 * 1024 });
    await servers.image(t, 'old.SPA.bin', { version: '16.11.1' });
    await servers.image(t, 'new.SPA.bin', { size: 200 * 1024 });
    await t.run('copy tftp://127.0.0.9/old.SPA.bin bootflash:');
    const list = () => t.router.fs.default.list('').map((e) => e.name).sort();
    const before = list();
    const no = await t.run('upgrade automatic getversion tftp://127.0.0.9/new.SPA.bin disk-management no');
    expect(no).toContain('%Not enough space on bootflash: to download image');
    expect(list()).toEqual(before);
    const auto = await t.run('upgrade automatic getversion tftp://127.0.0.9/new.SPA.bin disk-management auto');
    expect(auto).toContain('Deleting bootflash:old.SPA.bin to make space for the new image');
    expect(auto).toContain('Image Verification: PASS');
    expect(list()).toContain(t.router.platform.defaultImage);
    expect(list()).toContain('new.SPA.bin');
    expect(list()).not.toContain('old.SPA.bin');
  });
});

describe('the Cisco branch: IDA exchange (S4.1–S4.3)', () => {
  it('asks the locator with the account and the image, then downloads what it names', async () => {
    const { t, servers } = await lab();
    await t.run('configure terminal', 'ip host www.cisco.com 127.0.0.30', 'end');
    await servers.image(t, 'images/isr4300-universalk9.16.12.04.SPA.bin');
    servers.locate = (f) =>
      f.get('username') === 'cco' && f.get('password') === 'cisco123'
        ? { status: 200, text: `status=ok\nurl=https://127.0.0.30/images/isr4300-universalk9.16.12.04.SPA.bin\nsize=131072\n` }
        : { status: 401, text: 'status=error\ncode=bad-credentials\n' };
    const out = await t.run('upgrade automatic getversion cisco username cco password cisco123 image isr4300-universalk9.16.12.04.SPA.bin');
    expect(servers.requests[0]!.path).toBe('cgi-bin/new-ida/locator/locator.pl');
    expect(servers.requests[0]!.form.get('image')).toBe('isr4300-universalk9.16.12.04.SPA.bin');
    expect(out).toContain('Downloading Image from Cisco server:');
    expect(out).toContain('Image Verification: PASS');
    const bad = await t.run('upgrade automatic getversion cisco username cco password nope image x.bin');
    expect(bad).toContain('%AUM: Invalid cisco.com username or password');
  });

  it('interactive, Cisco branch: the questions in order, then the locator and the download', async () => {
    const { t, servers } = await lab();
    await t.run('configure terminal', 'ip host www.cisco.com 127.0.0.30', 'end');
    await servers.image(t, 'images/x.SPA.bin');
    servers.locate = (f) => (f.get('username') === 'cco' && f.get('image') === 'x.SPA.bin' ? { status: 200, text: 'status=ok\nurl=https://127.0.0.30/images/x.SPA.bin\n' } : { status: 401, text: '' });
    const out = await t.router.exec(['upgrade automatic', 'yes', 'cco', 'cisco123', 'x.SPA.bin', 'no', '', 'yes'], { prompts: true });
    const order = [
      'Download from Cisco server? [yes]: ',
      'Cisco Username: ',
      'Cisco Password: ',
      'Image name: ',
      'Image Found: x.SPA.bin (131072 bytes)',
      'immediately after image download is complete? [yes]: ',
      'Time to reload the box [Manual]? ',
      '[https://127.0.0.30/images/x.SPA.bin] to\n[x.SPA.bin]? [yes]: ',
      'Downloading Image from Cisco server:',
      'Image Verification: PASS',
      "Use 'upgrade automatic runversion' command to reload manually.",
    ];
    let at = 0;
    for (const want of order) {
      const i = out.indexOf(want, at);
      expect(i, `"${want}" after offset ${at} in:\n${out}`).toBeGreaterThanOrEqual(0);
      at = i + want.length;
    }
    expect(out).not.toContain('cisco123');
    expect(servers.requests[0]!.form.get('password')).toBe('cisco123');
  });

  it('not registered for crypto: the error asks the user to register', async () => {
    const { t, servers } = await lab();
    await t.run('configure terminal', 'ip host www.cisco.com 127.0.0.30', 'end');
    servers.locate = () => ({ status: 403, text: 'status=error\ncode=not-registered\n' });
    const out = await t.run('upgrade automatic getversion cisco username guest password guest image isr4300-universalk9.16.12.04.SPA.bin');
    expect(out).toMatch(/%AUM: User guest is not registered for crypto software downloads\. Please register at https:\/\/www\.cisco\.com/);
    expect(await t.run('show logging')).toContain('%AUM-3-DOWNLOAD_FAILED: User guest is not registered');
  });
});

describe('invalid-config after the upgrade (S4.5)', () => {
  it('lines the new image lacks are refused at boot, saved to nvram:invalid-config and listed', async () => {
    const { t, servers } = await lab();
    await servers.image(t, 'lean.SPA.bin', { lacks: ['ip ftp username'] });
    await t.run('configure terminal', 'ip ftp username fred', 'end', 'write memory');
    await t.run('upgrade automatic getversion tftp://127.0.0.9/lean.SPA.bin now');
    await reloaded(t);
    expect(await t.run('show version')).toContain('bootflash:lean.SPA.bin');
    expect(await t.router.fs.get('nvram')!.readText('invalid-config')).toBe('ip ftp username fred\n');
    expect(await t.run('show autoupgrade configuration unknown')).toBe('! Config Lines not understood by the current image:\nip ftp username fred\nTotal 1 Invalid Config Lines\n');
    expect(await t.run('show running-config')).not.toContain('ip ftp username fred');
    expect(t.router.bootConsole.join('\n')).toContain('"ip ftp username fred" is not understood by this image');
  });
});
