/**
 * reports/report.html rendered by a real browser: Debian's headless Chromium loads the file
 * and its DOM comes back with every part of the report. Chromium runs in a network
 * namespace of its own (`unshare --net`), so whatever it might try to fetch goes nowhere; the
 * page needs nothing from outside anyway.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { htmlReport } from '../../lab/scenario/report.ts';
import type { ScenarioResult, StepResult } from '../../lab/scenario/runner.ts';
import type { Exchange } from '../../lab/scenario/ssh.ts';
import { requireBinary, runCommand } from '../helpers/peers.ts';

const dir = mkdtempSync(join(tmpdir(), 'flashlab-report-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exchange = (sent: string, output: string): Exchange => ({ sent, prompt: 'r1#', output: `${sent}\n${output}\nr1#`, response: output }) as unknown as Exchange;

const step = (i: number, status: StepResult['status'], over: Partial<StepResult> = {}): StepResult => ({
  index: i,
  label: `step ${i + 1}`,
  kind: 'cli',
  line: 10 + i,
  status,
  ms: 100 * (i + 1),
  exchanges: [],
  notes: [],
  ...over,
});

const results: ScenarioResult[] = [
  {
    name: 'Upgrade r1 over TFTP',
    file: join(process.cwd(), 'scenarios/upgrade-tftp.yml'),
    covers: ['S3.5', 'L1'],
    status: 'passed',
    ms: 4000,
    startedAt: new Date('2026-01-01T00:00:00Z'),
    steps: [
      step(0, 'passed', {
        exchanges: [exchange('copy tftp://tftp/img.bin bootflash:', `Loading img.bin from 127.77.0.22 (via GigabitEthernet0/0/0): ${'!'.repeat(70)}\n${Array.from({ length: 30 }, () => '!'.repeat(70)).join('\n')}\n[OK - 1000 bytes]`)],
        serverEvents: [{ server: 'tftp', line: 'request=read file=img.bin outcome=ok bytes=1000' }],
      }),
      step(1, 'passed', { kind: 'fault', notes: ['tftp: switched on stall-after-bytes=2097152'] }),
    ],
  },
  {
    name: 'Wrong FTP password',
    file: join(process.cwd(), 'scenarios/fail-ftp-wrong-password.yml'),
    covers: ['S3.1'],
    status: 'failed',
    ms: 2000,
    startedAt: new Date('2026-01-01T00:00:10Z'),
    steps: [step(0, 'failed', { message: 'expected the output to contain "Incorrect"\nactual output (last lines):\n    | %Error', exchanges: [exchange('copy ftp://u:x@ftp/f flash:', '%Error opening ftp://u:x@ftp/f (Timed out)')] }), step(1, 'skipped')],
  },
];

describe('report.html in headless Chromium', () => {
  it('is one self-contained file that renders with every section, timeline and exchange sequence', async () => {
    const page = htmlReport(results, { details: { version: '0.1.0', topology: 'lab/topologies/default.yml', subnet: '127.88.0.0/24', runtime: 'embedded', ms: 6000 } });
    // Self-contained: nothing to load (no script, stylesheet, image or frame from anywhere).
    expect(page).not.toMatch(/<(script|link|img|iframe)\b|\bsrc=|url\(/i);
    const file = join(dir, 'report.html');
    writeFileSync(file, page);
    const chromium = requireBinary('chromium', 'chromium');
    const unshare = requireBinary('unshare', 'util-linux');
    const dom = await runCommand(
      unshare,
      ['--net', chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, '--dump-dom', `file://${file}`],
      { timeoutMs: 90_000, env: { ...process.env, HOME: dir } },
    );
    expect(dom).toContain('<p id="summary">1 of 2 scenarios passed.</p>');
    expect(dom).toMatch(/<table id="run">.*127\.88\.0\.0\/24/s);
    expect(dom).toMatch(/<td>S3\.5<\/td><td>TFTP copies<\/td><td><a class="passed" href="#upgrade-r1-over-tftp">Upgrade r1 over TFTP<\/a>/);
    expect(dom).toContain('Not covered by any scenario in this run: S2.1,');
    // One timeline bar per step, coloured by outcome.
    const bars = [...dom.matchAll(/<div class="(passed|failed|skipped)" style="flex:/g)].map((m) => m[1]);
    expect(bars).toEqual(['passed', 'passed', 'failed', 'skipped']);
    expect(dom).toContain('<li class="router">router ← copy tftp://tftp/img.bin bootflash:</li><li class="server">tftp: request=read file=img.bin outcome=ok bytes=1000</li>');
    expect(dom).toContain('tftp: switched on stall-after-bytes=2097152');
    expect(dom).toContain('[… 28 lines of progress marks folded (1960 marks) …]');
    expect(dom).toContain('actual output (last lines):');
  }, 120_000);
});
