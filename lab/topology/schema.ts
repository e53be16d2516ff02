/**
 * The topology file, shaped like containerlab's:
 *
 *   name: default
 *   mgmt: { ipv4-subnet: 127.77.0.0/24, domain: lab.local }
 *   topology:
 *     defaults: { ... }          # any node field; each kind takes the ones it knows
 *     kinds: { router: { ... } } # defaults per kind
 *     nodes: { r1: { kind: router, platform: isr4321, ... } }
 *     links: [ { endpoints: [r1:gi0/0/0, r2:gi0/0] } ]
 *
 * Two layers of schema: the *file* schema checks the shape of what was written (every kind
 * field optional, since `kinds:`/`defaults:` may supply it) and is what `flashlab schema`
 * exports; the *node* schemas check each node once the defaults are merged in and turn it
 * into the spec a kind adapter receives.
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { parseSize } from '../../router/image/format.ts';
import { platforms } from '../../router/platforms/profile.ts';
import { parseCidr } from '../../router/net/Egress.ts';

/** Every node kind the lab knows. The registry in lab/kinds must offer exactly these. */
export const KINDS = ['router', 'ftp', 'tftp', 'dns'] as const;
export type KindName = (typeof KINDS)[number];

export const DEFAULT_DOMAIN = 'lab.local';
export const DEFAULT_SUBNET = '127.77.0.0/24';

export function unknownKindMessage(kind: unknown): string {
  const valid = KINDS.join(', ');
  return kind === undefined ? `missing kind; valid kinds: ${valid}` : `unknown kind "${String(kind)}"; valid kinds: ${valid}`;
}

// ---- small field types ------------------------------------------------------------------

const SIZE_MESSAGE = 'expected a size like 2MB';

/** `2MB`, `512K`, `1G`, `100M` or a byte count; parsed to bytes. */
export const Size = z
  .union([z.number().int().nonnegative(), z.string()], { error: SIZE_MESSAGE })
  .refine((v) => {
    try {
      parseSize(v);
      return true;
    } catch {
      return false;
    }
  }, SIZE_MESSAGE)
  .transform((v) => parseSize(v))
  .meta({ description: 'A size in bytes or with a unit: 2MB, 512K, 1G' });

const Ipv4 = z.string().refine((v) => isIPv4(v), 'expected an IPv4 address like 127.77.0.10');

const NodeName = z.string().regex(/^[a-z][a-z0-9-]*$/i, 'node names are letters, digits and dashes, starting with a letter');

/** Config lines: a list, or one block of text. */
const Lines = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (typeof v === 'string' ? v.split('\n').filter((l) => l.trim() !== '') : v));

/** A stand-in image to create (router flash, or a server's root). */
const ImageSeedFields = {
  /** File name, may include a folder (`images/x.bin`). */
  name: z.string().min(1),
  /** Profile id (`isr4321`) or an image platform tag (`isr4300`); routers default to their own. */
  platform: z.string().optional(),
  version: z.string().min(1),
  'feature-set': z.string().default('universalk9'),
  'image-kind': z.enum(['system', 'rommon', 'revocation']).default('system'),
  size: Size,
  /** Signing key (S2.1): `production:A`, `special:A`, `rollover`, `none`; default from the name (`.SPA`, `.SSB`) else production:A. */
  sign: z
    .string()
    .regex(/^(production:[A-Z]|special:[A-Z]|rollover(:[A-Z])?|none)$/, 'use production:A, production:B, special:A, rollover or none')
    .optional(),
  /** One byte flipped after signing: the image no longer verifies (S2.3). */
  tamper: z.boolean().default(false),
  /** Keys the image bundles for key storage: a revocation image's new production key, a production image's special key (S2.8, S2.10). */
  bundle: z.array(z.string().regex(/^(production|special):[A-Z]$/, 'use production:B or special:B')).default([]),
};

const RouterImageSeed = z.strictObject({
  /** File system (`bootflash`, `flash0`, `slot0:1`); the platform's default when omitted. */
  fs: z.string().optional(),
  ...ImageSeedFields,
});
const ServerImageSeed = z.strictObject(ImageSeedFields);

const TextSeed = z.strictObject({
  name: z.string().min(1),
  content: z.string(),
});

