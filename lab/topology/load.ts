/**
 * Loads a topology: YAML -> file schema -> defaults merged per node -> node schemas ->
 * lab-level checks (loopback subnet, addresses, references) -> a resolved Topology.
 *
 * Every problem is reported as `file:line: key.path: message`, the line found by walking
 * the YAML document along the zod issue's path.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Document, isScalar, Lexer, LineCounter, parseDocument, visit } from 'yaml';
import { Locator, type PathSeg } from '../yaml/Locator.ts';
import type { z } from 'zod';
import {
  DEFAULT_DOMAIN,
  DEFAULT_SUBNET,
  KINDS,
  NODE_SCHEMAS,
  TopologyFileSchema,
  kindKeys,
  unknownKindMessage,
  type KindName,
  type NodeSpec,
  type Topology,
} from './schema.ts';

/** The bundled default lab (`flashlab up` with no file). */
export const DEFAULT_TOPOLOGY = resolve(dirname(fileURLToPath(import.meta.url)), '../topologies/default.yml');

export interface TopologyIssue {
  file?: string;
  line?: number;
  /** Dotted key path: `topology.nodes.r1.flash.bootflash`. */
  path: string;
  message: string;
}

export class TopologyError extends Error {
  constructor(readonly issues: TopologyIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'TopologyError';
  }
}

export function formatIssue(i: TopologyIssue): string {
  const where = i.file ? `${basename(i.file)}${i.line ? `:${i.line}` : ''}: ` : '';
  return `${where}${i.path ? `${i.path}: ` : ''}${i.message}`;
}

const pathText = (p: PathSeg[]) => p.map(String).join('.');

/** zod issues -> topology issues; `reroute` may move a path to where the value came from. */
function toIssues(
  err: z.ZodError,
  loc: Locator,
  file: string | undefined,
  prefix: PathSeg[],
  reroute?: (p: PathSeg[]) => PathSeg[],
): TopologyIssue[] {
  const out: TopologyIssue[] = [];
  for (const iss of err.issues) {
    const paths: [PathSeg[], string][] =
      iss.code === 'unrecognized_keys'
        ? iss.keys.map((k) => [[...(iss.path as PathSeg[]), k], `unknown key "${k}"`])
        : [[iss.path as PathSeg[], iss.message]];
    for (const [rel, message] of paths) {
      const full = reroute ? reroute(rel) : [...prefix, ...rel];
      out.push({ file, line: loc.locate(full).line, path: pathText(full), message });
    }
  }
  return out;
}

export interface LoadOptions {
  /** Where the topology came from (for messages and relative paths). */
  file?: string;
}

// ---- limits: a topology is a small hand-written file; anything else is refused early ----

/**
 * Largest topology file read (a 250-node lab is about 40 KB). The YAML library's work grows
 * with the errors it meets: 1 MiB of unclosed quotes took it 6–10 s; 256 KiB stays near 1 s.
 */
export const MAX_TOPOLOGY_BYTES = 256 * 1024;
/** Most nodes in one lab (the largest mgmt subnet the embedded runtime serves well). */
export const MAX_NODES = 4096;
/** Problems reported before giving up: the first ones are what the user fixes first. */
export const MAX_ISSUES = 20;
/** Longest lab or node name: one DNS label, and a folder name every file system takes. */
export const MAX_NAME = 63;

const NODE_NAME_RULE =
  'node names become DNS labels (<node>.<domain>) and folder names: letters, digits and dashes, starting with a letter, not ending with a dash, at most 63 characters';
const LAB_NAME_RULE =
  'lab names become a folder name: letters, digits, dot, dash and underscore, starting with a letter or digit, at most 63 characters';
const NODE_NAME_RE = /^[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const LAB_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A name as a message shows it: a 10 MB name is not printed whole. */
const shown = (name: string) => JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) + (name.length > 40 ? ` (${name.length} characters)` : '');

/** Reads and resolves a topology file. Throws TopologyError. */
export function loadTopology(file: string): Topology {
  const path = resolve(file);
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_TOPOLOGY_BYTES) throw new TopologyError([{ file: path, path: '', message: tooBig(size) }]);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof TopologyError) throw e;
    throw new TopologyError([{ file: path, path: '', message: `cannot read topology: ${(e as Error).message}` }]);
  }
  return parseTopology(text, path);
}

function tooBig(size: number): string {
  return `the topology is ${size} bytes; at most ${MAX_TOPOLOGY_BYTES} (256 KiB) are read`;
}

