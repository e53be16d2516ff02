/**
 * The router's view of its network: `ping` (S4.1: "ping www.cisco.com" checks DNS and
 * reachability before an upgrade), `show hosts`, `show ip interface brief`. The lab says who
 * answers (`RouterEnv.reachable`); names resolve as copies resolve them.
 */
import { CliError } from '../../cli/CliSession.ts';
import type { Feature } from '../../cli/types.ts';
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
      async run(ctx) {
        const r = ctx.router;
        const count = Number(ctx.args.count ?? 5);
        const size = Number(ctx.args.bytes ?? 100);
        let address: string;
        try {
          address = await resolveHost(r, ctx.args.host!, (t) => ctx.write(t), { signal: ctx.signal, timeoutMs: 2000 });
        } catch (e) {
          if (e instanceof UnknownHostError) throw new CliError('% Unrecognized host or address, or protocol not running.\n');
          if (e instanceof ResolveAbortedError) return;
          throw e;
        }
        ctx.print('Type escape sequence to abort.');
        ctx.print(`Sending ${count}, ${size}-byte ICMP Echos to ${address}, timeout is ${ECHO_TIMEOUT_SEC} seconds:`);
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
    {
      mode: 'user',
      syntax: 'show ip interface brief',
      help: { ip: 'IP information', interface: 'IP interface status and configuration', brief: 'Brief summary of IP status and configuration' },
      run(ctx) {
        const r = ctx.router;
        const row = (i: string, a: string, m: string, st: string, p: string) => `${i.padEnd(23)}${a.padEnd(16)}YES ${m.padEnd(7)}${st.padEnd(22)}${p}`;
        ctx.print('Interface              IP-Address      OK? Method Status                Protocol');
        ctx.print(row(r.platform.managementInterface, r.address, 'manual', 'up', 'up'));
      },
    },
  ],
};
