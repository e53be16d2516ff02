/**
 * The agents of a multi-process lab (netns, container) as the lab process holds them: their
 * handles in the topology's order, the ports they report, and the one lab clock, each move
 * stepped through every agent's due times in order. Both runtimes start agents their own
 * way and share this.
 */
import type { LabClock } from '../clock/LabClock.ts';
import type { Topology } from '../topology/schema.ts';
import type { ClockReply, RemoteNodeHandle } from './protocol.ts';
import { ServiceTable } from './services.ts';
import type { LabRuntime, NodeHandle, RuntimeName } from './types.ts';

export class AgentHandles {
  private readonly byName = new Map<string, RemoteNodeHandle>();
  private readonly services = new ServiceTable();
  private offClock?: () => void;
  private clockPush: Promise<void> = Promise.resolve();

  constructor(
    private readonly topology: Topology,
    /** The lab's log and its warning list: an agent's `log` and `warn` events go there. */
    private readonly log: ((line: string) => void) | undefined,
    private readonly warnings: string[],
  ) {}

  /** Holds an agent's handle and starts reading its events. */
  add(handle: RemoteNodeHandle): void {
    handle.subscribe((e) => {
      if (e.type === 'log') this.log?.(e.line);
      if (e.type === 'warn') {
        this.warnings.push(e.line);
        this.log?.(`warning: ${e.line}`);
      }
    });
    handle.startEvents();
    this.byName.set(handle.name, handle);
  }

  /** Enters the ports a healthy agent reports, at `address`, in the lab's port table. */
  notePorts(handle: RemoteNodeHandle, address = handle.info().address): void {
    for (const [service, port] of Object.entries(handle.info().ports)) this.services.set(address, service, port);
  }

  /** From now on every move of the lab clock goes to every agent, timers firing in due order across them. */
  followClock(clock: LabClock): void {
    this.offClock = clock.onMove(() => {
      const to = clock.now().getTime();
      this.clockPush = this.clockPush.then(() => moveAgents(this.all(), to)).catch(() => undefined);
    });
  }

  /** Stops posting clock moves and lets go of every handle (returned, for the runtime to stop). */
  release(): RemoteNodeHandle[] {
    this.offClock?.();
    this.offClock = undefined;
    const all = [...this.byName.values()];
    this.byName.clear();
    return all;
  }

  get(name: string): RemoteNodeHandle | undefined {
    return this.byName.get(name);
  }

  all(): RemoteNodeHandle[] {
    return [...this.byName.values()];
  }

  /** In the topology's order, as `inspect` lists them. */
  inOrder(): NodeHandle[] {
    return this.topology.nodes.flatMap((n) => this.byName.get(n.name) ?? []);
  }

  servicePort(address: string, service: string): number {
    return this.services.servicePort(address, service);
  }

  clockSettled(): Promise<void> {
    return this.clockPush;
  }
}

/** A bound on the steps of one clock move, should a node keep setting timers at the time it stands at. */
const MAX_CLOCK_STEPS = 10_000;

interface Reply {
  handle: RemoteNodeHandle;
  reply: ClockReply;
}

/** Posts one move to agents in parallel; an agent that does not answer drops out of the move. */
async function post(handles: RemoteNodeHandle[], to: number, hold = false): Promise<Reply[]> {
  const replies = await Promise.all(handles.map((handle) => handle.moveClock(to, hold).then((reply) => ({ handle, reply }), () => undefined)));
  return replies.filter((r): r is Reply => r !== undefined);
}

/**
 * Moves every agent's clock to `to` with timers firing in due order across agents, as one
 * clock would fire them. Each agent follows at once unless a timer of its falls due by
 * `to` (then it holds and says when): with nothing due that is the whole move, one round
 * trip. Otherwise the held agents step together to the earliest due time, fire what falls
 * due there, report their next one, and their events reach the lab's listeners before the
 * next step; when none falls due by `to` any more, they move to `to`.
 */
export async function moveAgents(agents: RemoteNodeHandle[], to: number): Promise<void> {
  let held = (await post(agents, to, true)).filter((r) => r.reply.held);
  for (let steps = 0; held.length && steps < MAX_CLOCK_STEPS; steps++) {
    const dues = held.flatMap((r) => (r.reply.due !== null && r.reply.due <= to ? [r.reply.due] : []));
    if (!dues.length) break;
    held = await post(held.map((r) => r.handle), Math.min(...dues));
    await Promise.all(held.map((r) => r.handle.eventsDelivered(r.reply.events)));
  }
  if (held.length) await post(held.map((r) => r.handle), to);
}

/**
 * A lab whose nodes run in agents (netns, container): the runtime starts and stops them its
 * own way; what the lab asks of the nodes once they run is answered here, from the handles.
 */
export abstract class AgentLabRuntime implements LabRuntime {
  abstract readonly name: RuntimeName;
  readonly warnings: string[] = [];
  protected readonly nodes: AgentHandles;

  constructor(
    readonly topology: Topology,
    log: ((line: string) => void) | undefined,
  ) {
    this.nodes = new AgentHandles(topology, log, this.warnings);
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  handles(): NodeHandle[] {
    return this.nodes.inOrder();
  }

  handle(name: string): NodeHandle | undefined {
    return this.nodes.get(name);
  }

  servicePort(address: string, service: string): number {
    return this.nodes.servicePort(address, service);
  }

  clockSettled(): Promise<void> {
    return this.nodes.clockSettled();
  }
}
