/**
 * The container path, on a real engine (Podman's Docker-compatible socket in CI): the
 * repository's Containerfile built once through testcontainers, then
 *   - the embedded lab in one container (reached only through the engine: exec);
 *   - the container runtime: `flashlab up --runtime container` starts a lab of two routers
 *     and the servers with one container per node, `flashlab run --runtime container` passes
 *     the upgrade, low-flash and failure-injection scenarios, and `down` (and `down --force`
 *     after the lab process is killed) leaves no container, network or volume behind.
 *
 * Skips, with the engine's own words, only where no engine answers at all (a laptop without
 * Docker); CI sets FLASHLAB_REQUIRE_CONTAINERS=1, so there a missing engine fails instead.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ContainerEngine } from '../../lab/runtime/container/engine.ts';
import { DEFAULT_TOPOLOGY } from '../../lab/topology/load.ts';
import { containersRequired, engineProblem, uniqueLabName } from '../helpers/engine.ts';
import { tryCommand } from '../helpers/peers.ts';

const BIN = resolve(import.meta.dirname, '../../bin/flashlab.mjs');
// Per run: a parallel run elsewhere on this engine never swaps the image under these tests.
const IMAGE = `localhost/flashlab-test:run-${process.pid}`;
const problem = await engineProblem();
const tc = problem === undefined ? await import('testcontainers') : undefined;

describe('container engine', () => {
  it.runIf(containersRequired)('is there (CI requires one)', () => {
    expect(problem).toBeUndefined();
  });
});

describe.skipIf(problem !== undefined)(`flashlab on a container engine${problem ? ` (skipped: ${problem})` : ''}`, () => {
  const engine = new ContainerEngine();
  const home = mkdtempSync(join(tmpdir(), 'flashlab-containers-'));
  const env = { ...process.env, FLASHLAB_IMAGE: IMAGE };
  const flashlab = (args: string[], timeoutMs = 300_000, environment = env) => tryCommand(process.execPath, [BIN, '--home', home, ...args], { env: environment, timeoutMs });
  /** An image no engine has: FLASHLAB_IMAGE names it where `--image` must win. */
  const missing = `localhost/flashlab-missing:run-${process.pid}`;
  // The default lab (two routers and the servers) under a name no other run uses.
  const lab = uniqueLabName('ct');
  const topology = join(home, `${lab}.yml`);
  const leftovers = async (name: string) => engine.labObjects(name);

  beforeAll(async () => {
    // Built once per run; every test below runs this image.
    await tc!.GenericContainer.fromDockerfile(process.cwd(), 'Containerfile').build(IMAGE, { deleteOnExit: false });
    const t = parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Record<string, unknown>;
    writeFileSync(topology, stringify({ ...t, name: lab }));
  }, 900_000);

  afterAll(async () => {
    // A failed test must not leave the engine cluttered: remove whatever these labs made.
    await flashlab(['down', '--force', '--lab', lab]).catch(() => undefined);
    await engine.removeImage(IMAGE).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('runs the embedded lab in one container: show version and a scenario there', async () => {
    const c = await new tc!.GenericContainer(IMAGE)
      .withCommand(['up', '--foreground'])
      .withWaitStrategy(tc!.Wait.forLogMessage(/^ready: lab default/m))
      .withStartupTimeout(180_000)
      .start();
    try {
      const v = await c.exec(['node', 'bin/flashlab.mjs', 'exec', 'r1', 'show version']);
      expect(v.output).toContain('Cisco IOS XE Software, Version 16.10.01');
      const run = await c.exec(['node', 'bin/flashlab.mjs', 'run', 'scenarios/upgrade-tftp.yml']);
      expect(run.output).toContain('1/1 scenarios passed');
      expect(run.exitCode).toBe(0);
    } finally {
      await c.stop();
    }
  }, 600_000);

  it('up --runtime container: one container per node on the lab network; exec reaches a router; down removes it all', async () => {
    const up = await flashlab(['up', topology, '--runtime', 'container']);
    expect(up.out).toContain(`lab ${lab} (runtime container)`);
    expect(up.code).toBe(0);
    try {
      const objects = await leftovers(lab);
      const nodes = ['r1', 'r2', 'ftp', 'tftp', 'ida', 'smtp', 'dns'];
      expect(objects.containers.sort()).toEqual(nodes.map((n) => `flashlab-${lab}-${n}`).sort());
      expect(objects.networks).toEqual([`flashlab-${lab}`]);
      expect(objects.volumes).toEqual([`flashlab-${lab}-state`]);
      for (const n of nodes) expect((await engine.state(`flashlab-${lab}-${n}`)).running).toBe(true);

      const inspect = JSON.parse((await flashlab(['inspect', '--json', '--lab', lab])).out) as { name: string; address: string; state: string }[];
      const r1 = inspect.find((n) => n.name === 'r1')!;
      // The topology's host offset, on the lab network in 10.214.0.0/16.
      expect(r1.address).toMatch(/^10\.214\.\d+\.11$/);
      expect((await engine.state(`flashlab-${lab}-r1`)).address).toBe(r1.address);

      // A copy from the TFTP server's container into r1's container, over the lab network.
      const copy = await flashlab(['exec', '--lab', lab, '--yes', 'r1', 'copy tftp://tftp/isr4300-universalk9.16.12.04.SPA.bin bootflash:']);
      expect(copy.out).toContain('[OK - 16777216 bytes]');
      const logs = await flashlab(['logs', 'tftp', '--lab', lab]);
      expect(logs.out).toContain(`peer=${r1.address}:`);
    } finally {
      const down = await flashlab(['down', '--lab', lab]);
      expect(down.out).toContain(`lab ${lab} stopped`);
    }
    expect(await leftovers(lab)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 600_000);

  it('up --image names a missing image and how to build it; run --image says so once, before any lab', async () => {
    const up = await flashlab(['up', topology, '--runtime', 'container', '--image', missing]);
    expect(up.out).toContain(`no image ${missing} on the container engine: build it first, "podman build -f Containerfile -t ${missing} ."`);
    expect(up.code).toBe(1);
    expect(await leftovers(lab)).toEqual({ containers: [], networks: [], volumes: [] });
    const run = await flashlab(['run', '--runtime', 'container', '--image', missing, '--reports', join(home, 'reports-missing'), 'scenarios/upgrade-tftp.yml']);
    expect(run.out).toContain(`no image ${missing} on the container engine`);
    expect(run.out).not.toContain('[1/1]');
    expect(run.code).toBe(2);
  }, 120_000);

  it('down --force removes the containers, network and volume of a lab whose process was killed', async () => {
    // The image given by --image, over a FLASHLAB_IMAGE the engine lacks: the option wins.
    const up = await flashlab(['up', topology, '--runtime', 'container', '--image', IMAGE], 300_000, { ...process.env, FLASHLAB_IMAGE: missing });
    expect(up.code).toBe(0);
    const pid = Number(/\(pid (\d+),/.exec(up.out)?.[1]);
    expect(pid).toBeGreaterThan(0);
    // This test started that process: ended by its PID, as a crash would end it.
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect((await leftovers(lab)).containers.length).toBe(7);
    const down = await flashlab(['down', '--force', '--lab', lab]);
    expect(down.out).toMatch(/removed 7 containers/);
    expect(down.out).toMatch(/removed 1 network /);
    expect(down.out).toMatch(/removed 1 volume /);
    expect(await leftovers(lab)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 600_000);

  it('run --runtime container passes the upgrade, low-flash and failure-injection scenarios', async () => {
    const reports = join(home, 'reports');
    mkdirSync(join(home, 'runs'));
    const run = await flashlab(['run', '--runtime', 'container', '--image', IMAGE, '--state', join(home, 'runs'), '--reports', reports, 'scenarios/upgrade-tftp.yml', 'scenarios/fail-low-flash.yml', 'scenarios/fail-tftp-loss-stall.yml'], 900_000);
    expect(run.out).toContain('3/3 scenarios passed');
    expect(run.code).toBe(0);
    expect(readFileSync(join(reports, 'report.md'), 'utf8')).toContain('container (one container per node)');
    // Each scenario's lab is gone from the engine.
    expect(await leftovers('default')).toEqual({ containers: [], networks: [], volumes: [] });
  }, 900_000);
});
