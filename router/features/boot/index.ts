/**
 * Boot and reload (SPEC S3.7, IOS_REFERENCE §5.5, §6): `boot system`, `config-register`,
 * `show bootvar`, `reload` now / in / at / cancel, `show reload`, countdown banners, and the
 * ROMmon prompt a router falls to when nothing boots.
 */
import { invalidAtToken } from '../../cli/caret.ts';
import { CliError } from '../../cli/CliSession.ts';
import { Dialogs } from '../../cli/dialogs.ts';
import type { CommandContext, ConfigSection, Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import { ConfigOrder } from '../configOrder.ts';
import { configModified, saveConfig } from '../system/index.ts';

type Ctx = CommandContext<Router>;

interface PendingReload {
  at: Date;
  reason?: string;
  /** `console` or `admin on vty0 (10.0.0.5)`. */
  by: string;
  /** How it was asked for: `in` prints "in N minutes", `at` prints the date. */
  form: 'in' | 'at';
  cancel: (() => void)[];
}

interface BootState {
  pending?: PendingReload;
}

const state = (r: Router) => r.featureState<BootState>('boot', () => ({}));

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];


/** `2 hours and 25 minutes`, `9 minutes`, `1 hour and 1 minute` (minutes rounded down). */
export function formatIn(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 60_000));
  const h = Math.floor(total / 60);
  const m = total % 60;
  const mins = `${m} minute${m === 1 ? '' : 's'}`;
  return h > 0 ? `${h} hour${h === 1 ? '' : 's'} and ${mins}` : mins;
}

/** The BEL-and-asterisks frame IOS puts around shutdown messages. */
function banner(text: string): string {
  return `\n\n\n\x07***\n*** --- ${text} ---\n***\n`;
}

function broadcast(r: Router, text: string): void {
  for (const s of r.sessions) if (s.interactive) s.notify(text);
}

function describe(r: Router, p: PendingReload): string[] {
  const left = p.at.getTime() - r.clock.now().getTime();
  const lines =
    p.form === 'in'
      ? [`Reload scheduled in ${formatIn(left)} by ${p.by}`]
      : [`Reload scheduled for ${r.log.formatLongTime(p.at)} (in ${formatIn(left)}) by ${p.by}`];
  if (p.reason) lines.push(`Reload reason: ${p.reason}`);
  return lines;
}

/** Reloads now, with IOS's syslog and XE's shutdown lines. */
export function reloadNow(r: Router, by: string, reason = 'Reload Command'): void {
  r.log.emit('SYS', 5, 'RELOAD', `Reload requested by ${by.replace(/ \(.*\)$/, '')}. Reload Reason: ${reason}.`);
  if (r.platform.family === 'iosxe') {
    broadcast(r, 'Chassis 1 reloading, reason - Reload command');
  }
  // Classic IOS says `System returned to ROM by reload at …` (the real C3945); IOS XE names the cause.
  r.reload(reason, r.platform.family === 'ios' ? 'reload' : reason);
}

/** Schedules a reload (also used by the Auto-Upgrade Manager's warm upgrade). */
export function scheduleReload(r: Router, at: Date, by: string, form: 'in' | 'at', reason?: string): PendingReload {
  cancelPending(r);
  const p: PendingReload = { at, reason, by, form, cancel: [] };
  const now = r.clock.now().getTime();
  for (const before of [5 * 60_000, 60_000]) {
    const t = at.getTime() - before;
    if (t > now) {
      p.cancel.push(r.at(new Date(t), () => broadcast(r, banner(`SHUTDOWN in 0:0${before / 60_000}:00`))));
    }
  }
  p.cancel.push(
    r.at(at, () => {
      state(r).pending = undefined;
      broadcast(r, banner('SHUTDOWN NOW'));
      reloadNow(r, by, reason ?? 'Reload Command');
    }),
  );
  state(r).pending = p;
  r.log.emit('SYS', 5, 'SCHEDULED_RELOAD', `Reload requested for ${r.log.formatLongTime(at)} at ${r.log.formatLongTime(r.clock.now())} by ${by}.${reason ? ` Reload Reason: ${reason}.` : ''}`);
  return p;
}

