/**
 * Kill at any moment, lose nothing, leak no disk (issue 7 item 7). A lab process copying
 * images over TFTP, writing memory and deleting files is killed with SIGKILL (by its pid)
 * at a random moment, then started again on the same state, again and again. After every
 * start:
 *
 *   - flash holds no partial file: every copied image has the source's size and md5, read
 *     end to end and checked against its content hash;
 *   - `dir`'s free space is the total minus the sum of the files;
 *   - nvram:startup-config is the old or the new one, whole;
 *   - the store holds nothing unreferenced and no temporaries (doctor's checks find nothing).
 *
 * FLASHLAB_KILL_COUNT sets the number of kills (default 16 for CI; 100 for the soak).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { randomLabSubnet } from '../helpers/net.ts';

const KILLS = Number(process.env.FLASHLAB_KILL_COUNT ?? 16);
const CHILD = resolve(import.meta.dirname, 'kill9.child.ts');
const IMAGE_SIZE = 4 * 1024 * 1024;
/** A start must report within this (lab start in a fresh node with tsx, on a busy machine). */
const START_MS = 60_000;
/** Each life is killed during one kind of operation, in turn, within this long after `go` (uniformly). */
const KINDS = ['copy', 'write', 'delete'] as const;
const KILL_WINDOW_MS = { copy: 2500, write: 600, delete: 600 };

interface State {
  before: { kind: string; bytes: number }[];
  after: { kind: string; where: string; detail: string }[];
  store: { blobs: number; bytes: number; referencedBytes: number };
  files: { path: string; size: number; md5: string }[];
  dir: string;
  total: number;
  startup?: string;
  warnings: string[];
}

interface Life {
  child: ChildProcess;
  state: State;
  lines: string[];
  exited: Promise<number | null>;
}

const dir = mkdtempSync(join(tmpdir(), 'flashlab-kill9-'));
const stateDir = join(dir, 'state');
const subnet = randomLabSubnet();
let current: ChildProcess | undefined;

afterAll(() => {
  // Only the child this test started, by its pid.
  if (current?.pid && current.exitCode === null) process.kill(current.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startLife(seed: number): Promise<Life> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, stateDir, subnet, String(seed)], { stdio: ['pipe', 'pipe', 'pipe'] });
  current = child;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout! });
  const state = await new Promise<State>((done, fail) => {
    const t = setTimeout(() => fail(new Error(`no STATE within ${START_MS} ms; stderr: ${stderr.slice(-2000)}`)), START_MS);
    rl.on('line', (l) => {
      lines.push(l);
      if (l.startsWith('STATE ')) {
        clearTimeout(t);
        done(JSON.parse(l.slice(6)) as State);
      } else if (l.startsWith('ERROR ')) {
        clearTimeout(t);
        fail(new Error(l));
      }
    });
    void exited.then((code) => fail(new Error(`child exited (${code}) before STATE; stderr: ${stderr.slice(-2000)}`)));
  });
  return { child, state, lines, exited };
}

/** What the whole run saw, for the closing figures. */
const figures = {
  kills: 0,
  /** Lives killed while running copies / write memory / deletes. */
  during: {} as Record<string, number>,
  /** The operation printed as started and not finished when the kill landed. */
  interrupted: { copy: 0, write: 0, delete: 0, none: 0 } as Record<string, number>,
  leftByKills: { temporaries: 0, temporaryBytes: 0, orphans: 0, orphanBytes: 0, other: 0 },
  startup: { old: 0, new: 0 },
  filesChecked: 0,
  maxStoreBytes: 0,
};

