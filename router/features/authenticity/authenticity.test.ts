import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTestRouter, type TestRouter } from '../../../test/helpers/router.ts';
import { makeSignedImage } from '../../../test/helpers/signing.ts';
import { Router } from '../../Router.ts';

/** Makes an image with the test authority and stores it in the router's default flash. */
async function put(t: TestRouter, name: string, opts: { sign?: string; tamper?: boolean; kind?: 'system' | 'rommon' | 'revocation'; bundle?: string[]; version?: string; size?: number } = {}) {
  const file = join(t.dir, `${name.replace(/\//g, '_')}.src`);
  const p = t.router.platform;
  const size = opts.size ?? 96 * 1024;
  await makeSignedImage(file, {
    platform: p.imagePlatform,
    version: opts.version ?? '16.12.4',
    featureSet: 'universalk9',
    kind: opts.kind ?? 'system',
    size,
    sign: opts.sign,
    tamper: opts.tamper,
    bundle: opts.bundle,
    seed: name,
  });
  const w = t.router.fs.default.createWriter(name, size);
  for await (const c of createReadStream(file)) await w.write(c as Buffer);
  await w.commit();
}

async function reload(t: TestRouter, want: 'running' | 'rommon' = 'running') {
  t.router.reload();
  t.clock.advance(1);
  await t.router.waitFor([want === 'running' ? 'running' : 'rommon'], 10_000);
  // The other state is not wanted: fail clearly rather than time out later.
  expect(t.router.state).toBe(want);
}

async function bootFrom(t: TestRouter, ...urls: string[]) {
  await t.run('configure terminal', 'no boot system', ...urls.map((u) => `boot system ${u}`), 'end', 'write memory');
}

describe('signed images at boot (S2.3, ANCHORS §1.3)', () => {
  it('a tampered image is refused with ROMmon\'s lines and the next boot system entry boots', async () => {
    const t = await makeTestRouter();
    const good = t.router.platform.defaultImage;
    await put(t, 'bad.SPA.bin', { tamper: true });
    await bootFrom(t, 'bootflash:bad.SPA.bin', `bootflash:${good}`);
    await reload(t);
    const console = t.router.bootConsole.join('\n');
    expect(console).toContain('Using FLASH based Keys of type = PRIMARY KEY STORAGE');
    expect(console).toContain('Signature verification failed for key# 1');
    expect(console).toContain('Using FLASH based Keys of type = BACKUP KEY STORAGE');
    expect(console).toContain('RSA Signed RELEASE Image Signature Verification Failed.');
    expect(console).toContain('boot: error executing "boot bootflash:bad.SPA.bin"');
    expect(console).toContain('autoboot: boot failed, restarting...');
    expect(console).toContain('RSA Signed RELEASE Image Signature Verification Successful.\nImage validated');
    expect(await t.run('show version')).toContain(`System image file is "bootflash:${good}"`);
    expect(await t.run('show logging')).toMatch(/%DIGISIGN-3-VERIFICATION_FAILED: Boot image bootflash:bad.SPA.bin refused: signature verification failed/);
  });

  it('unsigned, unknown-key and tampered images all fail: ROMmon prompt, and its console says why', async () => {
    const t = await makeTestRouter();
    const good = t.router.platform.defaultImage;
    await put(t, 'unsigned.bin', { sign: 'none' });
    await put(t, 'newkey.SPC.bin', { sign: 'production:C' });
    await put(t, 'bad.SPA.bin', { tamper: true });
    await bootFrom(t, 'bootflash:unsigned.bin', 'bootflash:newkey.SPC.bin', 'bootflash:bad.SPA.bin');
    t.router.fs.default.mkdir('keep');
    t.router.fs.default.rename(good, `keep/${good}`);
    await reload(t, 'rommon');
    const console = t.router.bootConsole.join('\n');
    expect(console).toContain('Unsigned package found,  aborting ...');
    expect(console).toContain('boot: error executing "boot bootflash:newkey.SPC.bin"');
    expect(console).toContain('no valid BOOT image found\nFinal autoboot attempt from default boot device...');
    // The final attempt tries the images it finds on the default device, and they fail too.
    expect(console).toMatch(/Located (bad\.SPA|newkey\.SPC|unsigned)\.bin/);
    let out = '';
    const s = t.router.openSession({ user: 'admin', lineName: 'console', interactive: false, out: (x) => (out += x) });
    s.showPrompt();
    s.submit(`boot bootflash:keep/${good}`);
    await s.idle();
    expect(out).toContain('Signature verification failed for key# 1');
    expect(out).toContain('Image validated');
    expect(t.router.state).toBe('running');
  });

  it('a renamed image is still identified by its envelope (S2.1)', async () => {
    const t = await makeTestRouter();
    await put(t, 'plain-name.bin', { sign: 'special:A' });
    const out = await t.run('show software authenticity file bootflash:plain-name.bin');
    const lines = out.split('\n');
    expect(lines[0]).toBe('File Name                     : bootflash:plain-name.bin');
    expect(lines[1]).toBe('Image type                    : Development');
    expect(lines[6]).toMatch(/^ {4}Certificate Serial Number : [0-9A-F]{8}$/);
    expect(lines.slice(2, 6)).toEqual(['    Signer Information', '        Common Name           : CiscoSystems', '        Organization Unit     : IOS-XE-DEV', '        Organization Name     : CiscoSystems']);
    expect(lines.slice(7, 10)).toEqual(['    Hash Algorithm            : SHA512', '    Signature Algorithm       : 2048-bit RSA', '    Key Version               : A']);
    expect(await t.run('show software authenticity file nvram:startup-config')).toMatch(/^%ERROR:Signature not found in file nvram:startup-config\.|^%Error opening/);
    await t.run('write memory');
    expect(await t.run('show software authenticity file nvram:startup-config')).toBe('%ERROR:Signature not found in file nvram:startup-config.\n');
  });
});

