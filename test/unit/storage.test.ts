import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabClock } from '../../lab/clock/LabClock.ts';
import { platform, type FileSystemProfile } from '../../router/platforms/profile.ts';
import { BlobLimitError, BlobWriter, ContentStore } from '../../router/storage/ContentStore.ts';
import { FileSystems } from '../../router/storage/FileSystems.ts';
import { FlashFileSystem } from '../../router/storage/FlashFileSystem.ts';
import { StorageError } from '../../router/storage/types.ts';

let dir: string;
let store: ContentStore;
const clock = new LabClock({ start: new Date('2024-03-05T10:00:00Z'), frozen: true });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-storage-'));
  store = new ContentStore(join(dir, 'store'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const diskProfile: FileSystemProfile = { name: 'bootflash', aliases: ['flash'], type: 'disk', sizeBytes: 1 << 20, default: true, squeeze: false };
const classB: FileSystemProfile = { name: 'slot0', aliases: [], type: 'flash', sizeBytes: 1 << 20, default: false, squeeze: true, partitions: 2 };

function makeFs(opts: { name?: string; size?: number; profile?: FileSystemProfile; family?: 'ios' | 'iosxe'; meta?: string } = {}) {
  const profile = opts.profile ?? diskProfile;
  return new FlashFileSystem({
    name: opts.name ?? profile.name,
    profile,
    sizeBytes: opts.size ?? profile.sizeBytes,
    store,
    metaPath: join(dir, 'meta', opts.meta ?? `${opts.name ?? profile.name}.json`),
    clock,
    family: opts.family ?? 'ios',
  });
}

async function* chunks(total: number, size = 64 * 1024): AsyncIterable<Buffer> {
  for (let sent = 0; sent < total; sent += size) yield Buffer.alloc(Math.min(size, total - sent), sent & 0xff);
}

async function writeBytes(fs: FlashFileSystem, path: string, data: Buffer, expected?: number) {
  const w = fs.createWriter(path, expected ?? data.length);
  for (let i = 0; i < data.length; i += 4096) await w.write(data.subarray(i, i + 4096));
  return w.commit();
}

function tmpFiles(): string[] {
  return readdirSync(join(dir, 'store', 'tmp'));
}

describe('ContentStore', () => {
  it('names blobs by sha256 while streaming; md5 on first demand, then kept by content hash', async () => {
    const data = randomBytes(300_000);
    const md5 = createHash('md5').update(data).digest('hex');
    const info = await store.ingest((async function* () {
      yield data.subarray(0, 1000);
      yield data.subarray(1000);
    })());
    expect(info.hash).toBe(createHash('sha256').update(data).digest('hex'));
    expect(info.size).toBe(data.length);
    expect(await store.size(info.hash)).toBe(data.length);
    // The write computed no md5: the first ask reads the blob and leaves the sidecar.
    expect(existsSync(`${store.path(info.hash)}.md5`)).toBe(false);
    expect(await store.md5(info.hash)).toBe(md5);
    expect(readFileSync(`${store.path(info.hash)}.md5`, 'utf8')).toBe(md5);
    // A fresh store object over the same folder reads the sidecar, and recomputing agrees.
    const again = new ContentStore(join(dir, 'store'));
    expect(await again.md5(info.hash)).toBe(md5);
    expect(await again.digest(info.hash, 'md5')).toBe(md5);
    expect(tmpFiles()).toEqual([]);
  });

  it('rejects content over the limit and leaves no temp file', async () => {
    await expect(store.ingest(chunks(10_000, 1000), { limit: 5000 })).rejects.toBeInstanceOf(BlobLimitError);
    expect(tmpFiles()).toEqual([]);
    expect(readdirSync(store.blobDir)).toEqual([]);
  });

  it('streams large content without trouble', async () => {
    const total = 64 * 1024 * 1024;
    let seen = 0;
    const t0 = Date.now();
    const info = await store.ingest(chunks(total, 1 << 20), { onChunk: (n) => (seen += n) });
    expect(info.size).toBe(total);
    expect(seen).toBe(total);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('a disk failure with writes queued rejects the writer and names no blob', async () => {
    // The temp file cannot be created: every queued chunk is lost, so nothing may be named.
    const w = new BlobWriter(store, join(dir, 'no-such-folder', 'blob.tmp'));
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) writes.push(w.write(Buffer.alloc(1 << 20, i)));
    const outcome = await Promise.allSettled(writes);
    expect(outcome.some((o) => o.status === 'rejected')).toBe(true);
    await expect(w.write(Buffer.alloc(10))).rejects.toThrow(/ENOENT/);
    await expect(w.finish()).rejects.toThrow(/ENOENT|closed/);
    expect(readdirSync(store.blobDir)).toEqual([]);
    expect(tmpFiles()).toEqual([]);
  });

  it('TFTP-sized chunks are staged and still hash and land byte for byte', async () => {
    // 512-byte blocks with an odd tail: some bytes are still staged when finish() runs.
    const data = randomBytes(300 * 1024 + 77);
    const w = store.createWriter();
    for (let at = 0; at < data.length; at += 512) await w.write(data.subarray(at, at + 512));
    const info = await w.finish();
    expect(info).toEqual({ hash: createHash('sha256').update(data).digest('hex'), size: data.length });
    expect(readFileSync(store.path(info.hash)).equals(data)).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });

  it('socket-sized chunks go down together (one writev) and land byte for byte', async () => {
    const data = randomBytes(1300 * 1024 + 5);
    const w = store.createWriter();
    for (let at = 0; at < data.length; at += 100 * 1024) await w.write(data.subarray(at, at + 100 * 1024));
    const info = await w.finish();
    expect(info).toEqual({ hash: createHash('sha256').update(data).digest('hex'), size: data.length });
    expect(readFileSync(store.path(info.hash)).equals(data)).toBe(true);
  });

  it('an abort with chunks staged and written leaves no temp file and no blob', async () => {
    const w = store.createWriter();
    for (let i = 0; i < 1500; i++) await w.write(Buffer.alloc(512, i)); // 750 KiB: one stage written, the rest staged
    await w.abort();
    await expect(w.write(Buffer.alloc(1))).rejects.toThrow(/closed/);
    expect(tmpFiles()).toEqual([]);
    expect(readdirSync(store.blobDir)).toEqual([]);
  });

  it('a disk failure behind staged small chunks fails finish and names no blob', async () => {
    const w = new BlobWriter(store, join(dir, 'no-such-folder', 'blob.tmp'));
    // Fewer bytes than one stage: nothing reached the disk before finish flushes them.
    for (let i = 0; i < 4; i++) await w.write(Buffer.alloc(512, i)).catch(() => undefined);
    await expect(w.finish()).rejects.toThrow(/ENOENT/);
    expect(readdirSync(store.blobDir)).toEqual([]);
  });

  it('gc removes blobs no longer referenced', async () => {
    const a = await store.ingestBuffer(Buffer.from('a'));
    const b = await store.ingestBuffer(Buffer.from('b'));
    // Fresh blobs are pinned until their writer lets go: nothing collects them in between.
    expect(await store.gc([a.hash])).toBe(0);
    store.release(a.hash);
    store.release(b.hash);
    expect(await store.gc([a.hash])).toBe(1);
    expect(await store.has(a.hash)).toBe(true);
    expect(await store.has(b.hash)).toBe(false);
  });
});

describe('FlashFileSystem accounting', () => {
  it('reserves up front: a write that cannot fit fails before anything is written', async () => {
    const fs = makeFs({ size: 2 * 1024 * 1024 });
    expect(() => fs.createWriter('big.bin', 3 * 1024 * 1024)).toThrow(StorageError);
    try {
      fs.createWriter('big.bin', 3 * 1024 * 1024);
    } catch (e) {
      expect((e as StorageError).reason).toBe('Not enough space on device');
    }
    expect(fs.exists('big.bin')).toBe(false);
    expect(fs.freeBytes).toBe(2 * 1024 * 1024);
    expect(tmpFiles()).toEqual([]);
  });

  it('IOS XE uses the Linux wording', () => {
    const fs = makeFs({ size: 100, family: 'iosxe' });
    expect(fs.noSpaceReason).toBe('No space left on device');
    expect(() => fs.createWriter('x', 200)).toThrow('No space left on device');
  });

  it('fails mid-stream when a write outgrows free space, and leaves nothing', async () => {
    const fs = makeFs({ size: 100_000 });
    await fs.writeText('keep.txt', 'hello');
    const free = fs.freeBytes;
    const w = fs.createWriter('grow.bin'); // size unknown up front (TFTP without tsize)
    await w.write(Buffer.alloc(60_000));
    expect(fs.freeBytes).toBe(free - 60_000); // in-flight bytes are spoken for
    await expect(w.write(Buffer.alloc(60_000))).rejects.toMatchObject({ reason: 'Not enough space on device' });
    expect(fs.exists('grow.bin')).toBe(false);
    expect(fs.freeBytes).toBe(free);
    expect(fs.list().map((e) => e.name)).toEqual(['keep.txt']);
    expect(tmpFiles()).toEqual([]);
    await w.abort(); // harmless after the failure
    expect(fs.freeBytes).toBe(free);
  });

  it('abort leaves no entry and free space as before', async () => {
    const fs = makeFs();
    const free = fs.freeBytes;
    const w = fs.createWriter('a.bin', 1000);
    expect(fs.freeBytes).toBe(free - 1000);
    await w.write(Buffer.alloc(500));
    await w.abort();
    expect(fs.exists('a.bin')).toBe(false);
    expect(fs.freeBytes).toBe(free);
    expect(fs.usedBytes).toBe(0);
    expect(tmpFiles()).toEqual([]);
  });

  it('free space is never negative, even when the size shrinks under existing data', async () => {
    const meta = 'shrink.json';
    const fs = makeFs({ size: 10_000, meta });
    await writeBytes(fs, 'f', Buffer.alloc(8000));
    const smaller = makeFs({ size: 5000, meta });
    expect(smaller.usedBytes).toBe(8000);
    expect(smaller.freeBytes).toBe(0);
    expect(() => smaller.createWriter('g', 1)).toThrow(StorageError);
  });

  it('overwrite: space checked with the old file still there, freed at commit', async () => {
    const fs = makeFs({ size: 10_000 });
    await writeBytes(fs, 'f', Buffer.alloc(6000, 1));
    const inode = fs.stat('f')!.inode;
    // 6000 + 6000 > 10000: refused, old file intact.
    expect(() => fs.createWriter('f', 6000)).toThrow(StorageError);
    expect(fs.stat('f')!.size).toBe(6000);
    await writeBytes(fs, 'f', Buffer.alloc(3000, 2));
    expect(fs.stat('f')!.size).toBe(3000);
    expect(fs.stat('f')!.inode).not.toBe(inode);
    expect(fs.usedBytes).toBe(3000);
    expect(fs.freeBytes).toBe(7000);
    expect((await fs.readText('f')).charCodeAt(0)).toBe(2);
  });

  it('keeps directory order, refuses bad tree operations', async () => {
    const fs = makeFs({ family: 'iosxe' });
    await fs.writeText('b.txt', 'b');
    fs.mkdir('dir');
    await fs.writeText('a.txt', 'a');
    await fs.writeText('dir/inner.txt', 'inner');
    expect(fs.list().map((e) => e.name)).toEqual(['b.txt', 'dir', 'a.txt']);
    expect(fs.stat('dir')!.size).toBe(4096);
    expect(fs.usedBytes).toBe(1 + 4096 + 1 + 5);
    expect(() => fs.mkdir('dir')).toThrow('File exists');
    expect(() => fs.rmdir('dir')).toThrow('Directory not empty');
    expect(() => fs.delete('dir')).toThrow('Is a directory');
    expect(() => fs.delete('nope')).toThrow('No such file or directory');
    expect(() => fs.createWriter('missing/x', 1)).toThrow('No such file or directory');
    expect(() => fs.rename('dir', 'dir/sub')).toThrow('Invalid argument');
    expect(() => fs.rename('a.txt', 'b.txt')).toThrow('File exists');
    fs.rename('a.txt', 'dir/c.txt');
    expect(fs.list('dir').map((e) => e.path)).toEqual(['dir/inner.txt', 'dir/c.txt']);
    expect(fs.walk().map((e) => e.path)).toEqual(['b.txt', 'dir', 'dir/inner.txt', 'dir/c.txt']);
    fs.deleteRecursive('dir');
    expect(fs.usedBytes).toBe(1);
    expect(fs.list().map((e) => e.name)).toEqual(['b.txt']);
  });

  it('confines paths to the tree', async () => {
    const fs = makeFs();
    // `..` stops at the root; absolute host paths are just names in the tree.
    await fs.writeText('../../../passwd', 'x');
    expect(fs.walk().map((e) => e.path)).toEqual(['passwd']);
    expect(fs.stat('/passwd')?.path).toBe('passwd');
    expect(fs.stat('/etc/passwd')).toBeUndefined();
    expect(readdirSync(join(dir, 'store', 'blobs')).every((n) => /^[0-9a-f]{64}(\.md5)?$/.test(n))).toBe(true);
  });
});

describe('dedupe and copy', () => {
  it('two file systems with the same content share one blob', async () => {
    const a = makeFs({ name: 'bootflash' });
    const b = makeFs({ name: 'usbflash0' });
    const data = randomBytes(50_000);
    await writeBytes(a, 'img.bin', data);
    await writeBytes(b, 'copy.bin', data);
    expect(readdirSync(store.blobDir).filter((n) => !n.endsWith('.md5'))).toHaveLength(1);
    await b.copyFrom(a, 'img.bin', 'second.bin');
    expect(readdirSync(store.blobDir).filter((n) => !n.endsWith('.md5'))).toHaveLength(1);
    expect(b.usedBytes).toBe(100_000);
    expect(await b.md5('second.bin')).toBe(createHash('md5').update(data).digest('hex'));
  });

  it('copyFrom is space-checked', async () => {
    const a = makeFs({ name: 'bootflash' });
    const small = makeFs({ name: 'tiny', size: 1000 });
    await writeBytes(a, 'img.bin', Buffer.alloc(5000));
    await expect(small.copyFrom(a, 'img.bin', 'img.bin')).rejects.toMatchObject({ reason: 'Not enough space on device' });
    expect(small.walk()).toEqual([]);
  });
});

describe('reading', () => {
  it('readHead returns only the first bytes', async () => {
    const fs = makeFs();
    const data = randomBytes(10_000);
    await writeBytes(fs, 'img', data);
    expect((await fs.readHead('img', 16)).equals(data.subarray(0, 16))).toBe(true);
    expect((await fs.readHead('img', 1 << 20)).equals(data)).toBe(true);
    await fs.writeText('empty', '');
    expect((await fs.readHead('empty', 16)).length).toBe(0);
    await expect(fs.readHead('missing', 16)).rejects.toMatchObject({ reason: 'No such file or directory' });
  });
});

describe('persistence', () => {
  it('survives re-construction: entries, order, sizes, inodes, mtimes, contents', async () => {
    const fs = makeFs();
    fs.mkdir('d');
    await fs.writeText('d/cfg', 'hostname R1\n');
    await fs.writeText('z', 'zz');
    const before = fs.walk();
    const again = makeFs();
    expect(again.walk()).toEqual(before);
    expect(await again.readText('d/cfg')).toBe('hostname R1\n');
    expect(again.usedBytes).toBe(fs.usedBytes);
    // New files keep getting fresh inode numbers.
    const e = await again.writeText('new', 'n');
    expect(before.map((x) => x.inode)).not.toContain(e.inode);
  });
});

describe('class-B flash', () => {
  it('delete keeps the space (and a deleted entry) until squeeze', async () => {
    const fs = makeFs({ profile: classB, size: 100_000 });
    await writeBytes(fs, 'your-ios', Buffer.alloc(1000));
    // 64-byte file header, as the seed's totals show.
    expect(fs.usedBytes).toBe(1064);
    fs.delete('your-ios');
    expect(fs.exists('your-ios')).toBe(false);
    expect(fs.list()).toEqual([]);
    expect(fs.list('', { deleted: true }).map((e) => [e.name, e.deleted])).toEqual([['your-ios', true]]);
    expect(fs.usedBytes).toBe(1064);
    expect(fs.squeeze()).toBe(1064);
    expect(fs.usedBytes).toBe(0);
    expect(fs.list('', { deleted: true })).toEqual([]);
  });

  it('an overwritten file stays as a deleted entry', async () => {
    const fs = makeFs({ profile: classB, size: 100_000 });
    await fs.writeText('f', 'one');
    await fs.writeText('f', 'two');
    expect(await fs.readText('f')).toBe('two');
    expect(fs.list('', { deleted: true }).map((e) => e.deleted ?? false)).toEqual([true, false]);
    fs.squeeze();
    expect(fs.list('', { deleted: true })).toHaveLength(1);
  });
});

describe('FileSystems', () => {
  it('builds from the ISR4321 profile with aliases and overrides', () => {
    const set = new FileSystems({ profile: platform('isr4321'), store, metaDir: join(dir, 'r1'), clock, sizes: { bootflash: 2 << 20 } });
    expect(set.default.name).toBe('bootflash');
    expect(set.get('flash')).toBe(set.get('bootflash:'));
    expect(set.get('bootflash')!.totalBytes).toBe(2 << 20);
    expect(set.get('bootflash')!.noSpaceReason).toBe('No space left on device');
    expect(set.get('usb0')).toBeUndefined();
    expect(set.all().map((f) => f.name)).toEqual(['bootflash', 'usbflash0', 'nvram']);
  });

  it('resolves flash: to flash0: on the C3900, and partitions of slot0:', () => {
    const set = new FileSystems({ profile: platform('c3900'), store, metaDir: join(dir, 'r2'), clock });
    expect(set.get('flash')!.name).toBe('flash0');
    expect(set.default.name).toBe('flash0');
    const p1 = set.get('slot0')!;
    const p2 = set.get('slot0:2')!;
    expect(p1.partition).toBe(1);
    expect(p2.partition).toBe(2);
    expect(set.get('slot0:1')).toBe(p1);
    expect(set.get('slot0:3')).toBeUndefined();
    expect(p1.totalBytes).toBe(67108864 / 2);
    expect(p1.squeezable).toBe(true);
    expect(p1.noSpaceReason).toBe('Not enough space on device');
    expect(p2.displayName).toBe('slot0:2');
    expect(p2.prefix).toBe('slot0:2:');
    expect(set.get('flash')!.prefix).toBe('flash0:');
  });

  it('parses file URLs', () => {
    const set = new FileSystems({ profile: platform('c3900'), store, metaDir: join(dir, 'r3'), clock });
    const flash0 = set.get('flash0')!;
    expect(set.parse('flash:dir/f')).toEqual({ fs: flash0, path: 'dir/f' });
    expect(set.parse('flash0:/f')).toEqual({ fs: flash0, path: 'f' });
    expect(set.parse('slot0:2:your-ios')).toEqual({ fs: set.get('slot0:2'), path: 'your-ios' });
    expect(set.parse('slot0:your-ios')).toEqual({ fs: set.get('slot0:1'), path: 'your-ios' });
    expect(set.parse('nvram:startup-config')).toEqual({ fs: set.get('nvram'), path: 'startup-config' });
    expect(set.parse('flash1:')).toEqual({ fs: set.get('flash1'), path: '' });
    expect(set.parse('a/b', { fs: flash0, path: 'dir' })).toEqual({ fs: flash0, path: 'dir/a/b' });
    expect(set.parse('../x', { fs: flash0, path: 'dir' })).toEqual({ fs: flash0, path: 'x' });
    expect(() => set.parse('disk9:x')).toThrow('No device available');
    expect(() => set.parse('slot0:5:x')).toThrow('No device available');
    // A digit after an unpartitioned prefix is part of the file name.
    expect(set.parse('flash0:1:x')).toEqual({ fs: flash0, path: '1:x' });
  });

  it('keeps per-router metadata apart while sharing blobs', async () => {
    const r1 = new FileSystems({ profile: platform('isr4321'), store, metaDir: join(dir, 'r1'), clock });
    const r2 = new FileSystems({ profile: platform('isr4321'), store, metaDir: join(dir, 'r2'), clock });
    await r1.default.writeText('x', 'same');
    await r2.default.writeText('y', 'same');
    expect(r1.default.walk().map((e) => e.name)).toEqual(['x']);
    expect(r2.default.walk().map((e) => e.name)).toEqual(['y']);
    expect([...r1.liveHashes()]).toEqual([...r2.liveHashes()]);
  });
});
