/**
 * `flashlab doctor`: examines a stopped lab's state folder and, with `repair`, fixes what
 * can be fixed. It reads the same files the lab does (flash metadata, the content store,
 * the control and lock files) and never trusts one of them blindly:
 *
 *   - flash/NVRAM metadata that cannot be read, and copies kept aside by an earlier start;
 *   - temp files of writes a killed lab left in the store;
 *   - blobs nothing references (orphans), and referenced blobs missing, short or wrong
 *     (every referenced blob is read end to end and checked against its sha256 name);
 *   - a control file or lock naming a process that is gone.
 *
 * Repairs: temporaries and orphans are removed; a file whose content is lost is dropped
 * from its file system (its space comes back; nothing pretends it is still there); an
 * unreadable metadata file is kept aside (as `up` would) and kept copies are moved to
 * `<state>/damaged/`, after which their blobs count as orphans. The same checks serve the
 * kill -9 robustness test, so what it asserts is what a user's `doctor` reports.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { metadataFiles, parseMetadata, type MetaFile, type MetaNode } from '../../router/storage/FlashFileSystem.ts';
import { CONTROL_FILE } from '../control/server.ts';
import { parseControl, pidAlive } from '../control/client.ts';

export type FindingKind =
  | 'unreadable metadata'
  | 'kept metadata'
  | 'temporary'
  | 'orphan'
  | 'missing content'
  | 'truncated content'
  | 'corrupt content'
  | 'stale control file'
  | 'stale lock';

export interface Finding {
  kind: FindingKind;
  /** What is affected, as a user names it: `r1 bootflash:x.bin`, a file under the state folder. */
  where: string;
  detail: string;
  /** What `--repair` does (or did) about it. */
  repair: string;
  repaired?: boolean;
  bytes?: number;
}

export interface DoctorReport {
  stateDir: string;
  findings: Finding[];
  /** Blobs and bytes in the store after the run; bytes the file systems reference. */
  store: { blobs: number; bytes: number; referencedBytes: number };
}

interface MetaRef {
  node: string;
  /** Metadata file name without `.json`: `bootflash`, `slot0-1`, `nvram`. */
  fs: string;
  file: string;
  meta: MetaFile;
}

const HASH_RE = /^[0-9a-f]{64}$/;

