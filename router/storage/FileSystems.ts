/**
 * A router's set of file systems, built from its platform profile: names, aliases
 * (`flash:` → `bootflash:` on an ISR4321, → `flash0:` on a C3900) and partitions
 * (`slot0:1:`), plus the parser for IOS file URLs.
 */
import { join } from 'node:path';
import type { Clock } from '../../lab/clock/LabClock.ts';
import type { FileSystemProfile, PlatformProfile } from '../platforms/profile.ts';
import type { ContentStore } from './ContentStore.ts';
import { FlashFileSystem, normalize } from './FlashFileSystem.ts';
import { type DamagedContentError, StorageError } from './types.ts';

export interface FileSystemsOptions {
  profile: PlatformProfile;
  store: ContentStore;
  /** Folder for this router's metadata files (one JSON per file system / partition). */
  metaDir: string;
  clock: Clock;
  /** Size overrides from the topology, by file-system name (whole device, before partitioning). */
  sizes?: Record<string, number>;
  /** Told when a file's stored content is missing or damaged. */
  onDamage?: (file: string, error: DamagedContentError) => void;
}

/** A file system together with the profile row it came from (one per device, not per partition). */
export interface Device {
  name: string;
  aliases: readonly string[];
  profile: FileSystemProfile;
  /** Whole-device capacity. */
  sizeBytes: number;
  /** One entry per partition; a single one for an unpartitioned device. */
  partitions: FlashFileSystem[];
}

/** A parsed file URL: the file system and the path inside it (no leading slash). */
export interface FsLocation {
  fs: FlashFileSystem;
  path: string;
}

/** Schemes other features own (network copies, config pseudo-files): not local devices. */
export const NETWORK_PREFIXES = ['tftp', 'ftp', 'http', 'scp', 'https'] as const;

export class FileSystems {
  private readonly deviceList: Device[] = [];
  private readonly byName = new Map<string, Device>();

  constructor(opts: FileSystemsOptions) {
    for (const p of opts.profile.fileSystems) {
      const size = opts.sizes?.[p.name] ?? p.sizeBytes;
      const count = p.partitions ?? 1;
      const partitions: FlashFileSystem[] = [];
      for (let i = 1; i <= count; i++) {
        const partitioned = p.partitions !== undefined;
        partitions.push(
          new FlashFileSystem({
            name: p.name,
            partition: partitioned ? i : undefined,
            aliases: p.aliases,
            profile: p,
            // Equal partitions, as the seed's 4 MB partition of an 8 MB card shows.
            sizeBytes: Math.floor(size / count),
            store: opts.store,
            metaPath: join(opts.metaDir, partitioned ? `${p.name}-${i}.json` : `${p.name}.json`),
            clock: opts.clock,
            family: opts.profile.family,
            onDamage: opts.onDamage,
          }),
        );
      }
      const dev: Device = { name: p.name, aliases: p.aliases, profile: p, sizeBytes: size, partitions };
      this.deviceList.push(dev);
      this.byName.set(p.name, dev);
      for (const a of p.aliases) if (!this.byName.has(a)) this.byName.set(a, dev);
    }
  }

  /** The default file system (`dir` with no argument; the first row marked `*`). */
  get default(): FlashFileSystem {
    const dev = this.deviceList.find((d) => d.profile.default) ?? this.deviceList[0]!;
    return dev.partitions[0]!;
  }

  /** Devices in profile order (for `show file systems`). */
  devices(): readonly Device[] {
    return this.deviceList;
  }

  /** The device a name or alias names (with or without the colon). */
  device(prefix: string): Device | undefined {
    return this.byName.get(prefix.replace(/:$/, '').toLowerCase());
  }

  /** Every file system, partitions one by one. */
  all(): FlashFileSystem[] {
    return this.deviceList.flatMap((d) => d.partitions);
  }

  /**
   * A file system by `bootflash`, `flash:`, `slot0:2`, `slot0:2:`; `slot0` alone is its
   * first partition. Undefined when no such device or partition exists.
   */
  get(prefix: string): FlashFileSystem | undefined {
    const m = /^([A-Za-z][A-Za-z0-9]*)(?::(\d+))?:?$/.exec(prefix.trim());
    if (!m) return undefined;
    const dev = this.device(m[1]!);
    if (!dev) return undefined;
    if (m[2] === undefined) return dev.partitions[0];
    const n = Number(m[2]);
    if (dev.profile.partitions === undefined) return undefined;
    return dev.partitions[n - 1];
  }

  /** Is `url` written as a file-system URL (`<word>:...`) rather than a bare path? */
  static hasPrefix(url: string): boolean {
    return /^[A-Za-z][A-Za-z0-9-]*:/.test(url);
  }

  /**
   * Parses `flash:dir/f`, `bootflash:/f`, `slot0:1:file`, `nvram:startup-config`. A bare
   * path (no prefix) is relative to `cwd` (default: the default file system's root).
   * Throws StorageError('No device available') for an unknown prefix.
   */
  parse(url: string, cwd?: FsLocation): FsLocation {
    const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/s.exec(url);
    if (!m) {
      const base = cwd ?? { fs: this.default, path: '' };
      const path = url.startsWith('/') ? url : `${base.path}/${url}`;
      return { fs: base.fs, path: clean(path) };
    }
    const dev = this.device(m[1]!);
    if (!dev) throw new StorageError('No device available');
    let rest = m[2]!;
    let fs = dev.partitions[0]!;
    if (dev.profile.partitions !== undefined) {
      const p = /^(\d+):(.*)$/s.exec(rest);
      if (p) {
        const part = dev.partitions[Number(p[1]) - 1];
        if (!part) throw new StorageError('No device available');
        fs = part;
        rest = p[2]!;
      }
    }
    return { fs, path: clean(rest) };
  }

  /** File systems whose metadata was unreadable at start (kept aside, started empty). */
  loadProblems(): { fs: FlashFileSystem; file: string; keptAs: string; reason: string }[] {
    return this.all().flatMap((fs) => (fs.loadProblem ? [{ fs, ...fs.loadProblem }] : []));
  }

  /** Blob hashes in use on every file system of this router (for the store's gc). */
  liveHashes(): Set<string> {
    const out = new Set<string>();
    for (const fs of this.all()) for (const h of fs.liveHashes()) out.add(h);
    return out;
  }
}

/** Normalised path without leading slash (`..` stops at the root). */
function clean(path: string): string {
  return normalize(path).join('/');
}
