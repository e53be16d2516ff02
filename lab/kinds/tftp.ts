/** The `tftp` kind: the lab TFTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { TftpServer, type TftpFaults } from '../../servers/tftp/TftpServer.ts';
import { BaseNode, type NodeInfo } from '../runtime/types.ts';
import { camelKeys, type TftpSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext } from './registry.ts';
import { seedRootOnce, startOnPort } from './support.ts';

export class TftpNode extends BaseNode {
  readonly kind = 'tftp';
  server?: TftpServer;
  private faults: TftpFaults;
  private readonly root: string;

  constructor(
    readonly spec: TftpSpec,
    private readonly ctx: KindContext,
  ) {
    super();
    this.faults = spec.faults as TftpFaults;
    this.root = join(ctx.stateDir, 'root');
  }

  get name(): string {
    return this.spec.name;
  }

  override async create(): Promise<void> {
    await seedRootOnce(this.ctx.stateDir, this.root, this.spec.images, this.spec.files, this.ctx.images);
  }

  override async start(): Promise<void> {
    this.server = await startOnPort(69, this.ctx.wellKnownPorts, (port) =>
      new TftpServer({
        address: this.ctx.address,
        port,
        root: this.root,
        allowWrite: this.spec.allowWrite,
        allowCreate: this.spec.allowCreate,
        faults: this.faults,
      }),
    );
    this.ctx.services.set(this.ctx.address, 'tftp', this.server.port);
  }

  /**
   * UDP has no handshake, and any request would land in the transfer log scenarios read:
   * a bound socket is the health signal.
   */
  override async healthy(): Promise<boolean> {
    return !!this.server && this.server.port > 0;
  }

  override async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      this.ctx.services.delete(this.ctx.address, 'tftp', s.port);
      await s.stop();
    }
  }

  setFaults(faults: Record<string, unknown>): void {
    this.faults = camelKeys(faults) as TftpFaults;
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
      ports: this.server ? { tftp: this.server.port } : {},
    };
  }
}

export const tftpKind: KindAdapter<TftpSpec> = {
  kind: 'tftp',
  order: 'server',
  create: (spec, ctx) => new TftpNode(spec, ctx),
};
