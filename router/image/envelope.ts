/**
 * Signed images (SPEC S2.1–S2.3): the signature envelope that sits in the image's envelope
 * slot, and the RSA-2048 / SHA-512 signature it carries.
 *
 * What is signed: every byte of the file except the envelope slot (magic, header, payload),
 * so the signature can be checked independently with
 *   openssl dgst -sha512 -verify signer-pub.pem -signature sig.bin signed-bytes
 * where `signed-bytes` is the file with the slot cut out (`exportSignedPieces`).
 * The signature is RSASSA-PKCS1-v1_5 over SHA-512, built from the digest (DigestInfo), so a
 * 512 MiB image is hashed once, streamed, and never held in memory.
 *
 * The envelope is JSON padded with zeros to the slot size; an all-zero slot is an unsigned
 * image. The envelope's claims (type, key version) are only labels: a verifier believes the
 * key that actually verified the signature, never the label.
 */
import { createHash, createPublicKey, privateEncrypt, publicDecrypt, constants, X509Certificate, type KeyObject } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ENVELOPE_BYTES, type ParsedImage, parseImage, HEADER_PROBE_BYTES } from './format.ts';

/** Key types a device stores (S2.2). */
export type KeyType = 'production' | 'special' | 'rollover';
/** What an image is, as the envelope says (S2.1, S2.8). */
export type SignedImageType = 'production' | 'special' | 'rommon' | 'revocation';

/** A public key as key storage keeps it: type, version letter, RSA modulus and exponent. */
export interface KeyRecord {
  type: KeyType;
  version: string;
  /** Modulus, lower-case hex, no leading zero byte. */
  modulus: string;
  exponent: number;
}

/** What a signer hands the image writer: its key, certificate and identity. */
export interface Signer {
  keyType: KeyType;
  keyVersion: string;
  privateKey: KeyObject;
  certificatePem: string;
}

export interface Envelope {
  format: 1;
  imageType: SignedImageType;
  keyType: KeyType;
  keyVersion: string;
  hashAlgorithm: 'SHA512';
  certificatePem: string;
  /** Base64 RSASSA-PKCS1-v1_5 signature. */
  signature: string;
}

/** DER prefix of a DigestInfo for SHA-512 (RFC 8017 §9.2, note 1). */
const SHA512_DIGEST_INFO = Buffer.from('3051300d060960864801650304020305000440', 'hex');

export function signDigest(digest: Buffer, key: KeyObject): Buffer {
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA512_DIGEST_INFO, digest]));
}

/** True when `signature` is `key`'s PKCS#1 v1.5 signature of this SHA-512 digest. */
export function verifyDigest(digest: Buffer, signature: Buffer, key: KeyObject): boolean {
  try {
    const block = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return block.equals(Buffer.concat([SHA512_DIGEST_INFO, digest]));
  } catch {
    return false; // wrong key: the padding does not decode
  }
}

const keyObjects = new Map<string, KeyObject>();

/** The node:crypto public key for a stored key record (cached: 200 routers share keys). */
export function publicKeyOf(k: KeyRecord): KeyObject {
  const id = `${k.modulus}/${k.exponent}`;
  let o = keyObjects.get(id);
  if (!o) {
    const b64u = (hex: string) => Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
    o = createPublicKey({ key: { kty: 'RSA', n: b64u(k.modulus), e: b64u(k.exponent.toString(16)) }, format: 'jwk' });
    keyObjects.set(id, o);
  }
  return o;
}

/** Modulus and exponent of a public (or private) key, as key storage keeps them. */
export function keyRecordOf(type: KeyType, version: string, key: KeyObject): KeyRecord {
  const jwk = key.export({ format: 'jwk' }) as { n: string; e: string };
  return { type, version, modulus: Buffer.from(jwk.n, 'base64url').toString('hex'), exponent: parseInt(Buffer.from(jwk.e, 'base64url').toString('hex'), 16) };
}

export function encodeEnvelope(e: Envelope): Buffer {
  const json = Buffer.from(JSON.stringify(e), 'utf8');
  if (json.length > ENVELOPE_BYTES) throw new Error(`signature envelope is ${json.length} bytes; the slot holds ${ENVELOPE_BYTES}`);
  const slot = Buffer.alloc(ENVELOPE_BYTES);
  json.copy(slot);
  return slot;
}

export type EnvelopeRead = { envelope: Envelope } | { error: 'unsigned' | 'corrupt' };

/** Reads the envelope from the slot bytes: unsigned (all zeros), corrupt, or the envelope. */
export function decodeEnvelope(slot: Buffer): EnvelopeRead {
  const end = slot.indexOf(0);
  const json = slot.subarray(0, end < 0 ? slot.length : end);
  if (json.length === 0) return { error: 'unsigned' };
  try {
    const e = JSON.parse(json.toString('utf8')) as Envelope;
    const ok =
      e.format === 1 &&
      ['production', 'special', 'rommon', 'revocation'].includes(e.imageType) &&
      ['production', 'special', 'rollover'].includes(e.keyType) &&
      /^[A-Z]$/.test(e.keyVersion) &&
      typeof e.certificatePem === 'string' &&
      typeof e.signature === 'string';
    return ok ? { envelope: e } : { error: 'corrupt' };
  } catch {
    return { error: 'corrupt' };
  }
}

