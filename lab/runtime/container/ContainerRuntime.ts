/**
 * The container runtime: every node is a node agent (`flashlab node`) in a container of its
 * own (`flashlab-<lab>-<node>`), on a bridge network the lab makes on the engine (Docker, or
 * Podman's Docker-compatible socket). The topology's addresses keep their host offsets in
 * the network's subnet (default: the first free /24 in 10.214.0.0/16): r1 at 127.77.0.11
 * runs at 10.214.N.11. Inside its container each node is root in its own network namespace,
 * so every server takes its well-known port.
 *
 * Storage and time are shared as under netns: the lab's state folder is a named volume
 * bound to that folder and mounted at the same path in every container, so the agent
 * configurations, the content store, the keys and the node protocol's Unix sockets are the
 * same files on both sides. This process owns the clock and posts every move to the agents.
 *
 * Everything made carries the `flashlab.lab` and `flashlab.state` labels; what is about to be
 * made is recorded in the state folder first (`container.json`), so `down`, `down --force`
 * and the next `up` remove all of it even after a crash.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intToIp } from '../../topology/load.ts';
import type { NodeSpec, Topology } from '../../topology/schema.ts';
import type { RuntimeOptions } from '../index.ts';
import { agentConfigFor, prepareAgentState } from '../netns.ts';
import { RemoteNodeHandle } from '../protocol.ts';
import { AgentLabRuntime } from '../AgentHandles.ts';
import { HEALTH, agentCommand, agentConfigPath, agentHealthcheck } from './agent.ts';
import { ContainerEngine, LAB_LABEL, type LabObjects } from './engine.ts';
import { readContainerRecord, removeContainerRecord, writeContainerRecord } from './record.ts';
import { CONTAINER_SUBNETS, DEFAULT_IMAGE, engineName, labLayout, layoutAddresses, nodeLabels, parseIpv4Cidr, type LabLayout, type NodeLayout } from './layout.ts';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/flashlab.mjs');

/** Label naming the state folder a lab's objects belong to (two labs may share a name). */
export const STATE_LABEL = 'flashlab.state';
/** How long a node's container may take to load flashlab and start its node. */
const AGENT_START_MS = 180_000;

export class ContainerRuntimeError extends Error {}

/** The image to run: `--image` (given), else FLASHLAB_IMAGE, else the repository's image. */
export const containerImage = (given?: string, env: NodeJS.ProcessEnv = process.env): string => given || env.FLASHLAB_IMAGE || DEFAULT_IMAGE;

/**
 * Refuses, naming the image and how to build it, when the engine lacks it: `up` never
 * builds or pulls. Also asked by `flashlab run` once, before any scenario's lab.
 */
export async function requireImage(image: string, engine: ContainerEngine): Promise<void> {
  await engine.ping();
  if (!(await engine.imageExists(image))) {
    throw new ContainerRuntimeError(`no image ${image} on the container engine: build it first, "podman build -f Containerfile -t ${image} ." (or docker build; npm ci before)`);
  }
}

/**
 * Removes what a container lab on this state folder made: containers (the agents get
 * SIGTERM first), then its network and volume (the state folder itself stays). Found by
 * label and name prefix, so only this lab's objects are touched. One line per kind removed.
 */
export async function removeContainerLeftovers(stateDir: string, engine = new ContainerEngine(), lab?: string): Promise<string[]> {
  const name = lab ?? readContainerRecord(stateDir)?.lab;
  if (!name) return [];
  const found = await engine.labObjects(name, { [STATE_LABEL]: resolve(stateDir) });
  const prefix = engineName(name);
  const ours = (n: string) => n === prefix || n.startsWith(`${prefix}-`);
  const o: LabObjects = { containers: found.containers.filter(ours), networks: found.networks.filter(ours), volumes: found.volumes.filter(ours) };
  await Promise.all(
    o.containers.map(async (c) => {
      await engine.stop(c, 5);
      await engine.removeContainer(c);
    }),
  );
  await Promise.all(o.networks.map((n) => engine.removeNetwork(n)));
  await Promise.all(o.volumes.map((v) => engine.removeVolume(v)));
  removeContainerRecord(stateDir);
  const part = (list: string[], what: string) => (list.length ? [`removed ${list.length} ${what}${list.length === 1 ? '' : 's'} (${list.join(', ')})`] : []);
  return [...part(o.containers, 'container'), ...part(o.networks, 'network'), ...part(o.volumes, 'volume')];
}