function checkState(s: State, expected: { imageMd5: string; configs: { done: number; inProgress?: number } }): void {
  // After start-up nothing is wrong: no temporaries, no orphans, no damaged content.
  expect(s.after, JSON.stringify(s.after)).toEqual([]);
  expect(s.warnings).toEqual([]);
  // No partial file: every copy is the whole image.
  for (const f of s.files) {
    if (!f.path.startsWith('img-')) continue;
    figures.filesChecked++;
    expect(f.size, f.path).toBe(IMAGE_SIZE);
    expect(f.md5, f.path).toBe(expected.imageMd5);
  }
  // `dir` accounting: total minus the files is what is free.
  const sizes = [...s.dir.matchAll(/^\s+\d+\s+-rw-\s+(\d+)\s/gm)].map((m) => Number(m[1]));
  expect(sizes.length).toBe(s.files.length);
  const free = Number(/\((\d+) bytes free\)/.exec(s.dir)?.[1]);
  expect(free).toBe(s.total - sizes.reduce((a, b) => a + b, 0));
  // The store holds what flash references, no more.
  expect(s.store.bytes).toBeLessThanOrEqual(s.store.referencedBytes + 64 * 1024);
  figures.maxStoreBytes = Math.max(figures.maxStoreBytes, s.store.bytes);
  // startup-config: the last one written, or the one being written, whole.
  const { done, inProgress } = expected.configs;
  if (s.startup === undefined) {
    expect(done).toBe(0);
    return;
  }
  const n = Number(/^hostname k9-(\d+)$/m.exec(s.startup)?.[1]);
  expect([done, inProgress].filter((x) => x !== undefined && x > 0)).toContain(n);
  expect(s.startup).toMatch(new RegExp(`^ip domain name n${n}\\.lab$`, 'm'));
  expect(s.startup).toMatch(/^end\s*$/m);
  if (n === done) figures.startup.old++;
  else figures.startup.new++;
}

describe(`kill -9 at random moments (${KILLS} kills)`, () => {
  it(
    'after every restart: no partial file, exact free space, startup-config old or new, nothing unreferenced',
    async () => {
      let configsDone = 0;
      /** The `write memory` a kill interrupted: its config may or may not have landed. */
      let pendingConfig: number | undefined;
      let imageMd5: string | undefined;
      for (let i = 0; i <= KILLS; i++) {
        const life = await startLife(1000 + i);
        // The TFTP server's copy of the image is the reference for every copied file.
        imageMd5 ??= createHash('md5')
          .update(readFileSync(join(stateDir, 'nodes', 'tftp', 'root', 'isr4300-universalk9.16.12.04.SPA.bin')))
          .digest('hex');
        for (const f of life.state.before) {
          if (f.kind === 'temporary') {
            figures.leftByKills.temporaries++;
            figures.leftByKills.temporaryBytes += f.bytes;
          } else if (f.kind === 'orphan') {
            figures.leftByKills.orphans++;
            figures.leftByKills.orphanBytes += f.bytes;
          } else if (f.kind !== 'stale lock') figures.leftByKills.other++;
        }
        checkState(life.state, { imageMd5, configs: { done: configsDone, inProgress: pendingConfig } });
        configsDone = Number(/^hostname k9-(\d+)$/m.exec(life.state.startup ?? '')?.[1] ?? 0);
        pendingConfig = undefined;
        if (i === KILLS) {
          life.child.stdin!.write('stop\n');
          expect(await life.exited).toBe(0);
          break;
        }
        const kind = KINDS[i % KINDS.length]!;
        life.child.stdin!.write(`go ${kind}\n`);
        await new Promise((r) => setTimeout(r, Math.random() * KILL_WINDOW_MS[kind]));
        process.kill(life.child.pid!, 'SIGKILL');
        await life.exited;
        figures.kills++;
        const ops = life.lines.filter((l) => l.startsWith('OP ') || l.startsWith('DONE '));
        for (const l of ops) {
          const m = /^DONE write (\d+)/.exec(l);
          if (m) configsDone = Number(m[1]);
        }
        const last = ops.at(-1);
        const open = last?.startsWith('OP ') ? last.split(' ')[1]! : 'none';
        figures.interrupted[open] = (figures.interrupted[open] ?? 0) + 1;
        if (open === 'write') pendingConfig = Number(last!.split(' ')[2]);
        figures.during[kind] = (figures.during[kind] ?? 0) + 1;
        const failed = ops.find((l) => l.startsWith('DONE copy') && !l.endsWith(' ok'));
        expect(failed, 'a copy failed while nothing was killed').toBeUndefined();
      }
      process.stdout.write(`kill -9 figures: ${JSON.stringify(figures)}\n`);
      expect(figures.kills).toBe(KILLS);
    },
    KILLS * 30_000 + 60_000,
  );
});
