/**
 * The netns runtime (Linux, root): every node is a node agent (`flashlab node`) in a
 * network namespace of its own, joined by a veth pair to a bridge the lab makes on the host.
 * The topology's addresses keep their host offsets inside the runtime's subnet (default
 * 10.213.0.0/24): r1 at 127.77.0.11 runs at 10.213.0.11. The bridge holds the subnet's .1,
 * so this process (the scenario runner, `flashlab console`) reaches every node; the
 * namespaces have no default route, so nothing leaves them but to the lab's own subnet, and
 * the routers' egress seal still refuses anything outside the lab.
 *
 * Names carry a per-lab id (`fl-<id>-<node>` namespaces, bridge `flb<id>`, host veths
 * `fl<id>h<n>`), and what is made is recorded in the state folder first (`netns.json`), so
 * `down`, `down --force` and the next `up` remove all of it even after a crash.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadOrCreateHostKey } from '../../router/access/hostKey.ts';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import { LabCa } from '../ca/LabCa.ts';
import type { LabClock } from '../clock/LabClock.ts';
import { pidAlive } from '../control/client.ts';
import { kindAdapter } from '../kinds/registry.ts';
import { parseKeyName, SigningAuthority } from '../signing/SigningAuthority.ts';
import type { ImageSeed, NodeSpec, Topology } from '../topology/schema.ts';
import type { AgentConfig } from './agent.ts';
import { agentBundle } from './agentBundle.ts';
import { ImageFactory, signingKeysOf } from './images.ts';
import type { RuntimeOptions } from './index.ts';
import { readNetnsRecord, removeNetnsRecord, writeNetnsRecord, type NetnsRecord } from './netnsRecord.ts';
import { RemoteNodeHandle } from './protocol.ts';
import { AgentLabRuntime } from './AgentHandles.ts';
import type { NodeHandle } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(here, '../../bin/flashlab.mjs');
export const DEFAULT_NETNS_SUBNET = '10.213.0.0/24';
/** How long an agent may take to load and start its node. */
const AGENT_START_MS = 120_000;

export class NetnsError extends Error {}

// ---- addresses ----------------------------------------------------------------------------

const ipToInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

interface Cidr {
  network: number;
  prefix: number;
}

function parseCidr(text: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) throw new NetnsError(`"${text}" is not an IPv4 subnet like 10.213.0.0/24`);
  const prefix = Number(m[5]);
  if (prefix < 8 || prefix > 29) throw new NetnsError(`${text}: the namespaces' subnet needs a prefix from /8 to /29`);
  const size = 2 ** (32 - prefix);
  const addr = ipToInt(m.slice(1, 5).join('.'));
  return { network: addr - (addr % size), prefix };
}

const inCidr = (ip: number, c: Cidr) => ip >= c.network && ip < c.network + 2 ** (32 - c.prefix);
const overlaps = (a: Cidr, b: Cidr) => inCidr(a.network, b) || inCidr(b.network, a);

/** Private ranges (RFC 1918): a namespace subnet must sit in one, never on a public network. */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(parseCidr);

/**
 * The namespaces' subnet, checked: private, and clear of every subnet the host's interfaces
 * use (the host's own networks, podman's, another netns lab's bridge).
 */
export function checkNetnsSubnet(text: string): Cidr {
  const c = parseCidr(text);
  if (!PRIVATE.some((p) => inCidr(c.network, p) && inCidr(c.network + 2 ** (32 - c.prefix) - 1, p))) {
    throw new NetnsError(`${text} is not a private subnet (10/8, 172.16/12, 192.168/16): lab namespaces never take public addresses`);
  }
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const host = parseCidr(`${a.address}/${Math.max(8, Math.min(29, Number(a.cidr?.split('/')[1] ?? 32)))}`);
      if (overlaps(c, host)) throw new NetnsError(`${text} overlaps ${a.cidr} on the host's interface ${name}: choose another subnet (--subnet 10.213.N.0/24)`);
    }
  }
  return c;
}

