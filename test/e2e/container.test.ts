/**
 * The container path: the repository's Containerfile built and run through testcontainers
 * (Docker, or Podman's Docker-compatible socket in CI). The container runs the embedded lab;
 * the test reaches it only through the engine (exec), never through the host's network.
 *
 * Skips, with the engine's own words, only where no engine answers at all (a laptop without
 * Docker); CI sets FLASHLAB_REQUIRE_CONTAINERS=1, so there a missing engine fails instead.
 */
import { describe, expect, it } from 'vitest';

const required = process.env.FLASHLAB_REQUIRE_CONTAINERS === '1';
let engineProblem: string | undefined;
let tc: typeof import('testcontainers') | undefined;
try {
  tc = await import('testcontainers');
  await tc.getContainerRuntimeClient();
} catch (e) {
  engineProblem = `no container engine: ${(e as Error).message}`;
}

describe('container engine', () => {
  it.runIf(required)('is there (CI requires one)', () => {
    expect(engineProblem).toBeUndefined();
  });
});

describe.skipIf(engineProblem !== undefined)(`flashlab in a container${engineProblem ? ` (skipped: ${engineProblem})` : ''}`, () => {
  it('builds the image, boots the default lab, answers show version and passes a scenario', async () => {
    const image = await tc!.GenericContainer.fromDockerfile(process.cwd(), 'Containerfile').build('localhost/flashlab-test:latest', { deleteOnExit: false });
    const c = await image
      .withCommand(['up', '--foreground'])
      .withWaitStrategy(tc!.Wait.forLogMessage(/^ready: lab default/m))
      .withStartupTimeout(180_000)
      .start();
    try {
      const v = await c.exec(['node', 'bin/flashlab.mjs', 'exec', 'r1', 'show version']);
      expect(v.output).toContain('Cisco IOS XE Software, Version 16.10.01');
      // A scenario of the library, run inside the container on a lab of its own.
      const run = await c.exec(['node', 'bin/flashlab.mjs', 'run', 'scenarios/upgrade-tftp.yml', 'scenarios/fail-low-flash.yml']);
      expect(run.output).toContain('2/2 scenarios passed');
      expect(run.exitCode).toBe(0);
    } finally {
      await c.stop();
    }
  }, 600_000);
});
