/**
 * Signature verification as ROMmon and IOS do it (S2.3): the image's SHA-512 is computed from
 * the stored bytes, then the signature is checked with each key in PRIMARY, then BACKUP key
 * storage (ROLLOVER for revocation images), printing ROMmon's real lines (ANCHORS §1.3).
 *
 * Cost at scale: the digest is cached by the blob's content hash (sha256 of the very bytes,
 * so a changed byte is a different blob and is hashed again), and a verdict by content hash,
 * envelope and key set (a changed key set verifies again). 200 routers booting one image
 * hash it once; each still runs its own RSA check against its own key storage.
 */
import { constants, publicDecrypt } from 'node:crypto';
import { verifyDigest, publicKeyOf, signedDigestOfFile, envelopeOf, type Envelope, type KeyRecord } from '../../image/envelope.ts';
import type { ContentStore } from '../../storage/ContentStore.ts';
import type { ParsedImage } from '../../image/format.ts';
import type { FlashFileSystem } from '../../storage/FlashFileSystem.ts';
import { keySetId, type KeyStorage } from './keystore.ts';

const MAX_CACHED = 256;
const digests = new Map<string, Promise<Buffer>>();
const verdicts = new Map<string, Verdict>();

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= MAX_CACHED) map.delete(map.keys().next().value!);
  map.set(key, value);
  return value;
}

/** SHA-512 of an image's signed bytes, read from flash (its blob in the store) once per distinct content. */
export function imageDigest(fs: FlashFileSystem, path: string, image: ParsedImage, store: ContentStore): Promise<Buffer> {
  const blob = fs.blobHash(path);
  const hit = digests.get(blob);
  if (hit) return hit;
  const p = signedDigestOfFile(store.path(blob), image);
  // A read error must not poison the cache for the next attempt.
  p.catch(() => digests.delete(blob));
  return remember(digests, blob, p);
}

export type Verdict =
  | { ok: true; key: KeyRecord; storage: 'PRIMARY' | 'BACKUP' | 'ROLLOVER'; lines: string[] }
  | { ok: false; reason: string; lines: string[] };

/** The banner word ROMmon prints for an image type (`RSA Signed RELEASE Image …`). */
export function bannerWord(e: Envelope): string {
  return e.imageType === 'revocation' ? 'REVOCATION' : e.imageType === 'special' || e.keyType === 'special' ? 'DEVELOPMENT' : 'RELEASE';
}

/**
 * Checks `signature` over `digest` with the keys that may sign this kind of image: rollover
 * keys for a revocation image, production and special keys otherwise.
 */
export function verifyWithStorage(digest: Buffer, envelope: Envelope, revocationImage: boolean, s: KeyStorage): Verdict {
  const signature = Buffer.from(envelope.signature, 'base64');
  const lines: string[] = [];
  const storages: ['PRIMARY' | 'BACKUP' | 'ROLLOVER', KeyRecord[]][] = revocationImage
    ? [['ROLLOVER', s.rollover]]
    : [
        ['PRIMARY', s.primary],
        ['BACKUP', s.backup],
      ];
  for (const [name, keys] of storages) {
    lines.push(`Using FLASH based Keys of type = ${name} KEY STORAGE`);
    for (const [i, k] of keys.entries()) {
      if (revocationImage !== (k.type === 'rollover')) continue;
      if (verifyDigest(digest, signature, publicKeyOf(k))) {
        lines.push(`RSA Signed ${bannerWord(envelope)} Image Signature Verification Successful.`, 'Image validated');
        return { ok: true, key: k, storage: name, lines };
      }
      lines.push(`Signature verification failed for key# ${i + 1}`);
    }
    lines.push('Failed to validate digital signature');
  }
  lines.push(`RSA Signed ${bannerWord(envelope)} Image Signature Verification Failed.`, 'signature verification FAILED...');
  return { ok: false, reason: 'signature verification failed: no key in key storage verifies it (tampered, unknown or revoked key)', lines };
}

/** Verifies an image file against a key storage, with the content-hash and key-set caches. */
export async function verifyImage(fs: FlashFileSystem, path: string, image: ParsedImage, head: Buffer, s: KeyStorage, store: ContentStore): Promise<Verdict & { envelope?: Envelope }> {
  const env = envelopeOf(head, image);
  if ('error' in env) {
    return env.error === 'unsigned'
      ? { ok: false, reason: 'image is not signed', lines: ['Unsigned package found,  aborting ...'] }
      : { ok: false, reason: 'signature envelope is corrupt', lines: ['Failed to validate digital signature', 'signature verification FAILED...'] };
  }
  const key = `${fs.blobHash(path)}|${env.envelope.signature}|${keySetId(s)}`;
  const cached = verdicts.get(key);
  if (cached) return { ...cached, envelope: env.envelope };
  const digest = await imageDigest(fs, path, image, store);
  const v = verifyWithStorage(digest, env.envelope, image.header.kind === 'revocation', s);
  return { ...remember(verdicts, key, v), envelope: env.envelope };
}

/** The digest embedded in a signature, as any one of `keys` recovers it (what `verify` prints). */
export function embeddedDigest(envelope: Envelope, keys: KeyRecord[]): Buffer | undefined {
  const signature = Buffer.from(envelope.signature, 'base64');
  for (const k of keys) {
    try {
      const block = publicDecrypt({ key: publicKeyOf(k), padding: constants.RSA_PKCS1_PADDING }, signature);
      if (block.length === 19 + 64) return block.subarray(19);
    } catch {
      // not this key
    }
  }
  return undefined;
}

