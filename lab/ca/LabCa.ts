/**
 * The lab's certificate authority: a root and an intermediate, kept in the lab's state
 * (`<state>/ca/`), and server certificates issued from the intermediate. Also the parts a
 * trainer needs to show certificate failures: an unrelated "rogue" root (unknown CA),
 * expired and not-yet-valid dates, a wrong host name, a self-signed certificate.
 *
 * Certificates are built with node-forge; RSA keys come from node:crypto (native, tens of
 * milliseconds, where forge's pure-JS generator takes seconds).
 */
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

const DAY = 86_400_000;

export interface KeyPair {
  keyPem: string;
  certPem: string;
}

export interface IssueOptions {
  /** Subject CN; also the first DNS name. */
  commonName: string;
  /** subjectAltName DNS names and IPv4 addresses. */
  dnsNames?: string[];
  ips?: string[];
  notBefore: Date;
  notAfter: Date;
  /** Serial in hex; random when omitted. */
  serial?: string;
}

/** A fresh RSA key (2048 bits), PEM. */
export function newKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A positive random serial, as IOS shows them (upper-case hex). */
function randomSerial(): string {
  const b = randomBytes(8);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex').toUpperCase();
}

function subject(cn: string, o = 'flashlab'): forge.pki.CertificateField[] {
  return [
    { name: 'commonName', value: cn },
    { name: 'organizationName', value: o },
  ];
}

interface BuildOptions {
  subject: forge.pki.CertificateField[];
  issuer: { subject: forge.pki.CertificateField[]; keyPem: string };
  publicKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
  ca: boolean;
  dnsNames?: string[];
  ips?: string[];
}

function build(o: BuildOptions): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(o.publicKeyPem);
  cert.serialNumber = o.serial;
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  cert.setSubject(o.subject);
  cert.setIssuer(o.issuer.subject);
  const ext: object[] = [
    { name: 'basicConstraints', cA: o.ca, critical: true },
    o.ca ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!o.ca) {
    ext.push({ name: 'extKeyUsage', serverAuth: true });
    const alt = [...(o.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(o.ips ?? []).map((ip) => ({ type: 7, ip }))];
    if (alt.length) ext.push({ name: 'subjectAltName', altNames: alt });
  }
  cert.setExtensions(ext);
  cert.sign(forge.pki.privateKeyFromPem(o.issuer.keyPem), forge.md.sha256.create());
  return lf(forge.pki.certificateToPem(cert));
}

/** forge writes PEM with CRLF; a pasted certificate must be plain lines. */
const lf = (pem: string) => pem.replace(/\r\n/g, '\n');

function publicOf(keyPem: string): string {
  const k = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(k.n, k.e));
}

/** `0CD2F9E0 DA1773E9 ...`: upper-case hex in groups of 8, as IOS prints fingerprints. */
export function iosFingerprint(hex: string): string {
  return hex.toUpperCase().replace(/(.{8})(?=.)/g, '$1 ');
}

/** The MD5 and SHA1 fingerprints of a certificate's DER, IOS style. */
export function fingerprints(certPem: string): { md5: string; sha1: string } {
  const der = new X509Certificate(certPem).raw;
  return {
    md5: iosFingerprint(createHash('md5').update(der).digest('hex')),
    sha1: iosFingerprint(createHash('sha1').update(der).digest('hex')),
  };
}

export class LabCa {
  readonly root: KeyPair;
  readonly intermediate: KeyPair;

  private constructor(
    readonly dir: string,
    root: KeyPair,
    intermediate: KeyPair,
  ) {
    this.root = root;
    this.intermediate = intermediate;
  }

  /**
   * The lab's CA from `dir`, made on first use and kept: routers that authenticated the
   * root keep trusting the lab across down/up. `now` is the lab clock's time.
   */
  static open(dir: string, now: Date): LabCa {
    const files = ['root.key', 'root.pem', 'intermediate.key', 'intermediate.pem'].map((f) => join(dir, f));
    if (files.every((f) => existsSync(f))) {
      const [rk, rc, ik, ic] = files.map((f) => lf(readFileSync(f, 'utf8'))) as [string, string, string, string];
      return new LabCa(dir, { keyPem: rk, certPem: rc }, { keyPem: ik, certPem: ic });
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // CA dates reach well back, so a router clock set back a few weeks still trusts the CA
    // itself and the failure shown is the server certificate's own.
    const from = new Date(now.getTime() - 3650 * DAY);
    const to = new Date(now.getTime() + 20 * 365 * DAY);
    const rootKey = newKey();
    const rootSubject = subject('flashlab Lab Root CA');
    const rootPem = build({ subject: rootSubject, issuer: { subject: rootSubject, keyPem: rootKey }, publicKeyPem: publicOf(rootKey), notBefore: from, notAfter: to, serial: '01', ca: true });
    const intKey = newKey();
    const intPem = build({ subject: subject('flashlab Lab Issuing CA'), issuer: { subject: rootSubject, keyPem: rootKey }, publicKeyPem: publicOf(intKey), notBefore: from, notAfter: to, serial: '02', ca: true });
    // Written to temp names then renamed: a crash never leaves half a CA behind.
    const contents = [rootKey, rootPem, intKey, intPem];
    files.forEach((f, i) => writeFileSync(`${f}.tmp`, contents[i]!, { mode: 0o600 }));
    files.forEach((f) => renameSync(`${f}.tmp`, f));
    return new LabCa(dir, { keyPem: rootKey, certPem: rootPem }, { keyPem: intKey, certPem: intPem });
  }

  /** A server certificate from the intermediate; the chain to send is [leaf, intermediate]. */
  issueServer(keyPem: string, o: IssueOptions): string {
    return issueFrom(this.intermediate, keyPem, o);
  }
}

/** A certificate signed by a key of its own (a self-signed server certificate, or a CA nobody trusts). */
export function selfSigned(keyPem: string, o: IssueOptions & { ca?: boolean; organization?: string }): string {
  const s = subject(o.commonName, o.organization);
  return build({
    subject: s,
    issuer: { subject: s, keyPem },
    publicKeyPem: publicOf(keyPem),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    serial: o.serial ?? randomSerial(),
    ca: o.ca ?? false,
    dnsNames: o.ca ? undefined : [o.commonName, ...(o.dnsNames ?? [])],
    ips: o.ips,
  });
}

/** A certificate from an issuer given as a pair (the rogue CA's leaves). */
export function issueFrom(issuer: KeyPair, keyPem: string, o: IssueOptions): string {
  const issuerSubject = new X509Certificate(issuer.certPem).subject;
  const cn = issuerSubject.match(/CN=([^\n]+)/)?.[1] ?? 'CA';
  const org = issuerSubject.match(/O=([^\n]+)/)?.[1] ?? 'flashlab';
  return build({
    subject: subject(o.commonName),
    issuer: { subject: subject(cn, org), keyPem: issuer.keyPem },
    publicKeyPem: publicOf(keyPem),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    serial: o.serial ?? randomSerial(),
    ca: false,
    dnsNames: [o.commonName, ...(o.dnsNames ?? [])],
    ips: o.ips,
  });
}
