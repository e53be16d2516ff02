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
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../lab/clock/LabClock.ts';
import type { FileSystemProfile } from '../platforms/profile.ts';
import type { BlobWriter, ContentStore } from './ContentStore.ts';
import { type FileEntry, StorageError } from './types.ts';

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
}

/** An open file being written; nothing is visible until `commit`. */
export interface FlashWriter {
  readonly bytesWritten: number;
  write(chunk: Buffer): Promise<void>;
  commit(): Promise<FileEntry>;
  abort(): Promise<void>;
}

interface MetaNode {
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

interface MetaFile {
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
    this.meta = this.load();
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

  openRead(path: string): Readable {
    return this.store.open(this.fileNode(path).hash!);
  }

  /** The file's content hash (sha256) in the lab's content store. */
  blobHash(path: string): string {
    return this.fileNode(path).hash!;
  }

  /** The first `bytes` bytes (image headers), without reading the rest of the file. */
  async readHead(path: string, bytes: number): Promise<Buffer> {
    const node = this.fileNode(path);
    if (bytes <= 0 || node.size === 0) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of this.store.open(node.hash!, { start: 0, end: Math.min(bytes, node.size) - 1 })) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async readText(path: string): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of this.openRead(path)) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** md5 of the file's bytes (computed from the content when it was stored). */
  md5(path: string): Promise<string> {
    return this.store.md5(this.fileNode(path).hash!);
  }

  /** Any other digest is computed from the stored bytes each time (`verify /sha512`). */
  digest(path: string, algorithm: 'sha512'): Promise<string> {
    return this.store.digest(this.fileNode(path).hash!, algorithm);
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
    return new Writer(this, segs, this.store.createWriter(), initial);
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

  private load(): MetaFile {
    const fresh: MetaFile = { version: 1, nextInode: 1, root: { name: '', dir: true, size: 0, mtime: this.clock.now().getTime(), inode: 0, children: [] } };
    if (!existsSync(this.metaPath)) return fresh;
    try {
      const m = JSON.parse(readFileSync(this.metaPath, 'utf8')) as MetaFile;
      if (m.version !== 1 || !m.root?.dir) throw new Error('bad metadata');
      return m;
    } catch {
      // An unreadable index must not stop the lab: keep it for inspection and start empty.
      renameSync(this.metaPath, `${this.metaPath}.corrupt-${Date.now()}`);
      return fresh;
    }
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
      return this.fs.install(this.segs, info.hash, info.size);
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