function cancelPending(r: Router): boolean {
  const p = state(r).pending;
  if (!p) return false;
  for (const c of p.cancel) c();
  state(r).pending = undefined;
  return true;
}

/**
 * Cancels the scheduled reload with IOS's banner and syslog line (`reload cancel`, and the
 * Auto-Upgrade Manager's `abortversion`); false when none was scheduled.
 */
export function cancelScheduledReload(r: Router): boolean {
  if (!cancelPending(r)) return false;
  broadcast(r, banner('SHUTDOWN ABORTED'));
  r.log.emit('SYS', 5, 'SCHEDULED_RELOAD_CANCELLED', `Scheduled reload cancelled at ${r.log.formatLongTime(r.clock.now())}`);
  return true;
}

export function pendingReload(r: Router): PendingReload | undefined {
  return state(r).pending;
}

/** The Save? question, then Proceed with reload? — false when the user declined. */
async function confirmReload(ctx: Ctx, describeLines: string[] = []): Promise<boolean> {
  if (await configModified(ctx.router)) {
    const save = await ctx.ask(Dialogs.saveModified());
    if (save === true) await saveConfig(ctx);
  }
  for (const l of describeLines) ctx.print(l);
  return ctx.confirm(Dialogs.proceedWithReload());
}

/** `reload in [hh:]mm`: minutes, up to 24 days. */
export function parseIn(text: string): number | undefined {
  const m = /^(?:(\d{1,3}):)?(\d{1,4})$/.exec(text);
  if (!m) return undefined;
  const minutes = Number(m[1] ?? 0) * 60 + Number(m[2]);
  if (m[1] !== undefined && Number(m[2]) > 59) return undefined;
  return minutes >= 1 && minutes <= 24 * 24 * 60 ? minutes : undefined;
}

/** `reload at hh:mm [month day | day month]` in the router's local time. */
export function parseAt(r: Router, time: string, a?: string, b?: string): Date | undefined {
  const t = /^(\d{1,2}):(\d{2})$/.exec(time);
  if (!t || Number(t[1]) > 23 || Number(t[2]) > 59) return undefined;
  const off = r.system.timezone.offsetMinutes * 60_000;
  const nowLocal = new Date(r.clock.now().getTime() + off);
  let month = nowLocal.getUTCMonth();
  let day = nowLocal.getUTCDate();
  const explicit = a !== undefined && b !== undefined;
  if (explicit) {
    const [d, mo] = /^\d+$/.test(a!) ? [a!, b!] : [b!, a!];
    const mi = MONTHS.indexOf(mo.slice(0, 3).toLowerCase());
    if (mi < 0 || !/^\d+$/.test(d)) return undefined;
    month = mi;
    day = Number(d);
  }
  let local = Date.UTC(nowLocal.getUTCFullYear(), month, day, Number(t[1]), Number(t[2]));
  if (local <= nowLocal.getTime()) {
    // A time already past means tomorrow, or next year for an explicit date.
    local = explicit
      ? Date.UTC(nowLocal.getUTCFullYear() + 1, month, day, Number(t[1]), Number(t[2]))
      : local + 24 * 3600_000;
  }
  return new Date(local - off);
}

const rommonHelp = { boot: 'boot up an external process', dir: 'list files in file system', set: 'display the monitor variables', confreg: 'configuration register utility', reset: 'system reset' };

/** `show bootvar` (and IOS XE's `show boot`): BOOT, CONFIG_FILE, BOOTLDR, config-register. */
function showBootvar(ctx: Ctx): void {
  const s = ctx.router.system;
  const retry = ctx.router.platform.family === 'iosxe' ? 12 : 1;
  ctx.print(`BOOT variable = ${s.bootSystem.map((b) => `${b},${retry};`).join('')}`);
  ctx.print('CONFIG_FILE variable = ');
  ctx.print('BOOTLDR variable does not exist');
  const next = s.nextConfigRegister;
  ctx.print(`Configuration register is 0x${s.configRegister.toString(16)}${next !== undefined && next !== s.configRegister ? ` (will be 0x${next.toString(16)} at next reload)` : ''}`);
  ctx.print('');
  if (ctx.router.platform.family === 'iosxe') ctx.print('Standby not ready to show bootvar\n');
}

