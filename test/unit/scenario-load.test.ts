import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIOS, findScenarioFiles, loadScenario, parseScenario, ScenarioError } from '../../lab/scenario/load.ts';
import { parseDuration, scenarioJsonSchema, SPEC_ID } from '../../lab/scenario/schema.ts';
import { parseRef } from '../../lab/scenario/template.ts';

const FILE = join(tmpdir(), 'scenario-under-test.yml');

/** The issues a scenario text produces (empty when valid). */
function issues(text: string) {
  try {
    parseScenario(text, FILE);
    return [];
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    return e.issues;
  }
}

const head = `name: t\ncovers: [S3.4]\nsteps:\n`;

describe('scenario files', () => {
  it('accepts a small valid scenario and types its steps', () => {
    const s = parseScenario(
      `${head}  - cli: { node: r1, send: show version, expect: { contains: "Cisco" } }\n  - clock: { advance: 2h25m }\n  - check: { server: ftp, login: { user: lab } }\n`,
      FILE,
    );
    expect(s.steps.map((x) => x.kind)).toEqual(['cli', 'clock', 'check']);
    const cli = s.steps[0]!;
    expect(cli.kind === 'cli' && cli.spec.send).toEqual(['show version']);
    const clock = s.steps[1]!;
    expect(clock.kind === 'clock' && clock.spec.advance).toBe((2 * 60 + 25) * 60_000);
    expect(cli.line).toBe(4);
  });

  it('names file, line and key for a bad value', () => {
    const found = issues(`${head}  - cli:\n      node: r1\n      send: show version\n      expect:\n        contanis: x\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ file: FILE, line: 8, path: 'steps.0.cli.expect.contanis', message: 'unknown key "contanis"' });
  });

  it('rejects unknown step kinds and lists the valid ones', () => {
    const [i] = issues(`${head}  - sned: { node: r1 }\n`);
    expect(i!.line).toBe(4);
    expect(i!.message).toMatch(/unknown step kind "sned".*cli, check/);
  });

  it('checks covers against the SPEC ID pattern', () => {
    const [i] = issues(`name: t\ncovers: [S3.4, X9]\nsteps:\n  - clock: { advance: 1m }\n`);
    expect(i).toMatchObject({ line: 2, path: 'covers.1' });
    expect(SPEC_ID.test('S2.12') && SPEC_ID.test('L6') && !SPEC_ID.test('L7')).toBe(true);
  });

  it('checks node references against the topology', () => {
    const found = issues(`${head}  - cli: { node: r9, send: x }\n  - check: { server: r1, file: x }\n  - fault: { node: r1, clear: true }\n`);
    expect(found.map((i) => [i.line, i.path])).toEqual([
      [4, 'steps.0.cli.node'],
      [5, 'steps.1.check.server'],
      [6, 'steps.2.fault.node'],
    ]);
  });

  it('reports a bad override at its line in the scenario', () => {
    const [i] = issues(`name: t\ncovers: [S3.4]\noverrides:\n  topology:\n    nodes:\n      r1:\n        flash: { bootflash: lots }\nsteps:\n  - clock: { advance: 1m }\n`);
    expect(i).toMatchObject({ file: FILE, line: 7, path: 'overrides.topology.nodes.r1.flash.bootflash' });
  });

  it('checks {{ references }}, remembered variables included', () => {
    const ok = `${head}  - check: { node: r1, free: "bootflash:", remember: before }\n  - check: { node: r1, free: "bootflash:", equals: "{{ before }}" }\n`;
    expect(issues(ok)).toEqual([]);
    const [i] = issues(`${head}  - check: { node: r1, free: "bootflash:", equals: "{{ before }}" }\n`);
    expect(i!.message).toMatch(/unknown variable/);
    expect(issues(`${head}  - cli: { node: r1, send: "x {{ md5 nosuch:f.bin }}" }\n`)[0]!.message).toMatch(/no server "nosuch"/);
  });

  it('explains the colon trap of plain YAML scalars', () => {
    const [i] = issues(`${head}  - cli:\n      node: r1\n      send: copy tftp://h/f bootflash:\n      expect: { contains: x }\n`);
    expect(i!.message).toMatch(/needs quotes/);
    expect(i!.line).toBeGreaterThan(3);
  });

  it('a router check names exactly one subject', () => {
    expect(issues(`${head}  - check: { node: r1, file: "bootflash:x", free: "bootflash:" }\n`)[0]!.message).toMatch(/exactly one/);
    expect(issues(`${head}  - check: { node: r1, free: "bootflash:", md5: abc }\n`)[0]).toMatchObject({ path: 'steps.0.check.md5' });
  });

  it('parses durations and template references', () => {
    expect(parseDuration('2h25m')).toBe(8_700_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration(90)).toBe(90_000);
    expect(() => parseDuration('soon')).toThrow();
    expect(parseRef('md5 tftp:dir/x.bin')).toEqual({ kind: 'file', fn: 'md5', server: 'tftp', path: 'dir/x.bin' });
    expect(parseRef('dns.address')).toEqual({ kind: 'node', node: 'dns', field: 'address' });
    expect(parseRef('lab.domain')).toEqual({ kind: 'lab', field: 'domain' });
    expect(parseRef('what ever').kind).toBe('bad');
  });

  it('every bundled scenario is valid', () => {
    const { files } = findScenarioFiles([DEFAULT_SCENARIOS]);
    expect(files.length).toBeGreaterThanOrEqual(15);
    for (const f of files) expect(() => loadScenario(f), f).not.toThrow();
  });

  it('finds scenario files in folders and reports missing paths', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-find-'));
    writeFileSync(join(dir, 'b.yml'), '');
    writeFileSync(join(dir, 'a.yaml'), '');
    writeFileSync(join(dir, 'notes.txt'), '');
    const r = findScenarioFiles([dir, join(dir, 'nope.yml')]);
    expect(r.files.map((f) => f.slice(dir.length + 1))).toEqual(['a.yaml', 'b.yml']);
    expect(r.missing).toEqual([join(dir, 'nope.yml')]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports a JSON Schema with every step kind', () => {
    const s = JSON.stringify(scenarioJsonSchema());
    for (const k of ['cli', 'check', 'fault', 'clock', 'wait', 'copy_to_device', 'change_boot_variable', 'reload', 'verify_running_image']) {
      expect(s).toContain(`"${k}"`);
    }
  });
});