const User = z.strictObject({
  name: z.string().min(1),
  password: z.string(),
  privilege: z.number().int().min(0).max(15).optional(),
});

// ---- per-kind fields (all optional here; requiredness is checked after merging) ----------

const Common = {
  kind: z.string(),
  /** Fixed address in the mgmt subnet; allocated from the subnet when omitted. */
  address: Ipv4.optional(),
  labels: z.record(z.string(), z.string()).optional(),
};

const RouterFields = {
  platform: z.string().optional(),
  /** File-system sizes: `{ bootflash: 2MB }` (a low-flash router is one line). */
  flash: z.record(z.string(), Size).optional(),
  users: z.array(User).optional(),
  'enable-secret': z.string().optional(),
  'boot-seconds': z.number().nonnegative().optional(),
  /** Applied at first boot, while nvram has no startup-config. `{{ dns.address }}` expands. */
  'startup-config': Lines.optional(),
  images: z.array(RouterImageSeed).optional(),
};

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

export const DnsFaultsSchema = z.strictObject({
  down: z.boolean().optional(),
  /** Names answered NXDOMAIN: a list, or one name. */
  nxdomain: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
});

const DnsFields = {
  /** Extra names: `www.cisco.com: ida` (a node name) or `host.example: 127.77.0.9`. */
  records: z.record(z.string(), z.string()).optional(),
  faults: DnsFaultsSchema.optional(),
};

const KIND_FIELDS = { router: RouterFields, ftp: FtpFields, tftp: TftpFields, dns: DnsFields } as const;

/** A node as written in the file. */
function fileNodeSchema(kind: KindName) {
  return z.strictObject({ ...Common, ...KIND_FIELDS[kind], kind: z.literal(kind) });
}

const FileNode = z.discriminatedUnion(
  'kind',
  [fileNodeSchema('router'), fileNodeSchema('ftp'), fileNodeSchema('tftp'), fileNodeSchema('dns')],
  {
    error: (iss) =>
      iss.code === 'invalid_union' ? unknownKindMessage((iss.input as { kind?: unknown } | undefined)?.kind) : undefined,
  },
);

const KindDefaults = z.strictObject({
  router: z.strictObject(RouterFields).optional(),
  ftp: z.strictObject(FtpFields).optional(),
  tftp: z.strictObject(TftpFields).optional(),
  dns: z.strictObject(DnsFields).optional(),
});

const Link = z.strictObject({
  /** `node:interface` pairs; informational in the embedded runtime (every node shares loopback). */
  endpoints: z.tuple([z.string(), z.string()]),
});

export const TopologyFileSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'lab names are letters, digits, dot, dash and underscore'),
    mgmt: z
      .strictObject({
        'ipv4-subnet': z.string().default(DEFAULT_SUBNET),
        domain: z.string().default(DEFAULT_DOMAIN),
        /**
         * Networks outside the lab that routers may reach on purpose (CIDRs). The lab is
         * sealed without them: a router reaches only lab nodes and loopback.
         */
        external: z
          .array(z.string().refine((c) => typeof parseCidr(c) !== 'string', 'expected a CIDR like 192.0.2.0/24'))
          .max(64)
          .optional(),
      })
      .optional(),
    clock: z
      .strictObject({
        /** Lab time at start (ISO 8601); real time when omitted. */
        start: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO date like 2024-05-01T19:00:00Z').optional(),
        /** Time stands still unless advanced (scenarios). */
        frozen: z.boolean().optional(),
      })
      .optional(),
    topology: z.strictObject({
      /** Fields every node takes where its kind knows them. */
      defaults: z.record(z.string(), z.unknown()).optional(),
      kinds: KindDefaults.optional(),
      nodes: z.record(NodeName, FileNode),
      links: z.array(Link).optional(),
    }),
  })
  .meta({ title: 'flashlab topology', description: 'A lab of virtual IOS XE routers and servers (containerlab-shaped).' });

export type TopologyFile = z.input<typeof TopologyFileSchema>;

// ---- node schemas, after merging defaults -----------------------------------------------

function platformIds(): string[] {
  return [...platforms().keys()];
}

/** The image platform tag for a profile id or a raw tag. */
function imageTag(p: string): string {
  return platforms().get(p)?.imagePlatform ?? p;
}

