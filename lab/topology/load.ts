/**
 * Loads a topology: YAML -> file schema -> defaults merged per node -> node schemas ->
 * lab-level checks (loopback subnet, addresses, references) -> a resolved Topology.
 *
 * Every problem is reported as `file:line: key.path: message`, the line found by walking
 * the YAML document along the zod issue's path.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument } from 'yaml';
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

/** Reads and resolves a topology file. Throws TopologyError. */
export function loadTopology(file: string): Topology {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TopologyError([{ file: path, path: '', message: `cannot read topology: ${(e as Error).message}` }]);
  }
  return parseTopology(text, path);
}

/** Resolves topology YAML text. */
export function parseTopology(text: string, file?: string): Topology {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    throw new TopologyError(
      doc.errors.map((e) => ({ file, line: lc.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  return resolveTopology(doc.toJS(), { file }, new Locator(doc, lc));
}

/** Resolves a topology given as an object (programmatic labs, tests). */
export function resolveTopology(raw: unknown, opts: LoadOptions = {}, loc = new Locator()): Topology {
  const file = opts.file;
  const parsed = TopologyFileSchema.safeParse(raw);
  if (!parsed.success) throw new TopologyError(toIssues(parsed.error, loc, file, []));
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
  const nodes: NodeSpec[] = [];
  for (const [name, written] of Object.entries(rawNodes)) {
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

  if (issues.length) throw new TopologyError(issues);
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
