/**
 * The router's name resolution, in IOS order: an address literal as is, then the `ip host`
 * table, then the configured `ip name-server`s (never the machine's own resolver).
 */
import { Resolver } from 'node:dns/promises';
import { isIPv4 } from 'node:net';

export interface NameServer {
  address: string;
  port: number;
}

export interface RouterResolverOptions {
  nameServers: NameServer[];
  /** `ip host NAME ADDRESS` entries. */
  hosts: Record<string, string>;
  /** `ip domain name`: completes names without a dot (the only form then asked). */
  domain?: string;
  /** Per query to one server (default 2000 ms). */
  timeoutMs?: number;
}

export interface Resolved {
  address: string;
  via: 'literal' | 'host-table' | 'dns';
  /** `address:port` of the name server that answered. */
  server?: string;
}

/**
 * - 'nxdomain': a server answered that the name (and its domain-qualified form) has no address;
 * - 'timeout': no server answered, at least one stayed silent;
 * - 'no-server': no name server configured, or each one refused outright (nothing
 *   listening, SERVFAIL, REFUSED).
 */
export type ResolveFailure = 'nxdomain' | 'timeout' | 'no-server';

export class ResolveError extends Error {
  constructor(
    readonly reason: ResolveFailure,
    readonly host: string,
  ) {
    super(`cannot resolve ${host}: ${reason}`);
    this.name = 'ResolveError';
  }
}

const DEFAULT_TIMEOUT_MS = 2000;

function canon(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

export class RouterResolver {
  private readonly hosts = new Map<string, string>();

  constructor(private readonly opts: RouterResolverOptions) {
    for (const [name, addr] of Object.entries(opts.hosts)) this.hosts.set(canon(name), addr);
  }

  async resolve(name: string): Promise<Resolved> {
    const wanted = canon(name);
    if (isIPv4(wanted)) return { address: wanted, via: 'literal' };
    const fromTable = this.hosts.get(wanted);
    if (fromTable !== undefined) return { address: fromTable, via: 'host-table' };
    if (wanted === '') throw new ResolveError('nxdomain', name);

    const domain = this.opts.domain ? canon(this.opts.domain) : '';
    // IOS completes an unqualified name with `ip domain name` before it asks, and asks only
    // that: `tftp` is looked up as `tftp.lab.local` (so a DNS fault on that name hits it).
    const candidates = !wanted.includes('.') && domain ? [`${wanted}.${domain}`] : [wanted];

    let sawNx = false;
    let sawSilence = false;
    // Servers in configured order, as IOS does; a silent or failing server is skipped for the
    // remaining candidates, a negative answer moves on to the next candidate.
    for (const ns of this.opts.nameServers) {
      const server = `${ns.address}:${ns.port}`;
      const r = new Resolver({ timeout: this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, tries: 1 });
      r.setServers([server]);
      let serverUsable = true;
      for (const candidate of candidates) {
        try {
          const [address] = await r.resolve4(candidate);
          if (address) return { address, via: 'dns', server };
          sawNx = true;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOTFOUND' || code === 'ENODATA') {
            sawNx = true;
            continue;
          }
          if (code === 'ETIMEOUT') sawSilence = true;
          serverUsable = false;
          break;
        }
      }
      if (!serverUsable) continue;
      // This server answered for every candidate: a definitive "no such name".
      if (sawNx) break;
    }
    if (sawNx) throw new ResolveError('nxdomain', name);
    throw new ResolveError(sawSilence ? 'timeout' : 'no-server', name);
  }
}
