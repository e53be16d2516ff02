/**
 * The router's view of its network: `ping` (S4.1: "ping www.cisco.com" checks DNS and
 * reachability before an upgrade), `show hosts` (interfaces are the interfaces feature's). The lab says who
 * answers (`RouterEnv.reachable`); names resolve as copies resolve them.
 */
import { CliError } from '../../cli/CliSession.ts';
import type { CommandContext, Feature } from '../../cli/types.ts';
import { ResolveAbortedError, resolveHost, UnknownHostError } from '../../net/resolveHost.ts';
import type { Router } from '../../Router.ts';
import { ConfigOrder } from '../configOrder.ts';

const ECHO_TIMEOUT_SEC = 2;
/** IOS's default `ip tcp synwait-time`: how long a TCP connection attempt waits. */
export const DEFAULT_SYNWAIT_SEC = 30;

interface NetConfig {
  synwaitSec: number;
}

function netConfig(r: Router): NetConfig {
  return r.featureState<NetConfig>('net', () => ({ synwaitSec: DEFAULT_SYNWAIT_SEC }));
}

/** Seconds a TCP connect (FTP, HTTPS, SMTP) waits for an answer: `ip tcp synwait-time`. */
export function tcpSynwaitSec(r: Router): number {
  return netConfig(r).synwaitSec;
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => resolve(true), ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve(false)), { once: true });
  });
}

function answers(r: Router, address: string): boolean {
  if (address === r.address) return true;
  // Echoes are simulated, but a refused address is still logged as any other egress.
  if (!r.egress.verdict(address, 'icmp').allowed) return false;
  return !!r.env.reachable?.(address);
}

async function ping(ctx: CommandContext<Router>, host: string, count: number, size: number): Promise<void> {
  const r = ctx.router;
  let address: string;
  try {
    address = await resolveHost(r, host, (t) => ctx.write(t), { signal: ctx.signal, timeoutMs: r.dnsTimeoutMs });
  } catch (e) {
    if (e instanceof UnknownHostError) throw new CliError('% Unrecognized host or address, or protocol not running.\n');
    if (e instanceof ResolveAbortedError) return;
    throw e;
  }
  // Written, not printed: the marks that follow are raw output and must come after these lines.
  ctx.write('Type escape sequence to abort.\n');
  ctx.write(`Sending ${count}, ${size}-byte ICMP Echos to ${address}, timeout is ${ECHO_TIMEOUT_SEC} seconds:\n`);
  const up = answers(r, address);
  let ok = 0;
  let sent = 0;
  for (; sent < count; sent++) {
    // An unanswered echo costs its whole timeout, as on the real thing; Ctrl-C stops.
    if (!(await sleep(up ? 1 : ECHO_TIMEOUT_SEC * 1000, ctx.signal))) break;
    ctx.write(up ? '!' : '.');
    if (up) ok++;
    if ((sent + 1) % 70 === 0) ctx.write('\n');
  }
  if (sent % 70 !== 0) ctx.write('\n');
  const pct = sent === 0 ? 0 : Math.floor((ok * 100) / sent);
  ctx.print(`Success rate is ${pct} percent (${ok}/${sent})${ok ? ', round-trip min/avg/max = 1/1/1 ms' : ''}`);
}

export const netFeature: Feature<Router> = {
  name: 'net',
  runningConfig(r) {
    const s = netConfig(r).synwaitSec;
    return s === DEFAULT_SYNWAIT_SEC ? [] : [{ order: ConfigOrder.ipTcp, lines: [`ip tcp synwait-time ${s}`] }];
  },
  commands: [
    {
      mode: 'config',
      syntax: 'ip tcp synwait-time <seconds:5-300>',
      help: { ip: 'Global IP configuration subcommands', tcp: 'Global TCP parameters', 'synwait-time': 'Set time to wait on new TCP connections', seconds: 'Wait time' },
      run(ctx) {
        netConfig(ctx.router).synwaitSec = Number(ctx.args.seconds);
      },
    },
    {
      mode: 'config',
      syntax: 'no ip tcp synwait-time [<seconds:5-300>]',
      run(ctx) {
        netConfig(ctx.router).synwaitSec = DEFAULT_SYNWAIT_SEC;
      },
    },
    {
      mode: 'user',
      syntax: 'ping <host> [repeat <count:1-2147483647>] [size <bytes:36-18024>]',
      help: { ping: 'Send echo messages', host: 'Ping destination address or hostname', repeat: 'specify repeat count', size: 'specify datagram size' },
      run: (ctx) => ping(ctx, ctx.args.host!, Number(ctx.args.count ?? 5), Number(ctx.args.bytes ?? 100)),
    },
    {
      // Bare `ping` in privileged EXEC asks for everything, defaults in brackets.
      mode: 'exec',
      syntax: 'ping',
      async run(ctx) {
        const ask = async (text: string, def?: string) => String(await ctx.ask({ kind: 'field', text, default: def })).trim();
        const protocol = await ask('Protocol', 'ip');
        if (protocol.toLowerCase() !== 'ip') throw new CliError(`% Unknown protocol - "${protocol}", type "ping ?" for help`);
        const host = await ask('Target IP address');
        if (!host) throw new CliError('% Bad IP address or host name');
        const count = Number(await ask('Repeat count', '5'));
        if (!Number.isInteger(count) || count < 1) throw new CliError('% A decimal number between 1 and 2147483647.');
        const size = Number(await ask('Datagram size', '100'));
        if (!Number.isInteger(size) || size < 36 || size > 18024) throw new CliError('% A decimal number between 36 and 18024.');
        await ask('Timeout in seconds', String(ECHO_TIMEOUT_SEC));
        await ask('Extended commands', 'n');
        await ask('Sweep range of sizes', 'n');
        await ping(ctx, host, count, size);
      },
    },
    {
      mode: 'user',
      syntax: 'show hosts',
      help: { hosts: 'IP domain-name, lookup style, nameservers, and host table' },
      run(ctx) {
        const s = ctx.router.system;
        ctx.print(s.domainName ? `Default domain is ${s.domainName}` : 'Default domain is not set');
        ctx.print(`Name/address lookup uses ${s.domainLookup ? 'domain service' : 'static mappings'}`);
        ctx.print(s.nameServers.length ? `Name servers are ${s.nameServers.join(', ')}` : 'No name servers are specified.');
        ctx.print('\nCodes: UN - unknown, EX - expired, OK - OK, ?? - revalidate');
        ctx.print('       temp - temporary, perm - permanent');
        ctx.print('       NA - Not Applicable None - Not defined\n');
        ctx.print('Host                      Port  Flags      Age Type   Address(es)');
        for (const [name, addr] of s.hosts) ctx.print(`${name.padEnd(25)} None  (perm, OK)  0   IP    ${addr}`);
      },
    },
  ],
};
