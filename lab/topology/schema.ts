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
 *
 * This file holds what every kind shares (field types, the node base, the file's frame).
 * Each kind's own fields, node schema and faults live with its adapter in lab/kinds/; the
 * file schema is assembled from the registry (`buildTopologyFileSchema`).
 */
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { parseSize } from '../../router/image/format.ts';
import { platforms } from '../../router/platforms/profile.ts';
import { parseCidr } from '../../router/net/Egress.ts';

export const DEFAULT_DOMAIN = 'lab.local';
export const DEFAULT_SUBNET = '127.77.0.0/24';

export function unknownKindMessage(kind: unknown, kinds: string[]): string {
  const valid = kinds.join(', ');
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
export const Lines = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (typeof v === 'string' ? v.split('\n').filter((l) => l.trim() !== '') : v));

/** A stand-in image to create (router flash, or a server's root). */
export const ImageSeedFields = {
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
  /** Main memory the image needs to run (`dram: 8GB`); AUM refuses it on a router with less (S4.2). */
  dram: Size.optional(),
  /** Configuration commands the image's parser lacks, by their first words (`[ip ftp]`): S4.5 invalid-config. */
  'unsupported-commands': z.array(z.string().min(1)).optional(),
};

export const ServerImageSeed = z.strictObject(ImageSeedFields);

export const TextSeed = z.strictObject({
  name: z.string().min(1),
  content: z.string(),
});

/** Fields every node has, whatever its kind. */
export const Common = {
  kind: z.string(),
  /** Fixed address in the mgmt subnet; allocated from the subnet when omitted. */
  address: Ipv4.optional(),
  labels: z.record(z.string(), z.string()).optional(),
};

// ---- the file, assembled from the kinds ---------------------------------------------------

/** What a kind contributes to the file schema: its name and its fields as written. */
export interface KindFields {
  kind: string;
  fields: z.ZodRawShape;
}

const Link = z.strictObject({
  /** `node:interface` pairs; informational in the embedded runtime (every node shares loopback). */
  endpoints: z.tuple([z.string(), z.string()]),
});

/** The file schema for these kinds (what `flashlab schema` exports and the loader checks first). */
export function buildTopologyFileSchema(kinds: KindFields[]) {
  const names = kinds.map((k) => k.kind);
  const nodeSchemas = kinds.map((k) => z.strictObject({ ...Common, ...k.fields, kind: z.literal(k.kind) }));
  const FileNode = z.discriminatedUnion('kind', nodeSchemas as unknown as [z.ZodObject, ...z.ZodObject[]], {
    error: (iss) =>
      iss.code === 'invalid_union' ? unknownKindMessage((iss.input as { kind?: unknown } | undefined)?.kind, names) : undefined,
  });
  const KindDefaults = z.strictObject(Object.fromEntries(kinds.map((k) => [k.kind, z.strictObject(k.fields).optional()])));
  return z
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
}

/** The file as written (the frame; node fields depend on the kinds). */
export interface TopologyFile {
  name: string;
  mgmt?: { 'ipv4-subnet'?: string; domain?: string; external?: string[] };
  clock?: { start?: string; frozen?: boolean };
  topology: {
    defaults?: Record<string, unknown>;
    kinds?: Record<string, Record<string, unknown> | undefined>;
    nodes: Record<string, Record<string, unknown>>;
    links?: { endpoints: [string, string] }[];
  };
}

// ---- node specs, after merging defaults ---------------------------------------------------

export function platformIds(): string[] {
  return [...platforms().keys()];
}

/** The image platform tag for a profile id or a raw tag. */
export function imageTag(p: string): string {
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
  /** MiB of main memory the image needs (header `dramMb`). */
  dramMb?: number;
  unsupportedCommands?: string[];
}

/** The signing key an image gets when the topology names none: from its name (S2.1), else production:A. */
export function defaultSigningKey(name: string, kind: ImageSeed['kind']): string {
  if (kind === 'revocation') return 'rollover:A';
  const m = /\.S([PS])([A-Z])(?=[.\-_]|$)/.exec(name);
  return m ? `${m[1] === 'P' ? 'production' : 'special'}:${m[2]}` : 'production:A';
}

export const signing = (i: { name: string; sign?: string; tamper: boolean; bundle: string[]; 'image-kind': ImageSeed['kind']; dram?: number; 'unsupported-commands'?: string[] }) => ({
  sign: i.sign === 'rollover' ? 'rollover:A' : (i.sign ?? defaultSigningKey(i.name, i['image-kind'])),
  tamper: i.tamper,
  bundle: i.bundle,
  // What the image's header says of its needs and its parser (signed with it).
  ...(i.dram !== undefined ? { dramMb: Math.ceil(i.dram / (1024 * 1024)) } : {}),
  ...(i['unsupported-commands']?.length ? { unsupportedCommands: i['unsupported-commands'] } : {}),
});

export interface TextFileSeed {
  path: string;
  content: string;
}

/** What every node spec has; each kind's spec (lab/kinds/*.ts) extends it. */
export interface NodeSpec {
  name: string;
  kind: string;
  /** Allocated by the loader when the file gives none. */
  address: string;
  labels: Record<string, string>;
}

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

/** kebab-case keys to camelCase (server fault objects use camelCase). */
export function camelKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

type Base = { name: string; address?: string; labels?: Record<string, string> };
export const base = (n: Base) => ({ name: n.name, address: n.address ?? '', labels: n.labels ?? {} });

export const serverImages = (imgs: z.output<typeof ServerImageSeed>[] | undefined, ctx: z.RefinementCtx): ImageSeed[] =>
  (imgs ?? []).map((i, idx) => {
    if (!i.platform) ctx.addIssue({ code: 'custom', path: ['images', idx, 'platform'], message: 'a server image needs a platform' });
    return { path: i.name, platform: imageTag(i.platform ?? ''), version: i.version, featureSet: i['feature-set'], kind: i['image-kind'], size: i.size, ...signing(i) };
  });

export const texts = (f: z.output<typeof TextSeed>[] | undefined): TextFileSeed[] => (f ?? []).map((t) => ({ path: t.name, content: t.content }));

/** `{{ dns.address }}`, `{{ lab.domain }}`, `{{ lab.name }}`, `{{ node.fqdn }}` in topology texts. */
export function expandTemplate(line: string, lab: string, domain: string, nodes: Map<string, NodeSpec>, fail: (m: string) => void): string {
  return line.replace(/\{\{\s*([A-Za-z][\w-]*)\.([a-z]+)\s*\}\}/g, (whole, who: string, what: string) => {
    if (who === 'lab' && what === 'domain') return domain;
    if (who === 'lab' && what === 'name') return lab;
    const n = nodes.get(who);
    if (n && what === 'address') return n.address;
    if (n && what === 'fqdn') return `${n.name}.${domain}`;
    fail(`cannot expand ${whole}: use {{ <node>.address }}, {{ <node>.fqdn }}, {{ lab.domain }} or {{ lab.name }}`);
    return whole;
  });
}

// ---- the loaded topology -----------------------------------------------------------------

export interface Topology {
  name: string;
  /** The file it came from, when it came from one. */
  file?: string;
  domain: string;
  /** CIDR of the management subnet, normalised (`127.77.0.0/24`). */
  subnet: string;
  clock?: { start?: Date; frozen?: boolean };
  /** In file order, addresses allocated and templates expanded. */
  nodes: NodeSpec[];
  links: { endpoints: [string, string] }[];
  /** CIDRs routers may reach outside the lab (`mgmt.external`); empty: sealed. */
  external: string[];
}
