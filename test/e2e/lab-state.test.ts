/**
 * Lab state that never lies, through the `flashlab` command as a user runs it (issue 13
 * items 7–9 and 11, issue 7 item 7's doctor): damaged flash metadata and store contents are
 * named by `up` and answered with IOS's `I/O error` on the router; `doctor` reports and
 * repairs; `up --reset` keeps the old log; a damaged control file makes `up`, `inspect` and
 * `down` agree, and `down --force` recovers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomLabSubnet } from '../helpers/net.ts';

const BIN = resolve(import.meta.dirname, '../../bin/flashlab.mjs');
let dir: string;
let topo: string;
let state: string;

function flashlab(args: string[], timeout = 90_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, FLASHLAB_HOME: join(dir, 'home') }, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-state-e2e-'));
  topo = join(dir, 'state-lab.yml');
  state = join(dir, 'home', 'state-lab');
  writeFileSync(
    topo,
    `name: state-lab
mgmt: { ipv4-subnet: ${randomLabSubnet()} }
topology:
  nodes:
    r1:
      kind: router
      platform: isr4321
      images:
        - { name: isr4300-universalk9.16.10.01.SPA.bin, version: 16.10.1, size: 1MB }
`,
  );
});

afterAll(() => {
  flashlab(['down', '--force']);
  rmSync(dir, { recursive: true, force: true });
});

const blobOf = (fsJson: string, name: string): string => {
  const meta = JSON.parse(readFileSync(join(state, 'nodes', 'r1', 'fs', fsJson), 'utf8')) as { root: { children: { name: string; hash: string }[] } };
  return meta.root.children.find((c) => c.name === name)!.hash;
};

describe('damaged flash state', () => {
  it('up names unreadable NVRAM metadata and a missing content, and the router says I/O error', () => {
    expect(flashlab(['up', topo, '--high-ports']).code).toBe(0);
    // exec answers questions only when told: --yes takes the offered file name.
    const saved = flashlab(['exec', 'r1', '--yes', 'copy running-config bootflash:notes.cfg', 'write memory']);
    expect(saved.code).toBe(0);
    expect(flashlab(['down']).code).toBe(0);

    writeFileSync(join(state, 'nodes', 'r1', 'fs', 'nvram.json'), '{"version":1,"nextInode":3,"root":{"name":"","dir":tr');
    rmSync(join(state, 'store', 'blobs', blobOf('bootflash.json', 'notes.cfg')));

    const up = flashlab(['up', topo, '--high-ports']);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^ready: lab state-lab/m);
    expect(up.stderr).toMatch(/^warning: r1: nvram: metadata \S+nvram\.json was unreadable \(not valid JSON.*\); kept as nvram\.json\.corrupt-\d+, nvram: started empty\. Run "flashlab doctor"/m);
    expect(up.stderr).toMatch(/^warning: r1: bootflash:notes\.cfg: its content is missing from the store \[blob [0-9a-f]{12}\]; the router answers "I\/O error" for it\. Run "flashlab doctor --repair"/m);

    const cli = flashlab(['exec', 'r1', 'more bootflash:notes.cfg', 'verify /md5 bootflash:notes.cfg', 'show logging']);
    expect(cli.stdout).toContain('%Error reading bootflash:/notes.cfg (I/O error)');
    expect(cli.stdout).toMatch(/%FILESYS-3-DAMAGED: nvram: metadata unreadable/);
    expect(cli.stdout).toMatch(/%FILESYS-3-DAMAGED: bootflash:notes.cfg its content is missing/);
    expect(cli.stdout).not.toContain(dir);
    expect(cli.stdout).not.toMatch(/ENOENT|\/store\/blobs/);
    expect(flashlab(['down']).code).toBe(0);
  }, 240_000);

  it('doctor reports, --repair fixes, and the next up is clean', () => {
    const report = flashlab(['doctor', '--lab', 'state-lab']);
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/kept metadata +nodes\/r1\/fs\/nvram\.json\.corrupt-\d+/);
    expect(report.stdout).toMatch(/missing content +r1 bootflash:notes\.cfg/);
    expect(report.stdout).toMatch(/problem\(s\); "flashlab doctor --repair" fixes them/);

    const repair = flashlab(['doctor', '--lab', 'state-lab', '--repair']);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/repaired: the file is dropped from bootflash:/);
    expect(readdirSync(join(state, 'damaged'))).toEqual([expect.stringMatching(/^r1-nvram\.json\.corrupt-\d+$/)]);

    const again = flashlab(['doctor', '--lab', 'state-lab']);
    expect(again.stdout).toContain('no problems found');
    expect(again.code).toBe(0);

    const up = flashlab(['up', topo, '--high-ports']);
    expect(up.stderr).toBe('');
    expect(flashlab(['exec', 'r1', 'dir bootflash:']).stdout).not.toContain('notes.cfg');
  }, 240_000);
});

describe('a damaged control file', () => {
  it('up, inspect and down agree that the lab runs; down --force ends it', () => {
    const control = join(state, 'control.json');
    expect(existsSync(control)).toBe(true);
    writeFileSync(control, '{"pid": 12');
    for (const args of [['inspect'], ['down'], ['up', topo, '--high-ports']]) {
      const r = flashlab(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/the lab in \S+ runs \(pid \d+\) but its control file \S+ is unreadable \(not valid JSON.*\); "flashlab down --force" stops it/);
    }
    const forced = flashlab(['down', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/lab state-lab: process \d+ ended/);
    expect(existsSync(control)).toBe(false);
    expect(flashlab(['inspect']).stderr).toMatch(/no lab is running/);
  }, 240_000);
});

describe('up --reset', () => {
  it('keeps the old log as lab.log.1 and the new lab writes to a lab.log that exists', () => {
    const log = join(state, 'lab.log');
    writeFileSync(log, 'flashlab: an error worth keeping\n');
    const up = flashlab(['up', topo, '--high-ports', '--reset']);
    expect(up.code).toBe(0);
    expect(readFileSync(`${log}.1`, 'utf8')).toContain('an error worth keeping');
    expect(existsSync(log)).toBe(true);
    // The background lab writes its stdout and stderr to lab.log: the file it holds is the one on disk.
    const pid = Number(/pid (\d+)/.exec(up.stdout)?.[1]);
    expect(readlinkSync(`/proc/${pid}/fd/2`)).toBe(log);
    expect(flashlab(['down']).code).toBe(0);
  }, 240_000);
});
