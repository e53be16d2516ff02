/**
 * How a topology maps onto a container engine: one container per node on one lab network,
 * the lab's state (content store included) on one shared volume. `flashlab compose` writes
 * this layout as a compose file and `up --runtime container` makes it through the engine
 * API, so both read the names, addresses and mounts from here.
 *
 * Addresses: the topology's mgmt subnet is loopback (127.x, what the embedded runtime
 * binds); on the engine the lab gets a bridge network instead, and each node keeps its host
 * offset there (127.77.0.11 in 127.77.0.0/24 becomes 10.214.0.11 in 10.214.0.0/24), so
 * addresses read alike in both.
 */
import { intToIp, ipToInt } from '../../topology/load.ts';
import type { Topology } from '../../topology/schema.ts';
import { LAB_LABEL, NODE_LABEL } from './engine.ts';

/** Where container networks go unless told otherwise (outside Podman's 10.88/16 and Docker's 172.17/16). */
export const CONTAINER_SUBNETS = '10.214.0.0/16';
/** The image `up --runtime container` runs and the compose file builds. */
export const DEFAULT_IMAGE = 'localhost/flashlab:latest';
/** Inside the image: the repository (WORKDIR) and FLASHLAB_HOME (the Containerfile's). */
export const IMAGE_REPO = '/flashlab';
export const IMAGE_HOME = '/var/lib/flashlab';

export interface LayoutOptions {
  /** The lab network's subnet (default: the topology's size at 10.214.0.0). */
  subnet?: string;
  image?: string;
  /**
   * Where the state volume is mounted in every container (default /var/lib/flashlab/<lab>).
   * The container runtime mounts it at the lab's own state path, so the absolute paths in
   * agent configurations mean the same file inside and outside.
   */
  stateMount?: string;
}

export interface NodeLayout {
  node: string;
  kind: string;
  /** Container name, `flashlab-<lab>-<node>`. */
  container: string;
  /** The node's address on the lab network. */
  address: string;
  /** The node's address in the topology (loopback). */
  topologyAddress: string;
}

export interface LabLayout {
  lab: string;
  image: string;
  network: { name: string; subnet: string };
  /** The shared volume holding the lab's state folder (content store, node state, keys). */
  volume: { name: string; mountPoint: string };
  labels: Record<string, string>;
  nodes: NodeLayout[];
}

/** Engine object names: lowercase, [a-z0-9_.-] (compose and Docker refuse the rest). */
export function engineName(...parts: string[]): string {
  return ['flashlab', ...parts].join('-').toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
}

/** `10.214.3.0/24` → network and prefix; throws a user-facing message on anything else. */
export function parseIpv4Cidr(cidr: string): { network: number; prefix: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || m[1]!.split('.').some((o) => Number(o) > 255) || Number(m[2]) < 8 || Number(m[2]) > 30) {
    throw new Error(`"${cidr}" is not an IPv4 subnet like 10.214.0.0/24`);
  }
  const prefix = Number(m[2]);
  const size = 2 ** (32 - prefix);
  const addr = ipToInt(m[1]!);
  return { network: addr - (addr % size), prefix };
}

export function labLayout(t: Topology, o: LayoutOptions = {}): LabLayout {
  const from = parseIpv4Cidr(t.subnet);
  const to = parseIpv4Cidr(o.subnet ?? `10.214.0.0/${from.prefix}`);
  if (to.prefix > from.prefix) {
    throw new Error(`container subnet ${o.subnet} is smaller than the topology's ${t.subnet}: use a /${from.prefix} or larger`);
  }
  const subnet = `${intToIp(to.network)}/${to.prefix}`;
  const labels = { [LAB_LABEL]: t.name };
  return {
    lab: t.name,
    image: o.image ?? DEFAULT_IMAGE,
    network: { name: engineName(t.name), subnet },
    volume: { name: engineName(t.name, 'state'), mountPoint: o.stateMount ?? `${IMAGE_HOME}/${t.name}` },
    labels,
    nodes: t.nodes.map((n) => ({
      node: n.name,
      kind: n.kind,
      container: engineName(t.name, n.name),
      address: intToIp(to.network + (ipToInt(n.address) - from.network)),
      topologyAddress: n.address,
    })),
  };
}

/** Each node's address on the lab network, by node name. */
export function layoutAddresses(l: LabLayout): Map<string, string> {
  return new Map(l.nodes.map((n) => [n.node, n.address]));
}

/** Labels of one node's container. */
export function nodeLabels(l: LabLayout, n: NodeLayout): Record<string, string> {
  return { ...l.labels, [NODE_LABEL]: n.node };
}
