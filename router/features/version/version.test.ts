import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

/** Lines as genieparser's ShowVersion reads them: stripped, one record per line. */
function stripped(text: string): string[] {
  return text.split('\n').map((l) => l.trim());
}

/** A license table row as parsers split it: four cells, at least two spaces between them. */
const TECHNOLOGY_ROW = /^(\w[\w-]+) {2,}(\w+) {2,}(\w+(?: \w+)?) {2,}(\w+)$/;

describe('show version license sections', () => {
  it('IOS XE prints the suite and technology tables before the chassis line', async () => {
    const t = await makeTestRouter();
    const out = await t.run('show version');
    expect(out).toContain("\nexport@cisco.com.\n\nSuite License Information for Module:'esg' \n\n");
    expect(out).toMatch(/\nTechnology Package License Information: \n\n-+\nTechnology {4}Technology-package {11}Technology-package\n {14}Current {7}Type {11}Next reboot {2}\n-+\n/);
    const rows = stripped(out).map((l) => TECHNOLOGY_ROW.exec(l)).filter((m) => m !== null);
    // Each technology with its current level, license type and next-reload level.
    expect(rows.map((m) => [m[1], m[2], m[3], m[4]])).toEqual([
      ['FoundationSuiteK9', 'None', 'Smart License', 'None'],
      ['AdvUCSuiteK9', 'None', 'Smart License', 'None'],
      ['appxk9', 'None', 'Smart License', 'None'],
      ['uck9', 'None', 'Smart License', 'None'],
      ['securityk9', 'securityk9', 'Smart License', 'securityk9'],
      ['ipbase', 'ipbasek9', 'Smart License', 'ipbasek9'],
    ]);
    expect(out.indexOf('Smart Licensing Status: UNREGISTERED/EVAL MODE')).toBeLessThan(out.indexOf('cisco ISR4321/K9 (1RU) processor'));
    // r1's USB device is usbflash0: (the name dir accepts), and the storage line says so.
    expect(out).toMatch(/^\d+K bytes of USB flash at usbflash0:\.$/m);
    expect(await t.run('dir usbflash0:')).toMatch(/^Directory of usbflash0:\/$/m);
  });

  it('classic IOS prints License Info, License UDI and the module technology table as the real C3945 does', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    const out = await t.run('show version');
    expect(out).toContain(
      [
        'K bytes of processor board PCMCIA Slot0 flash (Read/Write)',
        '',
        '',
        'License Info:',
        '',
        'License UDI:',
        '',
        '-------------------------------------------------',
        'Device#   PID                   SN',
        '-------------------------------------------------',
        '*0        C3900-SPE150/K9       FOC16050QP6     ',
        '',
        '',
        '',
        "Technology Package License Information for Module:'c3900' ",
        '',
        '-----------------------------------------------------------------',
        'Technology    Technology-package           Technology-package',
        '              Current       Type           Next reboot  ',
        '------------------------------------------------------------------',
        'ipbase        ipbasek9      Permanent      ipbasek9',
        'security      securityk9    Permanent      securityk9',
        'uc            None          None           None',
        'data          datak9        Permanent      datak9',
        '',
        'Configuration register is 0x2102',
      ].join('\n'),
    );
    expect(out).toContain('\n2 FastEthernet interfaces\n3 Gigabit Ethernet interfaces\n1 Virtual Private Network (VPN) Module\n');
    expect(out).not.toContain('Suite License');
  });
});

describe('commands image-management automation runs', () => {
  it('show license udi on both families', async () => {
    expect(await (await makeTestRouter()).run('show license udi')).toBe('UDI: PID:ISR4321/K9,SN:FLM2041W0PL\n\n');
    const classic = await (await makeTestRouter({ platform: 'c3900' })).run('show license udi');
    expect(classic.split('\n')[2]).toBe('*0        C3900-SPE150/K9       FOC16050QP6     C3900-SPE150/K9:FOC16050QP6');
  });

  it('show platform lists slots, insert time and ROMmon firmware (IOS XE only)', async () => {
    const t = await makeTestRouter();
    t.clock.advance(2 * 86_400_000 + 3 * 3_600_000);
    const out = await t.run('show platform');
    expect(out).toMatch(/^Chassis type: ISR4321\/K9/);
    expect(out).toMatch(/^R0 {8}ISR4321\/K9 {10}ok, active {12}2d03h/m);
    expect(out).toMatch(/^ 0\/0 {6}ISR4321-2x1GE {7}ok/m);
    expect(out).toMatch(/^R0 {8}17100927 {12}16\.7\(3r\)/m);
    const classic = await makeTestRouter({ platform: 'c3900' });
    expect(await classic.run('show platform')).toContain("% Invalid input detected at '^' marker.");
  });

  it('show rom-monitor r0 prints the ROMmon banner; an unknown slot gets the caret', async () => {
    const t = await makeTestRouter();
    expect(await t.run('show rom-monitor r0')).toBe('System Bootstrap, Version 16.7(3r), RELEASE SOFTWARE\nCopyright (c) 1994-2018  by cisco Systems, Inc.\n\n');
    expect(await t.run('show rom-monitor P9')).toContain("% Invalid input detected at '^' marker.");
  });

  it('show boot is a command of its own on IOS XE (beside bootflash:), an abbreviation of bootvar on ISR G2', async () => {
    const t = await makeTestRouter();
    expect(await t.run('show boot')).toBe(await t.run('show bootvar'));
    expect(await t.run('show boot')).toContain('Standby not ready to show bootvar');
    const classic = await makeTestRouter({ platform: 'c3900' });
    expect(await classic.run('show boot')).toBe(await classic.run('show bootvar'));
  });

  it('dir all-filesystems lists every file system and partition', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    const out = await t.run('dir all-filesystems');
    const heads = out.split('\n').filter((l) => l.startsWith('Directory of '));
    expect(heads).toEqual(['Directory of flash0:/', 'Directory of flash1:/', 'Directory of usbflash0:/', 'Directory of slot0:1:/', 'Directory of slot0:2:/', 'Directory of nvram:/']);
    expect(out.match(/^\d+ bytes total \(\d+ bytes free\)$/gm)).toHaveLength(6);
    expect(out).toContain('c3900-universalk9-mz.SPA.150-1.M7.bin');
  });
});

describe('platform truth', () => {
  it('classic IOS has no IOS XE memory pools; its I/O pool is the chassis line I/O memory', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    const out = await t.run('show memory statistics');
    expect(out).not.toContain('lsmpi_io');
    const io = out.split('\n').find((l) => l.trim().startsWith('I/O'))!;
    expect(Number(io.trim().split(/\s+/)[2])).toBe(69632 * 1024);
    expect(await (await makeTestRouter()).run('show memory statistics')).toContain('lsmpi_io');
  });

  it('show inventory pads PID and VID as each family does', async () => {
    const classic = await (await makeTestRouter({ platform: 'c3900' })).run('show inventory');
    expect(classic).toContain('NAME: "CISCO3945-CHASSIS", DESCR: "CISCO3945-CHASSIS"\nPID: CISCO3945-CHASSIS , VID: V05 , SN: FGL161010K8\n');
    expect(classic).toContain('PID: HWIC-2FE          , VID: V02 , SN: FOC16062824\n');
    const xe = await (await makeTestRouter()).run('show inventory');
    expect(xe).toContain('NAME: "Chassis", DESCR: "Cisco ISR4321 Chassis"\nPID: ISR4321/K9        , VID: V04  , SN: FLM2041W0PL\n');
    expect(xe).toContain('PID: ISR4321/K9        , VID:      , SN:\n');
  });
});