export const bootFeature: Feature<Router> = {
  name: 'boot',
  modes: [{ id: 'rommon', prompt: 'rommon {n} > ', standalone: true }],
  commands: [
    {
      mode: 'config',
      syntax: 'boot system [flash] <url>',
      help: { boot: 'Modify system boot parameters', system: 'System image file', flash: 'Boot from flash memory', url: 'WORD  System image filename' },
      run(ctx) {
        const url = ctx.args.url!;
        try {
          ctx.router.fs.parse(url);
        } catch {
          throw new CliError(`%Error opening ${url} (No device available)`);
        }
        if (!ctx.router.system.bootSystem.includes(url)) ctx.router.system.bootSystem.push(url);
      },
    },
    {
      mode: 'config',
      syntax: 'no boot system [flash] [<url>]',
      run(ctx) {
        const s = ctx.router.system;
        s.bootSystem = ctx.args.url ? s.bootSystem.filter((u) => u !== ctx.args.url) : [];
      },
    },
    {
      mode: 'config',
      syntax: 'config-register <value>',
      help: { 'config-register': 'Define the configuration register', value: 'Config register number' },
      run(ctx) {
        const v = /^0x[0-9a-f]{1,4}$/i.test(ctx.args.value!) ? parseInt(ctx.args.value!, 16) : NaN;
        if (Number.isNaN(v)) throw new CliError('% Invalid input: use a value such as 0x2102');
        ctx.router.system.nextConfigRegister = v;
      },
    },
    {
      mode: 'exec',
      syntax: 'show bootvar',
      help: { bootvar: 'Boot and related environment variable' },
      run: showBootvar,
    },
    {
      // IOS XE routers take `show boot` as another name for show bootvar; ISR G2 has none.
      mode: 'exec',
      syntax: 'show boot',
      help: { boot: 'show boot attributes' },
      when: (r) => r.platform.family === 'iosxe',
      run: showBootvar,
    },
    {
      mode: 'exec',
      syntax: 'reload [reason <why:LINE>]',
      help: { reload: 'Halt and perform a cold restart', reason: 'Reload reason' },
      async run(ctx) {
        if (!(await confirmReload(ctx))) return;
        reloadNow(ctx.router, ctx.session.origin(), ctx.args.why ?? 'Reload Command');
      },
    },
    {
      mode: 'exec',
      syntax: 'reload in <when> [reason <why:LINE>]',
      help: { in: 'Reload after a time interval', when: 'Delay before reload (mmm or hhh:mm)' },
      async run(ctx) {
        const minutes = parseIn(ctx.args.when!);
        // IOS's parser refuses the value itself: the caret under it.
        if (minutes === undefined) throw invalidAtToken(ctx, 2);
        const r = ctx.router;
        const at = new Date(r.clock.now().getTime() + minutes * 60_000);
        const by = ctx.session.origin();
        const lines = [`Reload scheduled in ${formatIn(minutes * 60_000)} by ${by}`];
        if (ctx.args.why) lines.push(`Reload reason: ${ctx.args.why}`);
        if (!(await confirmReload(ctx, lines))) return;
        scheduleReload(r, at, by, 'in', ctx.args.why);
      },
    },
    {
      mode: 'exec',
      syntax: 'reload at <time> [<a> <b>] [reason <why:LINE>]',
      help: { at: 'Reload at a specific time/date', time: 'Time to reload (hh:mm)' },
      async run(ctx) {
        const r = ctx.router;
        const at = parseAt(r, ctx.args.time!, ctx.args.a, ctx.args.b);
        if (!at) throw new CliError('% Invalid input detected: use reload at hh:mm [month day | day month]');
        if (at.getTime() - r.clock.now().getTime() > 24 * 24 * 3600_000) throw new CliError('% Reload time is too far in the future (at most 24 days)');
        const by = ctx.session.origin();
        const lines = [`Reload scheduled for ${r.log.formatLongTime(at)} (in ${formatIn(at.getTime() - r.clock.now().getTime())}) by ${by}`];
        if (ctx.args.why) lines.push(`Reload reason: ${ctx.args.why}`);
        if (!(await confirmReload(ctx, lines))) return;
        scheduleReload(r, at, by, 'at', ctx.args.why);
      },
    },
    {
      mode: 'exec',
      syntax: 'reload cancel',
      help: { cancel: 'Cancel pending reload' },
      run(ctx) {
        if (!cancelScheduledReload(ctx.router)) throw new CliError('%No reload is scheduled.');
      },
    },
    {
      mode: 'user',
      syntax: 'show reload',
      help: { reload: 'Scheduled reload information' },
      run(ctx) {
        const p = state(ctx.router).pending;
        ctx.print(p ? describe(ctx.router, p).join('\n') : 'No reload is scheduled.');
      },
    },
    // ROMmon: what a router offers when nothing could boot.
    {
      mode: 'rommon',
      syntax: 'boot [<url>]',
      help: rommonHelp,
      async run(ctx) {
        const r = ctx.router;
        const from = r.bootConsole.length;
        const result = ctx.args.url ? await r.loadableImage(ctx.args.url) : await r.selectImage();
        // What ROMmon printed while checking (signature lines, boot errors) is the command's output.
        for (const line of r.bootConsole.slice(from)) ctx.print(line);
        if (!result || 'error' in result) {
          ctx.print(`boot: cannot load "${ctx.args.url ?? ''}": ${result && 'error' in result ? result.error : r.bootFailure ?? 'no bootable image'}`);
          return;
        }
        ctx.print(`Located ${result.url}`);
        ctx.print('#########################################################');
        await r.bootImage(result);
      },
    },
    {
      mode: 'rommon',
      syntax: 'dir <device>',
      help: rommonHelp,
      run(ctx) {
        let loc;
        try {
          loc = ctx.router.fs.parse(ctx.args.device!);
        } catch {
          ctx.print(`dir: cannot open device "${ctx.args.device}"`);
          return;
        }
        ctx.print(`File System: ${loc.fs.displayName}\n`);
        for (const e of loc.fs.list(loc.path)) ctx.print(`${String(e.inode).padStart(9)} ${String(e.size).padStart(10)} ${e.isDir ? 'drwx' : '-rw-'} ${e.name}`);
      },
    },
    {
      mode: 'rommon',
      syntax: 'set',
      help: rommonHelp,
      run(ctx) {
        const s = ctx.router.system;
        ctx.print(`BOOT=${s.bootSystem.map((b) => `${b},12;`).join('')}`);
        ctx.print(`CONFIG_FILE=`);
        ctx.print(`RET_2_RTS=`);
      },
    },
    {
      mode: 'rommon',
      syntax: 'confreg [<value>]',
      help: rommonHelp,
      run(ctx) {
        const s = ctx.router.system;
        if (!ctx.args.value) {
          ctx.print(`\n\n    Configuration Summary\n(Virtual Configuration Register: 0x${s.configRegister.toString(16)})`);
          return;
        }
        const v = parseInt(ctx.args.value, 16);
        if (Number.isNaN(v)) {
          ctx.print('bad value');
          return;
        }
        s.nextConfigRegister = v;
        ctx.print('\nYou must reset or power cycle for new config to take effect');
      },
    },
    {
      mode: 'rommon',
      syntax: 'reset',
      help: rommonHelp,
      run(ctx) {
        ctx.router.reload('Reload Command', 'reload');
      },
    },
  ],
  runningConfig(r) {
    const s = r.system;
    const out: ConfigSection[] = [{ order: ConfigOrder.boot, lines: ['boot-start-marker', ...s.bootSystem.map((b) => `boot system ${b}`), 'boot-end-marker', '!'] }];
    const reg = s.nextConfigRegister ?? s.configRegister;
    if (reg !== 0x2102) out.push({ order: ConfigOrder.configRegister, lines: [`config-register 0x${reg.toString(16)}`, '!'] });
    return out;
  },
};
