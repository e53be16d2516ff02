/**
 * The router's `debug` facility, shared by every feature that has debug messages (signed
 * software today; PKI and the Auto-Upgrade Manager reuse it). A feature declares an area and
 * its flags once; the CLI turns flags on and off (`debug …`, `no debug …`, `undebug all`),
 * `show debugging` lists what is on, and messages go to the logging buffer and to every
 * `terminal monitor` session through the syslog, as on IOS. Debugging, like all of RAM, is
 * off again after a reload.
 */
import type { Syslog } from './Syslog.ts';

export interface DebugArea {
  /** Key features use (`software-authenticity`). */
  id: string;
  /** `show debugging` heading (`Software Authenticity`). */
  title: string;
  /** Start of each "… debugging is on/off" line (`Software authenticity`). */
  phrase: string;
  /** Tag in front of each message (`SW_AUTH`). */
  tag: string;
  /** The flags the area's `debug` command takes, in help order. */
  flags: readonly string[];
  /** A flag that implies every other one (`verbose`). */
  all?: string;
}

const areas = new Map<string, DebugArea>();

export function registerDebugArea(area: DebugArea): DebugArea {
  areas.set(area.id, area);
  return area;
}

export class Debug {
  private readonly on = new Map<string, Set<string>>();

  constructor(private readonly log: Syslog) {}

  /** Turns a flag on; returns IOS's confirmation line. */
  enable(areaId: string, flag: string): string {
    const area = this.area(areaId);
    let set = this.on.get(areaId);
    if (!set) this.on.set(areaId, (set = new Set()));
    set.add(flag);
    return `${area.phrase} ${flag} debugging is on`;
  }

  disable(areaId: string, flag: string): string {
    const area = this.area(areaId);
    const set = this.on.get(areaId);
    set?.delete(flag);
    if (set?.size === 0) this.on.delete(areaId);
    return `${area.phrase} ${flag} debugging is off`;
  }

  /** `undebug all` / `no debug all`. */
  disableAll(): void {
    this.on.clear();
  }

  isOn(areaId: string, flag: string): boolean {
    const set = this.on.get(areaId);
    if (!set) return false;
    const all = areas.get(areaId)?.all;
    return set.has(flag) || (all !== undefined && set.has(all));
  }

  /** Logs a debug message when its flag (or the area's catch-all flag) is on. */
  message(areaId: string, flag: string, text: string | (() => string)): void {
    if (!this.isOn(areaId, flag)) return;
    this.log.debug(this.area(areaId).tag, typeof text === 'function' ? text() : text);
  }

  /** `show debugging`: one heading per area with flags on, one line per flag. */
  show(): string[] {
    const out: string[] = [];
    for (const [id, set] of this.on) {
      const area = this.area(id);
      out.push(`${area.title}:`);
      for (const f of area.flags) if (set.has(f)) out.push(`  ${area.phrase} ${f} debugging is on`);
    }
    return out;
  }

  /** Everything off (a reload). */
  reset(): void {
    this.on.clear();
  }

  private area(id: string): DebugArea {
    const a = areas.get(id);
    if (!a) throw new Error(`unknown debug area ${id}`);
    return a;
  }
}