/** Each node's address in the namespaces' subnet: the same host offset as in the topology. */
export function namespaceAddresses(t: Topology, c: Cidr): Map<string, string> {
  const topo = parseCidr(t.subnet);
  const size = 2 ** (32 - c.prefix);
  const out = new Map<string, string>();
  for (const n of t.nodes) {
    const off = ipToInt(n.address) - topo.network;
    if (off <= 1 || off >= size - 1) throw new NetnsError(`${n.name} (${n.address}) has no place in ${intToIp(c.network)}/${c.prefix}: use a subnet at least as large as the topology's ${t.subnet}`);
    out.set(n.name, intToIp(c.network + off));
  }
  return out;
}

/** Matches an address as a whole (127.77.0.2 but not inside 127.77.0.21). */
const addressPattern = (address: string) => new RegExp(`(?<![\\d.])${address.replace(/\./g, '\\.')}(?![\\d])`, 'g');

/** The node's spec with every topology address (startup-config, records) moved to its namespace address. */
export function moveSpec(spec: NodeSpec, t: Topology, moved: Map<string, string>): NodeSpec {
  let text = JSON.stringify(spec);
  for (const n of t.nodes) text = text.replace(addressPattern(n.address), moved.get(n.name)!);
  return JSON.parse(text) as NodeSpec;
}

// ---- iproute2 -----------------------------------------------------------------------------

function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('ip', args, { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new NetnsError(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolvePromise(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Many commands in one `ip` process (`ip -batch -`): 20 nodes' links in milliseconds. */
const ipBatch = (lines: string[], ns?: string) => (lines.length ? ip([...(ns ? ['-n', ns] : []), '-batch', '-'], lines.join('\n') + '\n') : Promise.resolve(''));

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new NetnsError('the netns runtime needs root (it makes network namespaces, veth pairs and a bridge): run as root, or use --runtime embedded');
  }
  if (process.platform !== 'linux') throw new NetnsError('the netns runtime needs Linux network namespaces: use --runtime embedded');
}

/** The id in every name a lab makes: from its state folder, so one lab's leftovers are found again. */
export function labNetId(stateDir: string): string {
  return createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 6);
}

/** Is `pid` a flashlab node agent? (A recycled pid is never killed.) */
function isAgent(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((a) => /flashlab/.test(a)) && args.includes('node') && args.includes('--config');
  } catch {
    return false;
  }
}

/**
 * Removes what a netns lab made (from its record, and anything else with its id): agents,
 * namespaces, veths, the bridge. Returns one line per kind of thing removed.
 */
export async function removeNetnsLeftovers(stateDir: string): Promise<string[]> {
  const rec = readNetnsRecord(stateDir);
  const id = rec?.id ?? labNetId(stateDir);
  const done: string[] = [];
  const agents = Object.values(rec?.agents ?? {}).filter((p) => pidAlive(p) && isAgent(p));
  for (const p of agents) process.kill(p, 'SIGKILL');
  if (agents.length) done.push(`ended ${agents.length} node agent(s) (${agents.join(', ')})`);
  const namespaces = new Set(rec?.namespaces ?? []);
  const listed = await ip(['netns', 'list']).catch(() => '');
  for (const line of listed.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(`fl-${id}-`)) namespaces.add(name);
  }
  const present = new Set(listed.split('\n').map((l) => l.split(' ')[0]));
  const gone = [...namespaces].filter((n) => present.has(n));
  await ipBatch(gone.map((n) => `netns del ${n}`)).catch(() => undefined);
  if (gone.length) done.push(`removed ${gone.length} network namespace(s)`);
  const links = (await ip(['-o', 'link', 'show']).catch(() => ''))
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n === `flb${id}` || n.startsWith(`fl${id}h`));
  await ipBatch(links.map((l) => `link del ${l}`)).catch(() => undefined);
  if (links.length) done.push(`removed ${links.length} link(s) (${links.join(', ')})`);
  removeNetnsRecord(stateDir);
  return done;
}

