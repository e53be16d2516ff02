/** The `ftp` kind: the lab FTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { FtpServer, type FtpFaults } from '../../servers/ftp/FtpServer.ts';
import { BaseNode, type NodeInfo } from '../runtime/types.ts';
import { ftpFaults, camelKeys, type FtpSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext } from './registry.ts';
import { seedRootOnce, startOnPort, tcpAnswers } from './support.ts';

/** Passive data ports; the same range serves every FTP node, since each has its own address. */
const PASV_RANGE: [number, number] = [30000, 30199];

export class FtpNode extends BaseNode {
  readonly kind = 'ftp';
  server?: FtpServer;
  private faults: FtpFaults;
  private readonly root: string;

  constructor(
    readonly spec: FtpSpec,
    private readonly ctx: KindContext,
  ) {
    super();
    this.faults = spec.faults as FtpFaults;
    this.root = join(ctx.stateDir, 'root');
  }

  get name(): string {
    return this.spec.name;
  }

  override async create(): Promise<void> {
    await seedRootOnce(this.ctx.stateDir, this.root, this.spec.images, this.spec.files, this.ctx.images);
  }

  override async start(): Promise<void> {
    this.server = await startOnPort(21, this.ctx.wellKnownPorts, (port) =>
      new FtpServer({
        address: this.ctx.address,
        port,
        root: this.root,
        pasvRange: this.spec.pasvRange ?? PASV_RANGE,
        accounts: this.spec.accounts,
        anonymous: this.spec.anonymous,
        faults: this.faults,
      }),
    );
    this.ctx.services.set(this.ctx.address, 'ftp', this.server.port);
  }

  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port));
  }

  override async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      this.ctx.services.delete(this.ctx.address, 'ftp', s.port);
      await s.stop();
    }
  }

  setFaults(faults: Record<string, unknown>): void {
    // Accepts the server's names (readOnly) and the topology's (read-only, rate-limit).
    this.faults = camelKeys(ftpFaults(faults)) as FtpFaults;
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
      ports: this.server ? { ftp: this.server.port } : {},
    };
  }
}

export const ftpKind: KindAdapter<FtpSpec> = {
  kind: 'ftp',
  order: 'server',
  create: (spec, ctx) => new FtpNode(spec, ctx),
};
