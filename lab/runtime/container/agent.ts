/**
 * The node agent as a container runs it: its command line and the health check the engine
 * runs inside the container. One place, so the compose file and `up --runtime container`
 * start nodes the same way.
 */
import type { LabLayout, NodeLayout } from './layout.ts';

/** How often the engine asks a node whether it is healthy, and how patiently. */
export const HEALTH = { intervalMs: 2_000, timeoutMs: 5_000, retries: 90 };

/** Where the topology is inside the container (a path in the image, or a mounted file). */
export interface AgentPaths {
  topology: string;
}

/** Arguments after the image's entrypoint (`node bin/flashlab.mjs`). */
export function agentCommand(l: LabLayout, n: NodeLayout, p: AgentPaths): string[] {
  return ['node', p.topology, '--node', n.node, '--state', l.volume.mountPoint, '--address', n.address, '--subnet', l.network.subnet];
}

/** The engine's health check: the agent answers its own health question (no shell in the image). */
export function agentHealthcheck(l: LabLayout, n: NodeLayout): string[] {
  return ['node', 'bin/flashlab.mjs', 'node', '--health', '--state', l.volume.mountPoint, '--node', n.node];
}
