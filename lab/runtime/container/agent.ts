/**
 * The node agent as a container runs it: its command line and the health check the engine
 * runs inside the container. One place, so the compose file and `up --runtime container`
 * start nodes the same way.
 */
import { join } from 'node:path';
import { IMAGE_REPO } from './layout.ts';

/** How often the engine asks a node whether it is healthy, and how patiently. */
export const HEALTH = { intervalMs: 2_000, timeoutMs: 5_000, retries: 90 };

/** Agent configuration and socket of a node, in the lab's state folder (`run/`). */
export const agentConfigPath = (stateDir: string, node: string): string => join(stateDir, 'run', `${node}.json`);
export const agentSocketPath = (stateDir: string, node: string): string => join(stateDir, 'run', `${node}.sock`);

/** Arguments after the image's entrypoint (`node bin/flashlab.mjs`). */
export function agentCommand(stateDir: string, node: string): string[] {
  return ['node', '--config', agentConfigPath(stateDir, node)];
}

/** The engine's health check: GET /health on the agent's socket (health.mjs, in the image). */
export function agentHealthcheck(stateDir: string, node: string): string[] {
  return ['node', `${IMAGE_REPO}/lab/runtime/container/health.mjs`, agentSocketPath(stateDir, node)];
}
