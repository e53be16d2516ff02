/**
 * Which runtime runs a lab's nodes. Each runtime is loaded when asked for, so the embedded
 * default never pays for the others (and a runtime may need what another machine lacks).
 */
import type { LabClock } from '../clock/LabClock.ts';
import type { Topology } from '../topology/schema.ts';
import { RUNTIME_NAMES, type LabRuntime, type RuntimeName } from './types.ts';

export interface RuntimeOptions {
  /** The lab's state folder: content store, node state, host keys, what a runtime made. */
  stateDir: string;
  /** The lab clock: this process owns it; nodes elsewhere follow it. */
  clock: LabClock;
  /** Try 21/22/53/69 first (default true); false goes straight to high ports. */
  wellKnownPorts?: boolean;
  /** How long nodes get to become healthy (default 60 s). */
  healthTimeoutMs?: number;
  /**
   * netns (and container): the subnet the nodes' namespaces use, where the topology's
   * loopback addresses are moved at the same host offsets (default 10.213.0.0/24).
   */
  subnet?: string;
  /** container: the image each node's container runs (default FLASHLAB_IMAGE, else localhost/flashlab:latest). */
  image?: string;
  log?: (line: string) => void;
}

export type RuntimeFactory = (topology: Topology, opts: RuntimeOptions) => LabRuntime;

const loaders: Record<RuntimeName, () => Promise<RuntimeFactory>> = {
  embedded: async () => (await import('./embedded.ts')).createEmbeddedRuntime,
  netns: async () => (await import('./netns.ts')).createNetnsRuntime,
  // The container runtime (issue 11, item 4) plugs in here: one container per node running `flashlab node`.
  container: async () => (await import('./container/ContainerRuntime.ts')).createContainerRuntime,

};

export function isRuntimeName(v: unknown): v is RuntimeName {
  return typeof v === 'string' && (RUNTIME_NAMES as readonly string[]).includes(v);
}

export function runtimeName(v: unknown): RuntimeName {
  if (v === undefined) return 'embedded';
  if (!isRuntimeName(v)) throw new Error(`unknown runtime "${String(v)}"; valid runtimes: ${RUNTIME_NAMES.join(', ')}`);
  return v;
}

export async function createRuntime(name: RuntimeName, topology: Topology, opts: RuntimeOptions): Promise<LabRuntime> {
  return (await loaders[name]())(topology, opts);
}