// ---- the runtime --------------------------------------------------------------------------


/** A router's SSH host key file in the lab's state (made once, kept by `up --reset`). */
export const hostKeyFile = (stateDir: string, node: string): string => join(stateDir, 'keys', node, 'ssh_host_ed25519_key');

/**
 * What agents share through the state folder is made by the lab, once, before any agent
 * runs: signing keys (two agents making a key at once would sign with different keys), seed
 * image files, the lab CA, host keys; and temp files of a killed lab's writes go.
 */
export async function prepareAgentState(t: Topology, stateDir: string, now: Date, log?: (line: string) => void): Promise<void> {
  mkdirSync(join(stateDir, 'run'), { recursive: true });
  const store = new ContentStore(join(stateDir, 'store'));
  const tmp = await store.cleanTemporaries();
  if (tmp.files) log?.(`removed ${tmp.files} temporary file(s) of interrupted writes (${tmp.bytes} bytes)`);
  const authority = new SigningAuthority(stateDir);
  await Promise.all(signingKeysOf(t).map((k) => authority.signer(parseKeyName(k))));
  const images = new ImageFactory(join(stateDir, 'images'), store, authority);
  await Promise.all(t.nodes.flatMap((n) => ((n as { images?: ImageSeed[] }).images ?? []).map((img) => images.file(img))));
  if (t.nodes.some((n) => n.kind === 'ida')) LabCa.open(join(stateDir, 'ca'), now);
  for (const n of t.nodes) if (n.kind === 'router') loadOrCreateHostKey(hostKeyFile(stateDir, n.name));
}

/**
 * One agent's configuration (`<state>/run/<node>.json`): its spec with the topology's
 * addresses moved to the runtime's, the lab's name table, where the nodes already running
 * listen, the clock's reading, its socket and state folder (absolute paths in the state).
 */
export function agentConfigFor(
  t: Topology,
  spec: NodeSpec,
  o: { addresses: Map<string, string>; prefixLength: number; stateDir: string; wellKnownPorts: boolean; running: NodeHandle[]; clock: LabClock },
): AgentConfig {
  return {
    lab: { name: t.name, domain: t.domain, prefixLength: o.prefixLength, stateDir: resolve(o.stateDir) },
    spec: moveSpec(spec, t, o.addresses),
    address: o.addresses.get(spec.name)!,
    wellKnownPorts: o.wellKnownPorts,
    hostKeyFile: spec.kind === 'router' ? resolve(hostKeyFile(o.stateDir, spec.name)) : undefined,
    addresses: t.nodes.map((n) => ({ name: n.name, address: o.addresses.get(n.name)! })),
    services: o.running.flatMap((h) => Object.entries(h.info().ports).map(([service, port]) => ({ address: h.info().address, service, port }))),
    links: t.links.flatMap((l) => l.endpoints).filter((e) => e.split(':')[0] === spec.name).map((e) => e.slice(spec.name.length + 1)),
    external: [...t.external],
    clock: { now: o.clock.now().getTime(), frozen: o.clock.frozen },
    socket: resolve(join(o.stateDir, 'run', `${spec.name}.sock`)),
    stateDir: resolve(join(o.stateDir, 'nodes', spec.name)),
  };
}

interface Agent {
  node: string;
  child: ChildProcess;
  /** The agent's last lines on standard error (why it failed). */
  errors: string[];
}

export class NetnsRuntime extends AgentLabRuntime {
  readonly name = 'netns' as const;
  private readonly id: string;
  private readonly subnet: Cidr;
  private readonly addresses: Map<string, string>;
  private readonly agents = new Map<string, Agent>();
  private record?: NetnsRecord;
  /** Removes the namespaces and the bridge if this process exits without `stop()` (Ctrl-C in `flashlab run`). */
  private readonly onExit = () => this.removeNetworkNow();
  /** The agent's script and command word (`node --config` follows). */
  private agentCommand: string[] = [BIN, 'node'];

