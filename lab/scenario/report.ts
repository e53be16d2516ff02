/**
 * Reports of a run: JUnit XML for CI (one testsuite per scenario file, one testcase per
 * step, so a CI page shows which step broke) and a Markdown report for people, with every
 * CLI transcript and the failing step called out.
 */
import { basename, relative } from 'node:path';
import type { ScenarioResult, StepResult } from './runner.ts';
import type { Exchange } from './ssh.ts';
import { formatMs } from './runner.ts';
import { SPEC_IDS } from './specIds.ts';

/** What a report says about the run itself. */
export interface RunDetails {
  version: string;
  /** The topology file scenarios without one of their own use. */
  topology: string;
  subnet?: string;
  runtime: string;
  ms: number;
}

/**
 * Long runs of progress marks fold to their first and last lines: a 16 MB copy prints
 * hundreds of `!!!…` lines that say nothing a count does not.
 */
export function foldMarks(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    let j = i;
    while (j < lines.length && /^[!.O]+$/.test(lines[j]!)) j++;
    if (j - i >= 4) {
      const middle = lines.slice(i + 1, j - 1);
      const marks = middle.reduce((n, l) => n + l.length, 0);
      out.push(lines[i]!, `[… ${middle.length} lines of progress marks folded (${marks} marks) …]`, lines[j - 1]!);
      i = j;
    } else if (j > i) {
      out.push(...lines.slice(i, j));
      i = j;
    } else out.push(lines[i++]!);
  }
  return out.join('\n');
}

