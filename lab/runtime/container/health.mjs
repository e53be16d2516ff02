// The engine's health check inside a node's container: `node health.mjs <agent socket>`
// asks the node agent GET /health and exits 0 when the node is healthy, 1 otherwise.
// Plain JavaScript, one argument, no spaces: the image has no shell, loading flashlab would
// cost a second per check, and Podman's compatible API splits a health check's words on spaces.
import { get } from 'node:http';

const socketPath = process.argv[2];
const req = get({ socketPath, path: '/health', timeout: 4000 }, (res) => {
  let body = '';
  res.on('data', (c) => (body += c));
  res.on('end', () => {
    try {
      process.exit(JSON.parse(body).healthy === true ? 0 : 1);
    } catch {
      process.exit(1);
    }
  });
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
