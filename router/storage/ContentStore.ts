/**
 * A per-lab, content-addressed blob store on the host disk: `<dir>/blobs/<sha256>`. Every
 * router file system in a lab keeps only blob hashes, so ten routers holding the same
 * 500 MB image cost 500 MB of host disk, not 5 GB.
 *
 * Blobs are immutable once named by their hash. Only the sha256 (the name) is computed while
 * bytes stream in: md5 costs three times what sha256 does with SHA extensions and was most
 * of a fleet download's hashing, yet only `verify /md5` and the copy-to-server checksum
 * ask for it. It is computed on first demand from the stored bytes and kept by content
 * hash (in memory and a sidecar file), so a blob is md5-hashed at most once however many
 * routers hold it.
 *
 * Nothing on the host disk is trusted blindly: a read checks the blob's size before the
 * first byte and its sha256 after the last, so a blob truncated or damaged outside the lab
 * surfaces as a DamagedContentError (IOS's `I/O error`), never as a host path.
 *
 * Collection: blobs no file system references are removed (`collect`, on demand as files
 * go, and `gc` at start). A blob just finished but not yet linked into a tree is pinned
 * until its writer lets go, and adopting and collecting run one at a time, so a copy in
 * flight never loses its content. Interrupted writes leave temp files named by their pid;
 * `cleanTemporaries` removes those whose process is gone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DamagedContentError } from './types.ts';

export interface BlobInfo {
  /** sha256, lower-case hex: the blob's name. */
  hash: string;
  size: number;
}

