/**
 * `flashlab run [files or folders]`: validates every scenario first (an invalid file stops
 * the run with exit code 2 and its file:line), runs each on a fresh lab with live progress,
 * prints a summary table and writes reports/junit.xml and reports/report.md.
 * Exit codes: 0 all passed, 1 a scenario failed, 2 a scenario file is invalid.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { DEFAULT_SCENARIOS, findScenarioFiles, formatScenarioIssue, loadScenario, ScenarioError } from './load.ts';
import { DEFAULT_TOPOLOGY } from '../topology/load.ts';
import { flashlabVersion } from '../version.ts';
import { htmlReport, markdownReport, junitXml, type RunDetails } from './report.ts';
import { formatMs, runScenario, type RunEvent, type ScenarioResult } from './runner.ts';
import type { Scenario } from './schema.ts';
import { runtimeName } from '../runtime/index.ts';
import type { RuntimeName } from '../runtime/types.ts';

/** What the reports say about where the nodes ran. */
const RUNTIME_DESCRIPTIONS: Record<RuntimeName, string> = {
  embedded: 'embedded (one process, loopback addresses)',
  netns: 'netns (one process and one network namespace per node)',
  container: 'container (one container per node)',
};

export interface RunCommandOptions {
  /** Folder for junit.xml and report.md (default `reports`). */
  reports?: string;
  /** Topology for scenarios that name none (default: the bundled default topology). */
  topology?: string;
  /** Parent folder of the per-scenario lab state (default: the system temp folder). */
  stateDir?: string;
  /**
   * Run every lab in this mgmt subnet instead of the topology's (parallel test runs); with
   * `--runtime netns`, the subnet of the nodes' namespaces.
   */
  subnet?: string;
  /** Which runtime runs each lab: embedded (default), netns, container. */
  runtime?: string;
  /** container: the image each node runs (default FLASHLAB_IMAGE, else localhost/flashlab:latest). */
  image?: string;
  /** Keep each scenario's lab state after the run. */
  keepState?: boolean;
  /** Only validate the files. */
  check?: boolean;
  /** Where progress goes (default stdout / stderr). */
  out?: (text: string) => void;
  err?: (text: string) => void;
  color?: boolean;
}

const USAGE = `usage: flashlab run [--reports <dir>] [--topology <file>] [--subnet <cidr>] [--runtime embedded|netns|container] [--image <ref>] [--state <dir>] [--keep-state] [--check] [files or folders...]`;

/**
 * `flashlab run` passes its arguments through unparsed (the command belongs to this module):
 * flags are picked out of the paths here.
 */
export function parseRunArgs(args: string[], base: RunCommandOptions = {}): { paths: string[]; options: RunCommandOptions; error?: string } {
  const options: RunCommandOptions = { ...base };
  const paths: string[] = [];
  const valued: Record<string, keyof RunCommandOptions> = { '--reports': 'reports', '--topology': 'topology', '--subnet': 'subnet', '--state': 'stateDir', '--runtime': 'runtime', '--image': 'image' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag in valued) {
      const v = inline ?? args[++i];
      if (v === undefined) return { paths, options, error: `${flag} needs a value\n${USAGE}` };
      (options as Record<string, unknown>)[valued[flag]!] = v;
    } else if (flag === '--keep-state') options.keepState = true;
    else if (flag === '--check') options.check = true;
    else if (flag.startsWith('-') && flag !== '-') return { paths, options, error: `unknown option ${flag}\n${USAGE}` };
    else paths.push(a);
  }
  return { paths, options };
}