/** Resolves topology YAML text. */
export function parseTopology(text: string, file?: string): Topology {
  if (Buffer.byteLength(text) > MAX_TOPOLOGY_BYTES) throw new TopologyError([{ file, path: '', message: tooBig(Buffer.byteLength(text)) }]);
  const deepAt = deepFlowNesting(text);
  if (deepAt !== undefined) {
    throw new TopologyError([{ file, line: deepAt, path: '', message: `YAML: collections nested more than ${MAX_FLOW_DEPTH} deep (an unclosed { or [, or a line of - - -)` }]);
  }
  const lc = new LineCounter();
  // The library's own duplicate-key check compares every key with every other (40,000 keys
  // took 42 s); ours below is one pass with a set.
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  if (!doc.errors.length) duplicateKeys(doc, lc, file);
  if (doc.errors.length) {
    throw new TopologyError(
      doc.errors.slice(0, 5).map((e) => ({ file, line: lc.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]!.slice(0, 200)}` })),
    );
  }
  return resolveTopology(doc.toJS({ maxAliasCount: 100 }), { file }, new Locator(doc, lc));
}

/** Throws on the first map that repeats a key (`r1:` twice would silently keep the second). */
function duplicateKeys(doc: Document, lc: LineCounter, file: string | undefined): void {
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const item of map.items) {
        if (!isScalar(item.key)) continue;
        const k = String(item.key.value);
        if (seen.has(k)) {
          const line = item.key.range ? lc.linePos(item.key.range[0]).line : undefined;
          throw new TopologyError([{ file, line, path: '', message: `YAML: the key "${k.slice(0, 40)}" appears twice in one map` }]);
        }
        seen.add(k);
      }
    },
  });
}

/** Deepest nesting read (`{`, `[`, or `- -` on one line): the composer's cost and stack grow with it. */
export const MAX_FLOW_DEPTH = 64;

/**
 * The line where nesting passes MAX_FLOW_DEPTH, found by the YAML lexer alone (linear,
 * quoted text is one token), or undefined. 1 MiB of unclosed `{` took the composer over 30 s.
 */
function deepFlowNesting(text: string): number | undefined {
  let depth = 0;
  let line = 1;
  // `- - - x` on one line nests block sequences just as deep.
  let dashes = 0;
  for (const tok of new Lexer().lex(text)) {
    if (tok === '{' || tok === '[') {
      if (++depth > MAX_FLOW_DEPTH) return line;
    } else if (tok === '}' || tok === ']') depth = Math.max(0, depth - 1);
    else if (tok === '-') {
      if (++dashes > MAX_FLOW_DEPTH) return line;
    } else if (tok.includes('\n')) {
      dashes = 0;
      for (let i = tok.indexOf('\n'); i >= 0; i = tok.indexOf('\n', i + 1)) line++;
    }
  }
  return undefined;
}

/**
 * Checks that come before the schema, in time linear in the input: the node count and names (each bad one with the rule it breaks, a long one shortened).
 */
function preflight(raw: unknown, file: string | undefined, loc: Locator): void {
  const issues: TopologyIssue[] = [];
  const issue = (path: PathSeg[], message: string) => issues.push({ file, line: loc.locate(path).line, path: pathText(path), message });
  if (!isPlain(raw)) return;
  const name = raw.name;
  if (typeof name === 'string' && (name.length > MAX_NAME || !LAB_NAME_RE.test(name))) issue(['name'], `${shown(name)} is not a lab name: ${LAB_NAME_RULE}`);
  const topo = raw.topology;
  const nodes = isPlain(topo) ? topo.nodes : undefined;
  if (isPlain(nodes)) {
    const names = Object.keys(nodes);
    if (names.length > MAX_NODES) {
      issue(['topology', 'nodes'], `${names.length} nodes; a lab holds at most ${MAX_NODES}`);
    } else {
      const seen = new Map<string, string>();
      for (const n of names) {
        if (issues.length >= MAX_ISSUES) break;
        const at = ['topology', 'nodes', n.length > 40 ? `${n.slice(0, 40)}…` : n];
        if (n.length > MAX_NAME || !NODE_NAME_RE.test(n)) {
          issue(at, `${shown(n)} is not a node name: ${NODE_NAME_RULE}`);
          continue;
        }
        // DNS names and some file systems ignore case: r1 and R1 would be one name.
        const other = seen.get(n.toLowerCase());
        if (other) issue(at, `"${n}" and "${other}" differ only in case; DNS and file system names ignore case`);
        seen.set(n.toLowerCase(), n);
      }
    }
  }
  if (issues.length) throw new TopologyError(capped(issues));
}

/** The first MAX_ISSUES problems, and a line saying more were left unreported. */
function capped(issues: TopologyIssue[]): TopologyIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), { path: '', message: `… and more problems; fix these first` }];
}

/** Resolves a topology given as an object (programmatic labs, tests). */
export function resolveTopology(raw: unknown, opts: LoadOptions = {}, loc = new Locator()): Topology {
  const file = opts.file;
  preflight(raw, file, loc);
  const parsed = TopologyFileSchema.safeParse(raw);
  if (!parsed.success) throw new TopologyError(capped(toIssues(parsed.error, loc, file, [])));
  const t = parsed.data;
  const issues: TopologyIssue[] = [];
  const issue = (path: PathSeg[], message: string) => issues.push({ file, line: loc.locate(path).line, path: pathText(path), message });

  const domain = t.mgmt?.domain ?? DEFAULT_DOMAIN;
  const subnetText = t.mgmt?.['ipv4-subnet'] ?? DEFAULT_SUBNET;
  const subnet = parseSubnet(subnetText);
  if (typeof subnet === 'string') {
    issue(['mgmt', 'ipv4-subnet'], subnet);
    throw new TopologyError(issues);
  }

  // Merge defaults < kinds.<kind> < node, then check each node against its kind.
  // Merged from the raw input: the node schemas parse (and convert) every value once.
  const rawTopo = (raw as { topology: Record<string, unknown> }).topology;
  const defaults = (rawTopo.defaults ?? {}) as Record<string, unknown>;
  const kinds = (rawTopo.kinds ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const rawNodes = rawTopo.nodes as Record<string, Record<string, unknown>>;
  if (Object.keys(rawNodes).length === 0) {
    issue(['topology', 'nodes'], 'a topology needs at least one node');
    throw new TopologyError(issues);
  }
  const nodes: NodeSpec[] = [];
  for (const [name, written] of Object.entries(rawNodes)) {
    // The first problems are what the user fixes first; thousands more only cost time.
    if (issues.length >= MAX_ISSUES) break;
    const kind = written.kind as KindName;
    if (!KINDS.includes(kind)) {
      issue(['topology', 'nodes', name, 'kind'], unknownKindMessage(kind));
      continue;
    }
    const keys = kindKeys(kind);
    const fromDefaults = Object.fromEntries(Object.entries(defaults).filter(([k]) => keys.has(k)));
    const merged = deepMerge(deepMerge(fromDefaults, kinds[kind] ?? {}), written);
    merged.name = name;
    const r = (NODE_SCHEMAS[kind] as z.ZodType<NodeSpec>).safeParse(merged);
    if (!r.success) {
      // Point at the layer the bad value came from: the node, its kind's defaults, or `defaults`.
      const reroute = (rel: PathSeg[]) => {
        const candidates = [
          ['topology', 'nodes', name, ...rel],
          ['topology', 'kinds', kind, ...rel],
          ['topology', 'defaults', ...rel],
        ];
        return candidates.find((c) => loc.locate(c).depth === c.length) ?? candidates[0]!;
      };
      issues.push(...toIssues(r.error, loc, file, [], reroute));
      continue;
    }
    nodes.push(r.data);
  }

  allocateAddresses(nodes, subnet, issue);

  const byName = new Map(nodes.map((n) => [n.name, n]));
  const dns = nodes.find((n) => n.kind === 'dns');
  for (const n of nodes) {
    if (n.kind === 'router') {
      n.startupConfig = n.startupConfig.map((line, i) =>
        expand(line, t.name, domain, byName, (m) => issue(['topology', 'nodes', n.name, 'startup-config', i], m)),
      );
      // Routers find lab names through the lab's DNS unless their config says otherwise.
      if (dns && !n.startupConfig.some((l) => /^\s*ip\s+name-server\b/.test(l))) {
        if (!n.startupConfig.some((l) => /^\s*ip\s+domain[ -]name\b/.test(l))) n.startupConfig.push(`ip domain name ${domain}`);
        n.startupConfig.push(`ip name-server ${dns.address}`);
      }
    }
    if (n.kind === 'dns') {
      for (const [rec, target] of Object.entries(n.records)) {
        if (!byName.has(target) && !isIpv4Text(target)) {
          issue(['topology', 'nodes', n.name, 'records', rec], `"${target}" is neither a node of this lab nor an IPv4 address`);
        }
      }
    }
  }

  const links = (t.topology.links ?? []).map((l, i) => {
    l.endpoints.forEach((ep, j) => {
      const node = ep.split(':')[0]!;
      if (!byName.has(node) && rawNodes[node] === undefined) issue(['topology', 'links', i, 'endpoints', j], `no node "${node}" in this lab`);
    });
    return { endpoints: l.endpoints as [string, string] };
  });

  if (issues.length) throw new TopologyError(capped(issues));
  return {
    name: t.name,
    file: file ? resolve(file) : undefined,
    domain,
    subnet: `${intToIp(subnet.network)}/${subnet.prefix}`,
    external: t.mgmt?.external ?? [],
    clock: t.clock ? { start: t.clock.start ? new Date(t.clock.start) : undefined, frozen: t.clock.frozen } : undefined,
    nodes,
    links,
  };
}

// ---- addresses --------------------------------------------------------------------------

export interface Subnet {
  network: number;
  prefix: number;
}

const isIpv4Text = (s: string) => /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((o) => Number(o) <= 255);

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses a CIDR inside 127.0.0.0/8; returns an error message otherwise. */
export function parseSubnet(cidr: string): Subnet | string {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || !isIpv4Text(m[1]!)) return `"${cidr}" is not an IPv4 subnet like 127.77.0.0/24`;
  const prefix = Number(m[2]);
  const addr = ipToInt(m[1]!);
  if (prefix < 8 || prefix > 30) return `prefix /${prefix} out of range: use /8 to /30 inside 127.0.0.0/8`;
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  if (Math.floor(network / 2 ** 24) !== 127) {
    return `${cidr} is outside loopback (127.0.0.0/8): flashlab nodes only ever bind loopback addresses`;
  }
  return { network, prefix };
}

function allocateAddresses(nodes: NodeSpec[], subnet: Subnet, issue: (p: PathSeg[], m: string) => void): void {
  const size = 2 ** (32 - subnet.prefix);
  const used = new Set<number>();
  for (const n of nodes) {
    if (!n.address) continue;
    const a = ipToInt(n.address);
    if (a <= subnet.network || a >= subnet.network + size - 1) {
      issue(['topology', 'nodes', n.name, 'address'], `${n.address} is not a host address of the mgmt subnet ${intToIp(subnet.network)}/${subnet.prefix}`);
    } else if (used.has(a)) {
      issue(['topology', 'nodes', n.name, 'address'], `${n.address} is already taken by another node`);
    }
    used.add(a);
  }
  // Like containerlab, .1 is left for the "gateway" (here: nothing, but addresses read alike).
  let next = subnet.network + 2;
  for (const n of nodes) {
    if (n.address) continue;
    while (used.has(next)) next++;
    if (next >= subnet.network + size - 1) {
      issue(['topology', 'nodes', n.name], `the mgmt subnet ${intToIp(subnet.network)}/${subnet.prefix} has no free address left`);
      return;
    }
    n.address = intToIp(next);
    used.add(next);
  }
}

// ---- helpers ----------------------------------------------------------------------------

/** `{{ dns.address }}`, `{{ lab.domain }}`, `{{ lab.name }}` in config lines. */
function expand(line: string, lab: string, domain: string, nodes: Map<string, NodeSpec>, fail: (m: string) => void): string {
  return line.replace(/\{\{\s*([A-Za-z][\w-]*)\.([a-z]+)\s*\}\}/g, (whole, who: string, what: string) => {
    if (who === 'lab' && what === 'domain') return domain;
    if (who === 'lab' && what === 'name') return lab;
    const n = nodes.get(who);
    if (n && what === 'address') return n.address;
    if (n && what === 'fqdn') return `${n.name}.${domain}`;
    fail(`cannot expand ${whole}: use {{ <node>.address }}, {{ <node>.fqdn }}, {{ lab.domain }} or {{ lab.name }}`);
    return whole;
  });
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else (lists included) is replaced. */
function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

/** Moves a topology's mgmt subnet, keeping fixed node addresses at the same host offset. */
export function relocate(topology: Record<string, unknown>, subnet: string): Record<string, unknown> {
  const t = structuredClone(topology) as { mgmt?: Record<string, unknown>; topology?: { nodes?: Record<string, { address?: string }> } };
  const old = String(t.mgmt?.['ipv4-subnet'] ?? '127.77.0.0/24');
  t.mgmt = { ...(t.mgmt ?? {}), 'ipv4-subnet': subnet };
  const toInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  const [oldNet, oldPrefix] = old.split('/');
  const [newNet, newPrefix] = subnet.split('/');
  const oldSize = 2 ** (32 - Number(oldPrefix));
  const oldBase = toInt(oldNet!) - (toInt(oldNet!) % oldSize);
  const newSize = 2 ** (32 - Number(newPrefix));
  const newBase = toInt(newNet!) - (toInt(newNet!) % newSize);
  for (const n of Object.values(t.topology?.nodes ?? {})) {
    if (!n?.address) continue;
    const off = toInt(n.address) - oldBase;
    if (off > 0 && off < oldSize && off < newSize) n.address = toIp(newBase + off);
  }
  return t as Record<string, unknown>;
}
