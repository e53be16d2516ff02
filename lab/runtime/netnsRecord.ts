/**
 * What a netns lab made on the host, kept in its state folder (`netns.json`) before the
 * first namespace exists: so `flashlab down`, `down --force` and the next `up` remove every
 * namespace, veth, bridge and agent a killed lab left. Kept apart from `netns.ts` so the
 * CLI can look without loading the runtime.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const NETNS_RECORD = 'netns.json';

export interface NetnsRecord {
  /** Short id in every name this lab makes (`fl-<id>-r1`, `flb<id>`, `fl<id>h3`). */
  id: string;
  subnet: string;
  bridge: string;
  namespaces: string[];
  /** Host ends of the veth pairs. */
  links: string[];
  /** Agent processes (pid per node), so a crashed lab's agents are ended too. */
  agents: Record<string, number>;
}

export function hasNetnsRecord(stateDir: string): boolean {
  return existsSync(join(stateDir, NETNS_RECORD));
}

export function readNetnsRecord(stateDir: string): NetnsRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, NETNS_RECORD), 'utf8')) as NetnsRecord;
  } catch {
    return undefined;
  }
}

/** Written whole (temp file, rename): a crash never leaves half a record. */
export function writeNetnsRecord(stateDir: string, r: NetnsRecord): void {
  const file = join(stateDir, NETNS_RECORD);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(r, null, 1));
  renameSync(tmp, file);
}

export function removeNetnsRecord(stateDir: string): void {
  rmSync(join(stateDir, NETNS_RECORD), { force: true });
}
