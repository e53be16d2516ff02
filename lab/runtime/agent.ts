/**
 * The node agent, `flashlab node --config <file>`: one process running exactly one router
 * or server of a lab, serving the node protocol (`protocol.ts`) on a Unix socket.
 *
 * Everything it needs from the lab comes as files, never as objects: its configuration
 * (its spec from the topology, the address it binds, the lab's name and port table, the
 * lab clock's reading when it was written), the lab's content store and signing keys
 * (shared folders, written by rename so no reader sees half a file), its own state folder.
 * The lab process owns the clock: it posts every move (`POST /clock`), stepping every
 * agent through the due times in order, and this clock follows, firing what falls due.
 * The agent ends when the lab asks (`POST /stop`) or when its standard input closes (the
 * lab process is gone).
 *
 * It prints `listening` once the socket answers and `started` once the node runs; a
 * failure goes to standard error and the exit status is 1.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import { LabClock } from '../clock/LabClock.ts';
import { loadKind } from '../kinds/modules.ts';
import type { KindContext } from '../kinds/registry.ts';
import { SigningAuthority } from '../signing/SigningAuthority.ts';
import type { NodeSpec } from '../topology/schema.ts';
import { ImageFactory } from './images.ts';
import { LocalNodeHandle } from './local.ts';
import { NodeProtocolServer } from './protocol.ts';
import { ServiceTable } from './services.ts';
import type { NodeState } from './types.ts';

/** What the lab writes for one agent (`<state>/run/<node>.json`). */
export interface AgentConfig {
  lab: KindContext['lab'];
  /** The node's spec as the topology resolved it (addresses already the runtime's). */
  spec: NodeSpec;
  /** The address the node binds inside its namespace. */
  address: string;
  wellKnownPorts: boolean;
  /** A router's SSH host key file (made by the lab, kept under `keys/`). */
  hostKeyFile?: string;
  /** Every node of the lab and its address (the DNS table, the seal's lab network). */
  addresses: { name: string; address: string }[];
  /** Where each lab service really listens (routers dial the well-known port through it). */
  services: { address: string; service: string; port: number }[];
  links: string[];
  external: string[];
  /** The lab clock when the configuration was written; the lab posts every move after. */
  clock: { now: number; frozen: boolean };
  /** The Unix socket the agent serves the node protocol on. */
  socket: string;
  /** The node's own state folder. */
  stateDir: string;
}

/** How often the agent looks for a state change to report (booting → running, rommon…). */
const STATE_POLL_MS = 100;

export async function runAgent(configFile: string): Promise<void> {
  const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig;
  const clock = new LabClock({ start: new Date(cfg.clock.now), frozen: cfg.clock.frozen });
  const store = new ContentStore(join(cfg.lab.stateDir, 'store'));
  const authority = new SigningAuthority(cfg.lab.stateDir);
  const images = new ImageFactory(join(cfg.lab.stateDir, 'images'), store, authority);
  const services = new ServiceTable();
  for (const s of cfg.services) services.set(s.address, s.service, s.port);

  let protocol: NodeProtocolServer | undefined;
  const pending: { type: 'log' | 'warn'; line: string }[] = [];
  const report = (type: 'log' | 'warn', line: string) => (protocol ? protocol.push({ type, line }) : pending.push({ type, line }));
  const ctx: KindContext = {
    lab: cfg.lab,
    clock,
    store,
    stateDir: cfg.stateDir,
    address: cfg.address,
    wellKnownPorts: cfg.wellKnownPorts,
    // ssh2 (the host key's format) only where there is one: a router.
    hostKey: cfg.hostKeyFile ? (await import('../../router/access/hostKey.ts')).loadOrCreateHostKey(cfg.hostKeyFile) : '',
    services,
    images,
    authority,
    addresses: () => cfg.addresses,
    // Only routers dial out: a server's agent never loads the clients.
    transfer: cfg.spec.kind === 'router' ? (await import('./transferClients.ts')).transferClients() : undefined,
    links: cfg.links,
    external: cfg.external,
    log: (line) => report('log', line),
    warn: (line) => report('warn', line),
  };
  const node = (await loadKind(cfg.spec.kind)).create(cfg.spec as never, ctx);
  const handle = new LocalNodeHandle(node);

  let stopping = false;
  let watch: NodeJS.Timeout | undefined;
  const stop = async (code = 0) => {
    if (stopping) return;
    stopping = true;
    if (watch) clearInterval(watch);
    await node.stop().catch(() => undefined);
    await node.destroy().catch(() => undefined);
    await protocol?.close().catch(() => undefined);
    clock.dispose();
    rmSync(cfg.socket, { force: true });
    process.exit(code);
  };

  protocol = new NodeProtocolServer(handle, { clock, stop: () => stop(0) });
  for (const p of pending.splice(0)) protocol.push(p);
  await protocol.listen(cfg.socket);
  // The lab holds our standard input: when it closes, the lab process is gone, and so are we.
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('error', () => void stop(0));
  process.stdin.resume();
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
  process.stdout.write('listening\n');

  try {
    await node.create();
    images.releasePins();
    for (const p of (await node.stateProblems?.()) ?? []) report('warn', p);
    await node.start();
  } catch (e) {
    process.stderr.write(`${cfg.spec.name}: ${(e as Error).message}\n`);
    await stop(1);
    return;
  }
  let last: NodeState = node.info().state;
  protocol.push({ type: 'state', state: last });
  watch = setInterval(() => {
    const now = node.info().state;
    if (now !== last) protocol!.push({ type: 'state', state: (last = now) });
  }, STATE_POLL_MS);
  process.stdout.write('started\n');
}
