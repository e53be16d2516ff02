/**
 * State that never lies (issue 13 items 7–8, issue 7 item 7): unreadable flash metadata is
 * reported, not hidden; a blob missing, short or damaged on the host disk fails reads with
 * IOS's `I/O error` (never a host path) and is logged; the store collects blobs nothing
 * references, never one a write in flight still needs; temporaries of dead writers go.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabClock } from '../../lab/clock/LabClock.ts';
import type { FileSystemProfile } from '../../router/platforms/profile.ts';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import { FlashFileSystem } from '../../router/storage/FlashFileSystem.ts';
import { DamagedContentError, StorageError } from '../../router/storage/types.ts';
import { makeTestRouter } from '../helpers/router.ts';

let dir: string;
let store: ContentStore;
const clock = new LabClock({ start: new Date('2026-03-05T10:00:00Z'), frozen: true });
const profile: FileSystemProfile = { name: 'bootflash', aliases: [], type: 'disk', sizeBytes: 1 << 20, default: true, squeeze: false };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-state-'));
  store = new ContentStore(join(dir, 'store'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeFs(damage: { file: string; error: DamagedContentError }[] = []) {
  return new FlashFileSystem({
    name: 'bootflash',
    profile,
    sizeBytes: profile.sizeBytes,
    store,
    metaPath: join(dir, 'meta', 'bootflash.json'),
    clock,
    family: 'iosxe',
    onDamage: (file, error) => damage.push({ file, error }),
  });
}

async function readAll(fs: FlashFileSystem, path: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of fs.openRead(path)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const blobFiles = () => readdirSync(store.blobDir).filter((n) => /^[0-9a-f]{64}$/.test(n));

describe('flash metadata that cannot be read', () => {
  it('is kept aside and reported, with the reason, instead of silently starting empty', async () => {
    const fs = makeFs();
    await fs.writeText('keep.txt', 'hello');
    writeFileSync(join(dir, 'meta', 'bootflash.json'), '{"version":1,"root":{"na');
    const again = makeFs();
    expect(again.walk()).toEqual([]);
    expect(again.loadProblem).toBeDefined();
    expect(again.loadProblem!.reason).toMatch(/not valid JSON/);
    expect(existsSync(again.loadProblem!.keptAs)).toBe(true);
  });

  it('rejects JSON whose numbers would break the accounting', () => {
    mkdirSync(join(dir, 'meta'), { recursive: true });
    const bad = { version: 1, nextInode: 2, root: { name: '', dir: true, size: 0, mtime: 0, inode: 0, children: [{ name: 'f', size: null, mtime: 0, inode: 1, hash: 'a'.repeat(64) }] } };
    writeFileSync(join(dir, 'meta', 'bootflash.json'), JSON.stringify(bad));
    const fs = makeFs();
    expect(fs.loadProblem?.reason).toMatch(/\/f: size is not a byte count/);
    expect(fs.freeBytes).toBe(profile.sizeBytes);
  });

  it('is logged by the router at boot', async () => {
    const t = await makeTestRouter();
    await t.run('copy running-config startup-config');
    t.router.powerOff();
    writeFileSync(join(t.dir, 'r1', 'fs', 'nvram.json'), 'garbage');
    const { Router } = await import('../../router/Router.ts');
    const again = new Router({ name: 'R1', address: '127.0.0.1', platform: t.router.platform, env: t.router.env, bootSeconds: 0 });
    await again.powerOn();
    const log = await again.exec(['show logging']);
    expect(log).toMatch(/%FILESYS-3-DAMAGED: nvram: metadata unreadable \(not valid JSON.*\): kept aside, nvram: started empty; run flashlab doctor/);
    rmSync(t.dir, { recursive: true, force: true });
  });
});

describe('blob checks', () => {
  it('a truncated blob fails verify with I/O error instead of printing the original md5', async () => {
    const damage: { file: string; error: DamagedContentError }[] = [];
    const fs = makeFs(damage);
    await fs.writeText('img.bin', 'x'.repeat(10_000));
    truncateSync(store.path(fs.blobHash('img.bin')), 4000);
    const err = await fs.md5('img.bin').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).reason).toBe('I/O error');
    expect((err as DamagedContentError).problem).toBe('truncated');
    expect(damage.map((d) => [d.file, d.error.describe()])).toEqual([['bootflash:img.bin', expect.stringMatching(/truncated \(4000 of 10000 bytes\)/)]]);
  });

  it('a missing blob fails a read with I/O error and never shows a host path', async () => {
    const fs = makeFs();
    await fs.writeText('cfg', 'hostname x\n');
    rmSync(store.path(fs.blobHash('cfg')));
    const err = (await readAll(fs, 'cfg').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DamagedContentError);
    expect(err.message).toBe('I/O error');
    expect(err.message).not.toContain(dir);
    await expect(fs.readHead('cfg', 4)).rejects.toThrow('I/O error');
  });

  it('a blob of the right size with wrong bytes fails a whole read at its end and verify', async () => {
    const fs = makeFs();
    await fs.writeText('f', 'a'.repeat(5000));
    writeFileSync(store.path(fs.blobHash('f')), 'b'.repeat(5000));
    await expect(readAll(fs, 'f')).rejects.toMatchObject({ problem: 'corrupt' });
    await expect(fs.verifyContent('f')).rejects.toMatchObject({ problem: 'corrupt' });
  });

  it('a sound blob reads and verifies, and a second verify of an unchanged blob is not a second read', async () => {
    const fs = makeFs();
    await fs.writeText('f', 'content');
    expect((await readAll(fs, 'f')).toString()).toBe('content');
    let chunks = 0;
    const hash = fs.blobHash('f');
    await store.verify(hash, 7, { onChunk: () => chunks++ });
    expect(await fs.md5('f')).toBe('9a0364b9e99bb480dd25e1f0284c8555');
    expect(chunks).toBe(1);
  });

  it('routers verifying one blob at once share one read of it', async () => {
    const fs = makeFs();
    await fs.writeText('img', 'y'.repeat(200_000));
    const open = store.open.bind(store);
    let opens = 0;
    store.open = (...args: Parameters<ContentStore['open']>) => {
      opens++;
      return open(...args);
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => fs.md5('img')));
    expect(new Set(results).size).toBe(1);
    expect(opens).toBe(1);
  });

  it('a router prints the IOS error for verify and more, and logs the damage', async () => {
    const t = await makeTestRouter();
    await t.run('copy running-config bootflash:notes.txt');
    const fs = t.router.fs.default;
    rmSync(t.router.env.store.path(fs.blobHash('notes.txt')));
    const out = await t.run('verify /md5 bootflash:notes.txt', 'more bootflash:notes.txt', 'show logging');
    expect(out).toContain('%Error reading bootflash:/notes.txt (I/O error)');
    expect(out).toMatch(/%Error (opening|reading) bootflash:\/notes.txt \(I\/O error\)/);
    expect(out).toMatch(/%FILESYS-3-DAMAGED: bootflash:notes.txt its content is missing from the store/);
    expect(out).not.toContain(t.dir);
    rmSync(t.dir, { recursive: true, force: true });
  });

  it('a router does not boot a truncated image: ROMmon, with the reason', async () => {
    const t = await makeTestRouter();
    const fs = t.router.fs.default;
    const image = t.router.platform.defaultImage;
    truncateSync(t.router.env.store.path(fs.blobHash(image)), 1000);
    t.router.reload();
    await t.clock.advance(1000);
    expect(await t.router.waitFor(['running', 'rommon'])).toBe('rommon');
    expect(t.router.bootFailure).toContain('I/O error');
    rmSync(t.dir, { recursive: true, force: true });
  });
});

describe('store collection', () => {
  it('collects a deleted file\'s blob once nothing references it, keeping shared ones', async () => {
    const a = makeFs();
    store.trackReferences(() => a.liveHashes());
    await a.writeText('one', 'same');
    await a.writeText('two', 'same');
    await a.writeText('three', 'other');
    expect(blobFiles()).toHaveLength(2);
    a.delete('one');
    await store.settled();
    expect(blobFiles()).toHaveLength(2);
    a.delete('two');
    a.delete('three');
    await store.settled();
    expect(blobFiles()).toHaveLength(0);
  });

  it('collects the old content of an overwritten file', async () => {
    const a = makeFs();
    store.trackReferences(() => a.liveHashes());
    await a.writeText('startup', 'old');
    await a.writeText('startup', 'new');
    await store.settled();
    expect(blobFiles()).toEqual([a.blobHash('startup')]);
  });

  it('never collects a blob a write has finished but not yet linked, nor a temp file in flight', async () => {
    store.trackReferences(() => []);
    const inFlight = store.createWriter();
    await inFlight.write(Buffer.from('still streaming'));
    const done = store.createWriter();
    await done.write(Buffer.from('finished, not linked'));
    const info = await done.finish();
    expect(await store.gc([])).toBe(0);
    expect(await store.has(info.hash)).toBe(true);
    expect(readdirSync(join(dir, 'store', 'tmp'))).toHaveLength(1);
    store.release(info.hash);
    await store.settled();
    expect(await store.has(info.hash)).toBe(false);
    await inFlight.abort();
  });

  it('removes temporaries of a dead writer, keeping this process\'s own', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const tmp = join(dir, 'store', 'tmp');
    writeFileSync(join(tmp, `${dead}-1-aaaa`), Buffer.alloc(1234));
    const mine = store.createWriter();
    await mine.write(Buffer.from('x'));
    expect(await store.cleanTemporaries()).toEqual({ files: 1, bytes: 1234 });
    expect(readdirSync(tmp)).toHaveLength(1);
    await mine.abort();
  });
});
