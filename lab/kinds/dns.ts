/**
 * The `dns` kind: the lab DNS server. Every node is known as `<name>.<domain>` and as its
 * bare name; `records:` adds names pointing at a node or an address.
 */
import { isIPv4 } from 'node:net';
import { DnsServer, type DnsFaults } from '../../servers/dns/DnsServer.ts';
import { z } from 'zod';
import { base, camelKeys, Common, parseFaults, type NodeSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LabRefs } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { tcpAnswers } from './support.ts';

export const DnsFaultsSchema = z.strictObject({
  down: z.boolean().optional(),
  /** Names answered NXDOMAIN: a list, or one name. */
  nxdomain: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
});

const DnsFields = {
  /** Extra names: `www.cisco.com: ida` (a node name) or `host.example: 127.77.0.9`. */
  records: z.record(z.string(), z.string()).optional(),
  faults: DnsFaultsSchema.optional(),
};

export interface DnsSpec extends NodeSpec {
  kind: 'dns';
  /** Extra names -> node name or address, as written (the loader resolves them). */
  records: Record<string, string>;
  faults: Record<string, unknown>;
}

const DnsNodeSchema = z
  .strictObject({ ...Common, ...DnsFields, name: z.string() })
  .transform((n): DnsSpec => ({ ...base(n), kind: 'dns', records: n.records ?? {}, faults: n.faults ?? {} }));

/** Every extra name points at a node of this lab or an address. */
function finishDns(n: DnsSpec, lab: LabRefs): void {
  for (const [rec, target] of Object.entries(n.records)) {
    if (!lab.byName.has(target) && !isIPv4(target)) lab.issue(['records', rec], `"${target}" is neither a node of this lab nor an IPv4 address`);
  }
}

export class DnsNode extends ServerNode<DnsServer, DnsFaults, DnsSpec> {
  readonly kind = 'dns';

  constructor(spec: DnsSpec, ctx: KindContext) {
    super(spec, ctx, 'dns', 53);
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

  protected makeServer(port: number): DnsServer {
    return new DnsServer({ address: this.ctx.address, port, records: this.records(), faults: this.faults });
  }

  protected faultsFrom(raw: Record<string, unknown>): DnsFaults {
    return camelKeys(parseFaults(DnsFaultsSchema, raw)) as DnsFaults;
  }

  /** TCP answers on the same port as UDP: a probe that leaves no query in the server's log. */
  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port));
  }
}

export const dnsKind: KindAdapter<DnsSpec> = {
  kind: 'dns',
  order: 'server',
  fields: DnsFields,
  spec: DnsNodeSchema,
  faults: DnsFaultsSchema,
  finish: finishDns,
  create: (spec, ctx) => new DnsNode(spec, ctx),
};
