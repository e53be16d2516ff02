/** The `tftp` kind: the lab TFTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { TftpServer, type TftpFaults } from '../../servers/tftp/TftpServer.ts';
import { camelKeys, parseFaults, TftpFaultsSchema, type TftpSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { seedRootOnce } from './support.ts';

export class TftpNode extends ServerNode<TftpServer, TftpFaults, TftpSpec> {
  readonly kind = 'tftp';
  override readonly root: string;

  constructor(spec: TftpSpec, ctx: KindContext) {
    super(spec, ctx, 'tftp', 69);
    this.root = join(ctx.stateDir, 'root');
  }

  override async create(): Promise<void> {
    await seedRootOnce(this.ctx.stateDir, this.root, this.spec.images, this.spec.files, this.ctx.images);
  }

  protected makeServer(port: number): TftpServer {
    return new TftpServer({
      address: this.ctx.address,
      port,
      root: this.root,
      allowWrite: this.spec.allowWrite,
      allowCreate: this.spec.allowCreate,
      faults: this.faults,
    });
  }

  protected faultsFrom(raw: Record<string, unknown>): TftpFaults {
    return camelKeys(parseFaults(TftpFaultsSchema, raw)) as TftpFaults;
  }

  /**
   * UDP has no handshake, and any request would land in the transfer log scenarios read:
   * a bound socket is the health signal.
   */
  override async healthy(): Promise<boolean> {
    return !!this.server && this.server.port > 0;
  }
}

export const tftpKind: KindAdapter<TftpSpec> = {
  kind: 'tftp',
  order: 'server',
  create: (spec, ctx) => new TftpNode(spec, ctx),
};
