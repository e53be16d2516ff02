/**
 * PKI trustpoints (SPEC S4.12, IOS_REFERENCE §9, ANCHORS §1.1/§1.2/§1.6): `crypto pki
 * trustpoint` and its `(ca-trustpoint)#` mode, `crypto pki authenticate` with the paste
 * dialog, `show crypto pki trustpoints [status]`, `show crypto pki certificates`, and the
 * `crypto pki certificate chain` block that carries an authenticated CA certificate through
 * running-config, startup-config and the replay at boot. `crypto ca …` are the legacy
 * spellings. The CA certificates held here are the only anchors the router's HTTPS client
 * trusts (`trustAnchors`).
 */
import type { X509Certificate } from 'node:crypto';
import { CliError } from '../../cli/CliSession.ts';
import { Dialogs } from '../../cli/dialogs.ts';
import type { CommandContext, ConfigSection, Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import { ConfigOrder } from '../configOrder.ts';
import { CertificateInputError, fingerprints, fromDer, fromHexLines, hexLines, iosCertDate, isSelfSigned, nameParts, parsePasted, serialHex, validity } from './certs.ts';
import { PkiText } from './messages.ts';

export interface Trustpoint {
  name: string;
  /** `enrollment terminal [pem]`: the CA certificate is pasted. */
  enrollment?: string;
  /** `revocation-check none|crl …` as typed (IOS's default is crl). */
  revocation?: string[];
  /** The authenticated CA certificate. */
  ca?: X509Certificate;
}

interface PkiState {
  trustpoints: Map<string, Trustpoint>;
}

/** A certificate being read back from `crypto pki certificate chain` (config replay). */
interface HexEntry {
  trustpoint: string;
  serial: string;
  lines: string[];
}

type Ctx = CommandContext<Router>;

export function pkiState(r: Router): PkiState {
  return r.featureState<PkiState>('pki', () => ({ trustpoints: new Map() }));
}

/** Every CA certificate a trustpoint holds: what the router's HTTPS client trusts. */
export function trustAnchors(r: Router): X509Certificate[] {
  return [...pkiState(r).trustpoints.values()].flatMap((t) => (t.ca ? [t.ca] : []));
}

function trustpointOf(ctx: Ctx): Trustpoint {
  const name = ctx.session.modeData as string;
  const tp = pkiState(ctx.router).trustpoints.get(name);
  // Removed from another session while this one sat in its mode.
  if (!tp) throw new CliError(PkiText.unknownTrustpoint(name));
  return tp;
}

async function authenticate(ctx: Ctx): Promise<void> {
  const name = ctx.args.name!;
  const tp = pkiState(ctx.router).trustpoints.get(name);
  if (!tp) throw new CliError(PkiText.unknownTrustpoint(name));
  if (!tp.enrollment) throw new CliError(PkiText.noEnrollment(name));
  if (tp.ca) throw new CliError(PkiText.alreadyAuthenticated(name));
  const text = String(await ctx.ask(Dialogs.pasteCaCertificate()));
  let cert: X509Certificate;
  try {
    cert = parsePasted(text);
  } catch (e) {
    if (!(e instanceof CertificateInputError)) throw e;
    ctx.print(e.message);
    ctx.print(PkiText.saveFailed);
    return;
  }
  if (!cert.ca) {
    ctx.print(PkiText.notCa(name));
    ctx.print(PkiText.couldNotValidate);
    ctx.print(PkiText.saveFailed);
    return;
  }
  if (!isSelfSigned(cert)) ctx.print(PkiText.subordinate(name));
  const fp = fingerprints(cert);
  ctx.print(`${PkiText.attributes}\n${PkiText.md5(fp.md5)}\n${PkiText.sha1(fp.sha1)}\n`);
  if (!(await ctx.confirm({ kind: 'yesno', text: PkiText.accept }))) {
    ctx.print(PkiText.notAccepted);
    return;
  }
  tp.ca = cert;
  ctx.print(PkiText.accepted);
  ctx.print(PkiText.imported);
}

async function removeTrustpoint(ctx: Ctx): Promise<void> {
  const name = ctx.args.name!;
  const s = pkiState(ctx.router);
  const tp = s.trustpoints.get(name);
  if (!tp) throw new CliError(PkiText.unknownTrustpoint(name));
  if (tp.ca) {
    ctx.print(PkiText.removeWarning);
    if (!(await ctx.confirm({ kind: 'yesno', text: PkiText.removeQuestion }))) return;
    ctx.print(PkiText.removeDone);
  }
  s.trustpoints.delete(name);
}

/** `quit` ends a certificate read back from running-config: it must be a whole CA certificate. */
function finishHex(ctx: Ctx): void {
  const entry = ctx.session.modeData as HexEntry;
  ctx.session.exitMode();
  const der = fromHexLines(entry.lines);
  const tp = pkiState(ctx.router).trustpoints.get(entry.trustpoint);
  if (!tp) throw new CliError(PkiText.unknownTrustpoint(entry.trustpoint));
  let cert: X509Certificate;
  try {
    if (!der) throw new CertificateInputError('% The certificate is not in hexadecimal.');
    cert = fromDer(der);
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n${PkiText.saveFailed}`);
  }
  if (!cert.ca) throw new CliError(`${PkiText.notCa(tp.name)}\n${PkiText.saveFailed}`);
  tp.ca = cert;
}

function showTrustpoints(ctx: Ctx): void {
  const tps = [...pkiState(ctx.router).trustpoints.values()];
  const status = ctx.has('status');
  const blocks = tps.map((tp) => {
    const lines = [`Trustpoint ${tp.name}:`];
    if (status) {
      if (tp.ca) {
        const fp = fingerprints(tp.ca);
        lines.push('  Issuing CA certificate configured:', '    Subject Name:', `     ${nameParts(tp.ca.subject).join(',')}`, `    Fingerprint MD5: ${fp.md5} `, `    Fingerprint SHA1: ${fp.sha1} `);
      }
      // Dot leaders as irregular as the real capture (ANCHORS §1.1).
      lines.push('  State:', '    Keys generated ............. No', `    Issuing CA authenticated ....... ${tp.ca ? 'Yes' : 'No'}`, '    Certificate request(s) ..... None');
    } else if (tp.ca) {
      lines.push('    Subject Name:', ...nameParts(tp.ca.subject).map((p) => `    ${p}`), `          Serial Number (hex): ${serialHex(tp.ca)}`, '    Certificate configured.');
    }
    return lines.join('\n');
  });
  if (blocks.length) ctx.print(blocks.join(status ? '\n\n' : '\n\n\n'));
}

function showCertificates(ctx: Ctx): void {
  const only = ctx.args.name;
  const tps = [...pkiState(ctx.router).trustpoints.values()].filter((t) => t.ca && (only === undefined || t.name === only));
  const blocks = tps.map((tp) => {
    const c = tp.ca!;
    const v = validity(c);
    return [
      'CA Certificate',
      `  Status: Available`,
      `  Certificate Serial Number (hex): ${serialHex(c)}`,
      '  Certificate Usage: Signature',
      '  Issuer: ',
      ...nameParts(c.issuer).map((p) => `    ${p}`),
      '  Subject: ',
      ...nameParts(c.subject).map((p) => `    ${p}`),
      '  Validity Date: ',
      `    start date: ${iosCertDate(v.from)}`,
      `    end   date: ${iosCertDate(v.to)}`,
      `  Associated Trustpoints: ${tp.name} `,
    ].join('\n');
  });
  if (blocks.length) ctx.print(blocks.join('\n\n') + '\n');
}

export const pkiFeature: Feature<Router> = {
  name: 'pki',
  modes: [
    { id: 'ca-trustpoint', prompt: '(ca-trustpoint)#', parent: 'config' },
    { id: 'cert-chain', prompt: '(config-cert-chain)#', parent: 'config' },
    { id: 'cert-hex', prompt: '(config-pubkey)#', parent: 'cert-chain' },
  ],
  commands: [
    {
      mode: 'config',
      syntax: 'crypto {pki|ca} trustpoint <name>',
      help: { crypto: 'Encryption module', pki: 'Public Key components', ca: 'Certification authority', trustpoint: 'Define a CA trustpoint', name: 'Trustpoint name' },
      run(ctx) {
        const s = pkiState(ctx.router);
        const name = ctx.args.name!;
        if (!s.trustpoints.has(name)) s.trustpoints.set(name, { name });
        ctx.enterMode('ca-trustpoint', name);
      },
    },
    {
      mode: 'config',
      syntax: 'no crypto {pki|ca} trustpoint <name>',
      run: removeTrustpoint,
    },
    {
      mode: 'config',
      syntax: 'crypto {pki|ca} authenticate <name>',
      help: { authenticate: 'Get the certification authority certificate', name: 'Trustpoint name' },
      run: authenticate,
    },
    {
      mode: 'config',
      syntax: 'crypto {pki|ca} certificate chain <name>',
      help: { certificate: 'Actions on certificates', chain: 'Certificate chain for a trustpoint' },
      run(ctx) {
        const name = ctx.args.name!;
        if (!pkiState(ctx.router).trustpoints.has(name)) throw new CliError(PkiText.unknownTrustpoint(name));
        ctx.enterMode('cert-chain', name);
      },
    },
    {
      mode: 'ca-trustpoint',
      syntax: 'enrollment terminal [pem]',
      help: { enrollment: 'Enrollment parameters', terminal: 'Enroll via the terminal (cut-and-paste)', pem: 'Use PEM framing' },
      run(ctx) {
        trustpointOf(ctx).enrollment = ctx.has('pem') ? 'terminal pem' : 'terminal';
      },
    },
    {
      mode: 'ca-trustpoint',
      syntax: 'no enrollment',
      run(ctx) {
        trustpointOf(ctx).enrollment = undefined;
      },
    },
    {
      mode: 'ca-trustpoint',
      syntax: 'revocation-check {none|crl} [{none|crl}]',
      help: { 'revocation-check': 'Revocation checking options', none: 'Ignore revocation check', crl: 'Revocation check by CRL' },
      run(ctx) {
        const words = ctx.line.trim().split(/\s+/).slice(1).map((w) => ('none'.startsWith(w.toLowerCase()) ? 'none' : 'crl'));
        trustpointOf(ctx).revocation = [...new Set(words)];
      },
    },
    {
      mode: 'ca-trustpoint',
      syntax: 'no revocation-check',
      run(ctx) {
        trustpointOf(ctx).revocation = undefined;
      },
    },
    {
      mode: 'cert-chain',
      syntax: 'certificate ca <serial>',
      help: { certificate: 'Input a certificate', ca: 'a CA certificate', serial: 'Certificate serial number' },
      run(ctx) {
        const entry: HexEntry = { trustpoint: ctx.session.modeData as string, serial: ctx.args.serial!, lines: [] };
        ctx.enterMode('cert-hex', entry);
      },
    },
    {
      mode: 'cert-chain',
      syntax: 'no certificate ca <serial>',
      async run(ctx) {
        const tp = pkiState(ctx.router).trustpoints.get(ctx.session.modeData as string);
        if (!tp?.ca || serialHex(tp.ca) !== ctx.args.serial!.toUpperCase()) throw new CliError(`% Certificate ${ctx.args.serial} not found.`);
        if (await ctx.confirm({ kind: 'yesno', text: '% Are you sure you want to remove the certificate' })) tp.ca = undefined;
      },
    },
    {
      mode: 'cert-hex',
      syntax: 'quit',
      help: { quit: 'Exit data entry mode' },
      run: finishHex,
    },
    {
      mode: 'cert-hex',
      syntax: '<hex:LINE>',
      help: { hex: 'Certificate data in hexadecimal' },
      run(ctx) {
        (ctx.session.modeData as HexEntry).lines.push(ctx.args.hex!);
      },
    },
    {
      mode: 'user',
      syntax: 'show crypto pki trustpoints [status]',
      help: { crypto: 'Encryption module', pki: 'Show PKI', trustpoints: 'Show trustpoints', status: 'Show trustpoint status' },
      run: showTrustpoints,
    },
    {
      mode: 'user',
      syntax: 'show crypto pki certificates [<name>]',
      help: { certificates: 'Show certificates', name: 'Trustpoint name' },
      run: showCertificates,
    },
  ],
  runningConfig(r): ConfigSection[] {
    const tps = [...pkiState(r).trustpoints.values()];
    if (!tps.length) return [];
    const lines: string[] = [];
    for (const tp of tps) {
      lines.push(`crypto pki trustpoint ${tp.name}`);
      if (tp.enrollment) lines.push(` enrollment ${tp.enrollment}`);
      if (tp.revocation) lines.push(` revocation-check ${tp.revocation.join(' ')}`);
      lines.push('!');
    }
    for (const tp of tps) {
      if (!tp.ca) continue;
      lines.push('!', `crypto pki certificate chain ${tp.name}`, ` certificate ca ${serialHex(tp.ca)}`, ...hexLines(tp.ca.raw).map((l) => `  ${l}`), '  \tquit');
    }
    lines.push('!');
    return [{ order: ConfigOrder.pki, lines }];
  },
};