  constructor(
    topology: Topology,
    private readonly opts: RuntimeOptions,
  ) {
    super(topology, opts.log);
    requireRoot();
    this.subnet = checkNetnsSubnet(opts.subnet ?? DEFAULT_NETNS_SUBNET);
    this.addresses = namespaceAddresses(topology, this.subnet);
    this.id = labNetId(opts.stateDir);
  }

  private get stateDir(): string {
    return this.opts.stateDir;
  }

  private namespace(node: string): string {
    return `fl-${this.id}-${node}`;
  }

  async start(): Promise<void> {
    // A lab killed before its `down` left these behind: they go first.
    for (const line of await removeNetnsLeftovers(this.stateDir)) this.opts.log?.(`left by an earlier run: ${line}`);
    const [bundle] = await Promise.all([agentBundle(this.opts.log), this.prepareSharedState()]);
    this.agentCommand = bundle ? [bundle, 'node'] : [BIN, 'node'];
    await this.makeNetwork();
    const servers = this.topology.nodes.filter((n) => kindAdapter(n.kind).order === 'server');
    const routers = this.topology.nodes.filter((n) => kindAdapter(n.kind).order === 'router');
    const deadline = Date.now() + (this.opts.healthTimeoutMs ?? AGENT_START_MS);
    if (this.opts.wellKnownPorts === false) {
      // High ports: routers' tables need the ports the servers got, so servers come first.
      await this.startAgents(servers, deadline);
      await this.startAgents(routers, deadline);
    } else {
      // Root in a namespace of its own, each server takes its well-known port, which is what
      // routers dial without a table: every agent starts at once (loading one takes a second or two).
      await this.startAgents([...servers, ...routers], deadline);
    }
    for (const h of this.nodes.all()) this.nodes.notePorts(h);
    // The lab clock lives here.
    this.nodes.followClock(this.opts.clock);
  }

  private async prepareSharedState(): Promise<void> {
    await prepareAgentState(this.topology, this.stateDir, this.opts.clock.now(), this.opts.log);
  }

  private hostKeyFile(node: string): string {
    return hostKeyFile(this.stateDir, node);
  }

  private async makeNetwork(): Promise<void> {
    const nodes = this.topology.nodes;
    const bridge = `flb${this.id}`;
    const links = nodes.map((_, i) => `fl${this.id}h${i}`);
    this.record = {
      id: this.id,
      subnet: `${intToIp(this.subnet.network)}/${this.subnet.prefix}`,
      bridge,
      namespaces: nodes.map((n) => this.namespace(n.name)),
      links,
      agents: {},
    };
    // Recorded before anything exists: a crash from here on leaves nothing `down --force` misses.
    writeNetnsRecord(this.stateDir, this.record);
    process.once('exit', this.onExit);
    const gateway = intToIp(this.subnet.network + 1);
    await ipBatch([
      `link add ${bridge} type bridge`,
      `addr add ${gateway}/${this.subnet.prefix} dev ${bridge}`,
      `link set ${bridge} up`,
      ...nodes.flatMap((n, i) => [`netns add ${this.namespace(n.name)}`, `link add ${links[i]} type veth peer name eth0 netns ${this.namespace(n.name)}`, `link set ${links[i]} master ${bridge} up`]),
    ]);
    await Promise.all(
      nodes.map((n) => ipBatch([`addr add ${this.addresses.get(n.name)}/${this.subnet.prefix} dev eth0`, 'link set eth0 up', 'link set lo up'], this.namespace(n.name))),
    );
  }

