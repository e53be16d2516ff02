/**
 * The `smtp` kind: the lab's SMTP sink with a Mailpit-compatible API (servers/smtp).
 * Messages live in the node's state folder, so they survive down/up.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { SmtpService } from '../../servers/smtp/SmtpService.ts';
import type { SmtpFaults, SmtpLogEntry } from '../../servers/smtp/SmtpSink.ts';
import type { NodeInfo } from '../runtime/types.ts';
import { base, Common, parseFaults, type NodeSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LogView } from './registry.ts';
import { ServerNode } from './ServerNode.ts';
import { tcpAnswers } from './support.ts';

const Code = z.number().int().min(400).max(599);

export const SmtpFaultsSchema = z.strictObject({
  /** Every connection is greeted with 554 and closed. */
  refuse: z.boolean().optional(),
  /** The connection drops once a recipient is accepted. */
  disconnect: z.boolean().optional(),
  /** MAIL FROM answered with this code (Mailpit's Sender chaos trigger). */
  'sender-error': Code.optional(),
  /** RCPT TO answered with this code (Mailpit's Recipient trigger). */
  'recipient-error': Code.optional(),
  /** AUTH answered with this code (Mailpit's Authentication trigger). */
  'auth-error': Code.optional(),
  /** Chance of each error above, 0–100 (default 100). */
  probability: z.number().min(0).max(100).optional(),
});

const SmtpFields = {
  /** Port of the Mailpit-style API (a high port; 0 or absent: any free one). */
  'api-port': z.number().int().min(0).max(65535).optional(),
  /** Oldest messages go beyond this many (Mailpit's default 500). */
  'max-messages': z.number().int().positive().optional(),
  faults: SmtpFaultsSchema.optional(),
};

export interface SmtpSpec extends NodeSpec {
  kind: 'smtp';
  apiPort: number;
  maxMessages: number;
  faults: Record<string, unknown>;
}

const SmtpNodeSchema = z
  .strictObject({ ...Common, ...SmtpFields, name: z.string() })
  .transform((n): SmtpSpec => ({ ...base(n), kind: 'smtp', apiPort: n['api-port'] ?? 0, maxMessages: n['max-messages'] ?? 500, faults: n.faults ?? {} }));

/** Topology faults to the sink's own (chaos triggers as Mailpit names them). */
function smtpFaults(f: z.output<typeof SmtpFaultsSchema>): SmtpFaults {
  const p = f.probability ?? 100;
  const chaos: SmtpFaults['chaos'] = {};
  if (f['sender-error']) chaos.Sender = { ErrorCode: f['sender-error'], Probability: p };
  if (f['recipient-error']) chaos.Recipient = { ErrorCode: f['recipient-error'], Probability: p };
  if (f['auth-error']) chaos.Authentication = { ErrorCode: f['auth-error'], Probability: p };
  return { refuse: f.refuse, disconnect: f.disconnect, chaos };
}

/** Each received message is a `message` event (its line: from, to, subject). */
function smtpLogView(raw: Record<string, unknown>): LogView[] {
  const e = raw as unknown as SmtpLogEntry;
  if (e.kind === 'connect') return [];
  return [{ kind: e.kind === 'message' ? 'message' : 'smtp-error', outcome: e.outcome, text: `from=${e.from ?? ''} to=${(e.to ?? []).join(',')} subject=${e.subject ?? ''}${e.detail ? ` ${e.detail}` : ''}` }];
}

export class SmtpNode extends ServerNode<SmtpService, SmtpFaults, SmtpSpec> {
  readonly kind = 'smtp';

  constructor(spec: SmtpSpec, ctx: KindContext) {
    super(spec, ctx, 'smtp', 25);
    this.faults = this.faultsFrom(spec.faults);
  }

  protected makeServer(port: number): SmtpService {
    return new SmtpService({
      address: this.ctx.address,
      port,
      apiPort: this.spec.apiPort,
      dir: join(this.ctx.stateDir, 'messages'),
      maxMessages: this.spec.maxMessages,
      faults: this.faults,
      now: () => this.ctx.clock.now(),
    });
  }

  protected faultsFrom(raw: Record<string, unknown>): SmtpFaults {
    return smtpFaults(parseFaults(SmtpFaultsSchema, raw) as z.output<typeof SmtpFaultsSchema>);
  }

  override async healthy(): Promise<boolean> {
    return !!this.server && (await tcpAnswers(this.ctx.address, this.server.port)) && (await tcpAnswers(this.ctx.address, this.server.apiPort));
  }

  override info(): NodeInfo {
    const i = super.info();
    if (this.server) i.ports = { smtp: this.server.port, api: this.server.apiPort };
    return i;
  }
}

export const smtpKind: KindAdapter<SmtpSpec> = {
  kind: 'smtp',
  order: 'server',
  fields: SmtpFields,
  spec: SmtpNodeSchema,
  faults: SmtpFaultsSchema,
  logView: smtpLogView,
  create: (spec, ctx) => new SmtpNode(spec, ctx),
};
