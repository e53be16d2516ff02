/**
 * Entry of the node agent's bundle (`agentBundle.ts`): `node flashlab-agent-<hash>.mjs node
 * --config <file>`, the same as `flashlab node --config <file>` without the CLI and tsx.
 */
import { runAgent } from './agent.ts';

const at = process.argv.indexOf('--config');
const config = at >= 0 ? process.argv[at + 1] : undefined;
if (!config) {
  process.stderr.write('usage: flashlab-agent node --config <file>\n');
  process.exit(2);
}
await runAgent(config);
