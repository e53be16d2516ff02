/**
 * A lab's objects on the container engine: its network, its state volume, one container per
 * node. Makes them in order (network, volume, servers, routers), and removes them: exactly
 * the ones this lab made, found by the `flashlab.lab` label and the `flashlab-<lab>` prefix,
 * also after a crash (`flashlab down --force`).
 *
 * The state volume is a named volume bound to the lab's state folder on this machine: the
 * lab process (clock owner, key and image maker) and every agent see one folder, as under
 * the other runtimes, and the lab's flash and store outlive `down` there too. Removing the
 * volume removes the engine's record of it, never the folder.
 */
import { ContainerEngine, type ContainerState, type LabObjects } from './engine.ts';
import { HEALTH, agentCommand, agentHealthcheck } from './agent.ts';
import { CONTAINER_SUBNETS, labLayout, nodeLabels, parseIpv4Cidr, type LabLayout, type NodeLayout } from './layout.ts';
import { intToIp } from '../../topology/load.ts';
import type { Topology } from '../../topology/schema.ts';

export interface ContainerLabOptions {
  /** The lab's state folder on this machine (bound into every container). */
  stateDir: string;
  /** The lab network's subnet (default: the first free one in 10.214.0.0/16). */
  subnet?: string;
  image?: string;
  /** Where the topology file is inside the containers (it is bound in read-only). */
  topologyFile: string;
  engine?: ContainerEngine;
  log?: (line: string) => void;
}

/** Where the topology file is mounted in each container. */
const TOPOLOGY_IN_CONTAINER = '/etc/flashlab/topology.yml';

export class ContainerLab {
  readonly engine: ContainerEngine;
  layout!: LabLayout;

  constructor(
    readonly topology: Topology,
    private readonly opts: ContainerLabOptions,
  ) {
    this.engine = opts.engine ?? new ContainerEngine();
  }

  /** The engine answers and has the image; the lab has nothing left over from a crash. */
  async preflight(): Promise<void> {
    await this.engine.ping();
    const image = this.opts.image ?? labLayout(this.topology).image;
    if (!(await this.engine.imageExists(image))) {
      throw new Error(`no image ${image} on the container engine: build it first (podman build -t ${image} -f Containerfile . , or docker build)`);
    }
    const left = await this.engine.labObjects(this.topology.name);
    if (left.containers.length + left.networks.length + left.volumes.length > 0) {
      throw new Error(`lab ${this.topology.name} still has engine objects from an earlier run (${describe(left)}): "flashlab down --force --lab ${this.topology.name}" removes them`);
    }
  }

  /** A /24-or-larger subnet in 10.214.0.0/16 that no engine network uses yet. */
  async freeSubnet(): Promise<string> {
    const prefix = parseIpv4Cidr(this.topology.subnet).prefix;
    const pool = parseIpv4Cidr(CONTAINER_SUBNETS);
    const used = (await this.engine.networkSubnets()).map(parseIpv4Cidr);
    const size = 2 ** (32 - prefix);
    // Skip the pool's first block: the committed docker-compose.yml uses it.
    for (let net = pool.network + size; net + size <= pool.network + 2 ** (32 - pool.prefix); net += size) {
      const clash = used.some((u) => net < u.network + 2 ** (32 - u.prefix) && u.network < net + size);
      if (!clash) return `${intToIp(net)}/${prefix}`;
    }
    throw new Error(`no free /${prefix} left in ${CONTAINER_SUBNETS} on the container engine`);
  }

  /** Network, volume and every node's container (created, not started). */
  async create(): Promise<void> {
    const subnet = this.opts.subnet ?? (await this.freeSubnet());
    this.layout = labLayout(this.topology, { subnet, image: this.opts.image });
    const l = this.layout;
    await this.engine.createNetwork({ name: l.network.name, subnet: l.network.subnet, labels: l.labels });
    await this.engine.createVolume(l.volume.name, l.labels, { bindTo: this.opts.stateDir });
    await Promise.all(l.nodes.map((n) => this.createNode(n)));
  }

  private async createNode(n: NodeLayout): Promise<void> {
    const l = this.layout;
    await this.engine.createContainer({
      name: n.container,
      image: l.image,
      hostname: n.node,
      command: agentCommand(l, n, { topology: TOPOLOGY_IN_CONTAINER }),
      labels: nodeLabels(l, n),
      network: l.network.name,
      address: n.address,
      volumes: { [l.volume.name]: l.volume.mountPoint },
      binds: { [this.opts.topologyFile]: `${TOPOLOGY_IN_CONTAINER}:ro` },
      healthcheck: { test: agentHealthcheck(l, n), ...HEALTH },
      env: { FLASHLAB_HOME: l.volume.mountPoint.replace(/\/[^/]+$/, '') },
    });
  }

  /** Starts these nodes' containers (in parallel). */
  async start(nodes: NodeLayout[]): Promise<void> {
    await Promise.all(nodes.map((n) => this.engine.start(n.container)));
  }

  async state(n: NodeLayout): Promise<ContainerState> {
    return this.engine.state(n.container);
  }

  /** A container that stopped on its own: its last lines, for the error the user sees. */
  async exitReport(n: NodeLayout): Promise<string> {
    const s = await this.engine.state(n.container);
    const tail = (await this.engine.logs(n.container, 8).catch(() => '')).trim();
    return `${n.node}: container ${n.container} ${s.status} (exit ${s.exitCode})${tail ? `:\n    ${tail.split('\n').join('\n    ')}` : ''}`;
  }

  /** Stops every container (SIGTERM, the agents stop their node cleanly) and removes everything the lab made. */
  async destroy(): Promise<void> {
    await removeLabObjects(this.engine, this.topology.name, this.opts.log);
  }
}

/** Everything carrying the lab's label and name prefix: containers first, then networks and volumes. */
export async function removeLabObjects(engine: ContainerEngine, lab: string, log?: (line: string) => void): Promise<LabObjects> {
  const found = await engine.labObjects(lab);
  const prefix = `flashlab-${lab.toLowerCase()}`;
  const ours = (name: string) => name === prefix || name.startsWith(`${prefix}-`);
  const objects = { containers: found.containers.filter(ours), networks: found.networks.filter(ours), volumes: found.volumes.filter(ours) };
  await Promise.all(objects.containers.map(async (c) => {
    await engine.stop(c);
    await engine.removeContainer(c);
  }));
  await Promise.all(objects.networks.map((n) => engine.removeNetwork(n)));
  await Promise.all(objects.volumes.map((v) => engine.removeVolume(v)));
  if (objects.containers.length + objects.networks.length + objects.volumes.length) log?.(`removed from the container engine: ${describe(objects)}`);
  return objects;
}

export function describe(o: LabObjects): string {
  const part = (n: number, what: string) => (n ? [`${n} ${what}${n === 1 ? '' : 's'}`] : []);
  return [...part(o.containers.length, 'container'), ...part(o.networks.length, 'network'), ...part(o.volumes.length, 'volume')].join(', ') || 'nothing';
}
