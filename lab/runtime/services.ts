/**
 * Where each lab service really listens. Routers dial a server by address and the
 * well-known port; this table turns that into the port the server actually got (a high
 * port when the process may not bind 21/22/53/69).
 */
export const WELL_KNOWN_PORTS: Record<string, number> = {
  ssh: 22,
  telnet: 23,
  ftp: 21,
  tftp: 69,
  dns: 53,
  smtp: 25,
  https: 443,
};

export class ServiceTable {
  private readonly byAddress = new Map<string, Map<string, number>>();

  set(address: string, service: string, port: number): void {
    let m = this.byAddress.get(address);
    if (!m) this.byAddress.set(address, (m = new Map()));
    // With every node on one address (non-Linux fallback) the first server of a kind wins.
    if (!m.has(service)) m.set(service, port);
  }

  delete(address: string, service: string, port: number): void {
    const m = this.byAddress.get(address);
    if (m?.get(service) === port) m.delete(service);
  }

  /** The real port of `service` at `address`; the well-known port for anything unknown. */
  servicePort(address: string, service: string): number {
    return this.byAddress.get(address)?.get(service) ?? WELL_KNOWN_PORTS[service] ?? 0;
  }
}
