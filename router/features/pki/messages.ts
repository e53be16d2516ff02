/**
 * PKI texts in one table. Marks as in ANCHORS.md: [REAL] captured from devices, [DOC] from
 * Cisco's guides, [INF] inferred where nothing public was found (kept here so one edit
 * changes them everywhere).
 */
import type { ChainFailure } from '../../transfer/verifyChain.ts';
import { iosCertDate, serialHex, validity } from './certs.ts';

export const PkiText = {
  /** [DOC] IOS_REFERENCE §9 / S4.12. */
  attributes: 'Certificate has the following attributes:',
  /** [DOC] fingerprint labels right-aligned so the colons line up; trailing space as in captures (ANCHORS §1.6). */
  md5: (fp: string) => `       Fingerprint MD5: ${fp} `,
  sha1: (fp: string) => `      Fingerprint SHA1: ${fp} `,
  accept: '% Do you accept this certificate?',
  accepted: 'Trustpoint CA certificate accepted.',
  imported: '% Certificate successfully imported',
  /** [DOC] seed: a CA certificate that is not self-signed. */
  subordinate: (tp: string) => `Trustpoint '${tp}' is a subordinate CA and holds a non self signed cert`,
  /** [DOC] seed: not a CA at all. */
  notCa: (tp: string) => `Trustpoint '${tp}' is a subordinate CA.\nbut certificate is not a CA certificate.\nManual verification required`,
  /** [REAL] ANCHORS §1.2 (C3945 15.2(4)M5). */
  couldNotValidate: 'Authentication failed - could not validate certificate',
  saveFailed: '% Error in saving certificate: status = FAIL',
  /** [INF] IOS_REFERENCE §9. */
  notAccepted: '% Certificate not accepted.',
  noEnrollment: (tp: string) => `% Error: No enrollment method configured for trustpoint ${tp}`,
  /** [INF] */
  unknownTrustpoint: (tp: string) => `% Trustpoint ${tp} not found.`,
  /** [INF] */
  alreadyAuthenticated: (tp: string) => `% Trustpoint ${tp} already has a CA certificate. Remove the trustpoint first ("no crypto pki trustpoint ${tp}").`,
  /** [DOC] the removal warning IOS prints for a trustpoint that holds certificates. */
  removeWarning: '% Removing an enrolled trustpoint will destroy all certificates\n received from the related Certificate Authority.\n',
  removeQuestion: 'Are you sure you want to do this?',
  removeDone: '% Be sure to ask the CA administrator to revoke your certificates.',
} as const;

/** The mnemonic and text of the syslog line a refused server certificate produces. */
export function chainFailureLog(f: ChainFailure): { mnemonic: string; text: string } {
  const sn = serialHex(f.cert);
  const { from, to } = validity(f.cert);
  const failed = 'Certificate chain validation has failed.';
  switch (f.reason) {
    case 'expired':
      // [REAL] mnemonic and sentence shape (ANCHORS §1.2); spacing as in the NOT_YET_VALID capture.
      return { mnemonic: 'CERTIFICATE_INVALID_EXPIRED', text: `${failed} The certificate (SN: ${sn}) has expired.   Validity period ended on ${iosCertDate(to)}` };
    case 'not-yet-valid':
      // [REAL] ANCHORS §1.2.
      return { mnemonic: 'CERTIFICATE_INVALID_NOT_YET_VALID', text: `${failed} The certificate (SN: ${sn}) is not yet valid   Validity period starts on ${iosCertDate(from)}` };
    // [INF] below: the verified prefix under the mnemonic IOS_REFERENCE §9 proposes, and a
    // reason of our own for each case (no public capture exists).
    case 'unknown-ca':
      return { mnemonic: 'CERTIFICATE_INVALID_UNAUTHORIZED', text: `${failed} The certificate (SN: ${sn}) was issued by a CA no trustpoint holds (issuer ${f.cert.issuer.split('\n').join(',').toLowerCase()})` };
    case 'self-signed':
      return { mnemonic: 'CERTIFICATE_INVALID_UNAUTHORIZED', text: `${failed} The certificate (SN: ${sn}) is self-signed and no trustpoint holds it` };
    case 'no-trustpoint':
      return { mnemonic: 'CERTIFICATE_INVALID_UNAUTHORIZED', text: `${failed} No trustpoint has an authenticated CA certificate` };
    case 'wrong-host':
      return { mnemonic: 'CERTIFICATE_INVALID', text: `${failed} The certificate (SN: ${sn}) does not match the host name ${f.host}` };
  }
}

/** [INF] IOS_REFERENCE §9: the copy's own line after the PKI message. */
export const CERTIFICATE_FAILED_REASON = 'Certificate validation failed';
