/**
 * The `ida` kind: the mock Cisco IDA locator over HTTPS (servers/ida), its certificates
 * issued by the lab CA. Each certificate mode is a chain prepared at start from the lab
 * clock's time; the `certificate` fault switches between them at runtime.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { CERT_MODES, IdaServer, type CertMode, type IdaFaults, type IdaLogEntry, type TlsChain } from '../../servers/ida/IdaServer.ts';
import { issueFrom, LabCa, newKey, selfSigned } from '../ca/LabCa.ts';
import type { NodeInfo } from '../runtime/types.ts';
import { base, camelKeys, Common, parseFaults, ServerImageSeed, serverImages, TextSeed, texts, type ImageSeed, type NodeSpec, type TextFileSeed } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LogView } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { seedRootOnce, tcpAnswers } from './support.ts';

const DAY = 86_400_000;

const CertMode = z.enum(CERT_MODES);

export const IdaFaultsSchema = z.strictObject({
  /** The certificate presented: good, unknown-ca, expired, not-yet-valid, wrong-host, self-signed. */
  certificate: CertMode.optional(),
  'wrong-credentials': z.boolean().optional(),
  'not-registered': z.boolean().optional(),
  'unknown-image': z.boolean().optional(),
  'http-500': z.boolean().optional(),
  stall: z.boolean().optional(),
  reset: z.boolean().optional(),
});

const IdaAccountSchema = z.strictObject({
  user: z.string().min(1),
  password: z.string(),
  /** Registered for crypto (k9) image downloads. */
  crypto: z.boolean().default(true),
});

const CatalogEntrySchema = z.strictObject({
  image: z.string().min(1),
  /** Where the image lives: `ftp://ftp/…`, `tftp://tftp/…`, `https://…` (lab names resolve through the lab DNS). */
  url: z.string().regex(/^(ftp|tftp|https?):\/\/[^/]+\/.+/, 'expected an ftp://, tftp:// or https:// URL with a path'),
  /** A crypto (k9) image; by default, when the name has "k9". */
  crypto: z.boolean().optional(),
});

const IdaFields = {
  /** Names the good certificate carries; the first is the host in this server's own image URLs. */
  hostnames: z.array(z.string().min(1)).optional(),
  accounts: z.array(IdaAccountSchema).optional(),
  /** Images answered with a URL elsewhere in the lab. */
  catalog: z.array(CatalogEntrySchema).optional(),
  /** Images this server holds itself (served under https://<host>/images/, and over plain HTTP). */
  images: z.array(ServerImageSeed).optional(),
  files: z.array(TextSeed).optional(),
  /** The certificate mode at start; the `certificate` fault switches it at runtime. */
  certificate: CertMode.optional(),
  faults: IdaFaultsSchema.optional(),
};

export interface IdaSpec extends NodeSpec {
  kind: 'ida';
  hostnames: string[];
  accounts: { user: string; password: string; crypto: boolean }[];
  catalog: { image: string; url: string; crypto: boolean }[];
  images: ImageSeed[];
  files: TextFileSeed[];
  certificate: CertMode;
  faults: Record<string, unknown>;
}

const IdaNodeSchema = z
  .strictObject({ ...Common, ...IdaFields, name: z.string() })
  .transform((n, ctx): IdaSpec => ({
    ...base(n),
    kind: 'ida',
    hostnames: n.hostnames ?? ['www.cisco.com'],
    accounts: n.accounts ?? [],
    catalog: (n.catalog ?? []).map((c) => ({ image: c.image, url: c.url, crypto: c.crypto ?? /k9/i.test(c.image) })),
    images: serverImages(n.images, ctx),
    files: texts(n.files),
    certificate: n.certificate ?? 'good',
    faults: camelKeys(n.faults ?? {}),
  }));

/** Locator requests read as logins (when credentials were checked) and as `locate` events; image fetches as downloads. */
function idaLogView(raw: Record<string, unknown>): LogView[] {
  const e = raw as unknown as IdaLogEntry;
  if (e.kind === 'download') return [{ kind: 'download', file: e.image, outcome: e.outcome, text: `${e.scheme} ${e.path} ${e.status}` }];
  const out: LogView[] = [];
  if (e.answer === 'bad-credentials') out.push({ kind: 'login', user: e.user, password: e.password, outcome: 'refused' });
  else if (e.status === 200 || e.answer === 'not-registered' || e.answer === 'unknown-image') out.push({ kind: 'login', user: e.user, password: e.password, outcome: 'ok' });
  out.push({ kind: 'locate', user: e.user, file: e.image, outcome: e.outcome, text: `user=${e.user ?? ''} image=${e.image ?? ''} status=${e.status} answer=${e.answer ?? ''}` });
  return out;
}

