/**
 * The lab clock: every router and scheduler in a lab reads time here, so a scenario can
 * jump to `reload at 19:30` without waiting. Real time flows unless the clock is frozen;
 * `advance()` moves it forward and fires what falls due, in order.
 */
export interface Clock {
  now(): Date;
  /** Runs `fn` when the clock reaches `at`; returns a cancel function. */
  at(at: Date, fn: () => void): () => void;
}

/** How far two processes' readings of one flowing lab clock may differ without a correction. */
const FOLLOW_SLACK_MS = 100;

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

export class LabClock implements Clock {
  /** Offset of lab time from the host's real time, in ms. */
  private offset: number;
  private frozenAt?: number;
  private timers: Timer[] = [];
  private nextId = 1;
  private wake?: NodeJS.Timeout;
  private readonly moveListeners = new Set<() => void>();

  constructor(opts: { start?: Date; frozen?: boolean } = {}) {
    // One reading of the host clock: two could straddle a millisecond, and a clock frozen at
    // 10:00:00.000 would then start at .001.
    const host = Date.now();
    this.offset = opts.start ? opts.start.getTime() - host : 0;
    if (opts.frozen) this.frozenAt = host + this.offset;
  }

  private nowMs(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Sets the clock (IOS `clock set`); timers due before the new time fire. */
  set(to: Date): void {
    if (this.frozenAt !== undefined) this.frozenAt = to.getTime();
    else this.offset = to.getTime() - Date.now();
    this.fireDue();
    this.moved();
  }

  /** Moves lab time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.nowMs() + ms;
    for (;;) {
      const next = this.timers[0];
      if (!next || next.due > target) break;
      this.setMs(next.due);
      this.fireDue();
    }
    this.setMs(target);
    this.fireDue();
    this.moved();
  }

  /** Is real time stopped (lab time moves only when told)? */
  get frozen(): boolean {
    return this.frozenAt !== undefined;
  }

  /**
   * Calls `fn` after every `set` and `advance`: runtimes whose nodes run in other processes
   * pass the move on, so those nodes' clocks follow this one.
   */
  onMove(fn: () => void): () => void {
    this.moveListeners.add(fn);
    return () => this.moveListeners.delete(fn);
  }

  private moved(): void {
    for (const fn of this.moveListeners) fn();
  }

  /**
   * Follows a lab clock kept in another process: moves to `ms`, firing what falls due on
   * the way in order (a step back, from two processes reading real time a moment apart,
   * is ignored unless it is large: then the other clock was set back, and so is this one).
   */
  follow(ms: number): void {
    const delta = ms - this.nowMs();
    if (delta > 0) this.advance(delta);
    else if (delta < -FOLLOW_SLACK_MS) this.set(new Date(ms));
    // A step to a due time this clock has just passed (real time flows) still fires what is due.
    else this.fireDue();
  }

  /** When the earliest timer falls due (ms since the epoch), or undefined when none is set. */
  nextDue(): number | undefined {
    return this.timers[0]?.due;
  }

  private setMs(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt = ms;
    else this.offset = ms - Date.now();
  }

  at(at: Date, fn: () => void): () => void {
    const t: Timer = { id: this.nextId++, due: at.getTime(), fn };
    this.timers.push(t);
    this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
    this.arm();
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
      this.arm();
    };
  }

  /** Runs `fn` after `ms` of lab time. */
  after(ms: number, fn: () => void): () => void {
    return this.at(new Date(this.nowMs() + ms), fn);
  }

  private fireDue(): void {
    const now = this.nowMs();
    while (this.timers.length && this.timers[0]!.due <= now) {
      const t = this.timers.shift()!;
      try {
        t.fn();
      } catch {
        // A failing timer must not stop the others; its owner reports its own errors.
      }
    }
    this.arm();
  }

  /** Keeps one real timer armed for the earliest due time while real time flows. */
  private arm(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = undefined;
    if (this.frozenAt !== undefined || this.timers.length === 0) return;
    const delay = Math.max(0, Math.min(this.timers[0]!.due - this.nowMs(), 2 ** 31 - 1));
    this.wake = setTimeout(() => this.fireDue(), delay);
    this.wake.unref();
  }

  dispose(): void {
    if (this.wake) clearTimeout(this.wake);
    this.timers = [];
  }
}
