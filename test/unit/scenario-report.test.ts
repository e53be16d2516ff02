import { describe, expect, it } from 'vitest';
import { baseName, parseBootvar, parseDir, parseFree, parseMd5, parseRunningImage, versionShown } from '../../lab/scenario/ios.ts';
import { foldMarks, junitXml, markdownReport, transcriptText } from '../../lab/scenario/report.ts';
import { checkExpect, faultValues, type ScenarioResult, type StepResult } from '../../lab/scenario/runner.ts';
import { relocate } from '../../lab/topology/load.ts';
import { cleanTerminal, CLI_PROMPT, responseOf, type Exchange } from '../../lab/scenario/ssh.ts';

/** A tiny XML reader: checks well-formedness and returns the element tree. */
interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}
const unescape = (s: string) => {
  if (/&(?!(amp|lt|gt|quot|apos);)/.test(s)) throw new Error(`bad entity in ${s.slice(0, 60)}`);
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
};

function parseXml(xml: string): El {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const root: El = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  const re = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < body.length && (m = re.exec(body))) {
    pos = re.lastIndex;
    if (m[5] !== undefined) {
      stack[stack.length - 1]!.text += unescape(m[5]);
      continue;
    }
    const [, close, name, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop()!;
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = unescape(a[2]!);
    const el: El = { name: name!, attrs, children: [], text: '' };
    stack[stack.length - 1]!.children.push(el);
    if (!selfClose) stack.push(el);
  }
  if (pos !== body.length) throw new Error(`unparsable XML at offset ${pos}: ${body.slice(pos, pos + 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  return root.children[0]!;
}

const ex = (over: Partial<Exchange>): Exchange => ({
  node: 'r1',
  sent: 'show x',
  before: '',
  output: 'show x\nresult\nr1#',
  response: 'result',
  prompt: 'r1#',
  answered: [],
  closed: false,
  timedOut: false,
  ms: 5,
  ...over,
});

const step = (i: number, status: StepResult['status'], over: Partial<StepResult> = {}): StepResult => ({
  index: i,
  label: `step ${i + 1}`,
  kind: 'cli',
  line: 10 + i,
  status,
  ms: 100,
  exchanges: [],
  notes: [],
  ...over,
});

const result = (over: Partial<ScenarioResult>): ScenarioResult => ({
  name: 'A & B <scenario>',
  file: '/x/scenarios/a.yml',
  covers: ['S3.4'],
  status: 'passed',
  steps: [],
  ms: 1234,
  startedAt: new Date('2026-01-01T00:00:00Z'),
  ...over,
});

describe('reports', () => {
  const failing = result({
    name: 'broken',
    file: '/x/scenarios/b.yml',
    status: 'failed',
    steps: [
      step(0, 'passed', { exchanges: [ex({})] }),
      step(1, 'failed', { message: 'expected the output to contain "[OK -"\n    | %Error opening tftp://h/f (Timed out)', exchanges: [ex({ output: 'copy x\n%Error \x07opening\nr1#' })] }),
      step(2, 'skipped'),
    ],
  });
  const passing = result({ steps: [step(0, 'passed'), step(1, 'passed')] });
  const crashed = result({ name: 'no lab', file: '/x/c.yml', status: 'error', error: 'lab did not start: EADDRINUSE', steps: [step(0, 'skipped')] });

  it('JUnit: well-formed, one suite per scenario file, counts matching what ran', () => {
    const xml = junitXml([passing, failing, crashed]);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '7', failures: '1', errors: '1', skipped: '2' });
    const suites = root.children.filter((c) => c.name === 'testsuite');
    expect(suites.map((s) => s.attrs.name)).toEqual(['A & B <scenario>', 'broken', 'no lab']);
    const broken = suites[1]!;
    expect(broken.attrs).toMatchObject({ tests: '3', failures: '1', skipped: '1', errors: '0' });
    const cases = broken.children.filter((c) => c.name === 'testcase');
    expect(cases.map((c) => c.attrs.name)).toEqual(['01 step 1', '02 step 2', '03 step 3']);
    const failure = cases[1]!.children.find((c) => c.name === 'failure')!;
    expect(failure.attrs.message).toBe('expected the output to contain "[OK -"');
    expect(failure.text).toContain('Timed out');
    expect(cases[2]!.children[0]!.name).toBe('skipped');
    // The BEL from the transcript must not reach the XML.
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f]/);
    expect(suites[2]!.children.some((c) => c.name === 'testcase' && c.children.some((d) => d.name === 'error'))).toBe(true);
  });

  it('JUnit: each test case names its scenario file and line; run details as properties', () => {
    const xml = junitXml([passing, failing], { version: '9.9.9', topology: 'lab/topologies/default.yml', subnet: '127.88.0.0/24', runtime: 'embedded', ms: 1234 });
    const root = parseXml(xml);
    const cases = root.children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));
    expect(cases[3]!.attrs).toMatchObject({ name: '02 step 2', line: '11' });
    expect(cases[3]!.attrs.file).toMatch(/\.yml$/);
    const props = root.children[0]!.children.find((c) => c.name === 'properties')!.children.map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toEqual(expect.arrayContaining([['flashlab.version', '9.9.9'], ['subnet', '127.88.0.0/24'], ['topology', 'lab/topologies/default.yml']]));
  });

  it('Markdown: run details and the SPEC coverage table, uncovered IDs named', () => {
    const md = markdownReport([passing, failing], { details: { version: '9.9.9', topology: 'lab/topologies/default.yml', runtime: 'embedded', ms: 61_000 } });
    expect(md).toContain('| flashlab | 9.9.9 |');
    expect(md).toContain("| subnet | each topology's own |");
    const covered = passing.covers[0]!;
    expect(md).toMatch(new RegExp(`\\| ${covered.replace('.', '\\.')} \\| [^|]+ \\| .*\\[${passing.name.replace(/[&<>]/g, '.')}\\]`));
    expect(md).toMatch(/Not covered by any scenario in this run: .*S2\.1,/);
  });

  it('folds long runs of progress marks to their first and last lines', () => {
    const marks = Array.from({ length: 10 }, () => '!'.repeat(70));
    const text = ['Loading f from h (via Gi0): !!!!', ...marks, '!!!..O!', '[OK - 1 bytes]'].join('\n');
    expect(foldMarks(text)).toBe(['Loading f from h (via Gi0): !!!!', '!'.repeat(70), '[… 9 lines of progress marks folded (630 marks) …]', '!!!..O!', '[OK - 1 bytes]'].join('\n'));
    expect(foldMarks('!!!\n!!!\nok')).toBe('!!!\n!!!\nok');
  });

  it('Markdown: summary table, transcripts, the failing step called out', () => {
    const md = markdownReport([passing, failing]);
    expect(md).toMatch(/1 of 2 scenarios passed/);
    expect(md).toContain('> ❌ **Failed at step 2: step 2** (line 11)');
    expect(md).toContain('### ❌ 2. step 2 ← FAILED');
    expect(md).toContain('r1#show x\nresult\nr1#');
  });

  it('transcripts show each prompt once, setup only when asked', () => {
    const login = ex({ sent: '', output: 'r1>', setup: true });
    const a = ex({ sent: 'a', output: 'a\nA\nr1#' });
    const b = ex({ sent: 'b', before: '\n*Jan  1: %SYS-5-X: y\nr1#', output: 'b\nB\nr1#' });
    expect(transcriptText([login, a, b])).toBe('r1#a\nA\nr1#\n*Jan  1: %SYS-5-X: y\nr1#b\nB\nr1#');
    expect(transcriptText([login], { setup: true })).toBe('r1>');
    expect(transcriptText([ex({ closed: true, output: 'reload\nProceed with reload? [confirm]\n' })])).toContain('[connection closed by the router]');
  });
});

describe('terminal and IOS output', () => {
  it('cleans terminal control codes and applies backspaces', () => {
    expect(cleanTerminal('ab\x08c\r\nd\x1b[K\x07e\r\n')).toBe('ac\nde\n');
  });

  it('recognises prompts but not questions', () => {
    for (const p of ['r1#', 'r1>', 'R1(config)#', 'r2(config-line)#', 'rommon 1 >']) expect(CLI_PROMPT.test(p), p).toBe(true);
    for (const q of ['Destination filename [x]? ', 'Proceed with reload? [confirm]', '!!!!', 'Password: ']) expect(CLI_PROMPT.test(q), q).toBe(false);
  });

  it('strips the echo and the closing prompt from a response', () => {
    expect(responseOf('show clock\n*10:00:00 UTC\nr1#', true)).toBe('*10:00:00 UTC');
    expect(responseOf('r1>', false)).toBe('');
  });

  it('reads dir, totals, md5, bootvar and show version', () => {
    const dir = [
      'Directory of bootflash:/',
      '',
      '    1  -rw-         16777216  Nov 25 2026 13:31:03 +00:00  isr4300-universalk9.16.10.01.SPA.bin',
      '    2  drwx             4096  Nov 25 2026 13:31:03 +00:00  tracelogs',
      '    3  -rw-          1000  Nov 25 2026 13:31:03 +00:00  [old.bin]',
      '',
      '7194697728 bytes total (7161143296 bytes free)',
    ].join('\n');
    expect(parseDir(dir)).toEqual([
      { size: 16777216, name: 'isr4300-universalk9.16.10.01.SPA.bin', isDir: false, deleted: false },
      { size: 4096, name: 'tracelogs', isDir: true, deleted: false },
      { size: 1000, name: 'old.bin', isDir: false, deleted: true },
    ]);
    expect(parseFree(dir)).toBe(7161143296);
    expect(parseFree('[16777280 bytes used, 16777152 available, 33554432 total]')).toBe(16777152);
    expect(parseMd5('verify /md5 (bootflash:x) = 91C176016774ECA8E805A8364DC86161')).toBe('91c176016774eca8e805a8364dc86161');
    expect(parseBootvar('BOOT variable = bootflash:a.bin,12;bootflash:b.bin,12;\nCONFIG_FILE variable = ')).toEqual(['bootflash:a.bin', 'bootflash:b.bin']);
    expect(parseBootvar('BOOT variable = \n')).toEqual([]);
    expect(parseRunningImage('System image file is "flash0:c3900.bin"')).toBe('flash0:c3900.bin');
    expect(versionShown('Cisco IOS Software [Gibraltar], ISR Software (X), Version 16.12.4, RELEASE', '16.12.4')).toBe(true);
    expect(versionShown('Version 16.12.40, RELEASE', '16.12.4')).toBe(false);
    expect(baseName('slot0:1:dir/c.bin')).toBe('c.bin');
  });

  it('checks expectations', () => {
    expect(checkExpect('[OK - 5 bytes]', { contains: ['[OK -'], notContains: ['%Error'], matches: ['\\d+ bytes'] })).toEqual([]);
    expect(checkExpect('%Error opening', { contains: ['[OK -'], notMatches: ['^%Error'] })).toHaveLength(2);
  });

  it('reads sizes in fault values and moves topologies to another subnet', () => {
    expect(faultValues({ 'stall-after-bytes': '2MB', 'drop-every-n': 5, 'rate-limit': '1M' })).toEqual({ 'stall-after-bytes': 2097152, 'drop-every-n': 5, 'rate-limit': 1048576 });
    const t = relocate({ mgmt: { 'ipv4-subnet': '127.77.0.0/24' }, topology: { nodes: { r1: { address: '127.77.0.11' }, x: {} } } }, '127.201.5.0/24');
    expect(t).toMatchObject({ mgmt: { 'ipv4-subnet': '127.201.5.0/24' }, topology: { nodes: { r1: { address: '127.201.5.11' } } } });
  });
});
