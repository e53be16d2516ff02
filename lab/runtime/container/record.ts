/**
 * The record of what a container lab made (`container.json` in its state folder), written
 * before anything is made: `down --force` and the next `up` find a crashed lab's containers,
 * network and volume from it. Light on purpose: `flashlab down` reads it without loading the
 * engine client.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CONTAINER_RECORD = 'container.json';

export interface ContainerRecord {
  lab: string;
  network: string;
  volume: string;
  containers: string[];
}

export function hasContainerRecord(stateDir: string): boolean {
  return existsSync(join(stateDir, CONTAINER_RECORD));
}

export function readContainerRecord(stateDir: string): ContainerRecord | undefined {
  const file = join(stateDir, CONTAINER_RECORD);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord;
  } catch {
    return undefined; // unreadable: the caller falls back to the lab's name and labels
  }
}

export function writeContainerRecord(stateDir: string, rec: ContainerRecord): void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, CONTAINER_RECORD);
  // Written beside and renamed: a crash never leaves half a record.
  writeFileSync(`${file}.tmp`, JSON.stringify(rec, null, 1));
  renameSync(`${file}.tmp`, file);
}

export function removeContainerRecord(stateDir: string): void {
  rmSync(join(stateDir, CONTAINER_RECORD), { force: true });
}
