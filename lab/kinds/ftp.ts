/** The `ftp` kind: the lab FTP server on its own address, root in the node's state folder. */
import { join } from 'node:path';
import { FtpServer, type FtpFaults } from '../../servers/ftp/FtpServer.ts';
import { z } from 'zod';
import { base, camelKeys, Common, parseFaults, ServerImageSeed, serverImages, Size, TextSeed, texts, type ImageSeed, type NodeSpec, type TextFileSeed } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LogView } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { seedRootOnce, tcpAnswers } from './support.ts';

/** Passive data ports; the same range serves every FTP node, since each has its own address. */
const PASV_RANGE: [number, number] = [30000, 30199];

export const FtpFaultsSchema = z.strictObject({
  'wrong-password': z.boolean().optional(),
  'read-only': z.boolean().optional(),
  'quota-full': z.boolean().optional(),
  'disconnect-after-bytes': Size.optional(),
  'rate-limit': Size.optional().meta({ description: 'bytes per second' }),
});

const FtpAccountSchema = z.strictObject({
  user: z.string().min(1),
  password: z.string(),
  /** Home, relative to the server root. */
  home: z.string().default('.'),
  write: z.boolean().default(false),
  quota: Size.optional(),
});

const FtpFields = {
  accounts: z.array(FtpAccountSchema).optional(),
  anonymous: z
    .union([z.boolean(), z.strictObject({ home: z.string().default('.'), write: z.boolean().default(false) })])
    .optional(),
  images: z.array(ServerImageSeed).optional(),
  files: z.array(TextSeed).optional(),
  'pasv-range': z.tuple([z.number().int().min(1024).max(65535), z.number().int().min(1024).max(65535)]).optional(),
  faults: FtpFaultsSchema.optional(),
};

export interface FtpSpec extends NodeSpec {
  kind: 'ftp';
  accounts: { user: string; password: string; home: string; write: boolean; quotaBytes?: number }[];
  anonymous: false | { home: string; write: boolean };
  images: ImageSeed[];
  files: TextFileSeed[];
  pasvRange?: [number, number];
  faults: Record<string, unknown>;
}

const FTP_FAULT_NAMES: Record<string, string> = {
  'wrong-password': 'wrongPassword',
  'read-only': 'readOnly',
  'quota-full': 'quotaFull',
  'disconnect-after-bytes': 'disconnectAfterBytes',
  'rate-limit': 'rateLimitBytesPerSec',
};

function ftpFaults(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[FTP_FAULT_NAMES[k] ?? k] = v;
  return out;
}

const FtpNodeSchema = z
  .strictObject({ ...Common, ...FtpFields, name: z.string() })
  .transform((n, ctx): FtpSpec => ({
    ...base(n),
    kind: 'ftp',
    accounts: (n.accounts ?? []).map((a) => ({ user: a.user, password: a.password, home: a.home, write: a.write, quotaBytes: a.quota })),
    anonymous: n.anonymous === true ? { home: '.', write: false } : n.anonymous ? n.anonymous : false,
    images: serverImages(n.images, ctx),
    files: texts(n.files),
    pasvRange: n['pasv-range'],
    faults: ftpFaults(n.faults ?? {}),
  }));

/** Logins (with the password sent) and transfers, as scenario checks read them. */
function ftpLogView(e: Record<string, unknown>): LogView[] {
  if (e.kind === 'login' || e.kind === 'login-failed') return [{ kind: 'login', user: e.user as string, password: e.password as string, outcome: e.kind === 'login' ? 'ok' : 'refused' }];
  if (e.kind === 'download' || e.kind === 'upload') return [{ kind: e.kind, file: e.file as string | undefined, outcome: String(e.outcome) }];
  return [];
}

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
  fields: FtpFields,
  spec: FtpNodeSchema,
  faults: FtpFaultsSchema,
  serves: true,
  logView: ftpLogView,
  create: (spec, ctx) => new FtpNode(spec, ctx),
};
