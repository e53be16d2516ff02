/**
 * `flashlab compose [topology]`: the lab's container layout as a compose file, one service
 * per node. The repository's docker-compose.yml is this output for the default lab (a test
 * compares them), so it never drifts from what `up --runtime container` makes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Document, isScalar, isSeq, visit } from 'yaml';
import type { Topology } from '../../topology/schema.ts';
import { HEALTH, agentCommand, agentConfigPath, agentHealthcheck } from './agent.ts';
import { IMAGE_REPO, labLayout, layoutAddresses, nodeLabels, parseIpv4Cidr, type LabLayout, type LayoutOptions } from './layout.ts';
import { LabClock } from '../../clock/LabClock.ts';
import { agentConfigFor, prepareAgentState } from '../netns.ts';

/** The repository root (what the Containerfile copies into the image at IMAGE_REPO). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where a topology from outside the repository is mounted in each container. */
const MOUNTED_TOPOLOGY = '/etc/flashlab/topology.yml';
/** The one-shot service that prepares the shared state. */
const PREPARE = 'prepare';

export interface ComposeOptions extends LayoutOptions {
  /** The folder the compose file will be written to (relative paths in it start there). */
  outDir: string;
}

const seconds = (ms: number) => `${ms / 1000}s`;
/** Relative paths in a compose file start with `./` (bare names would be volume names). */
const dotted = (p: string) => (p.startsWith('.') ? p : `./${p}`);

export function composeFile(t: Topology, o: ComposeOptions): string {
  if (!t.file) throw new Error('compose needs a topology file (its path goes into the compose file)');
  const l = labLayout(t, o);
  const inRepo = !relative(REPO_ROOT, t.file).startsWith('..') && !isAbsolute(relative(REPO_ROOT, t.file));
  const topology = inRepo ? `${IMAGE_REPO}/${relative(REPO_ROOT, t.file).split('\\').join('/')}` : MOUNTED_TOPOLOGY;
  const context = dotted(relative(o.outDir, REPO_ROOT) || '.');

  const state = l.volume.mountPoint;
  const mounts = [`state:${state}`, ...(inRepo ? [] : [`${dotted(relative(o.outDir, t.file))}:${MOUNTED_TOPOLOGY}:ro`])];
  // Every service names the same image and build: whichever compose builds first, the rest reuse.
  const image = { image: l.image, build: { context, dockerfile: 'Containerfile' } };
  const services: Record<string, unknown> = {
    // Once, before any node: keys, seed images, host keys and each node's agent configuration
    // in the shared state (what `up --runtime container` does in the lab process).
    [PREPARE]: {
      ...image,
      container_name: `${l.network.name}-${PREPARE}`,
      command: ['compose', topology, '--prepare-state', state, '--subnet', l.network.subnet],
      labels: l.labels,
      network_mode: 'none',
      volumes: mounts,
    },
  };
  for (const n of l.nodes) {
    services[n.node] = {
      ...image,
      container_name: n.container,
      hostname: n.node,
      command: agentCommand(state, n.node),
      // The agent ends when its standard input closes: keep it open.
      stdin_open: true,
      labels: nodeLabels(l, n),
      networks: { lab: { ipv4_address: n.address } },
      volumes: [`state:${state}`],
      healthcheck: { test: ['CMD', ...agentHealthcheck(state, n.node)], interval: seconds(HEALTH.intervalMs), timeout: seconds(HEALTH.timeoutMs), retries: HEALTH.retries },
      // Only the prepared state: every node takes its well-known ports in its own container, so
      // all start at once (as under `up --runtime container`). Not on health: Podman without
      // systemd never runs health checks, and a condition on them would wait forever.
      depends_on: { [PREPARE]: { condition: 'service_completed_successfully' } },
    };
  }
  const doc = {
    services,
    networks: { lab: { name: l.network.name, labels: l.labels, ipam: { config: [{ subnet: l.network.subnet }] } } },
    volumes: { state: { name: l.volume.name, labels: l.labels } },
  };
  const source = inRepo ? relative(REPO_ROOT, t.file) : t.file;
  const head = [
    `# Lab "${t.name}" with one container per node, written by \`flashlab compose ${source}\`: regenerate, do not edit.`,
    `# Nodes keep their host offsets on the lab network ${l.network.subnet} (topology: ${t.subnet}); the lab's`,
    `# state (content store, flash, keys) is the shared volume ${l.volume.name}. The image is the repository's`,
    '# Containerfile: run `npm ci` first, the build copies the installed node_modules.',
    '#',
    '#   docker compose up -d --build        (or docker-compose, or podman-compose)',
    '#   docker compose down -v              (containers, network and volume)',
    '',
  ].join('\n');
  const yaml = new Document(doc, { aliasDuplicateObjects: false });
  // Argument lists on one line each ([node, bin/flashlab.mjs, …]), as people write them.
  visit(yaml, { Seq: (_, seq) => void (isSeq(seq) && seq.items.every((i) => isScalar(i)) && seq.items.length > 1 && (seq.flow = true)) });
  return head + yaml.toString({ lineWidth: 0 });
}

/**
 * The compose file's `prepare` service (`flashlab compose <topology> --prepare-state <dir>`):
 * the shared state every agent reads, made once, and each node's agent configuration. With
 * no lab process to post clock moves, each node's clock runs on from the time written here.
 */
export async function prepareComposeState(t: Topology, stateDir: string, subnet: string, log?: (line: string) => void): Promise<LabLayout> {
  const l = labLayout(t, { subnet, stateMount: stateDir });
  const clock = new LabClock({ start: t.clock?.start, frozen: t.clock?.frozen });
  try {
    await prepareAgentState(t, stateDir, clock.now(), log);
    for (const n of l.nodes) {
      const spec = t.nodes.find((s) => s.name === n.node)!;
      // Every node is root in its own container: services on well-known ports, no table needed.
      const cfg = agentConfigFor(t, spec, { addresses: layoutAddresses(l), prefixLength: parseIpv4Cidr(subnet).prefix, stateDir, wellKnownPorts: true, running: [], clock });
      mkdirSync(cfg.stateDir, { recursive: true });
      writeFileSync(agentConfigPath(stateDir, n.node), JSON.stringify(cfg, null, 1), { mode: 0o600 });
    }
  } finally {
    clock.dispose();
  }
  return l;
}