export class ContainerRuntime extends AgentLabRuntime {
  readonly name = 'container' as const;
  readonly engine: ContainerEngine;
  private layout?: LabLayout;
  private readonly stateDir: string;
  private made = false;
  /**
   * This process exits without `stop()` (Ctrl-C in `flashlab run`): nothing asynchronous
   * runs at exit, so a detached `flashlab` process removes the lab's engine objects.
   */
  private readonly onExit = () => {
    spawn(process.execPath, [BIN, 'container-cleanup', this.topology.name, this.stateDir], { detached: true, stdio: 'ignore' }).unref();
  };

  constructor(
    topology: Topology,
    private readonly opts: RuntimeOptions & { engine?: ContainerEngine },
  ) {
    super(topology, opts.log);
    this.engine = opts.engine ?? new ContainerEngine();
    this.stateDir = resolve(opts.stateDir);
  }

  private get labels(): Record<string, string> {
    return { [LAB_LABEL]: this.topology.name, [STATE_LABEL]: this.stateDir };
  }

  async start(): Promise<void> {
    const image = containerImage(this.opts.image);
    await requireImage(image, this.engine);
    // A lab killed before its `down` left these behind: they go first.
    for (const line of await removeContainerLeftovers(this.stateDir, this.engine, this.topology.name)) this.opts.log?.(`left by an earlier run: ${line}`);
    const other = await this.engine.labObjects(this.topology.name);
    if (other.containers.length) {
      throw new ContainerRuntimeError(`another lab named ${this.topology.name} runs on the container engine (${other.containers.join(', ')}): stop it ("flashlab down --lab ${this.topology.name}") or give this topology another name`);
    }
    const subnet = this.opts.subnet ?? (await this.freeSubnet());
    const l = labLayout(this.topology, { subnet, image, stateMount: this.stateDir });
    this.layout = l;
    await prepareAgentState(this.topology, this.stateDir, this.opts.clock.now(), this.opts.log);
    this.record(l);
    this.made = true;
    process.once('exit', this.onExit);
    const labels = this.labels;
    await this.engine.createNetwork({ name: l.network.name, subnet: l.network.subnet, labels });
    await this.engine.createVolume(l.volume.name, labels, { bindTo: this.stateDir });

    const deadline = Date.now() + (this.opts.healthTimeoutMs ?? AGENT_START_MS);
    // Every node at once: in its own container each server has its well-known port, so a
    // router needs no port table from the servers before it starts (it dials 21, 69, 53).
    const results = await Promise.allSettled(l.nodes.map((n) => this.startNode(n, deadline)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failed.length) throw new ContainerRuntimeError(`nodes failed to start:\n  ${failed.join('\n  ')}`);
    // The lab clock lives here.
    this.nodes.followClock(this.opts.clock);
  }

  /** What is about to be made, written first: a crash from here on leaves nothing `down --force` misses. */
  private record(l: LabLayout): void {
    writeContainerRecord(this.stateDir, { lab: l.lab, network: l.network.name, volume: l.volume.name, containers: l.nodes.map((n) => n.container) });
  }

  /** A subnet the size of the topology's in 10.214.0.0/16 that no engine network uses yet. */
  private async freeSubnet(): Promise<string> {
    const prefix = parseIpv4Cidr(this.topology.subnet).prefix;
    const pool = parseIpv4Cidr(CONTAINER_SUBNETS);
    const used = (await this.engine.networkSubnets()).map(parseIpv4Cidr);
    const size = 2 ** (32 - prefix);
    const end = pool.network + 2 ** (32 - pool.prefix);
    // The pool's first block is the committed docker-compose.yml's: labs started here skip it.
    for (let net = pool.network + size; net + size <= end; net += size) {
      if (!used.some((u) => net < u.network + 2 ** (32 - u.prefix) && u.network < net + size)) return `${intToIp(net)}/${prefix}`;
    }
    throw new ContainerRuntimeError(`no free /${prefix} left in ${CONTAINER_SUBNETS} on the container engine`);
  }

  /** Writes the node's agent configuration, creates and starts its container, waits until the node is healthy. */
  private async startNode(n: NodeLayout, deadline: number): Promise<void> {
    const l = this.layout!;
    const spec = this.topology.nodes.find((s) => s.name === n.node) as NodeSpec;
    const cfg = agentConfigFor(this.topology, spec, {
      addresses: layoutAddresses(l),
      prefixLength: parseIpv4Cidr(l.network.subnet).prefix,
      stateDir: this.stateDir,
      // Each container is its own network namespace, run as root: every service on its
      // well-known port, so no node needs another's port table.
      wellKnownPorts: true,
      running: [],
      clock: this.opts.clock,
    });
    mkdirSync(cfg.stateDir, { recursive: true });
    rmSync(cfg.socket, { force: true });
    writeFileSync(agentConfigPath(this.stateDir, n.node), JSON.stringify(cfg, null, 1), { mode: 0o600 });
    await this.engine.createContainer({
      name: n.container,
      image: l.image,
      hostname: n.node,
      command: agentCommand(this.stateDir, n.node),
      labels: { ...nodeLabels(l, n), ...this.labels },
      network: l.network.name,
      address: n.address,
      volumes: { [l.volume.name]: l.volume.mountPoint },
      healthcheck: { test: agentHealthcheck(this.stateDir, n.node), ...HEALTH },
      // The agent ends when its standard input closes; the engine keeps it open while the container runs.
      openStdin: true,
    });
    await this.engine.start(n.container);
    const handle = new RemoteNodeHandle(n.node, n.kind, cfg.socket, n.address);
    // The agent's socket is asked often (cheap); the engine once a second (an inspect per
    // container is work for the engine, with 20 nodes starting on a small machine).
    for (let i = 0; ; i++) {
      if (existsSync(cfg.socket) && (await handle.healthy().catch(() => false))) break;
      if (i % 10 === 0 || Date.now() > deadline) {
        const s = await this.engine.state(n.container);
        if (!s.running) throw new ContainerRuntimeError(await this.exitReport(n));
        if (Date.now() > deadline) throw new ContainerRuntimeError(`${n.node}: not healthy in time (container ${n.container} ${s.status}, node ${handle.info().state})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.nodes.add(handle);
    this.nodes.notePorts(handle, n.address);
  }

  /** A container that stopped on its own: its status and last lines, for the error the user sees. */
  private async exitReport(n: NodeLayout): Promise<string> {
    const s = await this.engine.state(n.container);
    const tail = (await this.engine.logs(n.container, 6).catch(() => '')).trim();
    return `${n.node}: container ${n.container} ${s.status} (exit ${s.exitCode}) before its node was healthy${tail ? `: ${tail.split('\n').join(' | ')}` : ''}`;
  }

  async stop(): Promise<void> {
    const handles = this.nodes.release();
    // Each agent stops its node cleanly (flash metadata written) and exits; its container ends with it.
    await Promise.allSettled(handles.map((h) => h.stop()));
    for (const h of handles) h.close();
    if (this.made) {
      this.made = false;
      await removeContainerLeftovers(this.stateDir, this.engine, this.topology.name);
      process.off('exit', this.onExit);
    }
  }
}

export function createContainerRuntime(topology: Topology, opts: RuntimeOptions): ContainerRuntime {
  return new ContainerRuntime(topology, opts);
}
