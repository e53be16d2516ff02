/**
 * One file system of one router (or one partition of a partitioned flash card): a tree of
 * directories and files whose contents are blob hashes in the lab's ContentStore. The tree
 * is metadata only and is saved as JSON after every change, so it survives lab down/up.
 *
 * Paths are keys in this tree and are never joined onto a host path: `..` stops at the
 * root and a "/etc/passwd" is just a file name under the root, so nothing can escape.
 *
 * Accounting is logical: a file costs its size (plus a 64-byte header on class-B flash,
 * as the seed's `show slot0:` totals show), a directory costs one block on IOS XE's Linux
 * file systems. Writes reserve space before a byte is stored, so free space never goes
 * negative and a refused or failed write leaves nothing behind.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../lab/clock/LabClock.ts';
import type { FileSystemProfile } from '../platforms/profile.ts';
import type { BlobWriter, ContentStore } from './ContentStore.ts';
import { DamagedContentError, type FileEntry, StorageError } from './types.ts';

export interface FlashFileSystemOptions {
  /** Prefix without colon: `bootflash`, `flash0`, `slot0`. */
  name: string;
  /** 1-based partition number, for partitioned devices only. */
  partition?: number;
  aliases?: string[];
  profile: FileSystemProfile;
  /** Capacity of this file system (or partition); the topology may override the profile. */
  sizeBytes: number;
  store: ContentStore;
  metaPath: string;
  clock: Clock;
  /** Platform family: picks the no-space wording and the directory block size. */
  family?: 'iosxe' | 'ios';
  /** Told when a file's stored content turns out missing or damaged (the router logs it). */
  onDamage?: (file: string, error: DamagedContentError) => void;
}

/** An open file being written; nothing is visible until `commit`. */
export interface FlashWriter {
  readonly bytesWritten: number;
  write(chunk: Buffer): Promise<void>;
  commit(): Promise<FileEntry>;
  abort(): Promise<void>;
}

export interface MetaNode {
  name: string;
  dir?: true;
  size: number;
  /** ms since epoch. */
  mtime: number;
  inode: number;
  hash?: string;
  deleted?: true;
  /** Directory order = creation order, as on the device. */
  children?: MetaNode[];
}

export interface MetaFile {
  version: 1;
  nextInode: number;
  root: MetaNode;
}

/** Class-B flash stores a 64-byte header before each file (seed: 1711088-byte file uses 1711152). */
const CLASS_B_HEADER = 64;
/** ext2/ext4 directory block on IOS XE bootflash (`dir` shows 4096 for directories). */
const XE_DIR_BLOCK = 4096;

export class FlashFileSystem {
  readonly name: string;
  readonly partition?: number;
  readonly aliases: readonly string[];
  readonly profile: FileSystemProfile;
  readonly totalBytes: number;
  readonly family: 'iosxe' | 'ios';
  /** The text IOS prints in parentheses when a write does not fit (IOS XE runs on Linux). */
  readonly noSpaceReason: 'No space left on device' | 'Not enough space on device';
  /** Class-B: deleted files keep their space until `squeeze`. */
  readonly squeezable: boolean;

  private readonly store: ContentStore;
  private readonly metaPath: string;
  private readonly clock: Clock;
  private meta: MetaFile;
  private readonly onDamage?: FlashFileSystemOptions['onDamage'];
  /**
   * Set when the metadata file could not be read at start: what was wrong and what was
   * done (the damaged file kept as `<file>.corrupt-<ms>`, this file system started empty).
   */
  readonly loadProblem?: { file: string; keptAs: string; reason: string };
  private used = 0;
  /** Space promised to writers that have not committed yet. */
  private reserved = 0;

