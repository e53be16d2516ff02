/**
 * Independent check of flashlab's image signatures (S2.3, issue 8 item 2): OpenSSL, which
 * nobody here wrote, verifies the pieces `flashlab image export` writes. A good image is
 * accepted, a tampered one and one checked with another signer's key are refused. The images
 * are made and exported by the real `flashlab` command, as a user would.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBinary, runCommand, tryCommand } from '../helpers/peers.ts';

const flashlab = join(import.meta.dirname, '../../bin/flashlab.mjs');

describe('openssl verifies flashlab signatures (RSA-2048, SHA-512)', () => {
  it('accepts a good image, refuses a tampered one and a wrong key', async () => {
    const openssl = requireBinary('openssl', 'openssl');
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-openssl-'));
    const env = { ...process.env, FLASHLAB_HOME: join(dir, 'home') };
    const fl = (...args: string[]) => runCommand(process.execPath, [flashlab, ...args], { env, cwd: dir });
    const made = await fl('image', 'make', 'good.SPA.bin', '--platform', 'isr4321', '--version', '16.12.4', '--size', '3M');
    expect(made).toContain('signed with production:A');
    await fl('image', 'make', 'bad.SPA.bin', '--platform', 'isr4321', '--version', '16.12.4', '--size', '3M', '--tamper');
    await fl('image', 'make', 'dev.SSA.bin', '--platform', 'isr4321', '--version', '16.12.4', '--size', '1M', '--sign', 'special:A');
    await fl('image', 'export', 'good.SPA.bin', 'good');
    await fl('image', 'export', 'bad.SPA.bin', 'bad');
    await fl('image', 'export', 'dev.SSA.bin', 'dev');
    const verify = (pub: string, piece: string) =>
      tryCommand(openssl, ['dgst', '-sha512', '-verify', join(dir, pub, 'signer.pem'), '-signature', join(dir, piece, 'sig.bin'), join(dir, piece, 'signed.bin')]);
    const good = await verify('good', 'good');
    expect(good).toEqual({ code: 0, out: 'Verified OK\n' });
    const bad = await verify('bad', 'bad');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('Verification failure');
    // The special key's certificate does not verify a production signature.
    expect((await verify('dev', 'good')).code).toBe(1);
    // The signer certificate is a real X.509 certificate whose subject show software authenticity prints.
    const subject = await runCommand(openssl, ['x509', '-in', join(dir, 'good', 'signer.crt'), '-noout', '-subject', '-serial']);
    expect(subject).toMatch(/subject=CN ?= ?CiscoSystems, OU ?= ?IOS-XE, O ?= ?CiscoSystems\nserial=[0-9A-F]{8}\n/);
    // The signed bytes are the file minus its 4096-byte envelope slot.
    expect(readFileSync(join(dir, 'good', 'signed.bin')).length).toBe(3 * 1024 * 1024 - 4096);
    // Unsigned images have nothing to export, and say so.
    await fl('image', 'make', 'plain.bin', '--platform', 'isr4321', '--version', '16.12.4', '--size', '1M', '--sign', 'none');
    const plain = await tryCommand(process.execPath, [flashlab, 'image', 'export', 'plain.bin', 'plain'], { env, cwd: dir });
    expect(plain.code).toBe(2);
    expect(plain.out).toContain('plain.bin: the image is not signed');
  });
});