export interface ImageSeed {
  /** Router: file-system prefix (`bootflash`, `slot0:1`); undefined for servers. */
  fs?: string;
  path: string;
  platform: string;
  version: string;
  featureSet: string;
  kind: 'system' | 'rommon' | 'revocation';
  size: number;
  /** `production:A`, `special:B`, `rollover:A`, or `none` (unsigned). */
  sign: string;
  tamper: boolean;
  bundle: string[];
}

/** The signing key an image gets when the topology names none: from its name (S2.1), else production:A. */
export function defaultSigningKey(name: string, kind: ImageSeed['kind']): string {
  if (kind === 'revocation') return 'rollover:A';
  const m = /\.S([PS])([A-Z])(?=[.\-_]|$)/.exec(name);
  return m ? `${m[1] === 'P' ? 'production' : 'special'}:${m[2]}` : 'production:A';
}

const signing = (i: { name: string; sign?: string; tamper: boolean; bundle: string[]; 'image-kind': ImageSeed['kind'] }) => ({
  sign: i.sign === 'rollover' ? 'rollover:A' : (i.sign ?? defaultSigningKey(i.name, i['image-kind'])),
  tamper: i.tamper,
  bundle: i.bundle,
});

export interface TextFileSeed {
  path: string;
  content: string;
}

interface BaseSpec {
  name: string;
  kind: KindName;
  /** Allocated by the loader when the file gives none. */
  address: string;
  labels: Record<string, string>;
}

export interface RouterSpec extends BaseSpec {
  kind: 'router';
  platform: string;
  flash: Record<string, number>;
  users?: { name: string; password: string; privilege?: number }[];
  enableSecret?: string;
  bootSeconds?: number;
  startupConfig: string[];
  images: ImageSeed[];
}

export interface FtpSpec extends BaseSpec {
  kind: 'ftp';
  accounts: { user: string; password: string; home: string; write: boolean; quotaBytes?: number }[];
  anonymous: false | { home: string; write: boolean };
  images: ImageSeed[];
  files: TextFileSeed[];
  pasvRange?: [number, number];
  faults: Record<string, unknown>;
}

export interface TftpSpec extends BaseSpec {
  kind: 'tftp';
  allowWrite: boolean;
  allowCreate: boolean;
  images: ImageSeed[];
  files: TextFileSeed[];
  faults: Record<string, unknown>;
}

export interface DnsSpec extends BaseSpec {
  kind: 'dns';
  /** Extra names -> node name or address, as written (the loader resolves them). */
  records: Record<string, string>;
  faults: Record<string, unknown>;
}

export type NodeSpec = RouterSpec | FtpSpec | TftpSpec | DnsSpec;

/** kebab-case keys to camelCase (server fault objects use camelCase). */
/**
 * Runtime faults (control API, scenario steps) in the topology's own words: checked by the
 * same schema, sizes parsed (`stall-after-bytes: 2MB`), then named as the server names them.
 * camelCase names the servers use are accepted too.
 */
export function parseFaults(schema: z.ZodType<Record<string, unknown>>, raw: Record<string, unknown>): Record<string, unknown> {
  const kebab: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) kebab[k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = v;
  if (kebab['rate-limit-bytes-per-sec'] !== undefined) {
    kebab['rate-limit'] = kebab['rate-limit-bytes-per-sec'];
    delete kebab['rate-limit-bytes-per-sec'];
  }
  const r = schema.safeParse(kebab);
  if (!r.success) {
    const text = r.error.issues.map((i) => `${i.path.join('.') || '(faults)'}: ${i.message}`).join('; ');
    // A key the server does not know: name the ones it does, so the fix is one read away.
    const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
    const unknownKey = r.error.issues.some((i) => i.code === 'unrecognized_keys');
    throw new Error(`bad faults: ${text}${unknownKey && shape ? `; valid keys: ${Object.keys(shape).join(', ')}` : ''}`);
  }
  return r.data;
}

export function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

const FTP_FAULT_NAMES: Record<string, string> = {
  'wrong-password': 'wrongPassword',
  'read-only': 'readOnly',
  'quota-full': 'quotaFull',
  'disconnect-after-bytes': 'disconnectAfterBytes',
  'rate-limit': 'rateLimitBytesPerSec',
};