/** Examines (and with `repair`, fixes) the lab state in `stateDir`. The lab must not be running. */
export async function examineLab(stateDir: string, opts: { repair?: boolean } = {}): Promise<DoctorReport> {
  const repair = opts.repair === true;
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const rel = (p: string) => relative(stateDir, p);

  // ---- control and lock files of a process that is gone
  const controlFile = join(stateDir, CONTROL_FILE);
  if (existsSync(controlFile)) {
    const c = parseControl(safeRead(controlFile));
    if (typeof c === 'string' || !pidAlive(c.pid)) {
      const detail = typeof c === 'string' ? `unreadable (${c})` : `names pid ${c.pid}, which is gone`;
      if (repair) rmSync(controlFile, { force: true });
      add({ kind: 'stale control file', where: rel(controlFile), detail, repair: 'removed', repaired: repair });
    }
  }
  const lockFile = join(stateDir, 'lab.lock');
  const lockPid = Number(safeRead(lockFile)?.trim());
  if (existsSync(lockFile) && !(Number.isSafeInteger(lockPid) && lockPid > 0 && pidAlive(lockPid))) {
    if (repair) rmSync(lockFile, { force: true });
    add({ kind: 'stale lock', where: rel(lockFile), detail: `names pid ${safeRead(lockFile)?.trim() || '?'}, which is gone`, repair: 'removed', repaired: repair });
  }

  // ---- flash metadata
  const metas: MetaRef[] = [];
  const nodesDir = join(stateDir, 'nodes');
  const keptHashes = new Set<string>();
  let keptPending = 0;
  for (const node of listDir(nodesDir)) {
    const fsDir = join(nodesDir, node, 'fs');
    for (const name of listDir(fsDir)) {
      const file = join(fsDir, name);
      if (name.endsWith('.json')) {
        const parsed = parseMetadata(safeRead(file) ?? '');
        if (typeof parsed === 'string') {
          for (const h of hashesIn(safeRead(file) ?? '')) keptHashes.add(h);
          // Kept aside exactly as `up` would do it, so the next start does not hide it again.
          const keptAs = `${file}.corrupt-${Date.now()}`;
          if (repair) renameSync(file, keptAs);
          add({
            kind: 'unreadable metadata',
            where: `${node} ${name.replace(/\.json$/, '')}: (${rel(file)})`,
            detail: `${parsed}; the lab would start this file system empty`,
            repair: `kept aside as ${basename(keptAs)} and moved to damaged/ (its blobs become orphans)`,
            repaired: repair,
          });
          if (repair) moveToDamaged(stateDir, keptAs);
          else keptPending++;
        } else {
          metas.push({ node, fs: name.replace(/\.json$/, ''), file, meta: parsed });
        }
      } else if (/\.json\.corrupt-\d+$/.test(name)) {
        const text = safeRead(file) ?? '';
        const named = hashesIn(text);
        for (const h of named) keptHashes.add(h);
        if (repair) moveToDamaged(stateDir, file);
        else keptPending++;
        add({
          kind: 'kept metadata',
          where: rel(file),
          detail: `unreadable metadata an earlier start kept aside (${text.length} bytes, naming ${named.size} blob(s)); its file system was started empty, and the store keeps the blobs it names until this is reviewed`,
          repair: 'moved to damaged/ (the blobs only it named become orphans)',
          repaired: repair,
        });
      } else if (name.endsWith('.json.tmp')) {
        // A metadata save interrupted before its rename: the .json beside it is whole.
        if (repair) rmSync(file, { force: true });
        add({ kind: 'temporary', where: rel(file), detail: 'an interrupted metadata save', repair: 'removed', repaired: repair, bytes: sizeOf(file) });
      }
    }
  }

  // ---- store: temporaries, blobs
  const storeDir = join(stateDir, 'store');
  const tmpDir = join(storeDir, 'tmp');
  for (const name of listDir(tmpDir)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (pid > 0 && pidAlive(pid)) continue;
    const p = join(tmpDir, name);
    const bytes = sizeOf(p);
    if (repair) rmSync(p, { force: true, recursive: true });
    add({ kind: 'temporary', where: rel(p), detail: `an interrupted write (${bytes} bytes)`, repair: 'removed', repaired: repair, bytes });
  }

  const blobDir = join(storeDir, 'blobs');
  const blobs = new Map<string, number>();
  for (const name of listDir(blobDir)) if (HASH_RE.test(name)) blobs.set(name, sizeOf(join(blobDir, name)));

  // Referenced contents, each blob read once; a file whose content is lost is dropped.
  const blobState = new Map<string, Promise<{ kind: FindingKind; detail: string } | undefined>>();
  const check = (hash: string, size: number) => {
    let p = blobState.get(hash);
    if (!p) blobState.set(hash, (p = checkBlob(join(blobDir, hash), hash, size)));
    return p;
  };
  const referenced = new Set<string>();
  /** Blobs of files whose content is lost: reported with the file, removed with it on repair. */
  const damaged = new Set<string>();
  let referencedBytes = 0;
  for (const m of metas) {
    const lost: string[] = [];
    for (const f of metadataFiles(m.meta)) {
      const problem = await check(f.hash, f.size);
      if (!problem) {
        referenced.add(f.hash);
        if (!f.deleted) referencedBytes += f.size;
        continue;
      }
      lost.push(f.path);
      damaged.add(f.hash);
      add({
        kind: problem.kind,
        where: `${m.node} ${fsPrefix(m.fs)}${f.path}`,
        detail: `${problem.detail} [blob ${f.hash.slice(0, 12)}]; the router answers "I/O error" for it`,
        repair: `the file is dropped from ${fsPrefix(m.fs)} (its space comes back); copy it again`,
        repaired: repair,
      });
    }
    if (repair && lost.length) writeMetadata(m.file, dropFiles(m.meta, new Set(lost)));
  }

  const keepForReview = keptPending > 0 ? keptHashes : new Set<string>();
  for (const name of listDir(blobDir)) {
    const hash = name.endsWith('.md5') ? name.slice(0, -4) : name;
    if (!HASH_RE.test(hash) || referenced.has(hash) || keepForReview.has(hash)) continue;
    const p = join(blobDir, name);
    if (damaged.has(hash)) {
      if (repair) {
        rmSync(p, { force: true });
        blobs.delete(name);
      }
      continue;
    }
    if (name === hash) {
      add({ kind: 'orphan', where: rel(p), detail: `a blob no file system references (${blobs.get(hash)} bytes)`, repair: 'removed', repaired: repair, bytes: blobs.get(hash) });
    }
    if (repair) {
      rmSync(p, { force: true });
      if (name === hash) blobs.delete(hash);
    }
  }

  let bytes = 0;
  for (const b of blobs.values()) bytes += b;
  return { stateDir, findings, store: { blobs: blobs.size, bytes, referencedBytes } };
}

