/**
 * A per-lab, content-addressed blob store on the host disk: `<dir>/blobs/<sha256>`. Every
 * router file system in a lab keeps only blob hashes, so ten routers holding the same
 * 500 MB image cost 500 MB of host disk, not 5 GB.
 *
 * Blobs are immutable once named by their hash. The md5 of each blob (what `verify /md5`
 * prints) is computed from the real bytes while they stream in and kept in a sidecar file,
 * so a later verify needs no second pass over hundreds of MiB.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobInfo {
  /** sha256, lower-case hex: the blob's name. */
  hash: string;
  size: number;
  /** md5, lower-case hex. */
  md5: string;
}

/** Thrown by `ingest` when the source is longer than `limit` (the temp file is already gone). */
export class BlobLimitError extends Error {
  constructor(readonly limit: number) {
    super(`content exceeds ${limit} bytes`);
    this.name = 'BlobLimitError';
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** A blob being written: chunks go to a temp file while both digests run. */
export class BlobWriter {
  private readonly sha = createHash('sha256');
  private readonly md5: Hash = createHash('md5');
  private readonly out: WriteStream;
  private done = false;
  private failure?: Error;
  /** Bytes accepted so far. */
  bytes = 0;

  constructor(
    private readonly store: ContentStore,
    private readonly tmpPath: string,
  ) {
    this.out = createWriteStream(tmpPath, { flags: 'wx' });
    // Keep the first stream error; write()/finish() report it instead of crashing the process.
    this.out.on('error', (e) => (this.failure ??= e));
  }

  /** Appends a chunk; resolves once the OS took it, so a fast source cannot outrun the disk. */
  write(chunk: Buffer): Promise<void> {
    if (this.done) return Promise.reject(new Error('blob writer already closed'));
    if (this.failure) return Promise.reject(this.failure);
    this.sha.update(chunk);
    this.md5.update(chunk);
    this.bytes += chunk.length;
    return new Promise((resolve, reject) => {
      this.out.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Closes the temp file and names it by its hash (deduplicating against an existing blob). */
  async finish(): Promise<BlobInfo> {
    if (this.done) throw new Error('blob writer already closed');
    this.done = true;
    await this.close();
    if (this.failure) {
      await rm(this.tmpPath, { force: true });
      throw this.failure;
    }
    const info: BlobInfo = { hash: this.sha.digest('hex'), size: this.bytes, md5: this.md5.digest('hex') };
    await this.store.adopt(this.tmpPath, info);
    return info;
  }

  /** Drops the temp file; nothing of this write remains. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }

  private close(): Promise<void> {
    if (this.out.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.out.end(() => resolve());
      // 'close' also follows an error, so this never hangs.
      this.out.once('close', () => resolve());
    });
  }
}

export class ContentStore {
  readonly blobDir: string;
  private readonly tmpDir: string;
  /** Cached sizes and md5s of blobs seen by this process. */
  private readonly known = new Map<string, { size: number; md5?: string }>();

  constructor(readonly dir: string) {
    this.blobDir = join(dir, 'blobs');
    this.tmpDir = join(dir, 'tmp');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Starts a blob; the caller writes chunks and then finishes or aborts it. */
  createWriter(): BlobWriter {
    const tmp = join(this.tmpDir, `${process.pid}-${Date.now()}-${randomBytes(6).toString('hex')}`);
    return new BlobWriter(this, tmp);
  }

  /**
   * Streams `source` into the store. With `limit`, more bytes than that abort the blob and
   * reject with BlobLimitError; `onChunk` sees each chunk's length (progress marks).
   */
  async ingest(
    source: AsyncIterable<Buffer>,
    opts: { limit?: number; onChunk?: (n: number) => void } = {},
  ): Promise<BlobInfo> {
    const w = this.createWriter();
    try {
      for await (const chunk of source) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        if (opts.limit !== undefined && w.bytes + buf.length > opts.limit) throw new BlobLimitError(opts.limit);
        await w.write(buf);
        opts.onChunk?.(buf.length);
      }
      return await w.finish();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /** Stores a small in-memory content (config files). */
  ingestBuffer(data: Buffer): Promise<BlobInfo> {
    return this.ingest((async function* () {
      if (data.length > 0) yield data;
    })());
  }

  /** Called by a finished BlobWriter: moves the temp file under its hash. */
  async adopt(tmpPath: string, info: BlobInfo): Promise<void> {
    const target = this.path(info.hash);
    if (await exists(target)) {
      // Same content already stored: keep the old file (other routers may be reading it).
      await rm(tmpPath, { force: true });
    } else {
      await rename(tmpPath, target);
    }
    await writeFile(`${target}.md5`, info.md5).catch(() => undefined);
    this.known.set(info.hash, { size: info.size, md5: info.md5 });
  }

  /** Host path of a blob (the hash is validated, so this never leaves the store). */
  path(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return join(this.blobDir, hash);
  }

  has(hash: string): Promise<boolean> {
    return exists(this.path(hash));
  }

  open(hash: string, opts?: { start?: number; end?: number; highWaterMark?: number }): Readable {
    return createReadStream(this.path(hash), { highWaterMark: 1 << 20, ...opts });
  }

  async size(hash: string): Promise<number> {
    const k = this.known.get(hash);
    if (k) return k.size;
    const s = await stat(this.path(hash));
    this.known.set(hash, { size: s.size });
    return s.size;
  }

  /**
   * The blob's md5: from the cache or the sidecar written at ingest (both computed from the
   * real bytes), else by reading the blob once and remembering the result.
   */
  async md5(hash: string): Promise<string> {
    const k = this.known.get(hash);
    if (k?.md5) return k.md5;
    const side = await readFile(`${this.path(hash)}.md5`, 'utf8').catch(() => '');
    const md5 = /^[0-9a-f]{32}$/.test(side.trim()) ? side.trim() : await this.digest(hash, 'md5');
    if (!side) await writeFile(`${this.path(hash)}.md5`, md5).catch(() => undefined);
    this.known.set(hash, { size: k?.size ?? (await this.size(hash)), md5 });
    return md5;
  }

  /** Re-reads the blob and digests it now (for a verification that must touch the bytes). */
  async digest(hash: string, algorithm: 'md5' | 'sha256' | 'sha512', onChunk?: (n: number) => void): Promise<string> {
    const h = createHash(algorithm);
    for await (const chunk of this.open(hash)) {
      h.update(chunk as Buffer);
      onChunk?.((chunk as Buffer).length);
    }
    return h.digest('hex');
  }

  /**
   * Removes every blob not in `live` (the union of all routers' file systems). Run it when no
   * write is in flight (lab down/up): a blob just finished but not yet linked into a file
   * system's tree is not in anyone's live set.
   */
  async gc(live: Iterable<string>): Promise<number> {
    const keep = new Set(live);
    let removed = 0;
    for (const name of await readdir(this.blobDir)) {
      const hash = name.endsWith('.md5') ? name.slice(0, -4) : name;
      if (!HASH_RE.test(hash) || keep.has(hash)) continue;
      await rm(join(this.blobDir, name), { force: true });
      if (name === hash) {
        removed++;
        this.known.delete(hash);
      }
    }
    return removed;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