  constructor(opts: FlashFileSystemOptions) {
    this.name = opts.name;
    this.partition = opts.partition;
    this.aliases = opts.aliases ?? opts.profile.aliases ?? [];
    this.profile = opts.profile;
    this.totalBytes = Math.max(0, Math.floor(opts.sizeBytes));
    this.family = opts.family ?? 'ios';
    this.noSpaceReason = this.family === 'iosxe' ? 'No space left on device' : 'Not enough space on device';
    this.squeezable = opts.profile.squeeze;
    this.store = opts.store;
    this.metaPath = opts.metaPath;
    this.clock = opts.clock;
    this.onDamage = opts.onDamage;
    const loaded = this.load();
    this.meta = loaded.meta;
    this.loadProblem = loaded.problem;
    this.used = this.chargeTree(this.meta.root);
  }

  /** `bootflash` or, for a partition, `slot0:1`: what goes before the `:` of a file URL. */
  get displayName(): string {
    return this.partition === undefined ? this.name : `${this.name}:${this.partition}`;
  }

  /** `bootflash:` / `slot0:1:`: the root as IOS names it in messages. */
  get prefix(): string {
    return `${this.displayName}:`;
  }

  get usedBytes(): number {
    return this.used;
  }

  /** What a new write may still use: never negative, even if the size was lowered under the data. */
  get freeBytes(): number {
    return Math.max(0, this.totalBytes - this.used - this.reserved);
  }

  // ---------------------------------------------------------------- reading

  /** The entry at `path` (`''` is the root), or undefined when there is none. */
  stat(path: string): FileEntry | undefined {
    const segs = normalize(path);
    const node = this.find(segs);
    return node ? toEntry(node, segs) : undefined;
  }

  exists(path: string): boolean {
    return this.find(normalize(path)) !== undefined;
  }

  /** Entries of a directory in directory order; deleted class-B entries only when asked. */
  list(dir = '', opts: { deleted?: boolean } = {}): FileEntry[] {
    const segs = normalize(dir);
    const node = this.find(segs);
    if (!node) throw new StorageError('No such file or directory');
    if (!node.dir) throw new StorageError('Not a directory');
    return (node.children ?? []).filter((c) => opts.deleted || !c.deleted).map((c) => toEntry(c, [...segs, c.name]));
  }

  /** Every entry below the root, depth first, each directory before its contents. */
  walk(opts: { deleted?: boolean } = {}): FileEntry[] {
    const out: FileEntry[] = [];
    const visit = (node: MetaNode, segs: string[]) => {
      for (const c of node.children ?? []) {
        if (c.deleted && !opts.deleted) continue;
        const p = [...segs, c.name];
        out.push(toEntry(c, p));
        if (c.dir) visit(c, p);
      }
    };
    visit(this.meta.root, []);
    return out;
  }

  /** The file's bytes; a missing or damaged content fails the read with `I/O error`. */
  openRead(path: string): Readable {
    const node = this.fileNode(path);
    const stream = this.store.read(node.hash!, node.size);
    stream.once('error', (e) => this.noteDamage(path, e));
    return stream;
  }

  /**
   * Reads the file end to end and checks it against its content hash (boot, verify): throws
   * StorageError('I/O error') when the stored bytes are missing, short or wrong.
   */
  async verifyContent(path: string, opts: { sha512?: boolean } = {}): Promise<{ md5: string; sha512?: string }> {
    const node = this.fileNode(path);
    return this.guard(path, this.store.verify(node.hash!, node.size, opts));
  }

  /** The file's content hash (sha256) in the lab's content store. */
  blobHash(path: string): string {
    return this.fileNode(path).hash!;
  }

  /** The first `bytes` bytes (image headers), without reading the rest of the file. */
  async readHead(path: string, bytes: number): Promise<Buffer> {
    const node = this.fileNode(path);
    if (bytes <= 0 || node.size === 0) return Buffer.alloc(0);
    return this.guard(
      path,
      (async () => {
        const chunks: Buffer[] = [];
        for await (const c of this.store.read(node.hash!, node.size, { start: 0, end: Math.min(bytes, node.size) - 1 })) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      })(),
    );
  }