/** Thrown by `ingest` when the source is longer than `limit` (the temp file is already gone). */
export class BlobLimitError extends Error {
  constructor(readonly limit: number) {
    super(`content exceeds ${limit} bytes`);
    this.name = 'BlobLimitError';
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;
/**
 * Bytes a blob write may queue ahead of the disk. One awaited fs.write per network chunk cost
 * a promise and a thread-pool round trip each (a 100-router fleet queues thousands of them
 * on libuv's four threads); with a queue, chunks arriving during a write go down in one writev.
 */
const WRITE_HIGH_WATER = 2 * 1024 * 1024;
/**
 * Bytes gathered in memory before they go to the disk. An idle WriteStream dispatches every
 * chunk as its own fs.write, and each dispatch wakes a libuv thread: one per 512-byte TFTP
 * block was 18 % of a 4-router fleet's main thread, and on a busy 2-core machine the woken
 * thread often preempts the one that woke it. Staged, a TFTP download costs one write and
 * one hash update per 512 KiB, and an FTP download's socket chunks go down together.
 */
const STAGE_BYTES = 512 * 1024;
/** Staged chunks smaller than this on average are joined into one buffer (one hash call), larger ones go down as one writev. */
const JOIN_BELOW = 16 * 1024;

/** A blob being written: chunks go to a temp file while its sha256 runs. */
export class BlobWriter {
  private readonly sha = createHash('sha256');
  private readonly out: WriteStream;
  private done = false;
  private failure?: Error;
  /** Chunks accepted but not yet handed to the stream (fewer than STAGE_BYTES bytes). */
  private staged: Buffer[] = [];
  private stagedBytes = 0;
  /** Bytes accepted so far. */
  bytes = 0;

  constructor(
    private readonly store: ContentStore,
    private readonly tmpPath: string,
  ) {
    this.out = createWriteStream(tmpPath, { flags: 'wx', highWaterMark: WRITE_HIGH_WATER });
    // Keep the first stream error; write()/finish() report it instead of crashing the process.
    this.out.on('error', (e) => (this.failure ??= e));
  }

  /**
   * Appends a chunk. Chunks are staged until STAGE_BYTES gathered, then go to the stream
   * together. Resolves at once while less than WRITE_HIGH_WATER waits for the
   * disk, else once it drained, so a fast source cannot outrun the disk (at most
   * STAGE_BYTES more sit in memory). Chunks that queue behind a write in flight go down
   * together in one writev. A failed write rejects the next call and `finish`, so no blob
   * is ever named after a short write.
   */
  write(chunk: Buffer): Promise<void> {
    if (this.done) return Promise.reject(new Error('blob writer already closed'));
    if (this.failure) return Promise.reject(this.failure);
    this.bytes += chunk.length;
    this.staged.push(chunk);
    this.stagedBytes += chunk.length;
    if (this.stagedBytes < STAGE_BYTES) return Promise.resolve();
    if (this.flush()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.out.off('drain', settle);
        this.out.off('close', settle);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      this.out.on('drain', settle);
      // 'close' also follows an error, so a failed write never leaves this waiting.
      this.out.on('close', settle);
    });
  }

  /** Hashes the staged chunks and hands them to the stream in one go; the stream's write() answer. */
  private flush(): boolean {
    if (this.stagedBytes === 0) return true;
    const chunks = this.staged;
    const bytes = this.stagedBytes;
    this.staged = [];
    this.stagedBytes = 0;
    if (chunks.length === 1 || bytes / chunks.length < JOIN_BELOW) {
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
      this.sha.update(buf);
      return this.out.write(buf);
    }
    // Large chunks: no copy; corked, they reach the disk in one writev.
    this.out.cork();
    let more = true;
    for (const c of chunks) {
      this.sha.update(c);
      more = this.out.write(c);
    }
    this.out.uncork();
    return more;
  }

  /** Closes the temp file and names it by its hash (deduplicating against an existing blob). */
  async finish(): Promise<BlobInfo> {
    if (this.done) throw new Error('blob writer already closed');
    this.done = true;
    if (!this.failure) this.flush();
    await this.close();
    if (this.failure) {
      await rm(this.tmpPath, { force: true });
      throw this.failure;
    }
    const info: BlobInfo = { hash: this.sha.digest('hex'), size: this.bytes };
    await this.store.adopt(this.tmpPath, info);
    return info;
  }

  /** Drops the temp file; nothing of this write remains. */
  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.staged = [];
    this.stagedBytes = 0;
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
  /** Where blobs are written before they are named (one file per write in flight). */
  readonly tmpDir: string;
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
   * reject with BlobLimitError; `onChunk` sees each chunk's length (progress marks). The
   * blob comes back pinned: `release` it once a file system references it.
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

  /**
   * Called by a finished BlobWriter: moves the temp file under its hash and pins it, so
   * nothing collects it before the caller links it into a tree and calls `release`.
   */
  adopt(tmpPath: string, info: BlobInfo): Promise<void> {
    return this.exclusive(async () => {
      this.pin(info.hash);
      const target = this.path(info.hash);
      if (await exists(target)) {
        // Same content already stored: keep the old file (other routers may be reading it).
        await rm(tmpPath, { force: true });
      } else {
        await rename(tmpPath, target);
      }
      this.known.set(info.hash, { size: info.size, md5: this.known.get(info.hash)?.md5 });
    });
  }

  // ---- pins and collection ------------------------------------------------------------

  private readonly pins = new Map<string, number>();
  private references?: () => Iterable<string>;
  private readonly candidates = new Set<string>();
  private collecting?: Promise<number>;
  private lock: Promise<unknown> = Promise.resolve();

  /** Runs `fn` alone: adopting a blob and collecting one never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Keeps a blob from collection (a write between adopt and link, a seed being placed). */
  pin(hash: string): void {
    this.pins.set(hash, (this.pins.get(hash) ?? 0) + 1);
  }

  /** Drops one pin; the blob is collected if nothing references it either. */
  release(hash: string): void {
    const n = (this.pins.get(hash) ?? 0) - 1;
    if (n > 0) this.pins.set(hash, n);
    else {
      this.pins.delete(hash);
      this.unreferenced(hash);
    }
  }

  /**
   * Tells the store which blobs the lab's file systems reference (every router's trees).
   * From then on a blob that loses its last reference is collected soon after.
   */
  trackReferences(references: () => Iterable<string>): void {
    this.references = references;
  }

  /** A file system dropped a reference to `hash`: collect it if it was the last one. */
  unreferenced(hash: string): void {
    if (!this.references) return;
    this.candidates.add(hash);
    this.collecting ??= new Promise<void>((r) => setImmediate(r)).then(() => this.collectCandidates());
  }

  /** Resolves once pending collections ran (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.collecting) await this.collecting;
  }

  private collectCandidates(): Promise<number> {
    return this.exclusive(async () => {
      const batch = [...this.candidates];
      this.candidates.clear();
      this.collecting = undefined;
      if (!this.references || batch.length === 0) return 0;
      const live = new Set(this.references());
      let removed = 0;
      for (const hash of batch) {
        if (live.has(hash) || this.pins.has(hash)) continue;
        await this.remove(hash);
        removed++;
      }
      return removed;
    });
  }

  private async remove(hash: string): Promise<void> {
    await rm(this.path(hash), { force: true });
    await rm(`${this.path(hash)}.md5`, { force: true });
    this.known.delete(hash);
    this.verified.delete(hash);
  }

  /**
   * Removes temp files of writes whose process is gone (a lab killed mid-copy). Returns
   * how many files and bytes went.
   */
  async cleanTemporaries(): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (pid === process.pid || (pid > 0 && processAlive(pid))) continue;
      const p = join(this.tmpDir, name);
      const st = await stat(p).catch(() => undefined);
      await rm(p, { force: true, recursive: true });
      files++;
      bytes += st?.size ?? 0;
    }
    return { files, bytes };
  }

  /** Every blob the store holds, with its size on disk. */
  async blobs(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const name of await readdir(this.blobDir)) {
      if (!HASH_RE.test(name)) continue;
      const st = await stat(join(this.blobDir, name)).catch(() => undefined);
      if (st) out.set(name, st.size);
    }
    return out;
  }

  /** Host path of a blob (the hash is validated, so this never leaves the store). */
  path(hash: string): string {
    if (!HASH_RE.test(hash)) throw new Error(`not a blob hash: ${hash}`);
    return join(this.blobDir, hash);
  }

  has(hash: string): Promise<boolean> {
    return exists(this.path(hash));
  }

  /** Raw bytes of a blob, unchecked (the store's own digesting; use `read` elsewhere). */
  open(hash: string, opts?: { start?: number; end?: number; highWaterMark?: number }): Readable {
    return createReadStream(this.path(hash), { highWaterMark: 1 << 20, ...opts });
  }

  /**
   * Throws DamagedContentError unless the blob is there with `size` bytes (a cheap stat:
   * what every open checks before the first byte).
   */
  async checkSize(hash: string, size: number): Promise<void> {
    const st = await stat(this.path(hash)).catch(() => undefined);
    if (!st) throw new DamagedContentError(hash, 'missing', size);
    if (st.size !== size) throw new DamagedContentError(hash, st.size < size ? 'truncated' : 'wrong size', size, st.size);
  }

  /**
   * The blob's bytes, checked: its size before the first chunk; with a whole read, its
   * sha256 after the last chunk (a reader that got every byte learns the bytes were wrong,
   * as a copy must, before it reports success).
   */
  read(hash: string, size: number, range?: { start: number; end: number }): Readable {
    const store = this;
    return Readable.from(
      (async function* () {
        await store.checkSize(hash, size);
        const whole = range === undefined;
        const sha = whole ? createHash('sha256') : undefined;
        try {
          for await (const chunk of store.open(hash, range)) {
            sha?.update(chunk as Buffer);
            yield chunk as Buffer;
          }
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DamagedContentError(hash, 'missing', size);
          throw e;
        }
        if (sha && sha.digest('hex') !== hash) throw new DamagedContentError(hash, 'corrupt', size);
      })(),
      { objectMode: false, highWaterMark: 1 },
    );
  }

  /** Blobs read end to end in this process and found right, with the file identity seen. */
  private readonly verified = new Map<string, { identity: string; md5: string; sha512?: string }>();

  /**
   * Reads the blob end to end and checks it against its name (sha256) and `size`; returns
   * its md5 (and sha512 when asked) from the same pass. A blob already verified in this
   * process and unchanged on disk (same inode, size and mtime) is not read again, so 200
   * routers booting one image read it once.
   */
  async verify(hash: string, size: number, opts: { sha512?: boolean; onChunk?: (n: number) => void } = {}): Promise<{ md5: string; sha512?: string }> {
    await this.checkSize(hash, size);
    const st = await stat(this.path(hash));
    const identity = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const seen = this.verified.get(hash);
    if (seen && seen.identity === identity && (!opts.sha512 || seen.sha512)) {
      opts.onChunk?.(size);
      return seen;
    }
    // Routers booting together ask at once: one read serves them all.
    const key = `${hash}:${identity}:${opts.sha512 ? 512 : ''}`;
    let reading = this.reading.get(key);
    if (!reading) {
      reading = this.readAndCheck(hash, size, identity, opts.sha512 === true, opts.onChunk).finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    } else opts.onChunk?.(size);
    return reading;
  }

  private readonly reading = new Map<string, Promise<{ md5: string; sha512?: string }>>();

  private async readAndCheck(
    hash: string,
    size: number,
    identity: string,
    withSha512: boolean,
    onChunk?: (n: number) => void,
  ): Promise<{ md5: string; sha512?: string }> {
    const seen = this.verified.get(hash);
    const opts = { sha512: withSha512, onChunk };
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    const sha512 = opts.sha512 ? createHash('sha512') : undefined;
    try {
      for await (const chunk of this.open(hash)) {
        sha.update(chunk as Buffer);
        md5.update(chunk as Buffer);
        sha512?.update(chunk as Buffer);
        opts.onChunk?.((chunk as Buffer).length);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DamagedContentError(hash, 'missing', size);
      throw e;
    }
    if (sha.digest('hex') !== hash) {
      this.verified.delete(hash);
      throw new DamagedContentError(hash, 'corrupt', size);
    }
    const result = { identity, md5: md5.digest('hex'), sha512: sha512?.digest('hex') ?? seen?.sha512 };
    this.verified.set(hash, result);
    return result;
  }

  async size(hash: string): Promise<number> {
    const k = this.known.get(hash);
    if (k) return k.size;
    const s = await stat(this.path(hash));
    this.known.set(hash, { size: s.size });
    return s.size;
  }

  /**
   * The blob's md5: from the cache or the sidecar of an earlier call, else by reading the
   * blob once and remembering the result (in memory and in the sidecar).
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
   * Removes every blob not in `live` (the union of all routers' file systems) and not
   * pinned; returns how many went. Safe beside writes in flight: their temp files are not
   * blobs yet, and a finished one stays pinned until it is linked.
   */
  gc(live: Iterable<string>): Promise<number> {
    return this.exclusive(async () => {
      const keep = new Set(live);
      let removed = 0;
      for (const name of await readdir(this.blobDir)) {
        const hash = name.endsWith('.md5') ? name.slice(0, -4) : name;
        if (!HASH_RE.test(hash) || keep.has(hash) || this.pins.has(hash)) continue;
        await rm(join(this.blobDir, name), { force: true });
        if (name === hash) {
          removed++;
          this.known.delete(hash);
          this.verified.delete(hash);
        }
      }
      return removed;
    });
  }
}

/** Is a process with this pid still there (and not a zombie)? */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed lab stays a zombie until its parent reaps it: gone all the same.
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: signal 0 is all there is
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

