/**
 * `flashlab doctor` on a lab state folder laid out as a lab leaves it: what it reports, what
 * `--repair` does, and that a repaired state is clean and its accounting exact.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabClock } from '../../lab/clock/LabClock.ts';
import { examineLab, formatReport } from '../../lab/state/doctor.ts';
import { platform } from '../../router/platforms/profile.ts';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import { FileSystems } from '../../router/storage/FileSystems.ts';

let state: string;
const clock = new LabClock({ start: new Date('2026-03-05T10:00:00Z'), frozen: true });

beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), 'flashlab-doctor-'));
});
afterEach(() => rmSync(state, { recursive: true, force: true }));

function router(name: string, store: ContentStore): FileSystems {
  return new FileSystems({ profile: platform('isr4321'), store, metaDir: join(state, 'nodes', name, 'fs'), clock });
}

const deadPid = () => spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();

describe('flashlab doctor', () => {
  it('finds nothing in a sound state', async () => {
    const store = new ContentStore(join(state, 'store'));
    const r1 = router('r1', store);
    await r1.default.writeText('a.txt', 'hello');
    const report = await examineLab(state);
    expect(report.findings).toEqual([]);
    expect(report.store).toEqual({ blobs: 1, bytes: 5, referencedBytes: 5 });
    expect(formatReport(report, false)).toContain('no problems found');
  });

  it('reports temporaries, orphans, a truncated content and stale files; --repair fixes them', async () => {
    const store = new ContentStore(join(state, 'store'));
    const r1 = router('r1', store);
    const r2 = router('r2', store);
    await r1.default.writeText('keep.txt', 'kept');
    await r2.default.writeText('big.bin', 'x'.repeat(1000));
    const orphan = await store.ingestBuffer(Buffer.from('nobody links me'));
    truncateSync(store.path(r2.default.blobHash('big.bin')), 10);
    writeFileSync(join(state, 'store', 'tmp', `${deadPid()}-1-abcd`), Buffer.alloc(300));
    writeFileSync(join(state, 'lab.lock'), deadPid());

    const report = await examineLab(state);
    const kinds = report.findings.map((f) => `${f.kind}: ${f.where}`);
    expect(kinds).toEqual([
      'stale lock: lab.lock',
      expect.stringMatching(/^temporary: store\/tmp\/\d+-1-abcd$/),
      'truncated content: r2 bootflash:big.bin',
      `orphan: store/blobs/${orphan.hash}`,
    ]);
    expect(report.findings[2]!.detail).toMatch(/truncated \(10 of 1000 bytes\)/);

    const repaired = await examineLab(state, { repair: true });
    expect(repaired.findings.every((f) => f.repaired)).toBe(true);
    const after = await examineLab(state);
    expect(after.findings).toEqual([]);
    expect(after.store.bytes).toBe(after.store.referencedBytes);
    // The dropped file is gone from r2's flash, and its space with it.
    const again = router('r2', new ContentStore(join(state, 'store')));
    expect(again.default.exists('big.bin')).toBe(false);
    expect(again.default.usedBytes).toBe(0);
    expect(router('r1', new ContentStore(join(state, 'store'))).default.exists('keep.txt')).toBe(true);
  });

  it('keeps the blobs unreadable metadata names until --repair sets the copy aside, then collects them', async () => {
    const store = new ContentStore(join(state, 'store'));
    const r1 = router('r1', store);
    await r1.default.writeText('lost.txt', 'only this metadata knew me');
    const hash = r1.default.blobHash('lost.txt');
    const meta = join(state, 'nodes', 'r1', 'fs', 'bootflash.json');
    writeFileSync(meta, `{"version":1,"root":{"children":[{"hash":"${hash}"`);

    const report = await examineLab(state);
    expect(report.findings.map((f) => f.kind)).toEqual(['unreadable metadata']);
    expect(existsSync(store.path(hash))).toBe(true);

    // Reviewed: what only it named is an orphan now, removed in the same repair.
    const repaired = await examineLab(state, { repair: true });
    expect(repaired.findings.map((f) => f.kind)).toEqual(['unreadable metadata', 'orphan']);
    expect(readdirSync(join(state, 'damaged'))).toEqual([expect.stringMatching(/^r1-bootflash\.json\.corrupt-\d+$/)]);
    expect(existsSync(store.path(hash))).toBe(false);
    expect((await examineLab(state)).findings).toEqual([]);
  });

  it('a kept copy from an earlier start holds back orphan removal until reviewed', async () => {
    const store = new ContentStore(join(state, 'store'));
    const r1 = router('r1', store);
    await r1.default.writeText('f', 'content');
    const hash = r1.default.blobHash('f');
    const fsDir = join(state, 'nodes', 'r1', 'fs');
    mkdirSync(fsDir, { recursive: true });
    writeFileSync(join(fsDir, 'bootflash.json.corrupt-123'), `garbage ${hash}`);
    r1.default.delete('f');
    const report = await examineLab(state);
    expect(report.findings.map((f) => f.kind)).toEqual(['kept metadata']);
    expect(existsSync(store.path(hash))).toBe(true);
  });
});
