/**
 * Host names in copy URLs, resolved as IOS does: an address as is, then `ip host`, then the
 * `ip name-server`s (through the lab's DNS, never the machine's resolver), printing IOS's
 * `Translating "name"...domain server (a.b.c.d) [OK]` line while it asks.
 */
import { isIPv4 } from 'node:net';
import type { Router } from '../Router.ts';
import { RouterResolver } from './Resolver.ts';

/** The name could not be turned into an address; the caller prints `(Unknown host)`. */
export class UnknownHostError extends Error {
  constructor(readonly host: string) {
    super(`unknown host ${host}`);
  }
}

export class ResolveAbortedError extends Error {}

export async function resolveHost(
  router: Router,
  host: string,
  out: (text: string) => void,
  opts: { signal: AbortSignal; timeoutMs: number },
): Promise<string> {
  if (isIPv4(host)) return host;
  const sys = router.system;
  const fromTable = sys.hosts.get(host.toLowerCase());
  if (fromTable) return fromTable;
  // `no ip domain lookup`: IOS does not even try, and prints no Translating line.
  if (!sys.domainLookup) throw new UnknownHostError(host);
  const servers = [...sys.nameServers];
  if (servers.length === 0) {
    // IOS broadcasts the query when no server is configured; the lab never broadcasts, so
    // the line is shown as IOS shows it and the lookup fails at once.
    out(`Translating "${host}"...domain server (255.255.255.255)\n`);
    throw new UnknownHostError(host);
  }
  out(`Translating "${host}"...domain server (${servers[0]})`);
  // The seal: a name server outside the lab is never asked; it behaves as a silent one.
  const ns = servers
    .map((address, index) => ({ address, index, port: router.env.servicePort(address, 'dns') }))
    .filter((s) => router.egress.verdict(s.address, 'dns').allowed);
  if (ns.length === 0) {
    await sealedSilence(router, opts);
    out('\n');
    throw new UnknownHostError(host);
  }
  const resolver = new RouterResolver({ nameServers: ns, hosts: {}, domain: sys.domainName, timeoutMs: opts.timeoutMs });
  try {
    const r = await abortable(resolver.resolve(host), opts.signal);
    // IOS names each server it had to ask; the first one is already on the line.
    const used = ns.find((s) => `${s.address}:${s.port}` === r.server)?.index ?? 0;
    for (let i = 1; i <= used; i++) out(` (${servers[i]})`);
    out(' [OK]\n');
    return r.address;
  } catch (e) {
    if (e instanceof ResolveAbortedError) {
      out('\n');
      throw e;
    }
    for (let i = 1; i < servers.length; i++) out(` (${servers[i]})`);
    out('\n');
    // NXDOMAIN, silent or failing servers (ResolveError's reasons), or anything else the
    // lookup hit: IOS reports them all as an unknown host.
    throw new UnknownHostError(host);
  }
}

/** Every name server was refused by the seal: wait as for silent servers, on the lab clock. */
function sealedSilence(router: Router, opts: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
  const waitMs = opts.timeoutMs * router.system.nameServers.length;
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) return reject(new ResolveAbortedError());
    const onAbort = () => {
      cancel();
      reject(new ResolveAbortedError());
    };
    const cancel = router.env.clock.after(waitMs, () => {
      opts.signal.removeEventListener('abort', onAbort);
      resolve();
    });
    opts.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The resolver takes no signal: a Ctrl-C must not wait for a silent name server. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ResolveAbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ResolveAbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
