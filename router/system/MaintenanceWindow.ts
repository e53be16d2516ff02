/**
 * A recurring maintenance window on the lab clock: at each time a cron expression names (in
 * the router's local time zone), the router runs a few IOS lines, such as `upgrade automatic
 * runversion now` to take a downloaded image in the window. A topology sets it per router
 * (`maintenance-window: { cron: "0 2 * * 6", commands: [...] }`).
 *
 * node-cron reads and checks the expression (its parser and validator, the same five- or
 * six-field syntax users know); it does not schedule. Its tasks fire from `setTimeout` on the
 * host's wall clock (`new Date()`), so they cannot follow a lab clock that a scenario moves
 * or freezes: moving a frozen lab clock by 10 minutes ran a `* * * * *` task 0 times, and its
 * next run was still computed from the host's time (README, design notes). Its `match(date)`
 * could be asked minute by minute, but that took 515 ms to find a weekly slot 3,840 minutes
 * away. So the next time is computed here from the parsed fields, and the lab clock fires it.
 */
import cron from 'node-cron';
import type { Router } from '../Router.ts';

export interface MaintenanceWindow {
  cron: string;
  commands: string[];
}

type Fields = ReturnType<typeof cron.parse>;

/** Why an expression is refused, or undefined when node-cron accepts it. */
export function cronProblem(expression: string): string | undefined {
  const v = cron.validateDetailed(expression);
  if (!v.valid) return v.errors.map((e) => e.message).join('; ') || 'invalid cron expression';
  try {
    cron.parse(expression); // also refuses a day no month has (`0 0 31 2 *`)
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const DAY = 24 * 3600_000;

/**
 * The first time after `after` the fields match, reading the calendar with `offsetMinutes`
 * (the router's time zone); undefined when nothing matches within four years.
 * Day of month and day of week: either one restricted alone decides; both restricted, either
 * matches (cron's rule).
 */
export function nextCronTime(f: Fields, after: Date, offsetMinutes = 0): Date | undefined {
  const off = offsetMinutes * 60_000;
  const local = after.getTime() + off;
  const num = (xs: (number | string)[]) => xs.filter((x): x is number => typeof x === 'number');
  const doms = new Set(num(f.dayOfMonth));
  const dows = new Set(num(f.dayOfWeek).map((d) => d % 7));
  const months = new Set(f.month);
  const domAll = doms.size >= 31;
  const dowAll = dows.size >= 7;
  const times: number[] = [];
  for (const h of [...f.hour].sort((a, b) => a - b)) for (const m of [...f.minute].sort((a, b) => a - b)) for (const s of [...f.second].sort((a, b) => a - b)) times.push(((h * 60 + m) * 60 + s) * 1000);
  const startDay = Math.floor(local / DAY) * DAY;
  for (let day = startDay; day < startDay + 4 * 366 * DAY; day += DAY) {
    const d = new Date(day);
    if (!months.has(d.getUTCMonth() + 1)) continue;
    const domOk = doms.has(d.getUTCDate());
    const dowOk = dows.has(d.getUTCDay());
    const dayOk = domAll && dowAll ? true : domAll ? dowOk : dowAll ? domOk : domOk || dowOk;
    if (!dayOk) continue;
    for (const t of times) if (day + t > local) return new Date(day + t - off);
  }
  return undefined;
}

/**
 * Runs the window's lines each time the expression names, on the lab clock, whatever the
 * router does in between (the window outlives reloads); returns what stops it.
 */
export function armMaintenanceWindow(r: Router, w: MaintenanceWindow): () => void {
  const fields = cron.parse(w.cron);
  let cancel: (() => void) | undefined;
  let stopped = false;
  const arm = () => {
    const next = nextCronTime(fields, r.clock.now(), r.system.timezone.offsetMinutes);
    if (!next || stopped) return;
    cancel = r.clock.at(next, () => {
      if (stopped) return;
      if (r.state === 'running') {
        r.log.emit('SYS', 6, 'MAINTENANCE_WINDOW', `Maintenance window "${w.cron}" opened: ${w.commands.join('; ')}`);
        void r.exec(w.commands, { user: 'maintenance' }).catch(() => undefined);
      }
      // The next slot strictly after this one, so one slot never fires twice.
      arm();
    });
  };
  arm();
  return () => {
    stopped = true;
    cancel?.();
  };
}
