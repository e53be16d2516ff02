/**
 * Stand-in images for seeding nodes, made once per lab: a file cache under
 * `<state>/images/` (servers copy from it) and blobs in the content store (routers link
 * them, so 200 routers holding one image cost one blob).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, constants as fsc, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeImage } from '../../router/image/format.ts';
import type { KeyRecord } from '../../router/image/envelope.ts';
import { parseKeyName, type SigningAuthority } from '../signing/SigningAuthority.ts';
import type { BlobInfo, ContentStore } from '../../router/storage/ContentStore.ts';
import { platform } from '../../router/platforms/profile.ts';
import type { RouterSpec } from '../kinds/router.ts';
import type { ImageSeed, Topology } from '../topology/schema.ts';

export class ImageFactory {
  private readonly files = new Map<string, Promise<string>>();
  private readonly blobs = new Map<string, Promise<BlobInfo>>();

  constructor(
    private readonly dir: string,
    private readonly store: ContentStore,
    private readonly authority: SigningAuthority,
  ) {}

  /** Same key, same bytes: the signature is deterministic (PKCS#1 v1.5) for one lab's keys. */
  private key(s: ImageSeed): string {
    const signing = `${s.sign}${s.tamper ? '_tampered' : ''}${s.bundle.length ? `_with-${s.bundle.join('+')}` : ''}`;
    const header = `${s.dramMb ? `_dram${s.dramMb}` : ''}${s.unsupportedCommands?.length ? `_lacks-${s.unsupportedCommands.join('+')}` : ''}`;
    return `${s.platform}_${s.version}_${s.featureSet}_${s.kind}_${s.size}_${signing}${header}`.replace(/[^A-Za-z0-9._-]/g, '-');
  }

  /** Host path of the image's cached file (made on first use). */
  file(s: ImageSeed): Promise<string> {
    const key = this.key(s);
    let p = this.files.get(key);
    if (!p) {
      p = this.make(s, join(this.dir, `${key}.bin`));
      this.files.set(key, p);
    }
    return p;
  }

  private async make(s: ImageSeed, path: string): Promise<string> {
    const have = await stat(path).catch(() => undefined);
    // Cached files live in the lab's state with its authority: same keys, still valid.
    if (have?.size === s.size) return path;
    await mkdir(this.dir, { recursive: true });
    // Written beside and renamed, so a crash never leaves a short image in the cache.
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const bundledKeys: KeyRecord[] = await Promise.all(s.bundle.map((k) => this.authority.keyRecord(parseKeyName(k))));
      const sign = s.sign === 'none' ? undefined : await this.authority.signer(parseKeyName(s.sign));
      await makeImage(tmp, {
        platform: s.platform,
        version: s.version,
        featureSet: s.featureSet,
        kind: s.kind,
        size: s.size,
        ...(bundledKeys.length ? { bundledKeys } : {}),
        ...(s.dramMb ? { dramMb: s.dramMb } : {}),
        ...(s.unsupportedCommands?.length ? { unsupportedCommands: s.unsupportedCommands } : {}),
        sign,
        tamper: s.tamper,
      });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return path;
  }

  /** The image as a blob in the lab's content store. */
  blob(s: ImageSeed): Promise<BlobInfo> {
    const key = this.key(s);
    let p = this.blobs.get(key);
    if (!p) {
      p = this.file(s).then((f) => this.store.ingest(createReadStream(f, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>));
      this.blobs.set(key, p);
    }
    return p;
  }

  /**
   * Seeding is over: the store may collect seed blobs no router linked (ingest pinned them
   * so nothing collected one between ingest and link).
   */
  releasePins(): void {
    for (const p of this.blobs.values()) void p.then((b) => this.store.release(b.hash), () => undefined);
    this.blobs.clear();
  }

  /** Copies the image to `dest` (a server's root); a copy, since servers may overwrite files in place. */
  async copyTo(s: ImageSeed, dest: string): Promise<void> {
    const src = await this.file(s);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(src, dest, fsc.COPYFILE_FICLONE);
  }
}

/**
 * Every signing key a topology's routers and images use (factory key storage, image signers,
 * bundles): a runtime makes them all once, before any node reads one.
 */
export function signingKeysOf(t: Topology): string[] {
  const keys = new Set<string>();
  for (const n of t.nodes) {
    if (n.kind === 'router') {
      const a = platform((n as RouterSpec).platform).authenticity;
      for (const k of [...a.keys, ...a.rolloverKeys, a.rommonKey]) keys.add(k);
    }
    // Kinds own their specs: any kind that seeds images lists them under `images`.
    for (const img of (n as { images?: ImageSeed[] }).images ?? []) {
      if (img.sign !== 'none') keys.add(img.sign);
      for (const b of img.bundle) keys.add(b);
    }
  }
  return [...keys];
}
