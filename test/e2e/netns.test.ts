/**
 * The netns runtime as a user drives it: a node agent per node, each in a network
 * namespace of its own on a lab bridge; scenarios pass on it; `down` (and `down --force`
 * after the lab process was killed) leaves no namespace, veth or bridge behind; without
 * root it refuses. Needs root and iproute2, like the seal test. Subnets come from
 * 10.213.0.0/16 (the host uses 192.0.2.0/24 and podman 10.88.0.0/16).
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labNetId } from '../../lab/runtime/netns.ts';
import { pidAlive } from '../../lab/control/client.ts';

const BIN = resolve(import.meta.dirname, '../../bin/flashlab.mjs');
const SCENARIOS = resolve(import.meta.dirname, '../../scenarios');
let dir: string;

function flashlab(args: string[], timeout = 180_000, asUser?: number) {
  const command = asUser === undefined ? [process.execPath, BIN, ...args] : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', process.execPath, BIN, ...args];
  const r = spawnSync(command[0]!, command.slice(1), { cwd: dir, env: { ...process.env, FLASHLAB_HOME: join(dir, 'home') }, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Namespaces and links carrying a lab's id (`fl-<id>-<node>`, `flb<id>`, `fl<id>h<n>`). */
function thingsOf(stateDir: string): string[] {
  const id = labNetId(stateDir);
  return labNetworkThings().filter((x) => x.startsWith(`fl-${id}-`) || x === `flb${id}` || x.startsWith(`fl${id}h`));
}

/** This machine's `fl-*` namespaces and `fl*` links (labs' names; the seal test's are `flseal-`/`fls`). */
function labNetworkThings(): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => /^fl-[0-9a-f]{6}-/.test(n));
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => /^flb[0-9a-f]{6}$|^fl[0-9a-f]{6}h\d+$/.test(n));
  return [...ns, ...links];
}

/** `[i/N] title file` headers of a `flashlab run` whose verdict line is not PASSED, with it. */
function notPassed(out: string): string[] {
  const bad: string[] = [];
  let header = '';
  for (const line of out.split('\n')) {
    if (/^\[\d+\/\d+\] /.test(line)) header = line;
    const verdict = /^  ([A-Z]+) [\d.hms]+$/.exec(line.replace(/\x1b\[[\d;]*m/g, ''))?.[1];
    if (verdict && verdict !== 'PASSED') bad.push(`${header} → ${verdict}`);
  }
  return bad;
}

/** The whole library on netns: about 20 min on CI's 2 cores while other test files run. */
const LIBRARY_MS = 3_000_000;

const randomSubnet = () => `10.213.${randomInt(1, 255)}.0/24`;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the netns tests need root (network namespaces, veth pairs, a bridge), as the seal test does');
  dir = mkdtempSync(join(tmpdir(), 'flashlab-netns-'));
});

afterAll(() => {
  flashlab(['down', '--force']);
  rmSync(dir, { recursive: true, force: true });
});

describe('flashlab up --runtime netns', () => {
  it('runs each node in its own namespace; down --force after a kill -9 removes every namespace, veth and bridge', { timeout: 300_000 }, () => {
    const subnet = randomSubnet();
    const up = flashlab(['up', '--runtime', 'netns', '--subnet', subnet]);
    expect(up.stderr + up.stdout).toMatch(/ready: lab default/);
    expect(up.code).toBe(0);
    const net = subnet.replace(/0\/24$/, '');
    const inspect = flashlab(['inspect']);
    expect(inspect.stdout).toMatch(/^lab default \(runtime netns\)/);
    expect(inspect.stdout).toContain(`${net}11`);
    const nodes = JSON.parse(flashlab(['inspect', '--json']).stdout) as { name: string; address: string; ports: Record<string, number> }[];
    expect(nodes.find((n) => n.name === 'r1')).toMatchObject({ address: `${net}11`, ports: { ssh: 22 } });

    // A real copy across namespaces: r1's agent fetches from the tftp agent, by name through the dns agent.
    const copy = flashlab(['exec', 'r1', 'copy tftp://tftp/isr4300-universalk9.16.12.04.SPA.bin bootflash:', '--yes']);
    expect(copy.stdout).toContain(`Translating "tftp"...domain server (${net}53) [OK]`);
    expect(copy.stdout).toContain('[OK - 16777216 bytes]');
    expect(copy.code).toBe(0);

    const stateDir = join(dir, 'home', 'default');
    const id = labNetId(stateDir);
    const made = thingsOf(stateDir);
    expect(made).toContain(`fl-${id}-r1`);
    expect(made).toContain(`flb${id}`);

    // The lab process dies without a word: its namespaces stay, its agents follow it out.
    const control = JSON.parse(readFileSync(join(stateDir, 'control.json'), 'utf8')) as { pid: number };
    process.kill(control.pid, 'SIGKILL');
    const record = JSON.parse(readFileSync(join(stateDir, 'netns.json'), 'utf8')) as { agents: Record<string, number> };
    expect(Object.keys(record.agents).sort()).toEqual(['dns', 'ftp', 'ida', 'r1', 'r2', 'smtp', 'tftp']);
    expect(labNetworkThings()).toContain(`fl-${id}-r1`);

    const down = flashlab(['down', '--force']);
    expect(down.stdout).toMatch(/removed 7 network namespace\(s\)/);
    expect(thingsOf(stateDir)).toEqual([]);
    for (const pid of Object.values(record.agents)) expect(pidAlive(pid)).toBe(false);
  });

  it('without root it refuses, saying why, and makes nothing', { timeout: 120_000 }, () => {
    chmodSync(dir, 0o777);
    const state = join(dir, 'nobody-state');
    const r = flashlab(['up', '--runtime', 'netns', '--foreground', '--state', state], 60_000, 65534);
    expect(r.stderr).toMatch(/the netns runtime needs root/);
    expect(r.code).toBe(1);
    expect(thingsOf(state)).toEqual([]);
  });
});

describe('flashlab run --runtime netns', () => {
  // The whole bundled library (issue 11: "CI runs the whole library on netns"), one lab of
  // agents and namespaces per scenario, as `flashlab run --runtime netns` runs it for a user.
  const library = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yml'));

  it('passes every bundled scenario and leaves no namespace behind', () => {
    expect(library.length).toBeGreaterThan(50);
    const states = join(dir, 'runs');
    const r = flashlab(['run', '--runtime', 'netns', '--subnet', randomSubnet(), '--state', states, '--keep-state', '--reports', join(dir, 'reports')], LIBRARY_MS);
    const out = r.stdout + r.stderr;
    // On a failure, name the scenarios that did not pass rather than print the whole run.
    expect(notPassed(out)).toEqual([]);
    expect(out).toContain(`${library.length}/${library.length} scenarios passed`);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'reports', 'junit.xml'), 'utf8')).toContain('value="netns (one process and one network namespace per node)"');
    // Each scenario's lab state was kept: its id names everything it made, and none of it is left.
    const labs = readdirSync(states).map((d) => join(states, d));
    expect(labs).toHaveLength(library.length);
    for (const lab of labs) expect(thingsOf(lab)).toEqual([]);
  }, LIBRARY_MS + 60_000);
});
