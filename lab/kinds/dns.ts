/**
 * The `dns` kind: the lab DNS server. Every node is known as `<name>.<domain>` and as its
 * bare name; `records:` adds names pointing at a node or an address.
 */
import { isIPv4 } from 'node:net';
import { DnsServer, type DnsFaults } from '../../servers/dns/DnsServer.ts';
import { BaseNode, type NodeInfo } from '../runtime/types.ts';
import { camelKeys, type DnsSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext } from './registry.ts';
import { startOnPort, tcpAnswers } from './support.ts';

export class DnsNode extends BaseNode {
  readonly kind = 'dns';
  server?: DnsServer;
  private faults: DnsFaults;

  constructor(
    readonly spec: DnsSpec,
    private readonly ctx: KindContext,
  ) {
    super();
    this.faults = spec.faults as DnsFaults;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The name table, from the addresses nodes really bind. */
  records(): Record<string, string> {
    const all = this.ctx.addresses();
    const byName = new Map(all.map((n) => [n.name, n.address]));
    const out: Record<string, string> = {};
    for (const n of all) {
      out[`${n.name}.${this.ctx.lab.domain}`.toLowerCase()] = n.address;
      out[n.name.toLowerCase()] = n.address;
    }
    for (const [name, target] of Object.entries(this.spec.records)) {
      const address = isIPv4(target) ? target : byName.get(target);
      if (address) out[name.toLowerCase()] = address;
    }
    return out;
  }

  override async start(): Promise<void> {
    this.server = await startOnPort(53, this.ctx.wellKnownPorts, (port) =>
      new DnsServer({ address: this.ctx.address, port, records: this.records(), faults: this.faults }),
    );
    this.ctx.services.set(this.ctx.address, 'dns', this.server.port);
  }

  /** TCP answers on the same port as UDP: a probe that leaves no query in the server's log. */
  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port));
  }

  override async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      this.ctx.services.delete(this.ctx.address, 'dns', s.port);
      await s.stop();
    }
  }

  setFaults(faults: Record<string, unknown>): void {
    this.faults = camelKeys(faults) as DnsFaults;
    this.server?.setFaults(this.faults);
  }

  logs(): unknown[] {
    return this.server?.log ?? [];
  }

  info(): NodeInfo {
    return {
      name: this.name,
      kind: this.kind,
      state: this.server ? 'running' : 'stopped',
      address: this.ctx.address,
      ports: this.server ? { dns: this.server.port } : {},
    };
  }
}

export const dnsKind: KindAdapter<DnsSpec> = {
  kind: 'dns',
  order: 'server',
  create: (spec, ctx) => new DnsNode(spec, ctx),
};
