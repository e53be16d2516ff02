/**
 * Certificates as the router handles them: parsing what a user pasted (PEM or bare base 64),
 * the running-config hex form of a certificate chain, and IOS's ways of printing names,
 * serials, dates and fingerprints.
 */
import { createHash, X509Certificate } from 'node:crypto';

export class CertificateInputError extends Error {}

/** Upper-case hex in groups of 8, space separated, as IOS prints fingerprints. */
export function groupHex(hex: string): string {
  return hex.toUpperCase().replace(/(.{8})(?=.)/g, '$1 ');
}

export function fingerprints(cert: X509Certificate): { md5: string; sha1: string } {
  return {
    md5: groupHex(createHash('md5').update(cert.raw).digest('hex')),
    sha1: groupHex(createHash('sha1').update(cert.raw).digest('hex')),
  };
}

/**
 * A pasted certificate: PEM armour optional, whitespace ignored. Refuses text that is not
 * base 64, and base 64 that is not a whole X.509 certificate (truncated or something else).
 */
export function parsePasted(text: string): X509Certificate {
  const body = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^-----(BEGIN|END) [A-Z0-9 ]+-----$/.test(l))
    .join('');
  if (body === '') throw new CertificateInputError('% No certificate was entered.');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 === 1) throw new CertificateInputError('% The certificate is not base 64 encoded.');
  return fromDer(Buffer.from(body, 'base64'));
}

export function fromDer(der: Buffer): X509Certificate {
  try {
    const cert = new X509Certificate(der);
    // X509Certificate accepts trailing bytes; a certificate re-encoded must be the input.
    if (!cert.raw.equals(der)) throw new Error('trailing data');
    return cert;
  } catch {
    throw new CertificateInputError('% The certificate is truncated or is not an X.509 certificate.');
  }
}

/** `30820122 30820...` lines of 8 groups, as `crypto pki certificate chain` shows a certificate. */
export function hexLines(der: Buffer): string[] {
  const groups = der.toString('hex').toUpperCase().match(/.{1,8}/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < groups.length; i += 8) out.push(groups.slice(i, i + 8).join(' '));
  return out;
}

/** The hex lines back to DER; undefined when a line is not hex. */
export function fromHexLines(lines: string[]): Buffer | undefined {
  const hex = lines.join('').replace(/\s+/g, '');
  if (!/^([0-9A-Fa-f]{2})*$/.test(hex) || hex === '') return undefined;
  return Buffer.from(hex, 'hex');
}

/** `CN=flashlab Lab Root CA\nO=flashlab` to `['cn=flashlab Lab Root CA', 'o=flashlab']`. */
export function nameParts(dn: string): string[] {
  return dn
    .split('\n')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return `${p.slice(0, i).toLowerCase()}=${p.slice(i + 1)}`;
    });
}

/** IOS shows serials in upper-case hex without leading zero bytes beyond one digit pair (`01`). */
export function serialHex(cert: X509Certificate): string {
  return cert.serialNumber.toUpperCase();
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

export function validity(cert: X509Certificate): { from: Date; to: Date } {
  return { from: new Date(cert.validFrom), to: new Date(cert.validTo) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `13:50:58 UTC Nov 12 2012`, IOS's certificate date format. */
export function iosCertDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${d.getUTCFullYear()}`;
}
