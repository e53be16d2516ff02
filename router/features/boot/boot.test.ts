import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

describe('reload scheduling (S3.7)', () => {
  it('reload in / show reload / reload cancel print what IOS prints', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    const sched = await t.run('reload in 5', '');
    expect(sched).toContain('Reload scheduled in 5 minutes by lab on vty0 (127.0.0.1)');
    expect(sched).toContain('Proceed with reload? [confirm]');
    expect(await t.run('show reload')).toMatch(/^Reload scheduled in 5 minutes by lab on vty0/);
    t.clock.advance(60_000);
    expect(await t.run('show reload')).toMatch(/^Reload scheduled in 4 minutes/);
    expect(await t.run('reload cancel')).toBe('');
    expect(await t.run('show reload')).toBe('No reload is scheduled.\n');
    expect(await t.run('reload cancel')).toBe('%No reload is scheduled.\n');
    const log = await t.run('show logging');
    expect(log).toMatch(/%SYS-5-SCHEDULED_RELOAD: Reload requested for 10:05:00 UTC Wed Nov 25 2026 at 10:00:00 UTC Wed Nov 25 2026 by lab on vty0/);
    expect(log).toContain('%SYS-5-SCHEDULED_RELOAD_CANCELLED: Scheduled reload cancelled at 10:01:00 UTC Wed Nov 25 2026');
  });

  it('reload at hh:mm fires when the lab clock reaches it and the router comes back', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    const out = await t.run('reload at 12:25', '');
    expect(out).toContain('Reload scheduled for 12:25:00 UTC Wed Nov 25 2026 (in 2 hours and 25 minutes) by lab on vty0 (127.0.0.1)');
    expect(t.router.state).toBe('running');
    t.clock.advance(2 * 3600_000 + 25 * 60_000);
    // bootSeconds is 0 in tests, but the boot still runs on the next clock tick.
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    expect(t.router.lastReloadReason).toBe('Reload Command');
    expect(await t.run('show version')).toContain('System returned to ROM by Reload Command at 12:25:00 UTC Wed Nov 25 2026');
  });

  it('asks to save a modified configuration before reloading', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    await t.run('configure terminal', 'hostname EDGE1', 'end');
    const out = await t.run('reload in 10', 'yes', '');
    expect(out).toContain('System configuration has been modified. Save? [yes/no]: yes');
    expect(out).toContain('Building configuration...\n[OK]');
    expect(await t.router.fs.get('nvram')!.readText('startup-config')).toContain('hostname EDGE1');
  });

  it('a reload in between forgets the scheduled one, as IOS does', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    await t.run('reload in 10', '');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    const booted = t.router.bootedAt!.getTime();
    expect(await t.run('show reload')).toBe('No reload is scheduled.\n');
    t.clock.advance(11 * 60_000);
    expect(t.router.state).toBe('running');
    expect(t.router.bootedAt!.getTime()).toBe(booted);
  });

  it('declining the confirm schedules nothing', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    await t.run('reload in 10', 'n');
    expect(await t.run('show reload')).toBe('No reload is scheduled.\n');
  });
});

describe('boot (boot system, ROMmon)', () => {
  it('boots the first boot system entry that exists and keeps the saved config', async () => {
    const t = await makeTestRouter();
    const img = t.router.platform.defaultImage;
    await t.run('configure terminal', 'boot system bootflash:missing.bin', `boot system bootflash:${img}`, 'hostname CORE', 'end', 'write memory');
    expect(await t.run('show bootvar')).toContain(`BOOT variable = bootflash:missing.bin,12;bootflash:${img},12;`);
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    expect(t.router.system.hostname).toBe('CORE');
    expect(await t.run('show version')).toContain(`System image file is "bootflash:${img}"`);
  });

  it('falls to ROMmon when nothing can boot, and boots from there by hand', async () => {
    const t = await makeTestRouter();
    const img = t.router.platform.defaultImage;
    await t.run('configure terminal', 'boot system bootflash:gone.bin', 'end', 'write memory');
    // Out of the default device's root, so the final autoboot attempt finds nothing either.
    t.router.fs.default.mkdir('spare');
    t.router.fs.default.rename(img, 'spare/other.bin');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['rommon'], 5_000);
    let out = '';
    const s = t.router.openSession({ user: 'admin', lineName: 'console', interactive: false, out: (x) => (out += x) });
    s.showPrompt();
    s.submit('boot bootflash:spare/other.bin');
    await s.idle();
    // A session reaching ROMmon first sees what the console showed on the way down.
    expect(out).toMatch(/^boot: error executing "boot bootflash:gone.bin"\nautoboot: boot failed, restarting...\nno valid BOOT image found\nFinal autoboot attempt from default boot device...\n\nrommon 1 > /);
    expect(out).toContain('Located bootflash:spare/other.bin');
    expect(t.router.state).toBe('running');
  });

  it('config-register takes effect at the next reload', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'config-register 0x2142', 'end', 'write memory');
    expect(await t.run('show version')).toContain('Configuration register is 0x2102 (will be 0x2142 at next reload)');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    expect(await t.run('show version')).toMatch(/Configuration register is 0x2142\n/);
  });
});

describe('chapter 3 wording around reload', () => {
  it('classic IOS says "System returned to ROM by reload at"', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    await t.run('write memory');
    await t.run('reload', '');
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    expect(await t.run('show version')).toContain('System returned to ROM by reload at 10:00:00 UTC Wed Nov 25 2026\n');
  });

  it('reload in N reason R: Reload reason: before [confirm], Reload Reason: in the syslog line', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    const out = await t.run('reload in 10 reason image upgrade', '');
    expect(out).toContain('Reload scheduled in 10 minutes by lab on vty0 (127.0.0.1)\nReload reason: image upgrade\nProceed with reload? [confirm]');
    expect(await t.run('show logging')).toMatch(/%SYS-5-SCHEDULED_RELOAD: Reload requested for .* by lab on vty0 \(127\.0\.0\.1\)\. Reload Reason: image upgrade\./);
  });

  it('a bad reload in value gets the caret under it, and nothing is scheduled', async () => {
    const t = await makeTestRouter();
    const out = await t.router.exec(['reload in 99:99'], { prompts: true });
    // Under `99:99` on the echoed line `R1#reload in 99:99`: prompt (3) + `reload in ` (10).
    expect(out.startsWith(`${' '.repeat(13)}^\n% Invalid input detected at '^' marker.`)).toBe(true);
    expect(await t.run('show reload')).toBe('No reload is scheduled.\n');
  });

  it('booting a new image changes only the version line: no Save? question', async () => {
    // Signed, as every image ROMmon boots must be (S2.3).
    const { makeSignedImage: makeImage } = await import('../../../test/helpers/signing.ts');
    const { join } = await import('node:path');
    const { readFile } = await import('node:fs/promises');
    const t = await makeTestRouter();
    const file = join(t.dir, 'new.bin');
    await makeImage(file, { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: 64 * 1024 });
    const bytes = await readFile(file);
    const w = t.router.fs.default.createWriter('isr4300-universalk9.16.12.04.SPA.bin', bytes.length);
    await w.write(bytes);
    await w.commit();
    await t.run('configure terminal', 'boot system bootflash:isr4300-universalk9.16.12.04.SPA.bin', 'end', 'write memory');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5_000);
    expect(t.router.softwareVersion()).toBe('16.12.4');
    expect(await t.run('show running-config')).toContain('\nversion 16.12\n');
    const out = await t.run('reload in 10', '');
    expect(out).not.toContain('Save?');
    expect(out).toContain('Proceed with reload? [confirm]');
  });
});