describe('show software authenticity (S2.4, S2.6)', () => {
  it('running: SYSTEM IMAGE and ROMMON sections with the booted image\'s signer', async () => {
    const t = await makeTestRouter();
    const out = (await t.run('show software authenticity running')).split('\n');
    expect(out.slice(0, 3)).toEqual(['SYSTEM IMAGE', '------------', 'Image type                    : Production']);
    expect(out).toContain('        Verifier Name         : ROMMON');
    expect(out).toContain('        Verifier Version      : System Bootstrap, Version 16.7(3r), RELEASE SOFTWARE');
    expect(out).toContain('ROMMON');
    expect(out[out.indexOf('ROMMON') + 1]).toBe('------');
    const serials = out.filter((l) => l.includes('Certificate Serial Number'));
    expect(serials).toHaveLength(2);
    // The same key signed image and ROMmon here, so the same certificate serial shows twice.
    expect(serials[0]).toBe(serials[1]);
    const file = await t.run(`show software authenticity file bootflash:${t.router.platform.defaultImage}`);
    expect(file).toContain(serials[0]);
  });

  it('keys: Public Key blocks with the modulus as colon-separated hex (IOS XE and the seed\'s IOS 15 shape)', async () => {
    const xe = await makeTestRouter();
    const out = await xe.run('show software authenticity keys');
    expect(out).toMatch(/^Public Key #1 Information\n-------------------------\nKey Type {18}: Production  \(Primary\)\nPublic Key Algorithm : RSA\nModulus \(256 bytes\) {3}:\n {8}[0-9a-f]{2}(:[0-9a-f]{2}){15}:\n/);
    expect(out.match(/Public Key #\d+ Information/g)).toHaveLength(5);
    expect(out).toContain('Key Type                  : Special  (Backup)');
    expect(out).toContain('Key Type                  : Rollover  (Revocation)');
    expect(out).toContain('Exponent (4 bytes)   : 10001');
    const ios = await makeTestRouter({ platform: 'c3900' });
    const seed = await ios.run('show software authenticity keys');
    expect(seed).toMatch(/^Public Key #1 Information\n-------------------------\nKey Type {11}: Release \(Primary\)\nPublic Key Algorithm : RSA\nModulus :\n {4}[0-9A-F]{2}(:[0-9A-F]{2}){15}:\n/);
    expect(seed).toContain('Key Type           : Development (Primary)');
    expect(seed).toContain('Exponent : 65537\nKey Version      : A');
    const running = await ios.run('show software authenticity running');
    expect(running).toMatch(/^SYSTEM IMAGE\n/);
    expect(running).toContain('ROMMON 2\n--------\n');
  });
});

describe('verify <file> (IOS_REFERENCE §5.2)', () => {
  it('prints computed and embedded SHA-512 and the verdict; a tampered file fails; verify /md5 still works', async () => {
    const t = await makeTestRouter();
    const img = t.router.platform.defaultImage;
    const ok = await t.run(`verify bootflash:${img}`);
    const computed = /Computed Hash {3}SHA2: ([0-9a-f]{32})\n {22}([0-9a-f]{32})\n {22}([0-9a-f]{32})\n {22}([0-9a-f]{32})/.exec(ok);
    const embedded = /Embedded Hash {3}SHA2: ([0-9a-f]{32})\n {22}([0-9a-f]{32})\n {22}([0-9a-f]{32})\n {22}([0-9a-f]{32})/.exec(ok);
    expect(computed?.slice(1).join('')).toHaveLength(128);
    expect(computed?.slice(1)).toEqual(embedded?.slice(1));
    expect(ok).toContain(`Digital signature successfully verified in file bootflash:${img}`);
    await put(t, 'bad.SPA.bin', { tamper: true });
    const bad = await t.run('verify bootflash:bad.SPA.bin');
    expect(bad).toContain('%ERROR: Digital signature verification failed for file bootflash:bad.SPA.bin');
    expect(bad).not.toContain('successfully verified');
    await put(t, 'plain.bin', { sign: 'none' });
    expect(await t.run('verify bootflash:plain.bin')).toBe('%ERROR:Signature not found in file bootflash:plain.bin.\n');
    expect(await t.run('show logging')).toContain('%SIGNATURE-4-NOT_PRESENT: %WARNING: Signature not found in file bootflash:plain.bin.');
    expect(await t.run(`verify /md5 bootflash:${img}`)).toMatch(/verify \/md5 \(bootflash:.*\) = [0-9a-f]{32}/);
  });
});

describe('key revocation (S2.8–S2.10, S2.12)', () => {
  it('production: revocation image adds key B once, upgrade-status, ROMmon upgrade, reload, revoke; old images then refused', async () => {
    const t = await makeTestRouter();
    const old = t.router.platform.defaultImage;
    await put(t, 'revoke.SPB.bin', { kind: 'revocation', sign: 'rollover', bundle: ['production:B'] });
    await put(t, 'new.SPB.bin', { sign: 'production:B' });
    await put(t, 'rommon.SPB.pkg', { kind: 'rommon', sign: 'production:B', version: '16.12(2r)' });
    // Step 1: boot the revocation image.
    await bootFrom(t, 'bootflash:revoke.SPB.bin');
    await reload(t);
    expect(t.router.bootConsole.join('\n')).toContain('Using FLASH based Keys of type = ROLLOVER KEY STORAGE\nRSA Signed REVOCATION Image Signature Verification Successful.');
    expect(await t.run('show logging')).toContain('Revocation image added production key version B');
    expect(await t.run('software authenticity key add production')).toBe('% Production key version B is already in primary and backup key storage\n');
    // Step 2: the checks.
    let status = await t.run('show software authenticity upgrade-status');
    expect(status).toContain('New production key version    : B (replaces A)');
    expect(status).toContain('In primary key storage        : Yes');
    expect(status).toContain('In backup key storage         : Yes');
    expect(status).toContain('Autoboot image signed with it : No');
    expect(status).toContain('Upgradable ROMMON signed with it: No');
    await bootFrom(t, 'bootflash:new.SPB.bin');
    const up = await t.run('upgrade rom-monitor file bootflash:rommon.SPB.pkg');
    expect(up).toContain('ROMMON upgrade complete.');
    status = await t.run('show software authenticity upgrade-status');
    expect(status).toContain('Autoboot image signed with it : Yes (bootflash:new.SPB.bin, production key version B)');
    expect(status).toContain('Upgradable ROMMON signed with it: Yes');
    // The new ROMmon runs only after a reload: the show commands still name the old one.
    const factoryRommon = t.router.platform.rommon.version;
    expect(await t.run('show rom-monitor R0')).toContain(`System Bootstrap, Version ${factoryRommon}, RELEASE SOFTWARE`);
    expect(await t.run('show platform')).toContain(factoryRommon);
    // Revoke refused from the revocation image.
    expect(await t.run('software authenticity key revoke production')).toMatch(/^% Cannot revoke key: the running image is not a production image/);
    // Step 3: reload into the new image; the new ROMmon takes over.
    await reload(t);
    expect(await t.run('show software authenticity running')).toContain('Verifier Version      : System Bootstrap, Version 16.12(2r), RELEASE SOFTWARE');
    expect(await t.run('show rom-monitor R0')).toContain('System Bootstrap, Version 16.12(2r), RELEASE SOFTWARE');
    const platform = await t.run('show platform');
    expect(platform).toMatch(/^R0 +\S+ +16\.12\(2r\) *$/m);
    expect(platform).not.toContain(factoryRommon);
    // Step 4: revoke.
    expect(await t.run('software authenticity key revoke production')).toBe('% Revoking production key version A... done\n');
    const keys = await t.run('show software authenticity keys');
    const production = keys.split('\n\n').filter((b) => /Key Type +: Production/.test(b)).map((b) => /Key Version +: (\w)/.exec(b)?.[1]);
    expect(production).toEqual(['B', 'B']);
    expect(await t.run(`verify bootflash:${old}`)).toContain('Digital signature verification failed');
    // An image signed with the revoked key no longer boots, and the key cannot come back.
    await bootFrom(t, `bootflash:${old}`, 'bootflash:new.SPB.bin');
    await reload(t);
    expect(t.router.bootConsole.join('\n')).toContain(`boot: error executing "boot bootflash:${old}"`);
    expect(await t.run('show version')).toContain('System image file is "bootflash:new.SPB.bin"');
    // Key storage is device state: a new router object on the same state (flashlab down/up) has it.
    t.router.powerOff();
    const again = new Router({ name: 'R1', address: '127.0.0.1', platform: t.router.platform, env: t.router.env, bootSeconds: 0 });
    await again.powerOn();
    const after = await again.exec(['show software authenticity upgrade-status']);
    expect(after).toContain('New production key version    : B\n');
    expect(after).not.toContain('replaces A');
  });

  it('a damaged key storage record is restored from the factory keys and logged, not a crash', async () => {
    const t = await makeTestRouter();
    t.router.powerOff();
    writeFileSync(join(t.router.env.stateDir, 'device', 'software-authenticity.json'), '{"primary": [tru');
    const again = new Router({ name: 'R1', address: '127.0.0.1', platform: t.router.platform, env: t.router.env, bootSeconds: 0 });
    await again.powerOn();
    expect(again.state).toBe('running');
    expect(await again.exec(['show logging'])).toContain('%DIGISIGN-3-KEY_STORAGE_RESET: Key storage was unreadable and has been restored from the factory keys');
    expect(await again.exec(['show software authenticity keys'])).toContain('Key Type                  : Production  (Primary)');
  });

  it('revoke is refused while the boot image or the ROMmon depends on the old key', async () => {
    const t = await makeTestRouter();
    await put(t, 'revoke.SPB.bin', { kind: 'revocation', sign: 'rollover', bundle: ['production:B'] });
    await put(t, 'new.SPB.bin', { sign: 'production:B' });
    await bootFrom(t, 'bootflash:revoke.SPB.bin');
    await reload(t);
    await bootFrom(t, 'bootflash:new.SPB.bin');
    await reload(t);
    // Running the new image, but the ROMmon is still signed with A.
    expect(await t.run('software authenticity key revoke production')).toBe(
      '% Cannot revoke key: the ROMMON is signed with production key version A: upgrade it with upgrade rom-monitor\n',
    );
    await bootFrom(t, `bootflash:${t.router.platform.defaultImage}`);
    await put(t, 'rommon.SPB.pkg', { kind: 'rommon', sign: 'production:B' });
    await t.run('upgrade rom-monitor file bootflash:rommon.SPB.pkg');
    expect(await t.run('software authenticity key revoke production')).toMatch(/^% Cannot revoke key: the autoboot image bootflash:.* is signed with production key version A\n/);
    expect(await t.run('show software authenticity upgrade-status')).toContain('Key revocation allowed        : No');
  });

  it('special: a production image adds its bundled special key and revokes the old one without reload; special images can do neither', async () => {
    const t = await makeTestRouter();
    await put(t, 'prod.SPA.bin', { sign: 'production:A', bundle: ['special:B'] });
    await put(t, 'dev.SSA.bin', { sign: 'special:A' });
    await put(t, 'rommon.SSB.pkg', { kind: 'rommon', sign: 'special:B' });
    await bootFrom(t, 'bootflash:dev.SSA.bin');
    await reload(t);
    expect(await t.run('software authenticity key add special')).toBe('% Special images can not add keys: boot a production image\n');
    expect(await t.run('software authenticity key revoke special')).toBe('% Special images can not revoke keys: boot a production image\n');
    await bootFrom(t, 'bootflash:prod.SPA.bin');
    await reload(t);
    expect(await t.run('software authenticity key add special')).toBe('% Adding new special key version B to primary and backup key storage... done\n');
    await t.run('debug software authenticity revocation');
    expect(await t.run('software authenticity key revoke special')).toBe('% Revoking special key version A... done\n');
    expect(await t.run('show logging')).toMatch(/SW_AUTH: special key version A revoked; version B remains/);
    // The special image signed with A no longer verifies; the router never reloaded.
    expect(await t.run('verify bootflash:dev.SSA.bin')).toContain('Digital signature verification failed');
    expect(await t.run('upgrade rom-monitor file bootflash:rommon.SSB.pkg')).toContain('ROMMON upgrade complete.');
  });

  it('upgrade rom-monitor takes effect at reload: show version\'s ROM line and the ROMMON section follow; a bad ROMmon is refused', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    expect(await t.run('show version')).toContain('ROM: System Bootstrap, Version 15.0(1r)M13, RELEASE SOFTWARE (fc1)');
    await put(t, 'rommon-bad.pkg', { kind: 'rommon', tamper: true, version: '15.0(1r)M16' });
    expect(await t.run('upgrade rom-monitor file flash0:rommon-bad.pkg')).toBe('%Error: ROMMON image flash0:rommon-bad.pkg failed signature verification: not upgraded\n');
    expect(await t.run(`upgrade rom-monitor file flash0:${t.router.platform.defaultImage}`)).toMatch(/^%Error: flash0:.* is not a ROMMON image for this platform\n$/);
    await put(t, 'rommon.pkg', { kind: 'rommon', version: '15.0(1r)M16' });
    expect(await t.run('upgrade rom-monitor file flash0:rommon.pkg')).toContain('ROMMON upgrade complete.');
    expect(await t.run('show version')).toContain('ROM: System Bootstrap, Version 15.0(1r)M13,');
    await t.run('write memory');
    await reload(t);
    expect(await t.run('show version')).toContain('ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)');
    expect(await t.run('show software authenticity running')).toContain('ROMMON 2\n--------\nImage type                    : Production');
  });

  it('a platform without key revocation says so (S2.12)', async () => {
    const t = await makeTestRouter({ platform: 'cat4500e' });
    expect(await t.run('software authenticity key add production')).toBe('% Key revocation and replacement are not supported on this platform\n');
    expect(await t.run('software authenticity key revoke special')).toBe('% Key revocation and replacement are not supported on this platform\n');
    expect(await t.run('show software authenticity running')).toMatch(/^SYSTEM IMAGE\n/);
  });
});

describe('debug software authenticity (S2.11) on the shared debug facility', () => {
  it('turns flags on and off, lists them, and logs messages for the flags that are on', async () => {
    const t = await makeTestRouter();
    expect(await t.run('debug software authenticity key')).toBe('Software authenticity key debugging is on\n');
    expect(await t.run('debug software authenticity envelope')).toBe('Software authenticity envelope debugging is on\n');
    expect(await t.run('show debugging')).toBe('Software Authenticity:\n  Software authenticity envelope debugging is on\n  Software authenticity key debugging is on\n');
    await t.run(`verify bootflash:${t.router.platform.defaultImage}`);
    const log = await t.run('show logging');
    expect(log).toMatch(/SW_AUTH: bootflash:.* envelope of production image, production key version A/);
    expect(log).toMatch(/SW_AUTH: bootflash:.* verified with production key version A \(PRIMARY key storage\)/);
    expect(await t.run('no debug software authenticity key')).toBe('Software authenticity key debugging is off\n');
    expect(await t.run('undebug all')).toBe('All possible debugging has been turned off\n');
    expect(await t.run('show debugging')).toBe('');
    // A vty with terminal monitor sees debug messages live, as on IOS.
    let live = '';
    const vty = t.router.openSession({ user: 'admin', lineName: 'vty1', peer: '127.0.0.9', privilege: 15, interactive: true, out: (x) => (live += x) });
    vty.submit('terminal monitor');
    await vty.idle();
    await t.run('debug software authenticity show', 'show software authenticity keys');
    expect(live).toMatch(/SW_AUTH: show software authenticity keys/);
    vty.close();
    await t.run('undebug all');
    const before = (await t.run('show logging')).split('\n').length;
    await t.run('show software authenticity keys');
    expect((await t.run('show logging')).split('\n').length).toBe(before);
  });
});