  async readText(path: string): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of this.openRead(path)) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** md5 of the file's bytes, read end to end and checked against the content hash. */
  async md5(path: string): Promise<string> {
    return (await this.verifyContent(path)).md5;
  }

  /** `verify /sha512`: from the same checked read. */
  async digest(path: string, algorithm: 'sha512'): Promise<string> {
    return (await this.verifyContent(path, { [algorithm]: true })).sha512!;
  }

  private noteDamage(path: string, e: unknown): void {
    if (e instanceof DamagedContentError) this.onDamage?.(`${this.prefix}${path}`, e);
  }

  private async guard<T>(path: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (e) {
      this.noteDamage(path, e);
      throw e;
    }
  }

  // ---------------------------------------------------------------- writing

  /**
   * Opens `path` for writing. `expectedSize` is reserved now: when it does not fit, this
   * throws the no-space StorageError before anything is written.
   *
   * Overwriting: the new content is written beside the old file and replaces it only at
   * commit, so the free-space check runs with the old file still present (a failed copy
   * then leaves the old file intact, which is what an operator expects of `copy`).
   */
  createWriter(path: string, expectedSize = 0): FlashWriter {
    const segs = normalize(path);
    this.checkWritable(segs);
    const initial = this.fileCharge(Math.max(0, expectedSize));
    if (initial > this.freeBytes) throw new StorageError(this.noSpaceReason);
    this.reserved += initial;
    return new Writer(this, segs, this.store.createWriter(), initial, this.store);
  }

  async writeText(path: string, text: string): Promise<FileEntry> {
    const data = Buffer.from(text, 'utf8');
    const w = this.createWriter(path, data.length);
    try {
      if (data.length) await w.write(data);
      return await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  /**
   * Stores a blob already in the content store under `path` (instant; still space-checked).
   * Used for flash-to-flash copies and for seeding images.
   */
  link(path: string, hash: string, size: number): FileEntry {
    const segs = normalize(path);
    this.checkWritable(segs);
    if (this.fileCharge(size) > this.freeBytes) throw new StorageError(this.noSpaceReason);
    return this.install(segs, hash, size);
  }

  /** Copies a file from another file system (or this one) to `dstPath`. */
  async copyFrom(src: FlashFileSystem, srcPath: string, dstPath: string): Promise<FileEntry> {
    const node = src.fileNode(srcPath);
    if (src.store === this.store) return this.link(dstPath, node.hash!, node.size);
    // Different stores (never within one lab): stream the bytes across.
    const w = this.createWriter(dstPath, node.size);
    try {
      for await (const c of src.openRead(srcPath)) await w.write(c as Buffer);
      return await w.commit();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  mkdir(path: string): FileEntry {
    const segs = normalize(path);
    if (segs.length === 0) throw new StorageError('File exists');
    const parent = this.dirNode(segs.slice(0, -1));
    if (liveChild(parent, segs[segs.length - 1]!)) throw new StorageError('File exists');
    const cost = this.dirCharge();
    if (cost > this.freeBytes) throw new StorageError(this.noSpaceReason);
    const node: MetaNode = {
      name: segs[segs.length - 1]!,
      dir: true,
      size: cost,
      mtime: this.clock.now().getTime(),
      inode: this.meta.nextInode++,
      children: [],
    };
    (parent.children ??= []).push(node);
    this.used += cost;
    this.save();
    return toEntry(node, segs);
  }

  /** Removes an empty directory. */
  rmdir(path: string): void {
    const segs = normalize(path);
    if (segs.length === 0) throw new StorageError('Permission denied');
    const node = this.find(segs);
    if (!node) throw new StorageError('No such file or directory');
    if (!node.dir) throw new StorageError('Not a directory');
    if ((node.children ?? []).some((c) => !c.deleted)) throw new StorageError('Directory not empty');
    this.removeNode(segs, node);
    this.save();
  }

  /** Deletes a file (class-B: marks it deleted; its space returns at `squeeze`). */
  delete(path: string): void {
    const segs = normalize(path);
    const node = this.find(segs);
    if (!node || segs.length === 0) throw new StorageError('No such file or directory');
    if (node.dir) throw new StorageError('Is a directory');
    this.removeNode(segs, node);
    this.save();
  }

  /** Deletes a file or a directory with everything below it. */
  deleteRecursive(path: string): void {
    const segs = normalize(path);
    if (segs.length === 0) throw new StorageError('Invalid argument');
    const node = this.find(segs);
    if (!node) throw new StorageError('No such file or directory');
    this.removeNode(segs, node);
    this.save();
  }

  /** Renames or moves within this file system; an existing target only with `overwrite` (files). */
  rename(from: string, to: string, opts: { overwrite?: boolean } = {}): FileEntry {
    const a = normalize(from);
    const b = normalize(to);
    const node = this.find(a);
    if (!node || a.length === 0) throw new StorageError('No such file or directory');
    if (b.length === 0) throw new StorageError('File exists');
    if (b.length > a.length && a.every((s, i) => b[i] === s)) throw new StorageError('Invalid argument');
    const targetParent = this.dirNode(b.slice(0, -1));
    const existing = liveChild(targetParent, b[b.length - 1]!);
    if (existing === node) return toEntry(node, b);
    if (existing) {
      if (!opts.overwrite || existing.dir || node.dir) throw new StorageError('File exists');
      this.removeNode(b, existing);
    }
    const srcParent = this.find(a.slice(0, -1))!;
    srcParent.children = srcParent.children!.filter((c) => c !== node);
    node.name = b[b.length - 1]!;
    (targetParent.children ??= []).push(node);
    this.save();
    return toEntry(node, b);
  }

  /** Class-B: erases deleted files and returns their space; elsewhere nothing to do. Returns bytes recovered. */
  squeeze(): number {
    const before = this.used;
    const purge = (n: MetaNode) => {
      if (!n.children) return;
      for (const c of n.children) if (c.deleted) this.dropped(c);
      n.children = n.children.filter((c) => !c.deleted);
      n.children.forEach(purge);
    };
    purge(this.meta.root);
    this.used = this.chargeTree(this.meta.root);
    this.save();
    return before - this.used;
  }

  /** Blob hashes this file system references (for the store's garbage collection). */
  liveHashes(): Set<string> {
    const out = new Set<string>();
    const visit = (n: MetaNode) => {
      if (n.hash) out.add(n.hash);
      n.children?.forEach(visit);
    };
    visit(this.meta.root);
    return out;
  }

  // ---------------------------------------------------------------- internals used by Writer

  /** @internal Space a file of `size` bytes costs here. */
  fileCharge(size: number): number {
    return size + (this.squeezable ? CLASS_B_HEADER : 0);
  }

  /** @internal Grows a writer's reservation; false when the space is not there. */
  grow(extra: number): boolean {
    if (extra > this.freeBytes) return false;
    this.reserved += extra;
    return true;
  }

  /** @internal */
  release(amount: number): void {
    this.reserved = Math.max(0, this.reserved - amount);
  }

  /** @internal Puts a finished blob at `segs`, replacing a live file there. */
  install(segs: string[], hash: string, size: number): FileEntry {
    this.checkWritable(segs);
    const parent = this.dirNode(segs.slice(0, -1));
    const name = segs[segs.length - 1]!;
    const node: MetaNode = { name, size, mtime: this.clock.now().getTime(), inode: this.meta.nextInode++, hash };
    const children = (parent.children ??= []);
    const old = liveChild(parent, name);
    if (old && !this.squeezable) {
      // Replace in place: the directory keeps its order.
      children[children.indexOf(old)] = node;
      this.used -= this.charge(old);
      if (old.hash !== hash) this.dropped(old);
    } else {
      // Class-B keeps the old copy as a deleted entry until squeeze, as the hardware did.
      if (old) old.deleted = true;
      children.push(node);
    }
    this.used += this.charge(node);
    this.save();
    return toEntry(node, segs);
  }

  /** @internal The target must be creatable: parent directory present, not itself a directory. */
  checkWritable(segs: string[]): void {
    if (segs.length === 0) throw new StorageError('Is a directory');
    const parent = this.dirNode(segs.slice(0, -1));
    if (liveChild(parent, segs[segs.length - 1]!)?.dir) throw new StorageError('Is a directory');
  }

  // ---------------------------------------------------------------- private

  private find(segs: string[]): MetaNode | undefined {
    let node: MetaNode | undefined = this.meta.root;
    for (const s of segs) {
      if (!node?.dir) return undefined;
      node = liveChild(node, s);
    }
    return node;
  }

  private dirNode(segs: string[]): MetaNode {
    const n = this.find(segs);
    if (!n) throw new StorageError('No such file or directory');
    if (!n.dir) throw new StorageError('Not a directory');
    return n;
  }

  private fileNode(path: string): MetaNode {
    const segs = normalize(path);
    const n = this.find(segs);
    if (!n) throw new StorageError('No such file or directory');
    if (n.dir) throw new StorageError('Is a directory');
    return n;
  }

  /** Unlinks (or on class-B marks deleted, keeping the space) a node and its subtree. */
  private removeNode(segs: string[], node: MetaNode): void {
    if (this.squeezable) {
      const mark = (n: MetaNode) => {
        n.deleted = true;
        n.children?.forEach(mark);
      };
      mark(node);
      return;
    }
    const parent = this.find(segs.slice(0, -1))!;
    parent.children = parent.children!.filter((c) => c !== node);
    this.used -= this.chargeTree(node);
    this.dropped(node);
  }

  /** Tells the store which blobs a removed subtree referenced (collected once nobody else does). */
  private dropped(node: MetaNode): void {
    if (node.hash) this.store.unreferenced(node.hash);
    node.children?.forEach((c) => this.dropped(c));
  }

  private dirCharge(): number {
    return this.family === 'iosxe' ? XE_DIR_BLOCK : 0;
  }

  private charge(n: MetaNode): number {
    return n.dir ? n.size : this.fileCharge(n.size);
  }

  private chargeTree(n: MetaNode): number {
    let total = n === this.meta.root ? 0 : this.charge(n);
    for (const c of n.children ?? []) total += this.chargeTree(c);
    return total;
  }

  private load(): { meta: MetaFile; problem?: FlashFileSystem['loadProblem'] } {
    const fresh: MetaFile = { version: 1, nextInode: 1, root: { name: '', dir: true, size: 0, mtime: this.clock.now().getTime(), inode: 0, children: [] } };
    // A save killed before its rename leaves its temp file; the metadata beside it is whole.
    rmSync(`${this.metaPath}.tmp`, { force: true });
    if (!existsSync(this.metaPath)) return { meta: fresh };
    const parsed = parseMetadata(readFileSync(this.metaPath, 'utf8'));
    if (typeof parsed !== 'string') return { meta: parsed };
    const reason = parsed;
    // An unreadable index must not stop the lab: keep it for inspection, start empty, and
    // say so (the router logs it, `flashlab up` prints it, `flashlab doctor` explains it).
    const keptAs = `${this.metaPath}.corrupt-${Date.now()}`;
    renameSync(this.metaPath, keptAs);
    return { meta: fresh, problem: { file: this.metaPath, keptAs, reason } };
  }

  /** Writes the metadata atomically (temp file + rename), so a crash never leaves half a JSON. */
  private save(): void {
    mkdirSync(dirname(this.metaPath), { recursive: true });
    const tmp = `${this.metaPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.meta));
    renameSync(tmp, this.metaPath);
  }
}

class Writer implements FlashWriter {
  private state: 'open' | 'done' = 'open';

  constructor(
    private readonly fs: FlashFileSystem,
    private readonly segs: string[],
    private readonly blob: BlobWriter,
    private reservation: number,
    private readonly store: ContentStore,
  ) {}

  get bytesWritten(): number {
    return this.blob.bytes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new Error('writer closed');
    const need = this.fs.fileCharge(this.blob.bytes + chunk.length);
    if (need > this.reservation) {
      if (!this.fs.grow(need - this.reservation)) {
        await this.abort();
        throw new StorageError(this.fs.noSpaceReason);
      }
      this.reservation = need;
    }
    try {
      await this.blob.write(chunk);
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  async commit(): Promise<FileEntry> {
    if (this.state !== 'open') throw new Error('writer closed');
    this.state = 'done';
    try {
      const info = await this.blob.finish();
      // The reservation covered this file; hand it back just before the real charge lands.
      this.fs.release(this.reservation);
      this.reservation = 0;
      // finish() pinned the blob; once the tree references it, the pin can go.
      try {
        return this.fs.install(this.segs, info.hash, info.size);
      } finally {
        this.store.release(info.hash);
      }
    } catch (e) {
      this.fs.release(this.reservation);
      this.reservation = 0;
      await this.blob.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'done') return;
    this.state = 'done';
    this.fs.release(this.reservation);
    this.reservation = 0;
    await this.blob.abort();
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;

/**
 * A metadata file's tree, or why its text cannot be used: not JSON, not this
 * format, or a node whose numbers would break the accounting (a size that is not a finite
 * count, a file without a content hash). Iterative: no recursion on a hostile depth.
 */
export function parseMetadata(text: string): MetaFile | string {
  let m: MetaFile;
  try {
    m = JSON.parse(text) as MetaFile;
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (typeof m !== 'object' || m === null || m.version !== 1 || !m.root?.dir) return 'not a flash metadata file (version 1 with a root directory)';
  if (!Number.isSafeInteger(m.nextInode) || m.nextInode < 0) return 'bad nextInode';
  const stack: [MetaNode, string][] = [[m.root, '']];
  while (stack.length) {
    const [n, at] = stack.pop()!;
    const where = at || '/';
    if (typeof n !== 'object' || n === null || typeof n.name !== 'string') return `entry under ${where} has no name`;
    if (!Number.isSafeInteger(n.size) || n.size < 0) return `${where}: size is not a byte count`;
    if (!Number.isFinite(n.mtime)) return `${where}: time is not a number`;
    if (n.dir) {
      if (n.children !== undefined && !Array.isArray(n.children)) return `${where}: children is not a list`;
      for (const c of n.children ?? []) stack.push([c, `${at}/${typeof c?.name === 'string' ? c.name : '?'}`]);
    } else if (typeof n.hash !== 'string' || !HASH_RE.test(n.hash)) return `${where}: file has no content hash`;
  }
  return m;
}

/** Every file a metadata tree names, with its content hash and size (for `flashlab doctor`). */
export function metadataFiles(m: MetaFile): { path: string; hash: string; size: number; deleted: boolean }[] {
  const out: { path: string; hash: string; size: number; deleted: boolean }[] = [];
  const stack: [MetaNode, string, boolean][] = [[m.root, '', false]];
  while (stack.length) {
    const [n, at, deleted] = stack.pop()!;
    if (n.hash) out.push({ path: at.replace(/^\//, ''), hash: n.hash, size: n.size, deleted: deleted || n.deleted === true });
    for (const c of n.children ?? []) stack.push([c, `${at}/${c.name}`, deleted || n.deleted === true]);
  }
  return out;
}

/** Splits a path into tree keys: `/`-separated, `.` dropped, `..` stops at the root. */
export function normalize(path: string): string[] {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return out;
}

function liveChild(dir: MetaNode, name: string): MetaNode | undefined {
  return dir.children?.find((c) => c.name === name && !c.deleted);
}

function toEntry(n: MetaNode, segs: string[]): FileEntry {
  const e: FileEntry = {
    name: n.name,
    path: segs.join('/'),
    isDir: n.dir === true,
    size: n.size,
    mtime: new Date(n.mtime),
    inode: n.inode,
  };
  if (n.deleted) e.deleted = true;
  return e;
}
