/**
 * The lab seal: where a router may send a packet or open a connection. A lab rehearses
 * upgrades; it must never touch a real network because a user typed the seed's example
 * address. Every outgoing path of a router (copy in every scheme, DNS, ping, later HTTPS
 * and SMTP) asks this policy first, before any socket exists.
 *
 * Allowed: loopback (127.0.0.0/8, ::1), the lab's own node addresses, and the CIDRs the
 * topology opens on purpose (`mgmt: { external: [...] }`). Everything else is refused, and
 * the refusal is logged with the address and the reason.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

export type EgressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface EgressPolicy {
  /** May the router send to `address` for `purpose` (`ftp`, `tftp`, `dns`, ...)? Logs refusals. */
  verdict(address: string, purpose: string): EgressVerdict;
}

export interface SealedEgressOptions {
  /** The lab's own node addresses (asked each time: the table is the runtime's). */
  labAddresses(): Iterable<string>;
  /** CIDRs the topology opened on purpose (`10.1.2.0/24`, `2001:db8::/32`). */
  external?: readonly string[];
  /** Who asks (the router's name), for the log line. */
  owner: string;
  /** The lab log. */
  log?: (line: string) => void;
}

/** Parses `a.b.c.d/n` or `v6/n`; returns an error text for anything else. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return `"${cidr}" is not a CIDR like 192.0.2.0/24`;
  const family = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (family === 0) return `"${cidr}" is not a CIDR like 192.0.2.0/24`;
  if (prefix > (family === 4 ? 32 : 128)) return `"${cidr}": prefix /${prefix} is too long`;
  return { address: m[1]!, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}

function loopbackAndOpened(external: readonly string[]): BlockList {
  const list = new BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  for (const c of external) {
    const p = parseCidr(c);
    if (typeof p === 'string') throw new Error(p);
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return list;
}

export class SealedEgress implements EgressPolicy {
  private readonly open: BlockList;

  constructor(private readonly opts: SealedEgressOptions) {
    this.open = loopbackAndOpened(opts.external ?? []);
  }

  verdict(address: string, purpose: string): EgressVerdict {
    const v = this.judge(address);
    if (!v.allowed) this.opts.log?.(`${this.opts.owner}: egress refused: ${purpose} to ${address}: ${v.reason}`);
    return v;
  }

  private judge(address: string): EgressVerdict {
    const family = isIP(address);
    if (family === 0) return { allowed: false, reason: 'not an IP address' };
    if (this.open.check(address, family === 4 ? 'ipv4' : 'ipv6')) return { allowed: true };
    for (const a of this.opts.labAddresses()) if (a === address) return { allowed: true };
    return {
      allowed: false,
      reason: isIPv4(address)
        ? 'outside the lab (not a lab node, not loopback, not opened by mgmt.external)'
        : 'outside the lab (not ::1, not opened by mgmt.external)',
    };
  }
}