/** The report as `flashlab doctor` prints it. */
export function formatReport(r: DoctorReport, repaired: boolean): string {
  const lines = [`state ${r.stateDir}`];
  if (r.findings.length === 0) {
    lines.push('  no problems found');
  } else {
    const width = Math.max(...r.findings.map((f) => f.kind.length));
    for (const f of r.findings) {
      lines.push(`  ${f.kind.padEnd(width)}  ${f.where}: ${f.detail}`);
      lines.push(`  ${''.padEnd(width)}  ${repaired ? (f.repaired ? 'repaired: ' : 'left: ') : 'repair: '}${f.repair}`);
    }
  }
  lines.push(`store: ${r.store.blobs} blob(s), ${r.store.bytes} bytes; flash references ${r.store.referencedBytes} bytes`);
  if (r.findings.length && !repaired) lines.push(`${r.findings.length} problem(s); "flashlab doctor --repair" fixes them`);
  if (repaired) lines.push(`${r.findings.filter((f) => f.repaired).length} problem(s) repaired`);
  return lines.join('\n');
}

// ---- helpers -------------------------------------------------------------------------------

async function checkBlob(path: string, hash: string, size: number): Promise<{ kind: FindingKind; detail: string } | undefined> {
  let actual: number;
  try {
    actual = statSync(path).size;
  } catch {
    return { kind: 'missing content', detail: 'its content is missing from the store' };
  }
  if (actual < size) return { kind: 'truncated content', detail: `its content is truncated (${actual} of ${size} bytes)` };
  if (actual !== size) return { kind: 'corrupt content', detail: `its content has the wrong size (${actual} bytes, not ${size})` };
  const sha = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) sha.update(chunk as Buffer);
  return sha.digest('hex') === hash ? undefined : { kind: 'corrupt content', detail: 'its content does not match its checksum' };
}

/** A copy of the tree without the given file paths (a class-B deleted copy goes too). */
function dropFiles(meta: MetaFile, paths: Set<string>): MetaFile {
  const copy = JSON.parse(JSON.stringify(meta)) as MetaFile;
  const stack: [MetaNode, string][] = [[copy.root, '']];
  while (stack.length) {
    const [n, at] = stack.pop()!;
    if (!n.children) continue;
    n.children = n.children.filter((c) => c.dir || !paths.has(`${at}${c.name}`));
    for (const c of n.children) if (c.dir) stack.push([c, `${at}${c.name}/`]);
  }
  return copy;
}

function writeMetadata(file: string, meta: MetaFile): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(meta));
  renameSync(tmp, file);
}

function moveToDamaged(stateDir: string, file: string): void {
  const dir = join(stateDir, 'damaged');
  mkdirSync(dir, { recursive: true });
  const node = basename(join(file, '../..'));
  renameSync(file, join(dir, `${node}-${basename(file)}`));
}

function hashesIn(text: string): Set<string> {
  return new Set(text.match(/[0-9a-f]{64}/g) ?? []);
}

/** `bootflash` -> `bootflash:`, `slot0-1` -> `slot0:1:`. */
function fsPrefix(metaName: string): string {
  const m = /^(.*)-(\d+)$/.exec(metaName);
  return m ? `${m[1]}:${m[2]}:` : `${metaName}:`;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function safeRead(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function sizeOf(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}
