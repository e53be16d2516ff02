/**
 * What the server kinds (ftp, tftp, dns) share: start on the well-known port or a high
 * one, register the real port so routers can dial the well-known one, faults, logs, info.
 * A kind says which service it is and how to build its server; nothing else.
 */
import type { LabService } from '../../router/Router.ts';
import { BaseNode, type NodeInfo } from '../runtime/types.ts';
import type { KindContext } from './registry.ts';
import { startOnPort } from './support.ts';

export interface LabServer<F> {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly port: number;
  readonly log: unknown[];
  setFaults(f: F): void;
}

export abstract class ServerNode<S extends LabServer<F>, F, Spec extends { name: string }> extends BaseNode {
  abstract override readonly kind: string;
  server?: S;
  protected faults: F;

  constructor(
    readonly spec: Spec & { faults?: unknown },
    protected readonly ctx: KindContext,
    private readonly service: LabService,
    private readonly wellKnownPort: number,
  ) {
    super();
    this.faults = spec.faults as F;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The folder the server serves, for servers that serve files (ftp, tftp). */
  root?: string;

  /** A fresh server object for one start attempt on `port` (0 = ephemeral). */
  protected abstract makeServer(port: number): S;

  /** Topology fault names (kebab-case) to the server's own. */
  protected abstract faultsFrom(raw: Record<string, unknown>): F;

  override async start(): Promise<void> {
    this.server = await startOnPort(this.wellKnownPort, this.ctx.wellKnownPorts, (port) => this.makeServer(port), {
      address: this.ctx.address,
      what: `${this.name}'s ${this.service}`,
      warn: (l) => this.ctx.warn(l),
    });
    this.ctx.services.set(this.ctx.address, this.service, this.server.port);
  }

  override async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      this.ctx.services.delete(this.ctx.address, this.service, s.port);
      await s.stop();
    }
  }

  setFaults(faults: Record<string, unknown>): void {
    this.faults = this.faultsFrom(faults);
    this.server?.setFaults(this.faults);
  }

  logs(): unknown[] {
    return this.server?.log ?? [];
  }

  info(): NodeInfo {
    return {
      name: this.name,
      kind: this.kind,
      state: this.server ? 'running' : 'stopped',
      address: this.ctx.address,
      ports: this.server ? { [this.service]: this.server.port } : {},
    };
  }
}
