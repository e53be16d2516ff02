/**
 * Server certificate validation as the router does it: the chain must lead to one of the
 * router's own trust anchors (its trustpoints' CA certificates, never the host's store),
 * every certificate on the path must be valid at the router's own clock (so `clock set`
 * can make a good certificate expired or not yet valid), and the leaf must name the host.
 */
import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';

export type ChainFailureReason = 'no-trustpoint' | 'unknown-ca' | 'self-signed' | 'expired' | 'not-yet-valid' | 'wrong-host';

export interface ChainFailure {
  reason: ChainFailureReason;
  /** The certificate at fault (its serial and dates go into the message). */
  cert: X509Certificate;
  /** The host name asked for (wrong-host). */
  host: string;
}

const MAX_DEPTH = 8;

const issuedBy = (c: X509Certificate, issuer: X509Certificate) => c.checkIssued(issuer) && c.verify(issuer.publicKey);

/**
 * `chain` as the server sent it (leaf first); undefined when the chain is trusted, valid
 * at `now` and names `host`.
 */
export function verifyChain(chain: X509Certificate[], anchors: X509Certificate[], host: string, now: Date): ChainFailure | undefined {
  const leaf = chain[0];
  if (!leaf) throw new Error('empty certificate chain');
  const path: X509Certificate[] = [leaf];
  let current = leaf;
  let trusted = anchors.some((a) => a.fingerprint256 === leaf.fingerprint256);
  for (let depth = 0; !trusted && depth < MAX_DEPTH; depth++) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      path.push(anchor);
      trusted = true;
      break;
    }
    const next = chain.find((c) => c !== current && !path.includes(c) && issuedBy(current, c));
    if (!next) break;
    path.push(next);
    current = next;
  }
  if (!trusted) {
    // Not checkIssued: OpenSSL's issuer check wants keyCertSign, which a server's own key lacks.
    const selfSigned = leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey);
    return { reason: anchors.length === 0 ? 'no-trustpoint' : selfSigned ? 'self-signed' : 'unknown-ca', cert: leaf, host };
  }
  for (const c of path) {
    if (now.getTime() > new Date(c.validTo).getTime()) return { reason: 'expired', cert: c, host };
    if (now.getTime() < new Date(c.validFrom).getTime()) return { reason: 'not-yet-valid', cert: c, host };
  }
  const named = isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host, { subject: 'default' });
  if (!named) return { reason: 'wrong-host', cert: leaf, host };
  return undefined;
}
