/**
 * The programmatic lab: what the CLI, the control API and the scenario runner drive.
 *
 * Stable API (keep it so; the scenario runner is written against it):
 *
 *   const lab = await Lab.start(topology, opts?)
 *       topology: a file path, a topology object as the YAML would hold it, or a resolved
 *       Topology (from loadTopology). Resolves once every node is healthy.
 *       opts: LabStartOptions (state folder, clock, ports, reset).
 *   lab.name                      the topology's name
 *   lab.topology                  the resolved Topology (nodes with addresses)
 *   lab.clock                     the lab's LabClock (advance(ms), set(date), now())
 *   lab.stateDir                  where flash, server roots and the host key live
 *   lab.runtime                   which runtime runs the nodes (embedded, netns, container)
 *   lab.inspect(): NodeInfo[]     name, kind, state, address, ports by service
 *   lab.handle(name): NodeHandle  a node through the node protocol (every runtime)
 *   lab.exec(node, lines)         runs CLI lines on a router; resolves to its output
 *   await lab.setFaults(node, f)  replaces a server's faults (camelCase or kebab-case keys)
 *   await lab.logs(node)          a server's log entries; a router's console and logging buffer
 *   lab.login(node)               the router's SSH login from the topology
 *   lab.servicePort(addr, svc)    the port a service really listens on
 *   await lab.clockSettled()      every node follows the lab clock's last move
 *   await lab.stop()              stops every node; the state folder stays for the next start
 *
 * Embedded runtime only (tests that look inside a node): lab.router(name) is the virtual
 * router, lab.server(name) the FtpServer / TftpServer / DnsServer object.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Router } from '../router/Router.ts';
import type { DnsServer } from '../servers/dns/DnsServer.ts';
import type { FtpServer } from '../servers/ftp/FtpServer.ts';
import type { TftpServer } from '../servers/tftp/TftpServer.ts';
import { LabClock } from './clock/LabClock.ts';
import { labStateDir } from './home.ts';
import { pidAlive } from './control/client.ts';
import { ServerNode } from './kinds/ServerNode.ts';
import { RouterNode, type RouterSpec } from './kinds/router.ts';
import { EmbeddedRuntime } from './runtime/embedded.ts';
import { createRuntime } from './runtime/index.ts';
import type { LabNode, LabRuntime, NodeHandle, NodeInfo, RuntimeName, TranscriptReply } from './runtime/types.ts';
import { loadTopology, resolveTopology } from './topology/load.ts';
import type { Topology } from './topology/schema.ts';

export interface LabStartOptions {
  /** The lab's state folder; default `<home>/<lab name>`. */
  stateDir?: string;
  /** Parent of per-lab state folders; default `$FLASHLAB_HOME`, else `./.flashlab`. */
  home?: string;
  /** Try well-known ports first (default true). */
  wellKnownPorts?: boolean;
  /** Overrides the topology's `clock:`. */
  clock?: { start?: Date; frozen?: boolean };
  /** Wipe the state folder first (fresh flash, fresh server roots). */
  reset?: boolean;
  healthTimeoutMs?: number;
  /** Which runtime runs the nodes (default embedded: every node in this process). */
  runtime?: RuntimeName;
  /** netns: the subnet of the nodes' namespaces (the topology's addresses move into it). */
  runtimeSubnet?: string;
  /** container: the image each node runs (`up --image`; default FLASHLAB_IMAGE, else localhost/flashlab:latest). */
  runtimeImage?: string;
  log?: (line: string) => void;
}

/** The lab log: kept in a bounded ring for scenarios and tests, and passed on to the caller's log. */
class LabEvents {
  private static readonly MAX = 1000;
  private readonly ring: string[] = [];
  constructor(private readonly sink?: (line: string) => void) {}
  add(line: string): void {
    this.ring.push(line);
    if (this.ring.length > LabEvents.MAX) this.ring.splice(0, this.ring.length - LabEvents.MAX);
    this.sink?.(line);
  }
  lines(): string[] {
    return [...this.ring];
  }
}

/**
 * State that `--reset` keeps: SSH host keys (clients' known_hosts stay valid), the lab CA
 * (tools given its root keep trusting the lab) and the lab's logs (`lab.log`, `lab.log.1`…:
 * the background lab is writing to one, and its errors matter).
 */
const KEPT_ON_RESET = new Set(['keys', 'ca']);
const KEPT_LOG = /^lab\.log(\.\d+)?$/;

/** `up --reset`: fresh flash, NVRAM and server roots; host keys and logs kept. */
function wipeState(stateDir: string): void {
  if (!existsSync(stateDir)) return;
  for (const name of readdirSync(stateDir)) {
    if (!KEPT_ON_RESET.has(name) && !KEPT_LOG.test(name)) rmSync(join(stateDir, name), { recursive: true, force: true });
  }
}

/** Where labs keep their state unless told otherwise. */
export { labHome, labStateDir } from './home.ts';

/** Labs running in this process, by state folder (a second start on one folder would corrupt it). */
const running = new Set<string>();

export class Lab {
  private stopped = false;

  private constructor(
    readonly topology: Topology,
    readonly clock: LabClock,
    readonly stateDir: string,
    private readonly nodes: LabRuntime,
    private readonly events: LabEvents,
  ) {}

  /** Which runtime runs this lab's nodes. */
  get runtime(): RuntimeName {
    return this.nodes.name;
  }

