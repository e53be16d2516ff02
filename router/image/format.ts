/**
 * The stand-in system image: what a virtual router boots instead of a real IOS image.
 *
 *   [magic "FLIMG001"][u32 BE header length][header JSON][envelope slot, 4096 bytes][payload]
 *
 * The header names the platform, version and feature set; the envelope slot is where the
 * signed-software feature puts its signature envelope (zeros when unsigned); the payload is
 * filler of any size, so copies and flash accounting behave as with a real image.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { signImageFile, type KeyRecord, type SignedImageType, type Signer } from './envelope.ts';

export const IMAGE_MAGIC = Buffer.from('FLIMG001', 'ascii');
export const ENVELOPE_BYTES = 4096;
/** Enough of a file to read any header (headers are small JSON). */
export const HEADER_PROBE_BYTES = 16 * 1024;

export interface ImageHeader {
  /** Platform tag the image boots on (`isr4300`, `c3900`). */
  platform: string;
  /** Version as `show version` prints it (`16.10.1`, `15.0(1)M7`). */
  version: string;
  /** `universalk9`, `adventerprisek9`…; a `k9` set is a crypto image (S4.2). */
  featureSet: string;
  /** What it is: a system image, a ROMmon image, or a key-revocation image (S2.8). */
  kind: 'system' | 'rommon' | 'revocation';
  /** Configuration commands this image's parser lacks, as their first words (S4.5 invalid-config). */
  unsupportedCommands?: string[];
  /** Main memory (DRAM) the image needs to run, in MiB (S4.2: AUM checks it before downloading). */
  dramMb?: number;
  /**
   * Keys the image brings for key storage (signed with the image): a revocation image's new
   * production key (S2.8), a production image's latest special key (S2.10).
   */
  bundledKeys?: KeyRecord[];
}

export function encodeHeader(h: ImageHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([IMAGE_MAGIC, len, json, Buffer.alloc(ENVELOPE_BYTES)]);
}

export interface ParsedImage {
  header: ImageHeader;
  /** Offset of the envelope slot in the file. */
  envelopeOffset: number;
  /** Offset of the payload. */
  payloadOffset: number;
}

/** Reads the header from the first bytes of a file; undefined when it is not an image. */
export function parseImage(first: Buffer): ParsedImage | undefined {
  if (first.length < 12 || !first.subarray(0, 8).equals(IMAGE_MAGIC)) return undefined;
  const len = first.readUInt32BE(8);
  if (len > HEADER_PROBE_BYTES - 12 - ENVELOPE_BYTES || first.length < 12 + len) return undefined;
  try {
    const header = JSON.parse(first.subarray(12, 12 + len).toString('utf8')) as ImageHeader;
    if (typeof header.platform !== 'string' || typeof header.version !== 'string') return undefined;
    header.kind ??= 'system';
    header.featureSet ??= 'universalk9';
    return { header, envelopeOffset: 12 + len, payloadOffset: 12 + len + ENVELOPE_BYTES };
  } catch {
    return undefined;
  }
}

export interface MakeImageOptions extends ImageHeader {
  /** Total file size in bytes (at least the header). */
  size: number;
  /** Makes the filler distinct between images of the same size. */
  seed?: string;
  /** Signs the image (RSA over SHA-512 of everything but the envelope slot). */
  sign?: Signer;
  /** Flips one payload byte after signing: a tampered image for demonstrations (S2.3). */
  tamper?: boolean;
}

/** The envelope's image type for an image signed with `signer` (S2.1: .SPx production, .SSx special). */
export function signedImageType(kind: ImageHeader['kind'], signer: Signer): SignedImageType {
  if (kind === 'revocation' || signer.keyType === 'rollover') return 'revocation';
  if (kind === 'rommon') return 'rommon';
  return signer.keyType === 'special' ? 'special' : 'production';
}

/**
 * Writes an image file. The filler is a 1 MiB block derived from the seed, repeated with
 * each MiB's index stamped in, so 100 MiB takes a fraction of a second and two images
 * with different seeds never share content.
 */
export async function makeImage(path: string, opts: MakeImageOptions): Promise<{ size: number }> {
  const { size, seed, sign, tamper, ...header } = opts;
  const head = encodeHeader({ ...header, kind: header.kind ?? 'system' });
  if (size < head.length) throw new Error(`image size must be at least ${head.length} bytes`);
  if (tamper && size === head.length) throw new Error('a tampered image needs a payload (make it bigger than the header)');
  const block = fillerBlock(seed ?? `${header.platform}/${header.version}/${header.featureSet}`);
  // The signed bytes are hashed as they are written: everything but the (zero) envelope slot.
  const digest = createHash('sha512').update(head.subarray(0, head.length - ENVELOPE_BYTES));
  const fh = await open(path, 'w');
  try {
    await fh.write(head);
    let left = size - head.length;
    let index = 0;
    while (left > 0) {
      block.writeUInt32BE(index++, 0);
      const n = Math.min(left, block.length);
      await fh.write(block, 0, n);
      if (sign) digest.update(block.subarray(0, n));
      left -= n;
    }
  } finally {
    await fh.close();
  }
  if (sign) await signImageFile(path, signedImageType(header.kind ?? 'system', sign), sign, digest.digest());
  if (tamper) {
    const t = await open(path, 'r+');
    try {
      const at = head.length + Math.floor((size - head.length) / 2);
      const { buffer } = await t.read({ buffer: Buffer.alloc(1), position: at });
      await t.write(Buffer.from([buffer[0]! ^ 0x01]), 0, 1, at);
    } finally {
      await t.close();
    }
  }
  return { size };
}

function fillerBlock(seed: string): Buffer {
  const block = Buffer.alloc(1024 * 1024);
  let h = createHash('sha256').update(seed).digest();
  for (let off = 0; off < block.length; off += h.length) {
    h.copy(block, off);
    h = createHash('sha256').update(h).digest();
  }
  return block;
}

/** Parses a size like `100M`, `2MB`, `512k`, `1G` or a plain byte count. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$/i.exec(text);
  if (!m) throw new Error(`not a size: "${text}" (use e.g. 2MB, 512K, 1G)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}