export function ftpFaults(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) out[FTP_FAULT_NAMES[k] ?? k] = v;
  return out;
}

type Base = { name: string; address?: string; labels?: Record<string, string> };
const base = (n: Base) => ({ name: n.name, address: n.address ?? '', labels: n.labels ?? {} });

const serverImages = (imgs: z.output<typeof ServerImageSeed>[] | undefined, ctx: z.RefinementCtx): ImageSeed[] =>
  (imgs ?? []).map((i, idx) => {
    if (!i.platform) ctx.addIssue({ code: 'custom', path: ['images', idx, 'platform'], message: 'a server image needs a platform' });
    return { path: i.name, platform: imageTag(i.platform ?? ''), version: i.version, featureSet: i['feature-set'], kind: i['image-kind'], size: i.size, ...signing(i) };
  });

const texts = (f: z.output<typeof TextSeed>[] | undefined): TextFileSeed[] => (f ?? []).map((t) => ({ path: t.name, content: t.content }));

export const RouterNodeSchema = z
  .strictObject({ ...Common, ...RouterFields, name: z.string(), platform: z.string({ error: 'a router needs a platform' }) })
  .superRefine((n, ctx) => {
    const profile = platforms().get(n.platform);
    if (!profile) {
      ctx.addIssue({ code: 'custom', path: ['platform'], message: `unknown router platform "${n.platform}"; known platforms: ${platformIds().join(', ')}` });
      return;
    }
    const names = profile.fileSystems.flatMap((f) => [f.name, ...f.aliases]);
    const known = `${profile.id} has ${profile.fileSystems.map((f) => f.name).join(', ')}`;
    for (const fs of Object.keys(n.flash ?? {})) {
      if (!profile.fileSystems.some((f) => f.name === fs)) ctx.addIssue({ code: 'custom', path: ['flash', fs], message: `no file system "${fs}" (${known})` });
    }
    (n.images ?? []).forEach((img, i) => {
      const dev = img.fs?.replace(/:$/, '').split(':')[0];
      if (dev !== undefined && !names.includes(dev)) ctx.addIssue({ code: 'custom', path: ['images', i, 'fs'], message: `no file system "${img.fs}" (${known})` });
    });
  })
  .transform((n): RouterSpec => {
    const profile = platforms().get(n.platform)!;
    return {
      ...base(n),
      kind: 'router',
      platform: n.platform,
      flash: n.flash ?? {},
      users: n.users,
      enableSecret: n['enable-secret'],
      bootSeconds: n['boot-seconds'],
      startupConfig: n['startup-config'] ?? [],
      images: (n.images ?? []).map((i) => ({
        fs: i.fs?.replace(/:$/, ''),
        path: i.name,
        platform: imageTag(i.platform ?? profile.id),
        version: i.version,
        featureSet: i['feature-set'],
        kind: i['image-kind'],
        size: i.size,
        ...signing(i),
      })),
    };
  });

export const FtpNodeSchema = z
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

export const TftpNodeSchema = z
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

export const DnsNodeSchema = z
  .strictObject({ ...Common, ...DnsFields, name: z.string() })
  .transform((n): DnsSpec => ({ ...base(n), kind: 'dns', records: n.records ?? {}, faults: n.faults ?? {} }));

export const NODE_SCHEMAS = { router: RouterNodeSchema, ftp: FtpNodeSchema, tftp: TftpNodeSchema, dns: DnsNodeSchema } as const;

/** Keys a kind accepts (which `defaults:` entries it takes). */
export function kindKeys(kind: KindName): Set<string> {
  return new Set([...Object.keys(Common), ...Object.keys(KIND_FIELDS[kind])]);
}

// ---- the loaded topology -----------------------------------------------------------------

export interface Topology {
  name: string;
  /** The file it came from, when it came from one. */
  file?: string;
  domain: string;
  /** CIDR of the management subnet, normalised (`127.77.0.0/24`). */
  subnet: string;
  /** CIDRs routers may reach outside the lab (`mgmt.external`); empty: sealed. */
  external: string[];
  clock?: { start?: Date; frozen?: boolean };
  /** In file order, addresses allocated and templates expanded. */
  nodes: NodeSpec[];
  links: { endpoints: [string, string] }[];
}