  static async start(topology: string | Topology | Record<string, unknown>, opts: LabStartOptions = {}): Promise<Lab> {
    const topo = toTopology(topology);
    const stateDir = labStateDir(topo.name, opts);
    // Checked before any reset: wiping the state of a running lab would pull flash from under it.
    lock(stateDir, topo.name, () => {
      if (opts.reset) wipeState(stateDir);
      mkdirSync(stateDir, { recursive: true });
    });
    const c = { ...topo.clock, ...opts.clock };
    const clock = new LabClock({ start: c.start, frozen: c.frozen });
    const events = new LabEvents(opts.log);
    let runtime: LabRuntime | undefined;
    try {
      runtime = await createRuntime(opts.runtime ?? 'embedded', topo, {
        stateDir,
        clock,
        wellKnownPorts: opts.wellKnownPorts,
        healthTimeoutMs: opts.healthTimeoutMs,
        subnet: opts.runtimeSubnet,
        image: opts.runtimeImage,
        log: (line) => events.add(line),
      });
      await runtime.start();
    } catch (e) {
      await runtime?.stop().catch(() => undefined);
      clock.dispose();
      unlock(stateDir);
      throw e;
    }
    return new Lab(topo, clock, stateDir, runtime, events);
  }

  /** The lab's own log (seal refusals, warnings), newest last; bounded. */
  labLog(): string[] {
    return this.events.lines();
  }

  get name(): string {
    return this.topology.name;
  }

  /**
   * What went wrong while starting that the user must hear (damaged flash metadata or
   * contents, a well-known port another process holds), one line each; `up` prints them.
   */
  get warnings(): readonly string[] {
    return this.nodes.warnings;
  }

  inspect(): NodeInfo[] {
    return this.nodes.handles().map((h) => h.info());
  }

  /** A node of any runtime, through the node protocol's calls. */
  handle(name: string): NodeHandle {
    const h = this.nodes.handle(name);
    if (!h) throw new Error(`no node "${name}" in lab ${this.name}; nodes: ${this.nodes.handles().map((n) => n.name).join(', ')}`);
    return h;
  }

  /** The node object itself: embedded runtime only (tests looking inside a router or server). */
  private node(name: string): LabNode {
    this.handle(name);
    if (!(this.nodes instanceof EmbeddedRuntime)) throw new Error(`node "${name}" runs in the ${this.runtime} runtime: no in-process object; use lab.handle("${name}")`);
    return this.nodes.nodes.get(name)!;
  }

  router(name: string): Router {
    const n = this.node(name);
    if (!(n instanceof RouterNode)) throw new Error(`node "${name}" is a ${n.kind} node, not a router`);
    return n.router;
  }

  server(name: string): FtpServer | TftpServer | DnsServer {
    const n = this.node(name);
    if (!(n instanceof ServerNode)) throw new Error(`node "${name}" is a ${n.kind} node, not a server`);
    if (!n.server) throw new Error(`server "${name}" is not running`);
    return n.server as FtpServer | TftpServer | DnsServer;
  }

  async exec(node: string, lines: string | string[]): Promise<string> {
    return this.handle(node).exec(typeof lines === 'string' ? [lines] : lines);
  }

  setFaults(node: string, faults: Record<string, unknown>): Promise<void> {
    return this.handle(node).setFaults(faults);
  }

  logs(node: string): Promise<unknown[]> {
    return this.handle(node).logs();
  }

  /** A terminal transcript of `lines` on a router, logged in as a topology user (`flashlab exec`). */
  transcript(node: string, lines: string[], o: { user?: string; answers?: string[]; yes?: boolean } = {}): Promise<TranscriptReply> {
    return this.handle(node).transcript(lines, o);
  }

  /** Resolves once every node follows the lab clock's latest move. */
  clockSettled(): Promise<void> {
    return this.nodes.clockSettled();
  }

  /** The SSH login the topology gives a router (the first user; lab default admin/admin). */
  login(node: string): { user: string; password: string } {
    const spec = this.topology.nodes.find((n) => n.name === node);
    if (!spec) this.handle(node);
    if (spec!.kind !== 'router') throw new Error(`node "${node}" is a ${spec!.kind} node, not a router`);
    const u = (spec as RouterSpec).users?.[0];
    return u ? { user: u.name, password: u.password } : { user: 'admin', password: 'admin' };
  }

  servicePort(address: string, service: string): number {
    return this.nodes.servicePort(address, service);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.nodes.stop();
    } finally {
      this.clock.dispose();
      unlock(this.stateDir);
    }
  }
}

function toTopology(t: string | Topology | Record<string, unknown>): Topology {
  if (typeof t === 'string') return loadTopology(t);
  if (Array.isArray((t as { nodes?: unknown }).nodes)) return t as unknown as Topology;
  return resolveTopology(t);
}

// ---- one lab per state folder -------------------------------------------------------------

/** Claims the state folder for this process; `prepare` runs once no other lab holds it. */
function lock(stateDir: string, name: string, prepare: () => void): void {
  const file = join(stateDir, 'lab.lock');
  if (running.has(stateDir)) throw new Error(`lab ${name} is already running in this process (${stateDir})`);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && pidAlive(pid)) {
      throw new Error(`lab ${name} is already running (pid ${pid}, state ${stateDir}); run "flashlab down" first`);
    }
  }
  prepare();
  writeFileSync(file, String(process.pid));
  running.add(stateDir);
}

function unlock(stateDir: string): void {
  running.delete(stateDir);
  try {
    unlinkSync(join(stateDir, 'lab.lock'));
  } catch {
    // already gone
  }
}
