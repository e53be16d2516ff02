/**
 * The container path (docker-compose.yml through testcontainers). These machines run no
 * container engine: the suite then skips, and the skip reason is testcontainers' own answer.
 */
import { describe, expect, it } from 'vitest';

let engineProblem: string | undefined;
let tc: typeof import('testcontainers') | undefined;
try {
  tc = await import('testcontainers');
  await tc.getContainerRuntimeClient();
} catch (e) {
  engineProblem = `no container engine: ${(e as Error).message}`;
}

describe.skipIf(engineProblem !== undefined)(`docker-compose lab${engineProblem ? ` (skipped: ${engineProblem})` : ''}`, () => {
  it('boots the default lab in a container and answers show version', async () => {
    const env = await new tc!.DockerComposeEnvironment(process.cwd(), 'docker-compose.yml')
      .withWaitStrategy('flashlab-1', tc!.Wait.forHealthCheck())
      .withStartupTimeout(300_000)
      .up();
    try {
      const c = env.getContainer('flashlab-1');
      const r = await c.exec(['node', 'bin/flashlab.mjs', 'exec', 'r1', 'show version']);
      expect(r.output).toContain('Cisco IOS XE Software, Version 16.10.01');
    } finally {
      await env.down();
    }
  }, 600_000);
});
