/**
 * The node agent as a container runs it: its command line and the health check the engine
 * runs inside the container. One place, so the compose file and `up --runtime container`
 * start nodes the same way.
 */
import { join } from 'node:path';

/** How often the engine asks a node whether it is healthy, and how patiently. */
export const HEALTH = { intervalMs: 2_000, timeoutMs: 5_000, retries: 90 };

/** Agent configuration and socket of a node, in the lab's state folder (`run/`). */
export const agentConfigPath = (stateDir: string, node: string): string => join(stateDir, 'run', `${node}.json`);
export const agentSocketPath = (stateDir: string, node: string): string => join(stateDir, 'run', `${node}.sock`);

/** Arguments after the image's entrypoint (`node bin/flashlab.mjs`). */
export function agentCommand(stateDir: string, node: string): string[] {
  return ['node', '--config', agentConfigPath(stateDir, node)];
}

/**
 * The engine's health check: GET /health on the agent's socket, exit 0 when healthy. Node
 * itself runs it (the image has no shell or curl), without loading flashlab.
 */
export function agentHealthcheck(stateDir: string, node: string): string[] {
  const script =
    `require('http').get({socketPath:${JSON.stringify(agentSocketPath(stateDir, node))},path:'/health'},` +
    `r=>{let b='';r.on('data',c=>b+=c);r.on('end',()=>process.exit(JSON.parse(b).healthy?0:1))}).on('error',()=>process.exit(1))`;
  return ['node', '-e', script];
}