  private agentConfig(spec: NodeSpec): AgentConfig {
    return agentConfigFor(this.topology, spec, {
      addresses: this.addresses,
      prefixLength: this.subnet.prefix,
      stateDir: this.stateDir,
      wellKnownPorts: this.opts.wellKnownPorts ?? true,
      running: this.nodes.all(),
      clock: this.opts.clock,
    });
  }

  /** Starts agents in parallel; every one is tried, and the first failures are reported together. */
  private async startAgents(nodes: NodeSpec[], deadline: number): Promise<void> {
    const results = await Promise.allSettled(nodes.map((n) => this.startAgent(n, deadline)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failed.length) throw new NetnsError(`nodes failed to start:\n  ${failed.join('\n  ')}`);
  }

  /** Starts one agent in its namespace and waits until its node runs and is healthy. */
  private async startAgent(spec: NodeSpec, deadline: number): Promise<void> {
    const cfg = this.agentConfig(spec);
    mkdirSync(cfg.stateDir, { recursive: true });
    const file = join(this.stateDir, 'run', `${spec.name}.json`);
    writeFileSync(file, JSON.stringify(cfg, null, 1), { mode: 0o600 });
    const child = spawn('ip', ['netns', 'exec', this.namespace(spec.name), process.execPath, ...this.agentCommand, '--config', resolve(file)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: process.env,
    });
    const agent: Agent = { node: spec.name, child, errors: [] };
    this.agents.set(spec.name, agent);
    if (child.pid) {
      this.record!.agents[spec.name] = child.pid;
      writeNetnsRecord(this.stateDir, this.record!);
    }
    createInterface({ input: child.stderr! }).on('line', (l) => {
      agent.errors.push(l);
      if (agent.errors.length > 20) agent.errors.shift();
      this.opts.log?.(`${spec.name}: ${l}`);
    });
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((ok, fail) => {
      const waitMs = Math.max(1000, deadline - Date.now());
      const t = setTimeout(() => fail(new NetnsError(`${spec.name}: the node agent did not start within ${Math.round(waitMs / 1000)} s`)), waitMs);
      lines.on('line', (l) => {
        if (l === 'started') {
          clearTimeout(t);
          ok();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        fail(new NetnsError(`${spec.name}: the node agent exited (${code}) before its node started${agent.errors.length ? `: ${agent.errors.slice(-3).join(' | ')}` : ''}`));
      });
    });
    const handle = new RemoteNodeHandle(spec.name, spec.kind, cfg.socket, cfg.address);
    this.nodes.add(handle);
    for (;;) {
      if (await handle.healthy().catch(() => false)) return;
      if (Date.now() > deadline) throw new NetnsError(`${spec.name} not healthy in time (state ${handle.info().state})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    const handles = new Map(this.nodes.release().map((h) => [h.name, h]));
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.allSettled(
      agents.map(async (a) => {
        const h = handles.get(a.node);
        if (a.child.exitCode === null) {
          const exited = new Promise<void>((r) => a.child.once('exit', () => r()));
          await h?.stop().catch(() => a.child.stdin?.end());
          const t = setTimeout(() => a.child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(t);
        }
        h?.close();
      }),
    );
    if (this.record) await removeNetnsLeftovers(this.stateDir);
    this.record = undefined;
    process.off('exit', this.onExit);
  }

  /** At exit nothing asynchronous runs: one synchronous `ip -batch` (-force: go on past what is gone). */
  private removeNetworkNow(): void {
    const r = this.record;
    if (!r) return;
    const lines = [...r.namespaces.map((n) => `netns del ${n}`), `link del ${r.bridge}`];
    try {
      execFileSync('ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'], timeout: 30_000 });
    } catch {
      // -force reports what was already gone; the rest is removed
    }
    removeNetnsRecord(this.stateDir);
  }
}

export function createNetnsRuntime(topology: Topology, opts: RuntimeOptions): NetnsRuntime {
  return new NetnsRuntime(topology, opts);
}
