/**
 * Text layouts of the file-system commands (IOS_REFERENCE §3). Pure functions of entries,
 * sizes and a time-zone offset, so tests can check columns without a router.
 */
import type { FlashFileSystem } from '../../storage/FlashFileSystem.ts';
import type { Device } from '../../storage/FileSystems.ts';
import type { FileEntry } from '../../storage/types.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

export type Family = 'iosxe' | 'ios';

/** `+00:00` / `-07:00` for a UTC offset in minutes. */
export function tzSuffix(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

/** The instant as wall-clock fields in the router's zone (read with getUTC*). */
function local(d: Date, offsetMinutes: number): Date {
  return new Date(d.getTime() + offsetMinutes * 60_000);
}

function clockTime(l: Date): string {
  return `${two(l.getUTCHours())}:${two(l.getUTCMinutes())}:${two(l.getUTCSeconds())}`;
}

/** `dir` date column: `Mmm D YYYY` right-aligned in 11 (day not padded), time, offset. */
export function dirDate(d: Date, offsetMinutes: number): string {
  const l = local(d, offsetMinutes);
  const date = `${MONTHS[l.getUTCMonth()]} ${l.getUTCDate()} ${l.getUTCFullYear()}`.padStart(11);
  return `${date} ${clockTime(l)} ${tzSuffix(offsetMinutes)}`;
}

/** `show flash:` date column: day zero-padded. */
export function showDate(d: Date, offsetMinutes: number): string {
  const l = local(d, offsetMinutes);
  return `${MONTHS[l.getUTCMonth()]} ${two(l.getUTCDate())} ${l.getUTCFullYear()} ${clockTime(l)} ${tzSuffix(offsetMinutes)}`;
}

/** Width of the whole date column in `dir` (`Mmm D YYYY HH:MM:SS +hh:mm`). */
const DIR_DATE_WIDTH = 27;

/**
 * One `dir` line: `%5d` inode, perms, size (`%17d` on IOS XE, `%12d` classic), date, name.
 * nvram pseudo-files print `<no date>` as IOS does; class-B deleted files show in brackets.
 */
export function dirLine(e: FileEntry, o: { family: Family; offsetMinutes: number; noDate?: boolean }): string {
  const perms = e.isDir ? (o.family === 'iosxe' ? 'drwx' : 'drw-') : '-rw-';
  const size = String(e.size).padStart(o.family === 'iosxe' ? 17 : 12);
  const date = o.noDate ? '<no date>'.padStart(DIR_DATE_WIDTH) : dirDate(e.mtime, o.offsetMinutes);
  const name = e.deleted ? `[${e.name}]` : e.name;
  return `${String(e.inode).padStart(5)}  ${perms}${size}  ${date}  ${name}`;
}

export function dirTotals(fs: FlashFileSystem): string {
  return `${fs.totalBytes} bytes total (${fs.freeBytes} bytes free)`;
}

/**
 * `show flash:` on a class-C / Linux file system (§3.3). IOS XE lists the root itself and
 * Linux-style absolute paths (`/bootflash/x`), index right-aligned; classic IOS lists paths
 * relative to the device, index left-aligned (INV-by-analogy, see the reference).
 */
export function showFlash(fs: FlashFileSystem, o: { family: Family; offsetMinutes: number }): string[] {
  const out: string[] = [];
  const xe = o.family === 'iosxe';
  out.push(xe ? '-#- --length-- ---------date/time--------- path' : '-#- --length-- -----date/time------ path');
  const rows: { size: number; mtime: Date; path: string }[] = [];
  const root = `/${fs.name}/`;
  if (xe) rows.push({ size: 4096, mtime: fs.stat('')!.mtime, path: root });
  for (const e of fs.walk()) rows.push({ size: e.size, mtime: e.mtime, path: xe ? root + e.path + (e.isDir ? '/' : '') : e.path });
  rows.forEach((r, i) => {
    const idx = xe ? String(i + 1).padStart(3) : String(i + 1).padEnd(3);
    out.push(`${idx}${String(r.size).padStart(11)} ${showDate(r.mtime, o.offsetMinutes)} ${r.path}`);
  });
  out.push('');
  out.push(`${fs.freeBytes} bytes available (${fs.usedBytes} bytes used)`);
  return out;
}

/** Class-B title: `PCMCIA Slot0 flash directory` for slotN:, `System flash directory` otherwise. */
function classBTitle(fs: FlashFileSystem): string {
  const slot = /^slot(\d+)$/.exec(fs.name);
  const what = slot ? `PCMCIA Slot${slot[1]} flash directory` : 'System flash directory';
  return fs.partition !== undefined ? `${what}, partition ${fs.partition}:` : `${what}:`;
}

/**
 * `show slot0:` on class-B flash, the seed's format (S3.6):
 *   PCMCIA Slot0 flash directory, partition 1:
 *   File  Length   Name/status
 *     1   1711088  your-ios
 *   [1711152 bytes used, 2483152 available, 4194304 total]
 * Deleted files stay listed with `[deleted]` until squeeze.
 */
export function showClassB(fs: FlashFileSystem, device: Device, deviceLine = true): string[] {
  const out = [classBTitle(fs), 'File  Length   Name/status'];
  fs.walk({ deleted: true })
    .filter((e) => !e.isDir)
    .forEach((e, i) => {
      out.push(`${String(i + 1).padStart(3)}   ${String(e.size).padEnd(7)}  ${e.path}${e.deleted ? ' [deleted]' : ''}`);
    });
  out.push(`[${fs.usedBytes} bytes used, ${fs.freeBytes} available, ${fs.totalBytes} total]`);
  if (deviceLine && device.profile.versionLine) out.push(device.profile.versionLine.replace('{k}', String(Math.floor(device.sizeBytes / 1024))));
  return out;
}

/** Network schemes listed by `show file systems` after the local devices (§3.4). */
const NETWORK_ROWS = ['tftp:', 'ftp:', 'http:', 'scp:', 'https:'];

/**
 * `show file systems` (§3.4): `*` marks the default device; Size ends at column 14, Free at
 * 28, Type at 38, Flags at 45, then three spaces and the prefixes (name first, aliases after).
 */
export function showFileSystems(devices: readonly Device[], defaultName: string): string[] {
  const row = (mark: string, size: string, free: string, type: string, flags: string, prefixes: string) =>
    `${mark}${size.padStart(13)}${free.padStart(14)}${type.padStart(10)}${flags.padStart(7)}   ${prefixes}`;
  const out = ['File Systems:', '', '       Size(b)       Free(b)      Type  Flags  Prefixes'];
  for (const d of devices) {
    const free = d.partitions.reduce((n, p) => n + p.freeBytes, 0);
    const prefixes = [d.name, ...d.aliases].map((p) => `${p}:`).join(' ');
    out.push(row(d.name === defaultName ? '*' : ' ', String(d.sizeBytes), String(free), d.profile.type, 'rw', prefixes));
  }
  for (const n of NETWORK_ROWS) out.push(row(' ', '-', '-', 'network', 'rw', n));
  return out;
}

/** `N bytes copied in S.sss secs (R bytes/sec)`: three decimals, integer rate (§4.1). */
export function copiedLine(bytes: number, seconds: number): string {
  // An emulated flash copy can finish within a millisecond; IOS never prints a zero time.
  const secs = Math.max(seconds, 0.001);
  return `${bytes} bytes copied in ${secs.toFixed(3)} secs (${Math.round(bytes / secs)} bytes/sec)`;
}

/** Progress marks for `size` bytes: one per 4 MiB, at least one, at most 200 (one screenful). */
export function progressMarks(size: number, mark: string): string {
  return mark.repeat(Math.min(200, Math.max(1, Math.ceil(size / (4 << 20)))));
}
