/**
 * Slows and then stops password guessing, per client address: each failed login after the
 * first is answered later and later, and after `attempts` failures within `withinMs` the
 * address is refused outright for `blockMs` (IOS's `login block-for S attempts N within W`
 * is the model). Used by the routers' SSH lines and the lab FTP server; every refusal is
 * logged. Memory stays bounded: at most `maxAddresses` addresses are remembered.
 */

export interface LoginGuardOptions {
  /** Failures within `withinMs` that start a block (default 5). */
  attempts?: number;
  withinMs?: number;
  /** How long an address stays refused (default 60 s). */
  blockMs?: number;
  /** Added delay per failure after the first (default 250 ms), up to `maxDelayMs` (default 2 s). */
  delayStepMs?: number;
  maxDelayMs?: number;
  maxAddresses?: number;
  /** Who is guarded, for the log (`r1 ssh`, `ftp`). */
  owner: string;
  log?: (line: string) => void;
  now?: () => number;
}

interface Record {
  failures: number[];
  blockedUntil: number;
}

export class LoginGuard {
  private readonly seen = new Map<string, Record>();
  private readonly o: Required<Omit<LoginGuardOptions, 'log'>> & Pick<LoginGuardOptions, 'log'>;

  constructor(opts: LoginGuardOptions) {
    this.o = {
      attempts: 5,
      withinMs: 60_000,
      blockMs: 60_000,
      delayStepMs: 250,
      maxDelayMs: 2000,
      maxAddresses: 10_000,
      now: () => Date.now(),
      ...opts,
    };
  }

  /** Changes the limits (IOS `login block-for`); remembered failures stay. */
  configure(limits: { attempts?: number; withinMs?: number; blockMs?: number }): void {
    Object.assign(this.o, limits);
  }

  /** Milliseconds this address stays refused (0: it may try). Logs each refusal. */
  refusal(address: string, user?: string): number {
    const r = this.seen.get(address);
    const left = r ? r.blockedUntil - this.o.now() : 0;
    if (left <= 0) return 0;
    this.o.log?.(`${this.o.owner}: login refused from ${address}${user ? ` (user ${user})` : ''}: blocked for ${Math.ceil(left / 1000)} more s after ${this.o.attempts} failures`);
    return left;
  }

  /** Records a failure; returns how long to hold the answer back. */
  failed(address: string, user?: string): number {
    const now = this.o.now();
    let r = this.seen.get(address);
    if (!r) {
      if (this.seen.size >= this.o.maxAddresses) this.seen.delete(this.seen.keys().next().value!);
      r = { failures: [], blockedUntil: 0 };
      this.seen.set(address, r);
    }
    r.failures = r.failures.filter((t) => now - t < this.o.withinMs);
    r.failures.push(now);
    if (r.failures.length >= this.o.attempts && r.blockedUntil <= now) {
      r.blockedUntil = now + this.o.blockMs;
      this.o.log?.(`${this.o.owner}: ${r.failures.length} failed logins from ${address}${user ? ` (last user ${user})` : ''} within ${Math.round(this.o.withinMs / 1000)} s: blocked for ${Math.round(this.o.blockMs / 1000)} s`);
    }
    return Math.min(this.o.maxDelayMs, this.o.delayStepMs * (r.failures.length - 1));
  }

  succeeded(address: string): void {
    const r = this.seen.get(address);
    if (r && r.blockedUntil <= this.o.now()) this.seen.delete(address);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