/** The envelope of an image file's first bytes (header probe). */
export function envelopeOf(first: Buffer, image: ParsedImage): EnvelopeRead {
  return decodeEnvelope(first.subarray(image.envelopeOffset, image.envelopeOffset + ENVELOPE_BYTES));
}

/** Signer identity from the envelope's certificate: what `show software authenticity` prints. */
export interface SignerInfo {
  commonName: string;
  organizationUnit: string;
  organizationName: string;
  serial: string;
}

const signerInfos = new Map<string, SignerInfo | undefined>();

export function signerInfo(certificatePem: string): SignerInfo | undefined {
  if (signerInfos.has(certificatePem)) return signerInfos.get(certificatePem);
  let info: SignerInfo | undefined;
  try {
    const c = new X509Certificate(certificatePem);
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(c.subject)?.[1] ?? '';
    info = { commonName: field('CN'), organizationUnit: field('OU'), organizationName: field('O'), serial: c.serialNumber.toUpperCase() };
  } catch {
    info = undefined;
  }
  signerInfos.set(certificatePem, info);
  return info;
}

/**
 * SHA-512 of the signed bytes of a stream holding a whole image: everything except the
 * envelope slot at [envelopeOffset, payloadOffset).
 */
export async function signedDigest(stream: Readable, image: Pick<ParsedImage, 'envelopeOffset' | 'payloadOffset'>): Promise<Buffer> {
  const h = createHash('sha512');
  let pos = 0;
  for await (const c of stream) {
    const chunk = c as Buffer;
    const start = pos;
    const end = pos + chunk.length;
    pos = end;
    if (end <= image.envelopeOffset || start >= image.payloadOffset) {
      h.update(chunk);
      continue;
    }
    if (start < image.envelopeOffset) h.update(chunk.subarray(0, image.envelopeOffset - start));
    if (end > image.payloadOffset) h.update(chunk.subarray(image.payloadOffset - start));
  }
  return h.digest();
}

/**
 * The same digest read straight from a file into one reused buffer: about twice the speed of
 * a read stream (no allocation per chunk), which is what lets verification keep pace with
 * `openssl dgst`. The envelope slot is skipped by reading around it.
 */
export async function signedDigestOfFile(file: string, image: Pick<ParsedImage, 'envelopeOffset' | 'payloadOffset'>): Promise<Buffer> {
  const h = createHash('sha512');
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (const [start, end] of [
      [0, image.envelopeOffset],
      [image.payloadOffset, Number.POSITIVE_INFINITY],
    ] as const) {
      let pos = start;
      while (pos < end) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
        if (bytesRead === 0) break;
        // update() consumes the bytes before the next read refills the buffer.
        h.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    }
  } finally {
    await fh.close();
  }
  return h.digest();
}

/** Writes the envelope for an already written image file (its slot must be zeros). */
export async function signImageFile(path: string, imageType: SignedImageType, signer: Signer, digest: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const { buffer } = await fh.read({ buffer: Buffer.alloc(HEADER_PROBE_BYTES), position: 0 });
    const image = parseImage(buffer);
    if (!image) throw new Error(`${path} is not an image`);
    const envelope = encodeEnvelope({
      format: 1,
      imageType,
      keyType: signer.keyType,
      keyVersion: signer.keyVersion,
      hashAlgorithm: 'SHA512',
      certificatePem: signer.certificatePem,
      signature: signDigest(digest, signer.privateKey).toString('base64'),
    });
    await fh.write(envelope, 0, envelope.length, image.envelopeOffset);
  } finally {
    await fh.close();
  }
}

/**
 * The pieces an independent check needs: the signed bytes (the file minus its envelope slot),
 * the raw signature and the signer's public key as PEM. Returns undefined for an unsigned file.
 */
export async function exportSignedPieces(
  read: () => Readable,
  first: Buffer,
  out: { signedBytes: string; signature: string; publicKey: string; certificate?: string },
): Promise<Envelope | undefined> {
  const image = parseImage(first);
  if (!image) throw new Error('not an image');
  const env = envelopeOf(first, image);
  if (!('envelope' in env)) return undefined;
  const fh = await open(out.signedBytes, 'w');
  try {
    let pos = 0;
    for await (const c of read()) {
      const chunk = c as Buffer;
      const start = pos;
      pos += chunk.length;
      const parts: Buffer[] = [];
      if (start < image.envelopeOffset) parts.push(chunk.subarray(0, Math.max(0, image.envelopeOffset - start)));
      if (pos > image.payloadOffset) parts.push(chunk.subarray(Math.max(0, image.payloadOffset - start)));
      for (const p of parts) if (p.length) await fh.write(p);
    }
  } finally {
    await fh.close();
  }
  await writeFile(out.signature, Buffer.from(env.envelope.signature, 'base64'));
  const cert = new X509Certificate(env.envelope.certificatePem);
  await writeFile(out.publicKey, cert.publicKey.export({ format: 'pem', type: 'spki' }));
  if (out.certificate) await writeFile(out.certificate, env.envelope.certificatePem);
  return env.envelope;
}
