/**
 * `flashlab image make … --sign … --tamper --bundle …` and `flashlab image export`: stand-in
 * images signed with a lab's signing authority, and the pieces an independent tool needs to
 * check a signature (`openssl dgst -sha512 -verify signer.pem -signature sig.bin signed.bin`).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exportSignedPieces } from '../../router/image/envelope.ts';
import { HEADER_PROBE_BYTES, makeImage, parseSize, type ImageHeader } from '../../router/image/format.ts';
import { platforms } from '../../router/platforms/profile.ts';
import { keyId, parseKeyName, SigningAuthority } from './SigningAuthority.ts';

export interface ImageMakeOptions {
  platform: string;
  version: string;
  featureSet: string;
  size: string;
  kind: string;
  sign?: string;
  tamper?: boolean;
  bundle?: string[];
}

/** Makes the image; returns the line `flashlab image make` prints. Throws Error with a user message. */
export async function makeImageCommand(file: string, o: ImageMakeOptions, stateDir: string): Promise<string> {
  const profile = platforms().get(o.platform);
  const tag = profile?.imagePlatform ?? o.platform;
  const size = parseSize(o.size);
  const kind = o.kind as ImageHeader['kind'];
  const authority = new SigningAuthority(stateDir);
  const sign = o.sign ?? (kind === 'revocation' ? 'rollover' : 'production:A');
  const signWith = sign === 'none' ? undefined : parseKeyName(sign);
  if (o.tamper && !signWith) throw new Error('--tamper needs a signed image (--sign production:A, …)');
  const bundle = (o.bundle ?? []).map(parseKeyName);
  // Keys first (made once per lab, kept in its state), so the time printed is the image's own.
  const bundledKeys = await Promise.all(bundle.map((k) => authority.keyRecord(k)));
  const signer = signWith && (await authority.signer(signWith));
  const t0 = performance.now();
  await makeImage(resolve(file), {
    platform: tag,
    version: o.version,
    featureSet: o.featureSet,
    kind,
    size,
    ...(bundledKeys.length ? { bundledKeys } : {}),
    sign: signer,
    tamper: o.tamper,
  });
  const ms = performance.now() - t0;
  const signed = signWith ? `, signed with ${keyId(signWith)}${o.tamper ? ' then tampered' : ''}` : ', unsigned';
  const bundled = bundle.length ? `, bundles ${bundle.map(keyId).join(' ')}` : '';
  return `${file}: ${tag} ${o.version} ${o.featureSet} ${o.kind} image, ${size} bytes${signed}${bundled} (${(ms / 1000).toFixed(2)} s)`;
}

/** Writes signed.bin, sig.bin, signer.pem (public key) and signer.crt into `dir`. */
export async function exportImageCommand(file: string, dir: string): Promise<string> {
  const path = resolve(file);
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const { buffer, bytesRead } = await fh.read({ buffer: Buffer.alloc(HEADER_PROBE_BYTES), position: 0 });
    head = buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  await mkdir(dir, { recursive: true });
  const out = { signedBytes: join(dir, 'signed.bin'), signature: join(dir, 'sig.bin'), publicKey: join(dir, 'signer.pem'), certificate: join(dir, 'signer.crt') };
  const env = await exportSignedPieces(() => createReadStream(path, { highWaterMark: 1 << 20 }), head, out).catch((e: Error) => {
    throw new Error(`${file}: ${e.message}`);
  });
  if (!env) throw new Error(`${file}: the image is not signed`);
  return [
    `${file}: ${env.imageType} image signed with ${env.keyType} key version ${env.keyVersion}`,
    `check it: openssl dgst -sha512 -verify ${out.publicKey} -signature ${out.signature} ${out.signedBytes}`,
  ].join('\n');
}