export class IdaNode extends ServerNode<IdaServer, IdaFaults, IdaSpec> {
  readonly kind = 'ida';
  override readonly root: string;
  private certificates?: Record<CertMode, TlsChain>;

  constructor(spec: IdaSpec, ctx: KindContext) {
    super(spec, ctx, 'https', 443);
    this.root = join(ctx.stateDir, 'root');
    this.faults = this.faultsFrom(spec.faults);
  }

  override async create(): Promise<void> {
    await seedRootOnce(this.ctx.stateDir, this.root, this.spec.images, this.spec.files, this.ctx.images);
  }

  /** Every mode's chain, dated from the lab clock now. */
  private prepareCertificates(): Record<CertMode, TlsChain> {
    const ca = LabCa.open(join(this.ctx.lab.stateDir, 'ca'), this.ctx.clock.now());
    const now = this.ctx.clock.now().getTime();
    const [cn, ...rest] = this.spec.hostnames;
    const names = { commonName: cn!, dnsNames: [...rest, this.name, `${this.name}.${this.ctx.lab.domain}`], ips: [this.ctx.address] };
    const valid = { notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) };
    const key = newKey();
    const chain = (leaf: string): TlsChain => ({ keyPem: key, chainPem: leaf + ca.intermediate.certPem });
    const rogueKey = newKey();
    const rogue = { keyPem: rogueKey, certPem: selfSigned(rogueKey, { commonName: 'Untrusted Root CA', organization: 'Nobody', ca: true, notBefore: new Date(now - 3650 * DAY), notAfter: new Date(now + 3650 * DAY) }) };
    return {
      good: chain(ca.issueServer(key, { ...names, ...valid })),
      expired: chain(ca.issueServer(key, { ...names, notBefore: new Date(now - 730 * DAY), notAfter: new Date(now - 30 * DAY) })),
      'not-yet-valid': chain(ca.issueServer(key, { ...names, notBefore: new Date(now + 30 * DAY), notAfter: new Date(now + 730 * DAY) })),
      'wrong-host': chain(ca.issueServer(key, { commonName: 'wrong-host.example.net', dnsNames: [], ips: [], ...valid })),
      'unknown-ca': { keyPem: key, chainPem: issueFrom(rogue, key, { ...names, ...valid }) },
      'self-signed': { keyPem: key, chainPem: selfSigned(key, { ...names, ...valid }) },
    };
  }

  override async start(): Promise<void> {
    this.certificates = this.prepareCertificates();
    await super.start();
    await this.server!.indexRoot();
    this.ctx.services.set(this.ctx.address, 'http', this.server!.httpPort);
  }

  override async stop(): Promise<void> {
    const http = this.server?.httpPort;
    if (http) this.ctx.services.delete(this.ctx.address, 'http', http);
    await super.stop();
  }

  protected makeServer(port: number): IdaServer {
    return new IdaServer({
      address: this.ctx.address,
      port,
      httpPort: port === 0 ? 0 : 80,
      root: this.root,
      hostname: this.spec.hostnames[0]!,
      accounts: this.spec.accounts,
      catalog: this.spec.catalog,
      certificates: this.certificates!,
      faults: this.faults,
      now: () => this.ctx.clock.now(),
    });
  }

  /** The topology's certificate mode holds unless a fault names another. */
  protected faultsFrom(raw: Record<string, unknown>): IdaFaults {
    return { certificate: this.spec.certificate, ...camelKeys(parseFaults(IdaFaultsSchema, raw)) } as IdaFaults;
  }

  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port));
  }

  override info(): NodeInfo {
    const i = super.info();
    if (this.server) i.ports = { https: this.server.port, http: this.server.httpPort };
    return { ...i, detail: { certificate: this.server?.certificateMode ?? this.spec.certificate } };
  }
}

export const idaKind: KindAdapter<IdaSpec> = {
  kind: 'ida',
  order: 'server',
  fields: IdaFields,
  spec: IdaNodeSchema,
  faults: IdaFaultsSchema,
  serves: true,
  logView: idaLogView,
  create: (spec, ctx) => new IdaNode(spec, ctx),
};