function xmlEscape(s: string): string {
  // Control characters are not allowed in XML 1.0 at all: drop them (BEL from banners, ESC).
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

/** The console as the user saw it: prompt, what was typed, what came back. */
export function transcriptText(exchanges: Exchange[], opts: { setup?: boolean } = {}): string {
  let out = '';
  // An exchange's output ends with the next prompt: only the first one needs its prompt shown.
  let promptShown = false;
  for (const e of exchanges) {
    if (e.setup && !opts.setup) continue;
    if (e.before) {
      out += e.before;
      // A syslog line or banner at the prompt is followed by the prompt, drawn again.
      if (/[>#] ?$/.test(e.before)) promptShown = true;
    }
    const body = e.sent === '' || promptShown ? e.output : `${e.prompt}${e.output}`;
    promptShown = !e.error && !e.closed;
    out += body;
    if (e.error) out += `\n[runner: ${e.error}]\n`;
    else if (e.closed) out += '\n[connection closed by the router]\n';
  }
  return foldMarks(out.replace(/\n{4,}/g, '\n\n\n'));
}

function caseName(s: StepResult): string {
  return `${String(s.index + 1).padStart(2, '0')} ${s.label}`;
}

export function junitXml(results: ScenarioResult[], details?: RunDetails): string {
  const all = results.flatMap((r) => r.steps);
  const count = (rs: StepResult[], st: StepResult['status']) => rs.filter((s) => s.status === st).length;
  const errors = results.filter((r) => r.status === 'error').length;
  const totalMs = results.reduce((a, r) => a + r.ms, 0);
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(
    `<testsuites name="flashlab scenarios" tests="${all.length + errors}" failures="${count(all, 'failed')}" errors="${errors}" skipped="${count(all, 'skipped')}" time="${secs(totalMs)}">`,
  );
  for (const r of results) {
    const file = relative(process.cwd(), r.file) || r.file;
    const classname = basename(r.file).replace(/\.ya?ml$/, '');
    const suiteErrors = r.status === 'error' ? 1 : 0;
    lines.push(
      `  <testsuite name="${xmlEscape(r.name)}" file="${xmlEscape(file)}" tests="${r.steps.length + suiteErrors}" failures="${count(r.steps, 'failed')}" errors="${suiteErrors}" skipped="${count(r.steps, 'skipped')}" time="${secs(r.ms)}" timestamp="${r.startedAt.toISOString().replace(/\.\d+Z$/, '')}">`,
    );
    lines.push('    <properties>');
    lines.push(`      <property name="covers" value="${xmlEscape(r.covers.join(' '))}"/>`);
    if (details) {
      lines.push(`      <property name="flashlab.version" value="${xmlEscape(details.version)}"/>`);
      lines.push(`      <property name="topology" value="${xmlEscape(details.topology)}"/>`);
      if (details.subnet) lines.push(`      <property name="subnet" value="${xmlEscape(details.subnet)}"/>`);
      lines.push(`      <property name="runtime" value="${xmlEscape(details.runtime)}"/>`);
    }
    lines.push('    </properties>');
    if (r.status === 'error') {
      lines.push(`    <testcase classname="${xmlEscape(classname)}" name="lab" time="0.000">`);
      lines.push(`      <error message="${xmlEscape(r.error ?? 'error')}" type="LabError">${xmlEscape(r.error ?? '')}</error>`);
      lines.push('    </testcase>');
    }
    for (const s of r.steps) {
      // file and line: CI pages link a failing step to the scenario line that defines it.
      const where = `file="${xmlEscape(file)}"${s.line ? ` line="${s.line}"` : ''}`;
      lines.push(`    <testcase classname="${xmlEscape(classname)}" name="${xmlEscape(caseName(s))}" ${where} time="${secs(s.ms)}">`);
      if (s.status === 'failed') {
        const first = (s.message ?? 'failed').split('\n')[0]!;
        lines.push(`      <failure message="${xmlEscape(first)}" type="StepFailure">${xmlEscape(s.message ?? '')}</failure>`);
      } else if (s.status === 'skipped') {
        lines.push(`      <skipped message="${r.status === 'error' ? 'lab did not start' : 'an earlier step failed'}"/>`);
      }
      const transcript = transcriptText(s.exchanges);
      if (transcript.trim()) lines.push(`      <system-out>${xmlEscape(transcript)}</system-out>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

const ICON: Record<string, string> = { passed: '✅', failed: '❌', skipped: '⏭️', error: '💥' };

/** A fence longer than any backtick run inside the text. */
function fence(text: string, lang = 'text'): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${text.trimEnd()}\n${f}`;
}

/** Which scenarios show each SPEC ID, and which IDs nothing shows. */
export function coverageTable(results: ScenarioResult[]): string[] {
  const out = ['## SPEC coverage', '', '| ID | what | covered by |', '|---|---|---|'];
  const uncovered: string[] = [];
  for (const [id, what] of Object.entries(SPEC_IDS)) {
    const by = results.filter((r) => r.covers.includes(id)).map((r) => `${ICON[r.status]} [${r.name}](#${slug(r.name)})`);
    if (by.length === 0) uncovered.push(id);
    out.push(`| ${id} | ${what} | ${by.join('<br>') || '—'} |`);
  }
  const unknown = [...new Set(results.flatMap((r) => r.covers))].filter((id) => !(id in SPEC_IDS));
  out.push('', uncovered.length ? `Not covered by any scenario in this run: ${uncovered.join(', ')}.` : 'Every SPEC ID is covered by a scenario in this run.');
  if (unknown.length) out.push('', `Named by a scenario but not a SPEC ID: ${unknown.join(', ')}.`);
  return [...out, ''];
}

export function markdownReport(results: ScenarioResult[], opts: { title?: string; started?: Date; details?: RunDetails } = {}): string {
  const out: string[] = [];
  const passed = results.filter((r) => r.status === 'passed').length;
  out.push(`# ${opts.title ?? 'flashlab scenario report'}`, '');
  out.push(`${passed} of ${results.length} scenarios passed${opts.started ? ` — run started ${opts.started.toISOString()}` : ''}.`, '');
  const d = opts.details;
  if (d) {
    out.push('| run | |', '|---|---|', `| flashlab | ${d.version} |`, `| topology | \`${d.topology}\` |`, `| subnet | ${d.subnet ?? 'each topology\'s own'} |`, `| runtime | ${d.runtime} |`, `| time | ${formatMs(d.ms)} |`, '');
  }
  out.push('| | Scenario | File | Covers | Steps | Time |', '|---|---|---|---|---|---|');
  for (const r of results) {
    const done = r.steps.filter((s) => s.status === 'passed').length;
    const anchor = `#${slug(r.name)}`;
    out.push(`| ${ICON[r.status]} | [${r.name}](${anchor}) | \`${basename(r.file)}\` | ${r.covers.join(', ')} | ${done}/${r.steps.length} | ${formatMs(r.ms)} |`);
  }
  out.push('', ...coverageTable(results));
  for (const r of results) {
    out.push(`## ${r.name}`, '');
    out.push(`${ICON[r.status]} **${r.status.toUpperCase()}** · \`${relative(process.cwd(), r.file) || r.file}\` · covers ${r.covers.join(', ')} · ${formatMs(r.ms)}`, '');
    if (r.description) out.push(r.description.trim(), '');
    if (r.error) out.push(`> **Error:** ${r.error}`, '');
    const failedStep = r.steps.find((s) => s.status === 'failed');
    if (failedStep) {
      out.push(`> ❌ **Failed at step ${failedStep.index + 1}: ${failedStep.label}**${failedStep.line ? ` (line ${failedStep.line})` : ''}`);
      for (const l of (failedStep.message ?? '').split('\n')) out.push(`> ${l.replace(/^ {4}\| /, '    ')}`);
      out.push('');
    }
    for (const s of r.steps) {
      const head = `${ICON[s.status]} ${s.index + 1}. ${s.label}`;
      out.push(s.status === 'failed' ? `### ${head} ← FAILED` : `### ${head}`, '');
      out.push(`\`${s.kind}\`${s.line ? ` · line ${s.line}` : ''}${s.status !== 'skipped' ? ` · ${formatMs(s.ms)}` : ''}`, '');
      if (s.status === 'failed' && s.message) out.push('**Failure:**', '', fence(s.message), '');
      if (s.notes.length) {
        for (const n of s.notes) out.push(`- ${n.replace(/\|/g, '\\|')}`);
        out.push('');
      }
      const setup = s.exchanges.filter((e) => e.setup);
      if (setup.length) {
        out.push('<details><summary>login</summary>', '', fence(transcriptText(setup, { setup: true })), '', '</details>', '');
      }
      const t = transcriptText(s.exchanges);
      if (t.trim()) out.push(fence(t), '');
      if (s.serverEvents?.length) {
        out.push('<details><summary>server log during this step</summary>', '', fence(s.serverEvents.map((e) => `${e.server}: ${e.line}`).join('\n')), '', '</details>', '');
      }
    }
  }
  return out.join('\n') + '\n';
}

/** GitHub-style heading anchors. */
function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .trim()
    .replace(/ /g, '-');
}

function html(s: string): string {
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const HTML_STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font:12px/1.3 monospace}
.passed{color:#1a7f37}.failed,.error{color:#cf222e}.skipped{color:#888}
.timeline{display:flex;height:1.4em;border:1px solid #ccc;margin:.5em 0 1em}
.timeline div{height:100%;border-right:1px solid #fff;min-width:2px}
.timeline .passed{background:#2da44e}.timeline .failed{background:#cf222e}.timeline .skipped{background:#ddd}
ol.sequence{font:12px/1.5 monospace}ol.sequence .router{color:#0550ae}ol.sequence .server{color:#8250df}
`;

/**
 * The same report as one self-contained HTML file (inline style, no script, nothing fetched):
 * run details, summary, SPEC coverage, and per scenario a timeline of its steps and the
 * sequence of router ↔ server exchanges (the CLI lines sent, the servers' log lines).
 */
export function htmlReport(results: ScenarioResult[], opts: { title?: string; started?: Date; details?: RunDetails } = {}): string {
  const title = opts.title ?? 'flashlab scenario report';
  const out: string[] = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${html(title)}</title>`, `<style>${HTML_STYLE}</style></head><body>`];
  const passed = results.filter((r) => r.status === 'passed').length;
  out.push(`<h1>${html(title)}</h1>`, `<p id="summary">${passed} of ${results.length} scenarios passed${opts.started ? ` — run started ${opts.started.toISOString()}` : ''}.</p>`);
  const d = opts.details;
  if (d) {
    out.push('<table id="run"><tr><th>flashlab</th><td>' + html(d.version) + '</td></tr>');
    out.push(`<tr><th>topology</th><td>${html(d.topology)}</td></tr><tr><th>subnet</th><td>${html(d.subnet ?? "each topology's own")}</td></tr>`);
    out.push(`<tr><th>runtime</th><td>${html(d.runtime)}</td></tr><tr><th>time</th><td>${html(formatMs(d.ms))}</td></tr></table>`);
  }
  out.push('<table id="scenarios"><tr><th></th><th>Scenario</th><th>File</th><th>Covers</th><th>Steps</th><th>Time</th></tr>');
  for (const r of results) {
    const done = r.steps.filter((s) => s.status === 'passed').length;
    out.push(`<tr class="${r.status}"><td>${ICON[r.status]}</td><td><a href="#${slug(r.name)}">${html(r.name)}</a></td><td>${html(basename(r.file))}</td><td>${html(r.covers.join(', '))}</td><td>${done}/${r.steps.length}</td><td>${html(formatMs(r.ms))}</td></tr>`);
  }
  out.push('</table>');
  // The coverage table, from the same rows the Markdown report prints.
  out.push('<h2>SPEC coverage</h2><table id="coverage"><tr><th>ID</th><th>what</th><th>covered by</th></tr>');
  const uncovered: string[] = [];
  for (const [id, what] of Object.entries(SPEC_IDS)) {
    const by = results.filter((r) => r.covers.includes(id));
    if (!by.length) uncovered.push(id);
    out.push(`<tr><td>${id}</td><td>${html(what)}</td><td>${by.map((r) => `<a class="${r.status}" href="#${slug(r.name)}">${html(r.name)}</a>`).join('<br>') || '—'}</td></tr>`);
  }
  out.push(`</table><p>${uncovered.length ? `Not covered by any scenario in this run: ${uncovered.join(', ')}.` : 'Every SPEC ID is covered by a scenario in this run.'}</p>`);
  for (const r of results) {
    out.push(`<section class="scenario" id="${slug(r.name)}"><h2 class="${r.status}">${ICON[r.status]} ${html(r.name)}</h2>`);
    out.push(`<p>${r.status.toUpperCase()} · ${html(relative(process.cwd(), r.file) || r.file)} · covers ${html(r.covers.join(', '))} · ${html(formatMs(r.ms))}</p>`);
    if (r.error) out.push(`<p class="error">Error: ${html(r.error)}</p>`);
    const total = Math.max(1, r.steps.reduce((a, s) => a + s.ms, 0));
    out.push('<div class="timeline" title="steps in order, width by time">');
    for (const s of r.steps) out.push(`<div class="${s.status}" style="flex:${Math.max(s.ms, total / 200)}" title="${html(`${s.index + 1}. ${s.label}: ${s.status}, ${formatMs(s.ms)}`)}"></div>`);
    out.push('</div>');
    for (const s of r.steps) {
      out.push(`<h3 class="${s.status}">${ICON[s.status]} ${s.index + 1}. ${html(s.label)}${s.status === 'failed' ? ' ← FAILED' : ''}</h3>`);
      out.push(`<p><code>${s.kind}</code>${s.line ? ` · line ${s.line}` : ''}${s.status !== 'skipped' ? ` · ${html(formatMs(s.ms))}` : ''}</p>`);
      if (s.status === 'failed' && s.message) out.push(`<pre class="failure">${html(s.message)}</pre>`);
      if (s.notes.length) out.push(`<ul>${s.notes.map((n) => `<li>${html(n)}</li>`).join('')}</ul>`);
      const sequence = [
        ...s.exchanges.filter((e) => !e.setup && e.sent !== '').map((e) => `<li class="router">router ← ${html(e.sent)}</li>`),
        ...(s.serverEvents ?? []).map((e) => `<li class="server">${html(e.server)}: ${html(e.line)}</li>`),
      ];
      if (sequence.length) out.push(`<ol class="sequence">${sequence.join('')}</ol>`);
      const t = transcriptText(s.exchanges);
      if (t.trim()) out.push(`<pre class="transcript">${html(t)}</pre>`);
    }
    out.push('</section>');
  }
  out.push('</body></html>');
  return out.join('\n') + '\n';
}
