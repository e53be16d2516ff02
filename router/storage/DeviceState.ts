/**
 * Device state that is neither configuration nor a visible file: what a real router keeps
 * in its own non-volatile stores (key storage, the ROMmon's identity). Each feature owns one
 * record, kept across reloads and `flashlab down`/`up` like NVRAM, in
 * `<router state>/device/<feature>.json`. No CLI command lists, copies or deletes it.
 *
 * Writes are synchronous and atomic (temp file, then rename): a record is the old one or the
 * new one whole, never half of each.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type DeviceRecordLoad<T> = { value: T } | { missing: true } | { corrupt: string };

export class DeviceState {
  private readonly records = new Map<string, unknown>();
  private seq = 0;

  constructor(private readonly dir: string) {}

  /** Reads the feature's record from disk (at attach): the value, missing, or corrupt (why). */
  load<T>(feature: string): DeviceRecordLoad<T> {
    let text: string;
    try {
      text = readFileSync(this.file(feature), 'utf8');
    } catch {
      return { missing: true };
    }
    try {
      const value = JSON.parse(text) as T;
      if (value === null || typeof value !== 'object') return { corrupt: 'not a record' };
      this.records.set(feature, value);
      return { value };
    } catch (e) {
      return { corrupt: (e as Error).message };
    }
  }

  /** Replaces the feature's record and persists it. */
  set<T>(feature: string, value: T): T {
    this.records.set(feature, value);
    this.save(feature);
    return value;
  }

  /** The feature's record as loaded or set; a feature that never attached is a bug. */
  get<T>(feature: string): T {
    if (!this.records.has(feature)) throw new Error(`device state "${feature}" used before it was loaded`);
    return this.records.get(feature) as T;
  }

  /** Persists the feature's record after a change made to the object `get` returned. */
  save(feature: string): void {
    if (!this.records.has(feature)) return;
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file(feature)}.${process.pid}.${this.seq++}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.records.get(feature)));
    renameSync(tmp, this.file(feature));
  }

  private file(feature: string): string {
    if (!/^[a-z][a-z0-9-]*$/.test(feature)) throw new Error(`bad device-state name: ${feature}`);
    return join(this.dir, `${feature}.json`);
  }
}
