/** The `tftp` kind: the lab TFTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { TftpServer, type TftpFaults } from '../../servers/tftp/TftpServer.ts';
import { z } from 'zod';
import { base, camelKeys, Common, parseFaults, ServerImageSeed, serverImages, Size, TextSeed, texts, type ImageSeed, type NodeSpec, type TextFileSeed } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LogView } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { seedRootOnce } from './support.ts';

/** The TFTP server's fault knobs (kebab-case here, camelCase on the server). */
export const TftpFaultsSchema = z.strictObject({
  'drop-every-n': z.number().int().positive().optional(),
  'drop-probability': z.number().min(0).max(1).optional(),
  'delay-ms': z.number().nonnegative().optional(),
  'stall-after-bytes': Size.optional(),
  'refuse-all': z.boolean().optional(),
});

const TftpFields = {
  /** Clients may upload (overwrite, and create unless `allow-create: false`). */
  'allow-write': z.boolean().optional(),
  'allow-create': z.boolean().optional(),
  images: z.array(ServerImageSeed).optional(),
  files: z.array(TextSeed).optional(),
  faults: TftpFaultsSchema.optional(),
};

export interface TftpSpec extends NodeSpec {
  kind: 'tftp';
  allowWrite: boolean;
  allowCreate: boolean;
  images: ImageSeed[];
  files: TextFileSeed[];
  faults: Record<string, unknown>;
}

const TftpNodeSchema = z
  .strictObject({ ...Common, ...TftpFields, name: z.string() })
  .transform((n, ctx): TftpSpec => ({
    ...base(n),
    kind: 'tftp',
    allowWrite: n['allow-write'] ?? false,
    allowCreate: n['allow-create'] ?? n['allow-write'] ?? false,
    images: serverImages(n.images, ctx),
    files: texts(n.files),
    faults: camelKeys(n.faults ?? {}),
  }));

/** TFTP has no logins; a read request is a download. */
function tftpLogView(e: Record<string, unknown>): LogView[] {
  if (!('request' in e)) return [];
  const o = String(e.outcome);
  const outcome = o === 'ok' ? 'ok' : ['not-found', 'access-violation', 'illegal-operation', 'disk-full'].includes(o) ? 'refused' : 'failed';
  return [{ kind: e.direction === 'read' ? 'download' : 'upload', file: String(e.file), outcome }];
}

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
  fields: TftpFields,
  spec: TftpNodeSchema,
  faults: TftpFaultsSchema,
  serves: true,
  logView: tftpLogView,
  create: (spec, ctx) => new TftpNode(spec, ctx),
};
