/**
 * The AUM status mail (S4.13) through nodemailer: the SMTP server's name resolved by the
 * router's own name servers (never the host's resolver), the port from the lab's port
 * table, and the connection asked of the lab seal first. "Status email is not sent unless
 * the address is configured" (ANCHORS §1.9): no recipient or no server, no mail. A mail that
 * cannot go out is logged and never fails the upgrade.
 */
import type { Router } from '../../Router.ts';
import { resolveHost } from '../../net/resolveHost.ts';
import { transferTuning } from '../../transfer/TransferService.ts';
import { AumText } from './messages.ts';

export interface StatusMail {
  host: string;
  status: 'SCHEDULED' | 'SUCCESS' | 'FAILURE';
  image: string;
  from: string;
  to?: string;
  reason?: string;
  time: string;
}

/** Seconds an SMTP server may take to connect, greet and answer (real time: mail is not on the lab clock). */
const SMTP_TIMEOUT_MS = 5000;

export async function sendStatusMail(r: Router, where: { recipient?: string; smtpServer?: string }, m: StatusMail, debug: (t: string) => void): Promise<void> {
  if (!where.recipient || !where.smtpServer) return;
  const server = where.smtpServer;
  try {
    const address = await resolveHost(r, server, () => undefined, { signal: AbortSignal.timeout(SMTP_TIMEOUT_MS * 2), timeoutMs: transferTuning(r).dnsTimeoutMs });
    const verdict = r.egress.verdict(address, 'smtp');
    if (!verdict.allowed) throw new Error(`${address} is outside the lab (${verdict.reason})`);
    // Loaded when a mail goes out: most routers never send one, and each would hold it in memory.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: address,
      port: r.env.servicePort(address, 'smtp'),
      secure: false,
      ignoreTLS: true,
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
      name: r.system.hostname,
    });
    try {
      const domain = r.system.domainName ?? 'localdomain';
      await transport.sendMail({ from: `${r.system.hostname}@${domain}`, to: where.recipient, subject: AumText.mail.subject(m.host), text: AumText.mail.body(m) });
    } finally {
      transport.close();
    }
    debug(`status mail (${m.status}) sent to ${where.recipient} through ${server}`);
    r.log.emit('AUM', 6, 'EMAIL_SENT', `Status email (${m.status}) sent to ${where.recipient}`);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    r.log.emit('AUM', 4, 'EMAIL_FAILED', AumText.log.mailFailed(server, why));
  }
}
