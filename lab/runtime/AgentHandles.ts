/**
 * The agents of a multi-process lab (netns, container) as the lab process holds them: their
 * handles in the topology's order, the ports they report, and the one lab clock, each move
 * posted to every agent. Both runtimes start agents their own way and share this.
 */
import type { LabClock } from '../clock/LabClock.ts';
import type { Topology } from '../topology/schema.ts';
import type { RemoteNodeHandle } from './protocol.ts';
import { ServiceTable } from './services.ts';
import type { NodeHandle } from './types.ts';

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

  /** From now on every move of the lab clock goes to every agent, which fires its timers in order. */
  followClock(clock: LabClock): void {
    this.offClock = clock.onMove(() => {
      const now = clock.now().getTime();
      this.clockPush = this.clockPush.then(() => Promise.all([...this.byName.values()].map((h) => h.followClock(now).catch(() => undefined))).then(() => undefined));
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
