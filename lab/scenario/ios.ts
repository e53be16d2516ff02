/**
 * Reading IOS output the way a person (or genie/netmiko) reads it, for the check steps:
 * `dir` lines and totals, `verify /md5`, `show bootvar`, `show version`, `show reload`.
 * Shapes per IOS_REFERENCE §2, §3, §5, §6.
 */

export interface DirEntry {
  size: number;
  name: string;
  isDir: boolean;
  /** Class-B flash shows deleted files in brackets until `squeeze`. */
  deleted: boolean;
}

/** `   24  -rw-        794609595  Feb 17 2017 11:50:21 -07:00  name` */
const DIR_LINE = /^\s*\d+\s+([-d])[-rwx]{3}\s+(\d+)\s+.*?\s(\S+)$/;

export function parseDir(text: string): DirEntry[] {
  const out: DirEntry[] = [];
  for (const line of text.split('\n')) {
    const m = DIR_LINE.exec(line.trimEnd());
    if (!m) continue;
    const raw = m[3]!;
    const deleted = raw.startsWith('[') && raw.endsWith(']');
    out.push({ size: Number(m[2]), name: deleted ? raw.slice(1, -1) : raw, isDir: m[1] === 'd', deleted });
  }
  return out;
}

/** Free bytes from `dir`'s totals (`N bytes total (N bytes free)`) or the classic `[N used, N available, N total]`. */
export function parseFree(text: string): number | undefined {
  let m = /(\d+) bytes total \((\d+) bytes free\)/.exec(text);
  if (m) return Number(m[2]);
  m = /\[(\d+) bytes used, (\d+) available, (\d+) total\]/.exec(text);
  if (m) return Number(m[2]);
  m = /(\d+) bytes available \((\d+) bytes used\)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** `verify /md5 (bootflash:x) = 2c9b...` */
export function parseMd5(text: string): string | undefined {
  return /=\s*([0-9a-f]{32})\b/i.exec(text)?.[1]?.toLowerCase();
}

/** `BOOT variable = bootflash:a.bin,12;bootflash:b.bin,12;` -> entries without retry counts. */
export function parseBootvar(text: string): string[] | undefined {
  const m = /^BOOT variable =(.*)$/m.exec(text);
  if (!m) return undefined;
  return m[1]!
    .split(';')
    .map((e) => e.trim().replace(/,\d+$/, ''))
    .filter((e) => e !== '');
}

/** `System image file is "bootflash:x.bin"` */
export function parseRunningImage(text: string): string | undefined {
  return /System image file is "([^"]*)"/.exec(text)?.[1];
}

/** The file part of `fs:path`, `fs:1:path` or a URL. */
export function baseName(p: string): string {
  const afterColon = p.slice(p.lastIndexOf(':') + 1);
  return afterColon.slice(afterColon.lastIndexOf('/') + 1);
}

/** Does any `Version …` in show version name this version exactly? */
export function versionShown(text: string, version: string): boolean {
  const esc = version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`Version ${esc}(?=[,\\s]|$)`, 'm').test(text);
}

/** IOS error lines (`%Error opening …`, `% Invalid input …`), for failure messages. */
export function errorLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s*%\s?(Error|ERROR|Invalid|Incomplete|Ambiguous|Bad|Unknown)/.test(l) || /^%[A-Z]/.test(l.trim()) && /Error/i.test(l));
}
