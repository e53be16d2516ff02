/**
 * Loads scenario files: YAML -> head schema -> each step against its kind's schema ->
 * topology (with overrides merged) resolved by the topology loader -> references
 * (nodes, servers, {{ variables }}) checked. Every problem is reported as
 * `file:line: key.path: message`, the line found by walking the YAML document.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
import { Locator, type PathSeg } from '../yaml/Locator.ts';
import type { z } from 'zod';
import { resolveTopology, TopologyError } from '../topology/load.ts';
import { kindAdapter, kindNames } from '../kinds/registry.ts';
import type { Topology } from '../topology/schema.ts';
import { RouterCheckSchema, ScenarioHeadSchema, ServerCheckSchema, STEP_KIND_NAMES, stepSchema, type Scenario, type Step, type StepKind } from './schema.ts';
import { templateRefs } from './template.ts';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_TOPOLOGY = join(PACKAGE_ROOT, 'lab/topologies/default.yml');
export const DEFAULT_SCENARIOS = join(PACKAGE_ROOT, 'scenarios');

export interface ScenarioIssue {
  file: string;
  line?: number;
  /** Dotted key path: `steps.2.cli.expect.contains`. */
  path: string;
  message: string;
}

export class ScenarioError extends Error {
  constructor(readonly issues: ScenarioIssue[]) {
    super(issues.map(formatScenarioIssue).join('\n'));
    this.name = 'ScenarioError';
  }
}

