/** The `ftp` kind: the lab FTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { FtpServer, type FtpFaults } from '../../servers/ftp/FtpServer.ts';
import { camelKeys, ftpFaults, FtpFaultsSchema, parseFaults, type FtpSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { seedRootOnce, tcpAnswers } from './support.ts';

/** Passive data ports; the same range serves every FTP node, since each has its own address. */
const PASV_RANGE: [number, number] = [30000, 30199];

export class FtpNode extends ServerNode<FtpServer, FtpFaults, FtpSpec> {
  readonly kind = 'ftp';
  override readonly root: string;

  constructor(spec: FtpSpec, ctx: KindContext) {
    super(spec, ctx, 'ftp', 21);
    this.root = join(ctx.stateDir, 'root');
  }

  override async create(): Promise<void> {
    await seedRootOnce(this.ctx.stateDir, this.root, this.spec.images, this.spec.files, this.ctx.images);
  }

  protected makeServer(port: number): FtpServer {
    return new FtpServer({
      address: this.ctx.address,
      port,
      root: this.root,
      pasvRange: this.spec.pasvRange ?? PASV_RANGE,
      accounts: this.spec.accounts,
      anonymous: this.spec.anonymous,
      faults: this.faults,
      labLog: this.ctx.log,
    });
  }

  /** Accepts the server's names (readOnly) and the topology's (read-only, rate-limit). */
  protected faultsFrom(raw: Record<string, unknown>): FtpFaults {
    return camelKeys(ftpFaults(parseFaults(FtpFaultsSchema, raw))) as FtpFaults;
  }

  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port));
  }
}

export const ftpKind: KindAdapter<FtpSpec> = {
  kind: 'ftp',
  order: 'server',
  create: (spec, ctx) => new FtpNode(spec, ctx),
};
