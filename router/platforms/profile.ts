/**
 * Router platforms are data: one YAML file per platform in this folder, checked by this
 * schema. Code reads a profile; it never switches on a platform's name.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';

export const FileSystemProfileSchema = z.object({
  /** Prefix without the colon: `bootflash`, `flash0`, `nvram`, `slot0`. */
  name: z.string().regex(/^[a-z][a-z0-9]*$/),
  aliases: z.array(z.string()).default([]),
  /** `show file systems` Type column. */
  type: z.enum(['disk', 'flash', 'nvram', 'usbflash']),
  sizeBytes: z.number().int().positive(),
  /** The default file system for `dir` with no argument. */
  default: z.boolean().default(false),
  /** Equal-size partitions (`slot0:1:`); omitted for unpartitioned devices. */
  partitions: z.number().int().min(2).max(8).optional(),
  /** Class-A/B flash keeps deleted files until `squeeze`. */
  squeeze: z.boolean().default(false),
  /** `show version` storage line; `{k}` is the size in KiB. Omitted: not listed. */
  versionLine: z.string().optional(),
});

export const PlatformProfileSchema = z.object({
  id: z.string(),
  /** `iosxe` prints the IOS XE banners and `dir` format; `ios` the classic ones. */
  family: z.enum(['iosxe', 'ios']),
  description: z.string(),
  /** Images whose header names this platform tag can boot here. */
  imagePlatform: z.string(),
  software: z.object({
    version: z.string(),
    xeVersion: z.string().optional(),
    codename: z.string().optional(),
    platformWord: z.string(),
    imageId: z.string(),
    fc: z.string().default('fc1'),
    compiled: z.string(),
    copyrightYear: z.number().int(),
    rom: z.string(),
  }),
  defaultImage: z.string(),
  hardware: z.object({
    chassisLine: z.string(),
    processorBoardId: z.string(),
    extraLines: z.array(z.string()).default([]),
    nvramK: z.number().int(),
    physicalMemoryK: z.number().int().optional(),
    /** Classic IOS's I/O memory pool in KiB (the second figure of the chassis line). */
    ioMemoryK: z.number().int().optional(),
    /** Main memory in KiB available to load an image (AUM checks this). */
    mainMemoryK: z.number().int(),
  }),
  /** ROMmon (`show rom-monitor`, `show platform`'s firmware column). */
  rommon: z.object({ version: z.string(), copyrightYears: z.string() }),
  /** Licensing as `show version` and `show license udi` print it. */
  license: z.object({
    udi: z.object({ pid: z.string(), sn: z.string() }),
    /** IOS XE suite table (`Suite License Information for Module:'esg'`). */
    suites: z
      .object({
        module: z.string(),
        rows: z.array(z.object({ suite: z.string(), current: z.string(), type: z.string(), next: z.string(), features: z.array(z.string()) })),
      })
      .optional(),
    /** Technology package table; `module` names it on classic IOS (`for Module:'c3900'`). */
    technology: z.object({
      module: z.string().optional(),
      rows: z.array(z.object({ technology: z.string(), current: z.string(), type: z.string(), next: z.string() })),
    }),
    throughputKbps: z.number().int().optional(),
    /** `Smart Licensing Status: …` (IOS XE). */
    smartStatus: z.string().optional(),
  }),
  /** `show platform` (IOS XE): the chassis slots, their state and CPLD version. */
  chassisSlots: z.array(z.object({ slot: z.string(), type: z.string(), state: z.string(), cpld: z.string().optional() })).default([]),
  /** `show inventory` entries. */
  inventory: z
    .array(z.object({ name: z.string(), descr: z.string(), pid: z.string(), vid: z.string(), sn: z.string() }))
    .default([]),
  /**
   * The router's interfaces, by type: `show version` counts them (`3 Gigabit Ethernet
   * interfaces`, in this order), the interface feature builds its model from them.
   */
  interfaces: z
    .array(
      z.object({
        /** `GigabitEthernet`: the name before the port number. */
        type: z.string().regex(/^[A-Za-z][A-Za-z-]*$/),
        /** `show version`'s word for them: `Gigabit Ethernet`, `FastEthernet`. */
        versionLabel: z.string(),
        /** `show interfaces`' `Hardware is …`. */
        hardware: z.string(),
        bandwidthKbit: z.number().int().positive(),
        /** `Full Duplex, 1000Mbps, link type is auto, media type is RJ45`. */
        mediaLine: z.string(),
        /** Lines IOS prints in every section of this type's running-config (`negotiation auto`). */
        configDefaults: z.array(z.string()).default([]),
        /** The port numbers: `0/0/0`. */
        ports: z.array(z.string().regex(/^\d+(\/\d+)*$/)).min(1),
      }),
    )
    .min(1),
  /** First MAC address of the chassis; interfaces count up from it. */
  baseMac: z.string().regex(/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/),
  /** The interface copies say they leave by (`Loading f from h (via GigabitEthernet0/0/0)`). */
  managementInterface: z.string(),
  fileSystems: z.array(FileSystemProfileSchema).min(1),
  /** Simulated seconds from reload to the prompt coming back. */
  bootSeconds: z.number().nonnegative().default(5),
  /** Key revocation supported (S2.12: off on some platforms). */
  keyRevocation: z.boolean().default(true),
  /** Signed software (S2.2–S2.4): factory key storage and the ROMmon the router leaves the factory with. */
  authenticity: z
    .object({
      /** Keys in primary and backup storage at first boot (`production:A`, `special:A`). */
      keys: z.array(z.string().regex(/^(production|special):[A-Z]$/)).default(['production:A', 'special:A']),
      /** Rollover keys (ROLLOVER KEY STORAGE): they verify revocation images only. */
      rolloverKeys: z.array(z.string().regex(/^rollover:[A-Z]$/)).default(['rollover:A']),
      /** The `show software authenticity running` ROMmon section title and verifier name (`ROMMON`, `ROMMON 2`). */
      rommonName: z.string().default('ROMMON'),
      /** The key the factory ROMmon (`rommon.version`) is signed with. */
      rommonKey: z.string().regex(/^(production|special):[A-Z]$/).default('production:A'),
      /** `Organization Unit` of the platform's images (`IOS-XE`, `C3900`). */
      productName: z.string().default('IOS-XE'),
    })
    .prefault({}),
});

export type PlatformProfile = z.infer<typeof PlatformProfileSchema>;
export type FileSystemProfile = z.infer<typeof FileSystemProfileSchema>;

const here = dirname(fileURLToPath(import.meta.url));

export class UnknownPlatformError extends Error {
  constructor(name: string, known: string[]) {
    super(`unknown router platform "${name}"; known platforms: ${known.join(', ')}`);
  }
}

let cache: Map<string, PlatformProfile> | undefined;

/** Every bundled platform profile, by id. */
export function platforms(): Map<string, PlatformProfile> {
  if (cache) return cache;
  cache = new Map();
  for (const f of readdirSync(here).filter((n) => n.endsWith('.yml')).sort()) {
    const p = PlatformProfileSchema.parse(parse(readFileSync(join(here, f), 'utf8')));
    cache.set(p.id, p);
  }
  return cache;
}

export function platform(name: string): PlatformProfile {
  const p = platforms().get(name);
  if (!p) throw new UnknownPlatformError(name, [...platforms().keys()]);
  return p;
}