export function formatScenarioIssue(i: ScenarioIssue): string {
  const file = relative(process.cwd(), i.file) || i.file;
  return `${file}${i.line ? `:${i.line}` : ''}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

const pathText = (p: PathSeg[]) => p.map(String).join('.');

interface ParsedYaml {
  value: unknown;
  loc: Locator;
}

function parseYaml(text: string, file: string): ParsedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ScenarioError(
      doc.errors.map((e) => {
        let message = `YAML: ${e.message.split('\n')[0]}`;
        // The usual cause in CLI lines: `copy x bootflash:` ends in a colon, which YAML reads as a key.
        if (/Nested mappings|Implicit keys|mapping values/i.test(message)) message += ' (a value ending in ":" such as "copy x bootflash:" needs quotes)';
        return { file, line: lc.linePos(e.pos[0]).line, path: '', message };
      }),
    );
  }
  return { value: doc.toJS(), loc: new Locator(doc, lc) };
}

function zodIssues(err: z.ZodError, loc: Locator, file: string, prefix: PathSeg[]): ScenarioIssue[] {
  const out: ScenarioIssue[] = [];
  for (const iss of err.issues) {
    const rel = iss.path as PathSeg[];
    const items: [PathSeg[], string][] =
      iss.code === 'unrecognized_keys' ? iss.keys.map((k) => [[...rel, k], `unknown key "${k}"`]) : [[rel, iss.message]];
    for (const [p, message] of items) {
      const full = [...prefix, ...p];
      out.push({ file, line: loc.locate(full).line, path: pathText(full), message });
    }
  }
  return out;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else (lists included) is replaced, as in topology defaults. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Scenario files named by the paths: files as given, folders' `*.yml`/`*.yaml` (recursive, sorted). */
export function findScenarioFiles(paths: string[]): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (['.yml', '.yaml'].includes(extname(e.name))) files.push(p);
    }
  };
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) missing.push(p);
    else if (statSync(abs).isDirectory()) walk(abs);
    else files.push(abs);
  }
  return { files: [...new Set(files)], missing };
}

/** Step kinds that act on a router through its CLI, and the key naming the router. */
const ROUTER_KEYS: Partial<Record<StepKind, string>> = {
  cli: 'node',
  wait: 'node',
  copy_to_device: 'node',
  change_boot_variable: 'node',
  reload: 'node',
  verify_running_image: 'node',
};


/** Reads and validates a scenario file. Throws ScenarioError. */
export function loadScenario(file: string, opts: { topology?: string } = {}): Scenario {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError([{ file: path, path: '', message: `cannot read scenario: ${(e as Error).message}` }]);
  }
  return parseScenario(text, path, opts);
}

/** Validates scenario YAML text (`file` names it in messages and anchors relative paths). */
export function parseScenario(text: string, file: string, opts: { topology?: string } = {}): Scenario {
  const { value, loc } = parseYaml(text, file);
  const issues: ScenarioIssue[] = [];
  const issue = (p: PathSeg[], message: string) => issues.push({ file, line: loc.locate(p).line, path: pathText(p), message });

  const head = ScenarioHeadSchema.safeParse(value ?? {});
  if (!head.success) throw new ScenarioError(zodIssues(head.error, loc, file, []));
  const h = head.data;

  // Steps, each against its own kind.
  const steps: Step[] = [];
  h.steps.forEach((raw, index) => {
    const at: PathSeg[] = ['steps', index];
    if (!isPlain(raw)) return issue(at, 'a step is a mapping like { cli: {...} } or { check: {...} }');
    const kinds = Object.keys(raw).filter((k): k is StepKind => (STEP_KIND_NAMES as string[]).includes(k));
    const unknown = Object.keys(raw).filter((k) => k !== 'name' && !(STEP_KIND_NAMES as string[]).includes(k));
    if (kinds.length !== 1) {
      const what = unknown.length ? `unknown step kind "${unknown[0]}"` : kinds.length ? `one step has one kind, found ${kinds.join(', ')}` : 'missing step kind';
      return issue(unknown.length ? [...at, unknown[0]!] : at, `${what}; valid kinds: ${STEP_KIND_NAMES.join(', ')}`);
    }
    const kind = kinds[0]!;
    let schema: z.ZodType = stepSchema(kind);
    // A check is about a server when it names one: validate against that shape only, so
    // the messages speak of the right keys.
    if (kind === 'check') {
      const c = raw.check;
      schema = isPlain(c) && 'server' in c ? stepSchema('check').extend({ check: ServerCheckSchema }) : stepSchema('check').extend({ check: RouterCheckSchema });
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      issues.push(...zodIssues(r.error, loc, file, at));
      return;
    }
    const data = r.data as Record<string, unknown>;
    steps.push({ kind, spec: data[kind], name: data.name as string | undefined, index, line: loc.locate(at).line } as Step);
  });

  // The topology, overrides merged; the topology loader judges the result.
  const topoFile = h.topology ? resolve(dirname(file), h.topology) : (opts.topology ? resolve(opts.topology) : DEFAULT_TOPOLOGY);
  let merged: Record<string, unknown> = {};
  let topo: Topology | undefined;
  let topoLoc = new Locator();
  try {
    const parsed = parseYaml(readFileSync(topoFile, 'utf8'), topoFile);
    topoLoc = parsed.loc;
    if (!isPlain(parsed.value)) throw new ScenarioError([{ file: topoFile, path: '', message: 'a topology is a mapping' }]);
    merged = deepMerge(parsed.value, h.overrides ?? {});
    topo = resolveTopology(merged, { file: topoFile });
  } catch (e) {
    if (e instanceof TopologyError) {
      for (const ti of e.issues) {
        // Point at the override when the bad value came from it, else at the topology file.
        const segs = ti.path ? ti.path.split('.') : [];
        const inOverride = loc.locate(['overrides', ...segs]);
        if (h.overrides && inOverride.depth === segs.length + 1) {
          issues.push({ file, line: inOverride.line, path: pathText(['overrides', ...segs]), message: ti.message });
        } else {
          issues.push({ file: topoFile, line: topoLoc.locate(segs).line, path: ti.path, message: `${ti.message} (topology of ${relative(process.cwd(), file)})` });
        }
      }
    } else if (e instanceof ScenarioError) issues.push(...e.issues);
    else issue(h.topology ? ['topology'] : [], `cannot read topology ${topoFile}: ${(e as Error).message}`);
  }

  const vars = Object.fromEntries(Object.entries(h.vars ?? {}).map(([k, v]) => [k, String(v)]));
  if (topo) checkReferences(steps, topo, vars, issue);
  if (issues.length) throw new ScenarioError(issues);

  return {
    name: h.name,
    description: h.description,
    covers: h.covers,
    file,
    topology: merged,
    topologyFile: topoFile,
    vars,
    steps,
  };
}

/** Nodes, servers and {{ variables }} a step names must exist (remembered ones before use). */
function checkReferences(steps: Step[], topo: Topology, vars: Record<string, string>, issue: (p: PathSeg[], m: string) => void): void {
  const kindOf = new Map(topo.nodes.map((n) => [n.name, n.kind]));
  const routers = topo.nodes.filter((n) => n.kind === 'router').map((n) => n.name);
  // Servers a check may read: kinds with files or a log (the registry says which).
  const SERVER_KINDS = new Set(kindNames().filter((k) => kindAdapter(k).serves || kindAdapter(k).logView));
  const servers = topo.nodes.filter((n) => SERVER_KINDS.has(n.kind)).map((n) => n.name);
  const known = new Set(Object.keys(vars));
  const needRouter = (p: PathSeg[], name: string) => {
    if (kindOf.get(name) !== 'router') issue(p, `no router "${name}" in the topology; routers: ${routers.join(', ') || 'none'}`);
  };
  const needServer = (p: PathSeg[], name: string, kinds = SERVER_KINDS) => {
    if (!kinds.has(kindOf.get(name) ?? '')) issue(p, `no server "${name}" in the topology; servers: ${servers.join(', ') || 'none'}`);
  };
  for (const step of steps) {
    const at: PathSeg[] = ['steps', step.index, step.kind];
    const spec = step.spec as Record<string, unknown>;
    const routerKey = ROUTER_KEYS[step.kind];
    if (routerKey) needRouter([...at, routerKey], spec[routerKey] as string);
    if (step.kind === 'check') {
      if ('server' in step.spec) needServer([...at, 'server'], step.spec.server);
      else needRouter([...at, 'node'], step.spec.node);
    }
    if (step.kind === 'mail') needServer([...at, 'server'], step.spec.server, new Set(['smtp']));
    if (step.kind === 'copy_to_device') {
      const want = new Set([step.spec.protocol ?? 'tftp']);
      needServer([...at, 'server'], step.spec.server, want);
    }
    if (step.kind === 'fault' && !kindAdapter(kindOf.get(step.spec.node) ?? 'router').faults) {
      issue([...at, 'node'], `no server "${step.spec.node}" to put faults on; servers: ${topo.nodes.filter((n) => n.kind !== 'router').map((n) => n.name).join(', ')}`);
    }
    // Every {{ ... }} must name something that exists by the time the step runs.
    for (const { path, ref } of templateRefs(spec)) {
      const p = [...at, ...path];
      if (ref.kind === 'var' && !known.has(ref.name)) issue(p, `unknown variable "{{ ${ref.name} }}": define it under vars, or remember it in an earlier step`);
      if (ref.kind === 'node' && !kindOf.has(ref.node)) issue(p, `unknown node "${ref.node}" in {{ ${ref.node}.${ref.field} }}`);
      if (ref.kind === 'file') needServer(p, ref.server);
      if (ref.kind === 'bad') issue(p, ref.message);
    }
    if (step.kind === 'cli' && step.spec.remember) for (const k of Object.keys(step.spec.remember)) known.add(k);
    if (step.kind === 'check' && 'node' in step.spec && step.spec.remember) known.add(step.spec.remember);
  }
}
