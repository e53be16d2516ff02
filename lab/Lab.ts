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
 *   lab.inspect(): NodeInfo[]     name, kind, state, address, ports by service
 *   lab.router(name): Router      the virtual router (throws for other kinds)
 *   lab.server(name)              the FtpServer / TftpServer / DnsServer (logs, faults)
 *   lab.exec(node, lines)         runs CLI lines on a router; resolves to its output
 *   lab.setFaults(node, faults)   replaces a server's faults (camelCase or kebab-case keys)
 *   lab.logs(node)                a server's log entries; a router's console and logging buffer
 *   lab.login(node)               the router's SSH login from the topology
 *   lab.servicePort(addr, svc)    the port a service really listens on
 *   await lab.stop()              stops every node; the state folder stays for the next start
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TranscriptResult } from '../router/access/Transcript.ts';
import type { Router } from '../router/Router.ts';
import type { DnsServer } from '../servers/dns/DnsServer.ts';
import type { FtpServer } from '../servers/ftp/FtpServer.ts';
import type { TftpServer } from '../servers/tftp/TftpServer.ts';
import { LabClock } from './clock/LabClock.ts';
import { labStateDir } from './home.ts';
import { pidAlive } from './control/client.ts';
import { ServerNode } from './kinds/ServerNode.ts';
import { RouterNode } from './kinds/router.ts';
import { EmbeddedRuntime } from './runtime/embedded.ts';
import type { LabNode, NodeInfo } from './runtime/types.ts';
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
 * State that `--reset` keeps: SSH host keys (clients' known_hosts stay valid) and the lab's
 * logs (`lab.log`, `lab.log.1`…: the background lab is writing to one, and its errors matter).
 */
const KEPT_ON_RESET = new Set(['keys']);
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
    private readonly runtime: EmbeddedRuntime,
    private readonly events: LabEvents,
  ) {}

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
    const runtime = new EmbeddedRuntime(topo, {
      stateDir,
      clock,
      wellKnownPorts: opts.wellKnownPorts,
      healthTimeoutMs: opts.healthTimeoutMs,
      log: (line) => events.add(line),
    });
    try {
      await runtime.start();
    } catch (e) {
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
    return this.runtime.warnings;
  }

  inspect(): NodeInfo[] {
    return this.runtime.inspect();
  }

  node(name: string): LabNode {
    const n = this.runtime.nodes.get(name);
    if (!n) throw new Error(`no node "${name}" in lab ${this.name}; nodes: ${[...this.runtime.nodes.keys()].join(', ')}`);
    return n;
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

  /** The folder a file server (ftp, tftp) serves: its files as the server's disk holds them. */
  serverRoot(name: string): string {
    const n = this.node(name);
    if (!(n instanceof ServerNode) || !n.root) throw new Error(`node "${name}" is a ${n.kind} node, not a file server`);
    return n.root;
  }

  async exec(node: string, lines: string | string[]): Promise<string> {
    const n = this.node(node);
    if (!n.exec) throw new Error(`node "${node}" is a ${n.kind} node: exec runs on routers`);
    return n.exec(typeof lines === 'string' ? [lines] : lines);
  }

  setFaults(node: string, faults: Record<string, unknown>): void {
    const n = this.node(node);
    if (!n.setFaults) throw new Error(`node "${node}" is a ${n.kind} node: it has no faults`);
    n.setFaults(faults);
  }

  logs(node: string): unknown[] {
    const n = this.node(node);
    if (!n.logs) throw new Error(`node "${node}" is a ${n.kind} node: it keeps no log`);
    return n.logs();
  }

  /** A terminal transcript of `lines` on a router, logged in as a topology user (`flashlab exec`). */
  transcript(node: string, lines: string[], o: { user?: string; answers?: string[]; yes?: boolean } = {}): Promise<TranscriptResult> {
    const n = this.node(node);
    if (!(n instanceof RouterNode)) throw new Error(`node "${node}" is a ${n.kind} node, not a router`);
    return n.transcript(lines, o);
  }

  /** The SSH login the topology gives a router (the first user; lab default admin/admin). */
  login(node: string): { user: string; password: string } {
    const n = this.node(node);
    if (!(n instanceof RouterNode)) throw new Error(`node "${node}" is a ${n.kind} node, not a router`);
    const u = n.spec.users?.[0];
    return u ? { user: u.name, password: u.password } : { user: 'admin', password: 'admin' };
  }

  servicePort(address: string, service: string): number {
    return this.runtime.servicePort(address, service);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.runtime.stop();
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
