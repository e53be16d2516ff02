/**
 * Node kinds, containerlab style: one small adapter per kind turns a node spec from the
 * topology into a LabNode. A new server kind is one adapter file and one line below.
 */
import type { LabClock } from '../clock/LabClock.ts';
import type { ContentStore } from '../../router/storage/ContentStore.ts';
import type { TransferClient } from '../../router/transfer/types.ts';
import type { ImageFactory } from '../runtime/images.ts';
import type { SigningAuthority } from '../signing/SigningAuthority.ts';
import type { ServiceTable } from '../runtime/services.ts';
import type { LabNode } from '../runtime/types.ts';
import type { NodeSpec } from '../topology/schema.ts';
import { dnsKind } from './dns.ts';
import { ftpKind } from './ftp.ts';
import { routerKind } from './router.ts';
import { tftpKind } from './tftp.ts';

/** What the runtime hands an adapter: everything a node needs from the lab around it. */
export interface KindContext {
  lab: { name: string; domain: string; /** The management subnet's prefix length. */ prefixLength: number };
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
  transfer: Record<'tftp' | 'ftp', TransferClient>;
  /** This node's interfaces the topology's links connect. */
  links: string[];
  /** CIDRs outside the lab that routers may reach (`mgmt.external`); empty: sealed. */
  external: readonly string[];
  /** The lab log (refusals, warnings). */
  log?: (line: string) => void;
  /** Something the user must hear about: printed by `flashlab up` (at start) and logged. */
  warn(line: string): void;
}

export interface KindAdapter<S extends NodeSpec = NodeSpec> {
  readonly kind: S['kind'];
  /** Servers start before routers, so a router's first boot finds them listening. */
  readonly order: 'server' | 'router';
  create(spec: S, ctx: KindContext): LabNode;
}

export class UnknownKindError extends Error {
  constructor(kind: string) {
    super(`unknown node kind "${kind}"; valid kinds: ${[...registry.keys()].join(', ')}`);
    this.name = 'UnknownKindError';
  }
}

const registry = new Map<string, KindAdapter>();

export function registerKind<S extends NodeSpec>(adapter: KindAdapter<S>): void {
  registry.set(adapter.kind, adapter as unknown as KindAdapter);
}

export function kindAdapter(kind: string): KindAdapter {
  const a = registry.get(kind);
  if (!a) throw new UnknownKindError(kind);
  return a;
}

export function kindNames(): string[] {
  return [...registry.keys()];
}

registerKind(routerKind);
registerKind(ftpKind);
registerKind(tftpKind);
registerKind(dnsKind);
