/**
 * Device state that is neither configuration nor a visible file: what a real router keeps
 * in its own non-volatile stores (key storage, the ROMmon's identity, counters). Each feature
 * owns one record, kept across reloads and `flashlab down`/`up` like NVRAM, in
 * `<router state>/device/<feature>.json`. No CLI command lists, copies or deletes it.
 *
 * Writes are synchronous and atomic (temp file, then rename): a record is the old one or the
 * new one whole, never half of each.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DeviceState {
  private readonly records = new Map<string, unknown>();
  private seq = 0;

  constructor(private readonly dir: string) {}

  /** The feature's record: loaded from disk, else made by `init` (first boot) and saved. */
  get<T>(feature: string, init: () => T): T {
    if (this.records.has(feature)) return this.records.get(feature) as T;
    let value: T;
    try {
      value = JSON.parse(readFileSync(this.file(feature), 'utf8')) as T;
    } catch {
      value = init();
      this.records.set(feature, value);
      this.save(feature);
      return value;
    }
    this.records.set(feature, value);
    return value;
  }

  /** Has this feature ever written a record (on disk or in memory)? */
  has(feature: string): boolean {
    if (this.records.has(feature)) return true;
    try {
      readFileSync(this.file(feature));
      return true;
    } catch {
      return false;
    }
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
