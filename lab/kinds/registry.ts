/**
 * Node kinds as plugins, containerlab style. Each kind is one adapter that owns everything
 * about it: its topology fields (a zod fragment), the node schema that turns a merged node
 * into its spec, its runtime faults, how scenario checks read its log, lab-level checks
 * once addresses are known, and how to build the node. The topology file schema and
 * `flashlab schema` are assembled from this registry, so a new kind is its folder under
 * servers/, its adapter here, and one line in `modules.ts` (which a node agent reads to load
 * only its own kind).
 */
import type { z } from 'zod';
import type { LabClock } from '../clock/LabClock.ts';
import type { ContentStore } from '../../router/storage/ContentStore.ts';
import type { TransferClient } from '../../router/transfer/types.ts';
import type { ImageFactory } from '../runtime/images.ts';
import type { SigningAuthority } from '../signing/SigningAuthority.ts';
import type { ServiceTable } from '../runtime/services.ts';
import type { LabNode } from '../runtime/types.ts';
import { buildTopologyFileSchema, type NodeSpec } from '../topology/schema.ts';
import { KIND_MODULES } from './modules.ts';

/** What the runtime hands an adapter: everything a node needs from the lab around it. */
export interface KindContext {
  lab: { name: string; domain: string; /** The management subnet's prefix length. */ prefixLength: number; stateDir: string };
  clock: LabClock;
  store: ContentStore;
  /** This node's own state folder (kept across down/up). */
  stateDir: string;
  /** The address this node binds (the spec's, or 127.0.0.1 where only that works). */
  address: string;
  /** Try 21/22/53/69 first; false goes straight to high ports. */
  wellKnownPorts: boolean;
  /** The lab's SSH host key (routers). */
  hostKey: string;
  services: ServiceTable;
  images: ImageFactory;
  /** The lab's signing authority: routers take their factory keys from it. */
  authority: SigningAuthority;
  /** Every node of the lab with the address it really binds (the DNS table). */
  addresses(): { name: string; address: string }[];
  /** The clients routers dial out with; absent in a node agent running a server (servers never dial out). */
  transfer?: Record<'tftp' | 'ftp', TransferClient> & Partial<Record<'http' | 'https', TransferClient>>;
  /** This node's interfaces the topology's links connect. */
  links: string[];
  /** CIDRs outside the lab that routers may reach (`mgmt.external`); empty: sealed. */
  external: readonly string[];
  /** The lab log (refusals, warnings). */
  log?: (line: string) => void;
  /** Something the user must hear about: printed by `flashlab up` (at start) and logged. */
  warn(line: string): void;
}

/** One entry of a server's log as scenario checks read it (`check: { server, login|transfer|event }`). */
export interface LogView {
  /** `login`, `download`, `upload`, or a kind's own event (`locate`, `message`). */
  kind: string;
  user?: string;
  password?: string;
  file?: string;
  /** `ok`, `refused`, `failed`, `dropped`… */
  outcome: string;
  /** One line a person reads (scenario notes, `event.contains` matches it). */
  text?: string;
}

/** What the loader gives a kind's `finish` hook: the whole lab, addresses allocated. */
export interface LabRefs {
  name: string;
  domain: string;
  nodes: NodeSpec[];
  byName: Map<string, NodeSpec>;
  /** Reports a problem at a path below this node (`['records', 'x']`). */
  issue(path: (string | number)[], message: string): void;
}

export interface KindAdapter<S extends NodeSpec = NodeSpec> {
  readonly kind: string;
  /** Servers start before routers, so a router's first boot finds them listening. */
  readonly order: 'server' | 'router';
  /** The fields a node of this kind may carry, as written (all optional: `kinds:`/`defaults:` may supply them). */
  readonly fields: z.ZodRawShape;
  /** A node with defaults merged (and `name` added) to the spec `create` receives. */
  readonly spec: z.ZodType<S>;
  /** Runtime faults in the topology's words; absent for kinds without faults. */
  readonly faults?: z.ZodType<Record<string, unknown>>;
  /** The node serves files from a root folder (scenario `check: { server, file }`). */
  readonly serves?: boolean;
  /** Lab-level work once every node has its address (template expansion, references). */
  finish?(spec: S, lab: LabRefs): void;
  /** How scenario checks read one entry of this kind's log. */
  logView?(entry: Record<string, unknown>): LogView[];
  create(spec: S, ctx: KindContext): LabNode;
}

export class UnknownKindError extends Error {
  constructor(kind: string) {
    super(`unknown node kind "${kind}"; valid kinds: ${[...registry.keys()].join(', ')}`);
    this.name = 'UnknownKindError';
  }
}

const registry = new Map<string, KindAdapter>();
let fileSchema: ReturnType<typeof buildTopologyFileSchema> | undefined;

export function registerKind<S extends NodeSpec>(adapter: KindAdapter<S>): void {
  registry.set(adapter.kind, adapter as unknown as KindAdapter);
  fileSchema = undefined;
}

export function kindAdapter(kind: string): KindAdapter {
  const a = registry.get(kind);
  if (!a) throw new UnknownKindError(kind);
  return a;
}

export function findKind(kind: string): KindAdapter | undefined {
  return registry.get(kind);
}

export function kindNames(): string[] {
  return [...registry.keys()];
}

/** Keys a kind accepts (which `defaults:` entries it takes). */
export function kindKeys(kind: string): Set<string> {
  return new Set(['kind', 'address', 'labels', ...Object.keys(kindAdapter(kind).fields)]);
}

/** The topology file's schema, from every registered kind. */
export function topologyFileSchema(): ReturnType<typeof buildTopologyFileSchema> {
  fileSchema ??= buildTopologyFileSchema([...registry.values()].map((a) => ({ kind: a.kind, fields: a.fields })));
  return fileSchema;
}

// Every kind, in the order `flashlab schema` lists them.
for (const adapter of await Promise.all(Object.values(KIND_MODULES).map((load) => load()))) registerKind(adapter as unknown as KindAdapter);
