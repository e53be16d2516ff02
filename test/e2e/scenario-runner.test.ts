/**
 * The scenario runner end to end: real labs on a random loopback subnet, real SSH, the
 * exit codes and both reports. Each test uses its own subnet, state and report folders, so
 * the file runs beside other e2e files.
 */
import { copyFileSync, existsSync, mkdtempSync as mkdtemp, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/scenario/cli.ts';
import { DEFAULT_SCENARIOS } from '../../lab/scenario/load.ts';

const made: string[] = [];
/** A temporary folder, removed after the file's tests. */
function mkdtempSync(prefix: string): string {
  const d = mkdtemp(prefix);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A /24 inside 127/8 nobody else is likely to use at the same time. */
function randomSubnet(): string {
  const b = 100 + Math.floor(Math.random() * 150);
  const c = Math.floor(Math.random() * 250);
  return `127.${b}.${c}.0/24`;
}

interface Run {
  code: number;
  out: string;
  err: string;
  reports: string;
}

async function run(paths: string[]): Promise<Run> {
  const reports = mkdtempSync(join(tmpdir(), 'flashlab-reports-'));
  const state = mkdtempSync(join(tmpdir(), 'flashlab-runstate-'));
  let out = '';
  let err = '';
  const code = await runCommand(paths, {
    reports,
    stateDir: state,
    subnet: randomSubnet(),
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err, reports };
}

/** Attributes of every `<tag ...>` in document order (the reports' XML is flat enough). */
function tags(xml: string, tag: string): Record<string, string>[] {
  return [...xml.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((m) => Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

/** Well-formedness: every element closes in order; no raw `<`/`&` in text. */
function assertWellFormed(xml: string): void {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
  const stack: string[] = [];
  for (const m of xml.replace(/^<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([\w-]+)[^>]*?(\/?)>/g)) {
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[3]) stack.push(m[2]!);
  }
  expect(stack).toEqual([]);
  expect(xml).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
  expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
}

const library = (name: string) => join(DEFAULT_SCENARIOS, name);

describe('flashlab run', () => {
  it('a broken expectation fails its scenario at that step, in the exit code and both reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-scen-'));
    copyFileSync(library('reload-cancel.yml'), join(dir, 'a-good.yml'));
    // The same scenario with one expectation broken: step 6 (`show reload`) now wants a text IOS never prints.
    const text = readFileSync(library('reload-cancel.yml'), 'utf8');
    const broken = text.replace('expect: { contains: "No reload is scheduled." }', 'expect: { contains: "No reload is pending." }').replace(/^name: .*$/m, 'name: broken copy');
    expect(broken).not.toBe(text);
    writeFileSync(join(dir, 'b-broken.yml'), broken);

    const r = await run([dir]);
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/FAIL\s+6\. cli r1: show reload/);
    expect(r.out).toContain('expected the output to contain "No reload is pending."');
    expect(r.out).toMatch(/1 of 2 scenarios failed/);

    const xml = readFileSync(join(r.reports, 'junit.xml'), 'utf8');
    assertWellFormed(xml);
    const [all] = tags(xml, 'testsuites');
    const suites = tags(xml, 'testsuite');
    const cases = tags(xml, 'testcase');
    expect(suites.map((s) => s.name)).toEqual(['reload in, then reload cancel', 'broken copy']);
    const steps = suites.map((s) => Number(s.tests));
    expect(cases).toHaveLength(steps[0]! + steps[1]!);
    expect(steps[0]).toBe(steps[1]);
    expect(all).toMatchObject({ tests: String(cases.length), failures: '1', errors: '0' });
    expect(suites[0]).toMatchObject({ failures: '0', skipped: '0' });
    // Failing at step 6 of 9: three steps after it never ran.
    expect(suites[1]).toMatchObject({ failures: '1', skipped: String(steps[1]! - 6) });
    expect(Number(all!.skipped)).toBe(steps[1]! - 6);
    const failures = tags(xml, 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toContain('No reload is pending.');
    // The failure sits in the testcase of step 6 of the broken suite.
    const brokenCases = xml.slice(xml.indexOf('name="broken copy"'));
    expect(brokenCases).toMatch(/<testcase classname="b-broken" name="06 cli r1: show reload" file="[^"]*b-broken\.yml" line="\d+" time="[\d.]+">\s*<failure/);

    const md = readFileSync(join(r.reports, 'report.md'), 'utf8');
    expect(md).toContain('### ❌ 6. cli r1: show reload ← FAILED');
    expect(md).toMatch(/> ❌ \*\*Failed at step 6: cli r1: show reload\*\* \(line \d+\)/);
    // The transcript of the failing step shows what the router really said.
    expect(md).toContain('r1#show reload\nNo reload is scheduled.');
    expect(md).toContain('actual output (last lines):');
    expect(md).toMatch(/\| flashlab \| \d+\.\d+\.\d+ \|/);
    expect(md).toContain('## SPEC coverage');
    const page = readFileSync(join(r.reports, 'report.html'), 'utf8');
    expect(page).toContain('<h3 class="failed">❌ 6. cli r1: show reload ← FAILED</h3>');
  });

  it('all green: exit 0, pyATS-named steps included', async () => {
    const r = await run([library('upgrade-ftp-ip-ftp-username.yml')]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/ok\s+2\. copy_to_device r1: ftp:\/\/ftp\/isr4300-universalk9\.16\.12\.04\.SPA\.bin/);
    expect(r.out).toMatch(/1\/1 scenarios passed/);
    const xml = readFileSync(join(r.reports, 'junit.xml'), 'utf8');
    assertWellFormed(xml);
    expect(tags(xml, 'testsuites')[0]).toMatchObject({ failures: '0', errors: '0', skipped: '0', tests: '7' });
    const md = readFileSync(join(r.reports, 'report.md'), 'utf8');
    expect(md).toContain('verify /md5 (bootflash:isr4300-universalk9.16.12.04.SPA.bin) =');
    expect(md).toContain('System image file is "bootflash:isr4300-universalk9.16.12.04.SPA.bin"');
    // The FTP server's own log lines, under the step that caused them.
    expect(md).toMatch(/<details><summary>server log during this step<\/summary>\n\n`+text\n(ftp: .*\n)*ftp: .*isr4300-universalk9\.16\.12\.04\.SPA\.bin/);
  });

  it('an invalid file: exit 2 with file and line, nothing run, no reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-bad-'));
    copyFileSync(library('reload-cancel.yml'), join(dir, 'ok.yml'));
    writeFileSync(
      join(dir, 'bad.yml'),
      ['name: bad', 'covers: [S3.7]', 'steps:', '  - cli:', '      node: r1', '      send: show clock', '      expect: { contians: x }', ''].join('\n'),
    );
    const r = await run([dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.yml:7: steps\.0\.cli\.expect\.contians: unknown key "contians"/);
    expect(r.out).toBe('');
    expect(existsSync(join(r.reports, 'junit.xml'))).toBe(false);
  });

  it('a missing path or an unknown option: exit 2', async () => {
    expect((await run([join(tmpdir(), 'no-such-scenario.yml')])).code).toBe(2);
    const r = await run(['--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown option --no-such-flag');
  });
});
