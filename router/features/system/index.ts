/**
 * The router's identity and base configuration: hostname, secrets and users, naming
 * (ip domain name / name-server / host), file prompt, logging, clock; and saving it:
 * show running-config, write memory, copy running-config startup-config.
 */
import { CliError } from '../../cli/CliSession.ts';
import type { CommandContext, ConfigSection, Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import { parseSecret } from '../../system/secrets.ts';
import { ConfigOrder } from '../configOrder.ts';

type Ctx = CommandContext<Router>;

/** `line vty 0 4` exists on every router; `line vty 5 <n>` may add lines up to this one. */
const DEFAULT_VTY_LAST = 4;
const MAX_VTY = 1000;

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/**
 * Has the configuration changed since the last boot or save? (reload's Save? question) The
 * `version` line follows the running image, so booting a new image alone changes nothing.
 */
export async function configModified(r: Router): Promise<boolean> {
  const withoutVersion = (text: string) => text.replace(/^version .*$/m, '');
  return withoutVersion(r.savedConfig) !== withoutVersion(r.configText());
}

/** write memory: `Building configuration...` / `[OK]`. */
export async function saveConfig(ctx: Ctx): Promise<void> {
  ctx.print('Building configuration...');
  await saveStartupConfig(ctx.router);
  ctx.print('[OK]');
}

/** The running configuration to nvram:startup-config, with no output (also the AUM's save). */
export async function saveStartupConfig(r: Router): Promise<void> {
  const nvram = r.fs.get('nvram');
  if (!nvram) throw new CliError('%Error opening nvram:startup-config (No device available)');
  const text = r.configText();
  await nvram.writeText('startup-config', text);
  r.savedConfig = text;
}

function versionLine(r: Router): string {
  // `version 16.10` / `version 15.0`: major.minor of the running software.
  const m = /^(\d+)\.(\d+)/.exec(r.softwareVersion());
  return m ? `version ${m[1]}.${m[2]}` : `version ${r.softwareVersion()}`;
}

function parseClockSet(time: string, a: string, b: string, year: string): Date | undefined {
  const t = /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(time);
  if (!t) return undefined;
  const [day, month] = /^\d+$/.test(a) ? [a, b] : [b, a];
  const mi = MONTHS.findIndex((m) => m.startsWith(month!.toLowerCase()) && month!.length >= 3);
  if (mi < 0 || !/^\d{1,2}$/.test(day!)) return undefined;
  const [h, m, sec, d] = [Number(t[1]), Number(t[2]), Number(t[3]), Number(day)];
  if (h > 23 || m > 59 || sec > 59 || d < 1) return undefined;
  const at = new Date(Date.UTC(Number(year), mi, d, h, m, sec));
  // 31 February would roll into March: refused, as is any field out of range.
  return at.getUTCDate() === d ? at : undefined;
}

/** `ssh`, `telnet ssh`, `all`, `none`, as IOS writes `transport input` back. */
function transportWords(t: readonly ('ssh' | 'telnet')[]): string {
  if (t.length === 0) return 'none';
  if (t.length === 2) return 'telnet ssh';
  return t[0]!;
}

export const systemFeature: Feature<Router> = {
  name: 'system',
  modes: [{ id: 'config-line', prompt: '(config-line)#', parent: 'config' }],
  commands: [
    {
      mode: 'config',
      syntax: 'hostname <name>',
      help: { hostname: 'Set system\'s network name', name: 'This system\'s network name' },
      run(ctx) {
        const name = ctx.args.name!;
        if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(name)) throw new CliError('% Hostname contains one or more illegal characters.');
        ctx.router.system.hostname = name;
      },
    },
    {
      mode: 'config',
      syntax: 'no hostname',
      help: { no: 'Negate a command or set its defaults' },
      run(ctx) {
        ctx.router.system.hostname = 'Router';
      },
    },
    {
      mode: 'config',
      syntax: 'enable secret [<type:0-9>] <secret>',
      help: { enable: 'Modify enable password parameters', secret: 'Assign the privileged level secret', type: 'Encryption type' },
      run(ctx) {
        const s = parseSecret(ctx.args.type, ctx.args.secret!);
        if (!s) throw new CliError('ERROR: The secret you entered is not a valid encrypted secret.');
        ctx.router.system.enableSecret = s;
      },
    },
    {
      mode: 'config',
      syntax: 'no enable secret',
      run(ctx) {
        ctx.router.system.enableSecret = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'username <user> [privilege <level:0-15>] {secret|password} [<type:0-9>] <secret>',
      help: { username: 'Establish User Name Authentication', privilege: 'Set user privilege level', secret: 'Specify the secret for the user', password: 'Specify the password for the user' },
      run(ctx) {
        const s = parseSecret(ctx.args.type, ctx.args.secret!);
        if (!s) throw new CliError('ERROR: The secret you entered is not a valid encrypted secret.');
        ctx.router.system.users.set(ctx.args.user!, { privilege: Number(ctx.args.level ?? 1), secret: s });
      },
    },
    {
      mode: 'config',
      syntax: 'no username <user>',
      run(ctx) {
        ctx.router.system.users.delete(ctx.args.user!);
      },
    },
    {
      mode: 'config',
      syntax: '{ip domain name|ip domain-name} <domain>',
      help: { ip: 'Global IP configuration subcommands', domain: 'IP DNS Resolver', name: 'Define the default domain name', 'domain-name': 'Define the default domain name' },
      run(ctx) {
        ctx.router.system.domainName = ctx.args.domain!;
      },
    },
    {
      mode: 'config',
      syntax: '{no ip domain name|no ip domain-name}',
      run(ctx) {
        ctx.router.system.domainName = undefined;
      },
    },
    {
      mode: 'config',
      syntax: '{ip domain lookup|ip domain-lookup}',
      help: { lookup: 'Enable IP Domain Name System hostname translation' },
      run(ctx) {
        ctx.router.system.domainLookup = true;
      },
    },
    {
      mode: 'config',
      syntax: '{no ip domain lookup|no ip domain-lookup}',
      run(ctx) {
        ctx.router.system.domainLookup = false;
      },
    },
    {
      mode: 'config',
      syntax: 'ip name-server <a> [<b>] [<c>] [<d>] [<e>] [<f>]',
      help: { 'name-server': 'Specify address of name server to use' },
      run(ctx) {
        const add = ['a', 'b', 'c', 'd', 'e', 'f'].map((k) => ctx.args[k]).filter((x): x is string => !!x);
        for (const a of add) {
          if (!/^\d+\.\d+\.\d+\.\d+$/.test(a)) throw new CliError(`% Invalid address ${a}`);
          if (!ctx.router.system.nameServers.includes(a)) ctx.router.system.nameServers.push(a);
        }
      },
    },
    {
      mode: 'config',
      syntax: 'no ip name-server [<a>]',
      run(ctx) {
        const s = ctx.router.system;
        s.nameServers = ctx.args.a ? s.nameServers.filter((x) => x !== ctx.args.a) : [];
      },
    },
    {
      mode: 'config',
      syntax: 'ip host <name> <address>',
      help: { host: 'Add an entry to the ip hostname table' },
      run(ctx) {
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(ctx.args.address!)) throw new CliError('% Invalid address');
        ctx.router.system.hosts.set(ctx.args.name!.toLowerCase(), ctx.args.address!);
      },
    },
    {
      mode: 'config',
      syntax: 'no ip host <name> [<address>]',
      run(ctx) {
        ctx.router.system.hosts.delete(ctx.args.name!.toLowerCase());
      },
    },
    {
      mode: 'config',
      syntax: 'file prompt [{alert|noisy|quiet}]',
      help: { file: 'Adjust file system parameters', prompt: 'Prompt level for file operations', alert: 'Prompt only for destructive file operations', noisy: 'Confirm all file operation parameters', quiet: 'Seldom prompt for file operations' },
      run(ctx) {
        ctx.router.system.filePrompt = ctx.has('quiet') ? 'quiet' : ctx.has('noisy') ? 'noisy' : 'alert';
      },
    },
    {
      mode: 'config',
      syntax: 'no file prompt [{alert|noisy|quiet}]',
      run(ctx) {
        ctx.router.system.filePrompt = 'alert';
      },
    },
    {
      mode: 'config',
      syntax: 'logging buffered [<size:4096-2147483647>] [{emergencies|alerts|critical|errors|warnings|notifications|informational|debugging}]',
      help: { logging: 'Modify message logging facilities', buffered: 'Set buffered logging parameters' },
      run(ctx) {
        const level = ['emergencies', 'alerts', 'critical', 'errors', 'warnings', 'notifications', 'informational', 'debugging'].find((l) => ctx.has(l));
        ctx.router.system.loggingBuffered = { size: Number(ctx.args.size ?? 4096), level };
      },
    },
    {
      mode: 'config',
      syntax: 'no logging buffered',
      run(ctx) {
        ctx.router.system.loggingBuffered = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'service timestamps [{debug|log}] [datetime|uptime] [msec] [localtime] [show-timezone]',
      help: { service: 'Modify use of network based services', timestamps: 'Timestamp debug/log messages' },
      run(ctx) {
        ctx.router.system.serviceTimestamps = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no service timestamps [{debug|log}]',
      run(ctx) {
        ctx.router.system.serviceTimestamps = false;
      },
    },
    {
      mode: 'config',
      syntax: 'clock timezone <zone> <hours> [<minutes:0-59>]',
      help: { clock: 'Configure time-of-day clock', timezone: 'Configure time zone' },
      run(ctx) {
        const h = Number(ctx.args.hours);
        if (!/^-?\d+$/.test(ctx.args.hours!) || h < -23 || h > 23) throw new CliError('% Invalid input: hours offset must be -23 to 23');
        const m = Number(ctx.args.minutes ?? 0);
        ctx.router.system.timezone = { name: ctx.args.zone!, offsetMinutes: h * 60 + Math.sign(h || 1) * m };
      },
    },
    {
      mode: 'config',
      syntax: 'no clock timezone',
      run(ctx) {
        ctx.router.system.timezone = { name: 'UTC', offsetMinutes: 0 };
      },
    },
    {
      mode: 'config',
      syntax: 'line {con|console|vty|aux} <first:0-1000> [<last:0-1000>]',
      help: { line: 'Configure a terminal line' },
      run(ctx) {
        // `line vty 0 15` creates the vty lines up to 15: SSH then takes 16 sessions.
        if (ctx.has('vty')) {
          const first = Number(ctx.args.first);
          const last = Number(ctx.args.last ?? first);
          if (last < first) throw new CliError('%Invalid line range');
          if (last > MAX_VTY) throw new CliError(`%Invalid line range: vty lines are 0 to ${MAX_VTY}`);
          const s = ctx.router.system;
          s.vtyLast = Math.max(s.vtyLast, last);
        }
        // The line kind rides in the mode: `transport input` means something on vty lines only.
        ctx.enterMode('config-line', ctx.has('vty') ? 'vty' : 'other');
      },
    },
    {
      mode: 'config',
      syntax: 'no line vty <first:0-1000> [<last:0-1000>]',
      run(ctx) {
        // Lines 0-4 always exist, as on IOS; removing from `first` up drops the rest.
        const first = Number(ctx.args.first);
        if (first < DEFAULT_VTY_LAST + 1) throw new CliError(`%Can't delete lines 0 to ${DEFAULT_VTY_LAST}`);
        const s = ctx.router.system;
        s.vtyLast = Math.min(s.vtyLast, first - 1);
      },
    },
    // The line settings the lab's routers always have; accepted so saved configs replay cleanly.
    { mode: 'config-line', syntax: 'login [local]', run() {} },
    {
      mode: 'config-line',
      syntax: 'transport input {ssh|telnet|all|none} [ssh|telnet]',
      help: { transport: 'Define transport protocols for line', input: 'Define which protocols to use when connecting to the terminal server', ssh: 'TCP/IP SSH protocol', telnet: 'TCP/IP Telnet protocol', all: 'All protocols', none: 'No protocols' },
      run(ctx) {
        if (ctx.session.modeData !== 'vty') return;
        if (ctx.has('all')) ctx.router.system.vtyTransport = ['ssh', 'telnet'];
        else if (ctx.has('none')) ctx.router.system.vtyTransport = [];
        else ctx.router.system.vtyTransport = (['ssh', 'telnet'] as const).filter((p) => ctx.has(p));
      },
    },
    { mode: 'config-line', syntax: 'exec-timeout <min:0-35791> [<sec:0-2147483>]', run() {} },
    { mode: 'config-line', syntax: 'stopbits {1|1.5|2}', run() {} },
    {
      mode: 'exec',
      syntax: 'show running-config',
      help: { 'running-config': 'Current operating configuration' },
      run(ctx) {
        const body = ctx.router.configText();
        ctx.print('Building configuration...\n');
        ctx.print(`Current configuration : ${Buffer.byteLength(body)} bytes`);
        ctx.print(body.replace(/\n$/, ''));
        ctx.print('');
      },
    },
    {
      mode: 'exec',
      syntax: 'show startup-config',
      help: { 'startup-config': 'Contents of startup configuration' },
      async run(ctx) {
        const nvram = ctx.router.fs.get('nvram');
        if (!nvram?.stat('startup-config')) throw new CliError('startup-config is not present');
        const text = await nvram.readText('startup-config');
        ctx.print(`Using ${Buffer.byteLength(text)} out of ${nvram.totalBytes} bytes`);
        ctx.print(text.replace(/\n$/, ''));
        ctx.print('');
      },
    },
    {
      mode: 'exec',
      syntax: 'write [memory]',
      help: { write: 'Write running configuration to memory, network, or terminal', memory: 'Write to NV memory' },
      run: saveConfig,
    },
    {
      mode: 'exec',
      syntax: 'copy running-config startup-config',
      help: { copy: 'Copy from one file to another', 'running-config': 'Copy from current system configuration', 'startup-config': 'Copy to startup configuration' },
      async run(ctx) {
        const dest = await ctx.ask({ kind: 'default', text: 'Destination filename', default: 'startup-config', fileOp: true });
        if (dest !== 'startup-config') throw new CliError(`%Error opening nvram:${String(dest)} (Permission denied)`);
        await saveConfig(ctx);
      },
    },
    {
      mode: 'exec',
      syntax: 'show logging',
      help: { logging: 'Show the contents of logging buffers' },
      run(ctx) {
        const r = ctx.router;
        const buf = r.system.loggingBuffered;
        const n = r.log.buffer.length;
        ctx.print('Syslog logging: enabled (0 messages dropped, 0 messages rate-limited, 0 flushes, 0 overruns, xml disabled, filtering disabled)\n');
        ctx.print('No Active Message Discriminator.\n\n');
        ctx.print('No Inactive Message Discriminator.\n\n');
        ctx.print(`    Console logging: level debugging, ${n} messages logged, xml disabled,`);
        ctx.print('                     filtering disabled');
        ctx.print(`    Monitor logging: level debugging, ${n} messages logged, xml disabled,`);
        ctx.print('                     filtering disabled');
        if (buf) {
          ctx.print(`    Buffer logging:  level ${buf.level ?? 'debugging'}, ${n} messages logged, xml disabled,`);
          ctx.print('                    filtering disabled');
        } else ctx.print('    Buffer logging:  disabled, xml disabled,\n                    filtering disabled');
        ctx.print('    Exception Logging: size (4096 bytes)');
        ctx.print('    Count and timestamp logging messages: disabled');
        ctx.print('    Persistent logging: disabled\n');
        ctx.print('No active filter modules.\n');
        ctx.print('    Trap logging: level informational, 0 message lines logged');
        ctx.print('        Logging Source-Interface:       VRF Name:\n');
        ctx.print(`Log Buffer (${buf?.size ?? 4096} bytes):\n`);
        for (const m of r.log.buffer) ctx.print(m.line);
      },
    },
    {
      mode: 'user',
      syntax: 'show clock [detail]',
      help: { clock: 'Display the system clock', detail: 'Display detailed information' },
      run(ctx) {
        const r = ctx.router;
        const stamp = r.log.formatStamp(r.clock.now()).slice(1); // "Mar  1 00:01:02.345"
        const long = r.log.formatLongTime(r.clock.now()); // "19:30:00 UTC Wed Jun 5 1996"
        const [time, zone, dow, mon, day, year] = long.split(' ');
        const ms = stamp.split('.')[1];
        ctx.print(`*${time}.${ms} ${zone} ${dow} ${mon} ${day} ${year}`);
        if (ctx.has('detail')) ctx.print('No time source');
      },
    },
    {
      mode: 'exec',
      syntax: 'clock set <time> <a> <b> <year:1993-2035>',
      help: { clock: 'Manage the system clock', set: 'Set the time and date', time: 'Current Time (hh:mm:ss)' },
      run(ctx) {
        const local = parseClockSet(ctx.args.time!, ctx.args.a!, ctx.args.b!, ctx.args.year!);
        if (!local) throw new CliError('% Invalid input detected: use clock set hh:mm:ss day month year');
        const utc = new Date(local.getTime() - ctx.router.system.timezone.offsetMinutes * 60_000);
        ctx.router.clock.set(utc);
      },
    },
  ],
  runningConfig(r) {
    const s = r.system;
    const out: ConfigSection[] = [
      { order: ConfigOrder.version, lines: ['!', versionLine(r)] },
      {
        order: ConfigOrder.service,
        lines: s.serviceTimestamps ? ['service timestamps debug datetime msec', 'service timestamps log datetime msec'] : ['no service timestamps debug', 'no service timestamps log'],
      },
      { order: ConfigOrder.hostname, lines: ['!', `hostname ${s.hostname}`, '!'] },
      { order: ConfigOrder.end, lines: ['!', 'end'] },
      {
        order: ConfigOrder.line,
        lines: [
          '!',
          'line con 0',
          ' stopbits 1',
          'line vty 0 4',
          ' login local',
          ` transport input ${transportWords(s.vtyTransport)}`,
          ...(s.vtyLast > DEFAULT_VTY_LAST ? [`line vty ${DEFAULT_VTY_LAST + 1} ${s.vtyLast}`, ' login local', ` transport input ${transportWords(s.vtyTransport)}`] : []),
          '!',
        ],
      },
    ];
    const enable: string[] = [];
    if (s.loggingBuffered) enable.push(`logging buffered ${s.loggingBuffered.size}${s.loggingBuffered.level ? ' ' + s.loggingBuffered.level : ''}`);
    if (s.enableSecret) enable.push(`enable secret ${s.enableSecret.display}`);
    if (enable.length) out.push({ order: ConfigOrder.logging, lines: [...enable, '!'] });
    if (s.timezone.name !== 'UTC' || s.timezone.offsetMinutes !== 0) {
      const h = Math.trunc(s.timezone.offsetMinutes / 60);
      const m = Math.abs(s.timezone.offsetMinutes % 60);
      out.push({ order: ConfigOrder.clock, lines: [`clock timezone ${s.timezone.name} ${h} ${m}`, '!'] });
    }
    const ip: string[] = [];
    for (const [n, a] of s.hosts) ip.push(`ip host ${n} ${a}`);
    if (!s.domainLookup) ip.push('no ip domain lookup');
    if (s.domainName) ip.push(`ip domain name ${s.domainName}`);
    if (s.nameServers.length) ip.push(`ip name-server ${s.nameServers.join(' ')}`);
    if (ip.length) out.push({ order: ConfigOrder.ipHost, lines: [...ip, '!'] });
    if (s.filePrompt !== 'alert') out.push({ order: ConfigOrder.filePrompt, lines: [`file prompt ${s.filePrompt}`, '!'] });
    const users = [...s.users].map(([n, u]) => `username ${n} privilege ${u.privilege} secret ${u.secret.display}`);
    if (users.length) out.push({ order: ConfigOrder.username, lines: [...users, '!'] });
    return out;
  },
};