export async function runCommand(rawPaths: string[], rawOptions: RunCommandOptions = {}): Promise<number> {
  const parsed = parseRunArgs(rawPaths, rawOptions);
  const paths = parsed.paths;
  const options = parsed.options;
  if (parsed.error) {
    (options.err ?? ((t: string) => void process.stderr.write(t)))(`${parsed.error}\n`);
    return 2;
  }
  const out = options.out ?? ((t: string) => void process.stdout.write(t));
  const err = options.err ?? ((t: string) => void process.stderr.write(t));
  const color = options.color ?? (!options.out && process.stdout.isTTY === true && !process.env.NO_COLOR);
  const c = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const green = (s: string) => c('32', s);
  const red = (s: string) => c('31', s);
  const dim = (s: string) => c('2', s);
  const bold = (s: string) => c('1', s);
  const live = color;

  const { files, missing } = findScenarioFiles(paths.length ? paths : [DEFAULT_SCENARIOS]);
  if (missing.length) {
    for (const m of missing) err(`${m}: no such file or folder\n`);
    return 2;
  }
  if (files.length === 0) {
    err(`no scenario files (*.yml) in ${paths.join(', ') || relative(process.cwd(), DEFAULT_SCENARIOS)}\n`);
    return 2;
  }

  // Validate everything before starting any lab: a typo should not cost a whole run.
  const scenarios: Scenario[] = [];
  let invalid = 0;
  for (const f of files) {
    try {
      scenarios.push(loadScenario(f, { topology: options.topology }));
    } catch (e) {
      invalid++;
      if (e instanceof ScenarioError) for (const i of e.issues) err(`${formatScenarioIssue(i)}\n`);
      else err(`${relative(process.cwd(), f)}: ${(e as Error).message}\n`);
    }
  }
  if (invalid) {
    err(`${invalid} invalid scenario file${invalid === 1 ? '' : 's'}; nothing was run\n`);
    return 2;
  }
  if (options.check) {
    out(`${scenarios.length} scenario file${scenarios.length === 1 ? '' : 's'} valid\n`);
    return 0;
  }

  let runtime: RuntimeName;
  try {
    runtime = runtimeName(options.runtime);
  } catch (e) {
    err(`${(e as Error).message}\n`);
    return 2;
  }
  if (options.image !== undefined && runtime !== 'container') {
    err(`--image names the image of --runtime container's nodes; this run's runtime is ${runtime}\n`);
    return 2;
  }
  if (runtime === 'container') {
    // A missing image fails every scenario the same way: said once, before any lab starts.
    const { containerImage, requireImage } = await import('../runtime/container/ContainerRuntime.ts');
    const { ContainerEngine } = await import('../runtime/container/engine.ts');
    try {
      await requireImage(containerImage(options.image), new ContainerEngine());
    } catch (e) {
      err(`${(e as Error).message}\n`);
      return 2;
    }
  }
  // Namespaced nodes keep the topology's addresses at their offsets inside their own subnet.
  const namespaced = runtime !== 'embedded';
  const started = new Date();
  const results: ScenarioResult[] = [];
  const total = scenarios.length;
  let n = 0;
  const onEvent = (e: RunEvent) => {
    switch (e.type) {
      case 'scenario-start':
        n++;
        out(`\n${bold(`[${n}/${total}] ${e.scenario.name}`)} ${dim(`${relative(process.cwd(), e.scenario.file)} · ${e.scenario.covers.join(' ')}`)}\n`);
        break;
      case 'lab-ready':
        out(dim(`      lab up in ${formatMs(e.ms)}\n`));
        break;
      case 'step-start':
        // On a terminal the running step shows at once; its result line replaces it.
        if (live) out(dim(`  ..   ${e.step.index + 1}. ${e.label}`));
        break;
      case 'step-end': {
        if (live && e.result.status !== 'skipped') out('\r\x1b[K');
        const r = e.result;
        if (r.status === 'skipped') {
          out(dim(`  -   ${r.index + 1}. ${r.label} (skipped)\n`));
          break;
        }
        const mark = r.status === 'passed' ? green('  ok ') : red('  FAIL');
        out(`${mark} ${r.index + 1}. ${r.label} ${dim(formatMs(r.ms))}\n`);
        if (r.status === 'failed' && r.message) {
          const where = r.line ? `${relative(process.cwd(), e.scenario.file)}:${r.line}: ` : '';
          out(red(`       ${where}${r.message.split('\n').join('\n       ')}\n`));
        }
        break;
      }
      case 'scenario-end': {
        const r = e.result;
        if (r.error) out(red(`  ERROR ${r.error}\n`));
        const verdict = r.status === 'passed' ? green('PASSED') : red(r.status.toUpperCase());
        out(`  ${verdict} ${dim(formatMs(r.ms))}\n`);
        break;
      }
    }
  };

  for (const s of scenarios) {
    results.push(
      await runScenario(s, {
        stateRoot: options.stateDir ? resolve(options.stateDir) : undefined,
        subnet: namespaced ? undefined : options.subnet,
        runtime,
        runtimeSubnet: namespaced ? options.subnet : undefined,
        runtimeImage: options.image,
        keepState: options.keepState,
        onEvent,
      }),
    );
  }

  // Summary table.
  const rows = results.map((r) => {
    const done = r.steps.filter((s) => s.status === 'passed').length;
    const failedAt = r.steps.find((s) => s.status === 'failed');
    return [
      r.status === 'passed' ? 'pass' : r.status === 'failed' ? 'FAIL' : 'ERROR',
      basename(r.file),
      r.name,
      `${done}/${r.steps.length}`,
      formatMs(r.ms),
      failedAt ? `step ${failedAt.index + 1}: ${failedAt.label}` : r.error ?? '',
    ];
  });
  const header = ['result', 'file', 'scenario', 'steps', 'time', 'failed at'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fmt = (cells: string[]) => cells.map((cell, i) => (cell.length > widths[i]! ? cell.slice(0, widths[i]! - 1) + '…' : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  out(`\n${bold(fmt(header))}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) {
    const line = fmt(r);
    out(`${r[0] === 'pass' ? green(line) : red(line)}\n`);
  }
  const passed = results.filter((r) => r.status === 'passed').length;
  const elapsed = Date.now() - started.getTime();

  const reportsDir = resolve(options.reports ?? 'reports');
  mkdirSync(reportsDir, { recursive: true });
  const junit = join(reportsDir, 'junit.xml');
  const md = join(reportsDir, 'report.md');
  const details: RunDetails = {
    version: flashlabVersion(),
    topology: relative(process.cwd(), resolve(options.topology ?? DEFAULT_TOPOLOGY)),
    subnet: options.subnet,
    runtime: RUNTIME_DESCRIPTIONS[runtime],
    ms: elapsed,
  };
  writeFileSync(junit, junitXml(results, details));
  writeFileSync(md, markdownReport(results, { started, details }));
  const page = join(reportsDir, 'report.html');
  writeFileSync(page, htmlReport(results, { started, details }));
  out(`\n${passed === total ? green(`${passed}/${total} scenarios passed`) : red(`${total - passed} of ${total} scenarios failed`)} in ${formatMs(elapsed)}\n`);
  out(dim(`reports: ${relative(process.cwd(), junit)}, ${relative(process.cwd(), md)}, ${relative(process.cwd(), page)}\n`));
  return passed === total ? 0 : 1;
}
