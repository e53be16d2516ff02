/**
 * Signed-software building blocks in isolation: the signature over a streamed SHA-512, the
 * envelope slot, the signing authority's persistence, device state, and the verification
 * cache (reused only for the same bytes and the same key set, never skipping a check).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKeyName, SigningAuthority } from '../../lab/signing/SigningAuthority.ts';
import { verifyWithStorage } from '../../router/features/authenticity/verify.ts';
import { decodeEnvelope, encodeEnvelope, envelopeOf, publicKeyOf, signDigest, signedDigestOfFile, signerInfo, verifyDigest } from '../../router/image/envelope.ts';
import { ENVELOPE_BYTES, HEADER_PROBE_BYTES, parseImage } from '../../router/image/format.ts';
import { DeviceState } from '../../router/storage/DeviceState.ts';
import { makeSignedImage, testAuthority } from '../helpers/signing.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'flashlab-signing-'));

describe('signatures and envelopes', () => {
  it('signs a SHA-512 digest that only the matching key verifies', async () => {
    const a = testAuthority();
    const prodA = await a.signer(parseKeyName('production:A'));
    const digest = createHash('sha512').update('image bytes').digest();
    const sig = signDigest(digest, prodA.privateKey);
    expect(sig.length).toBe(256);
    expect(verifyDigest(digest, sig, publicKeyOf(await a.keyRecord(parseKeyName('production:A'))))).toBe(true);
    expect(verifyDigest(digest, sig, publicKeyOf(await a.keyRecord(parseKeyName('special:A'))))).toBe(false);
    const other = createHash('sha512').update('image bytez').digest();
    expect(verifyDigest(other, sig, publicKeyOf(await a.keyRecord(parseKeyName('production:A'))))).toBe(false);
  });

  it('reads an empty slot as unsigned and garbage as corrupt; the envelope fits the slot', async () => {
    expect(decodeEnvelope(Buffer.alloc(ENVELOPE_BYTES))).toEqual({ error: 'unsigned' });
    expect(decodeEnvelope(Buffer.from('{"format":1,"imageType":"x"'))).toEqual({ error: 'corrupt' });
    const s = await testAuthority().signer(parseKeyName('rollover'));
    const slot = encodeEnvelope({ format: 1, imageType: 'revocation', keyType: 'rollover', keyVersion: 'A', hashAlgorithm: 'SHA512', certificatePem: s.certificatePem, signature: 'AA==' });
    expect(slot.length).toBe(ENVELOPE_BYTES);
    expect(decodeEnvelope(slot)).toMatchObject({ envelope: { imageType: 'revocation', keyVersion: 'A' } });
    expect(signerInfo(s.certificatePem)).toMatchObject({ commonName: 'CiscoSystems', organizationUnit: 'IOS-XE-ROLLOVER', organizationName: 'CiscoSystems' });
  });

  it('parses key names and refuses others', () => {
    expect(parseKeyName('production:B')).toEqual({ type: 'production', version: 'B' });
    expect(parseKeyName('rollover')).toEqual({ type: 'rollover', version: 'A' });
    expect(() => parseKeyName('release:A')).toThrow(/not a signing key: "release:A"/);
  });
});

describe('the signing authority', () => {
  it('keeps its keys in the lab state (mode 0600) and gives the same keys back after a restart', async () => {
    const dir = tmp();
    const first = await new SigningAuthority(dir).keyRecord(parseKeyName('production:A'));
    const file = join(dir, 'signing', 'authority.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await new SigningAuthority(dir).keyRecord(parseKeyName('production:A'));
    expect(again.modulus).toBe(first.modulus);
    expect(again.modulus).toHaveLength(512);
    expect(JSON.parse(readFileSync(file, 'utf8')).keys['production:A'].certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});

describe('verification against key storage', () => {
  it('a changed key set verifies again: removing the signing key turns success into failure', async () => {
    const dir = tmp();
    const file = join(dir, 'img.bin');
    await makeSignedImage(file, { platform: 'isr4300', version: '1', featureSet: 'universalk9', kind: 'system', size: 64 * 1024 });
    const bytes = readFileSync(file);
    const head = bytes.subarray(0, HEADER_PROBE_BYTES);
    const image = parseImage(head)!;
    const env = envelopeOf(head, image);
    if (!('envelope' in env)) throw new Error('not signed');
    const digest = createHash('sha512').update(Buffer.concat([bytes.subarray(0, image.envelopeOffset), bytes.subarray(image.payloadOffset)])).digest();
    // The routers read the file around the envelope slot; the same digest either way.
    expect(await signedDigestOfFile(file, image)).toEqual(digest);
    const a = testAuthority();
    const keys = [await a.keyRecord(parseKeyName('special:A')), await a.keyRecord(parseKeyName('production:A'))];
    const storage = { primary: keys, backup: keys, rollover: [], revoked: [], rommon: undefined as never };
    const ok = verifyWithStorage(digest, env.envelope, false, storage);
    expect(ok).toMatchObject({ ok: true, storage: 'PRIMARY', key: { type: 'production', version: 'A' } });
    expect(ok.lines).toEqual(['Using FLASH based Keys of type = PRIMARY KEY STORAGE', 'Signature verification failed for key# 1', 'RSA Signed RELEASE Image Signature Verification Successful.', 'Image validated']);
    const only = [keys[0]!];
    expect(verifyWithStorage(digest, env.envelope, false, { ...storage, primary: only, backup: only }).ok).toBe(false);
    // A revocation image is checked with rollover keys only: production keys never verify it.
    expect(verifyWithStorage(digest, env.envelope, true, storage).lines[0]).toBe('Using FLASH based Keys of type = ROLLOVER KEY STORAGE');
  });
});

describe('device state', () => {
  it('loads missing, corrupt and saved records; writes atomically', () => {
    const dir = tmp();
    const d = new DeviceState(dir);
    expect(d.load('keys')).toEqual({ missing: true });
    d.set('keys', { a: 1 });
    expect(new DeviceState(dir).load('keys')).toEqual({ value: { a: 1 } });
    writeFileSync(join(dir, 'keys.json'), '{"a":');
    expect(new DeviceState(dir).load('keys')).toMatchObject({ corrupt: expect.any(String) });
    expect(() => new DeviceState(dir).get('keys')).toThrow(/used before it was loaded/);
    expect(() => d.set('../x', 1)).toThrow(/bad device-state name/);
  });
});
