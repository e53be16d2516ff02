/**
 * What the signed-software show commands print (S2.4–S2.7). Shapes: the seed's examples,
 * with IOS_REFERENCE §7.1–7.3's real column layout (labels padded so the colon of the
 * signer block sits at column 31, dashes as long as the title). Formats the seed and the
 * references leave open are marked [INF] where they are built.
 */
import type { KeyRecord, KeyType, SignedImageType, SignerInfo } from '../../image/envelope.ts';
import type { PlatformProfile } from '../../platforms/profile.ts';

const label = (indent: number, name: string) => `${' '.repeat(indent)}${name}`.padEnd(30) + ': ';

/** `Production`, `Development` (the seed's word for a special image), `Revocation`. */
export function imageTypeWord(t: SignedImageType, keyType: KeyType): string {
  if (t === 'revocation') return 'Revocation';
  if (t === 'special' || keyType === 'special') return 'Development';
  return 'Production';
}

export interface SignedThing {
  imageType: SignedImageType;
  keyType: KeyType;
  keyVersion: string;
  signer: SignerInfo;
}

function signerBlock(t: SignedThing): string[] {
  return [
    `${label(0, 'Image type')}${imageTypeWord(t.imageType, t.keyType)}`,
    '    Signer Information',
    `${label(8, 'Common Name')}${t.signer.commonName}`,
    `${label(8, 'Organization Unit')}${t.signer.organizationUnit}`,
    `${label(8, 'Organization Name')}${t.signer.organizationName}`,
    `${label(4, 'Certificate Serial Number')}${t.signer.serial}`,
    `${label(4, 'Hash Algorithm')}SHA512`,
    `${label(4, 'Signature Algorithm')}2048-bit RSA`,
    `${label(4, 'Key Version')}${t.keyVersion}`,
  ];
}

function section(title: string): string[] {
  return [title, '-'.repeat(title.length)];
}

/** `show software authenticity running`: SYSTEM IMAGE and the ROMmon section. */
export function showRunning(p: PlatformProfile, system: SignedThing | undefined, rommon: SignedThing & { version: string }): string[] {
  const verifier = (name: string, version: string) => ['', '    Verifier Information', `${label(8, 'Verifier Name')}${name}`, `${label(8, 'Verifier Version')}${version}`];
  const bootstrap = `System Bootstrap, Version ${rommon.version}, RELEASE SOFTWARE`;
  const name = p.authenticity.rommonName;
  const out: string[] = [];
  if (system) out.push(...section('SYSTEM IMAGE'), ...signerBlock(system), ...verifier(name, bootstrap));
  out.push(...section(name), ...signerBlock(rommon), ...verifier(name, bootstrap));
  return out;
}

/** `show software authenticity file <f>`. */
export function showFile(url: string, t: SignedThing): string[] {
  return [`${label(0, 'File Name')}${url}`, ...signerBlock(t)];
}

/** Key type words: the seed's (IOS 15) `Release`/`Development`, IOS XE's `Production`/`Special`. */
function keyTypeWord(p: PlatformProfile, type: KeyType, where: 'Primary' | 'Backup' | 'Revocation'): string {
  if (type === 'rollover') return p.family === 'ios' ? 'Rollover (Revocation)' : 'Rollover  (Revocation)';
  if (p.family === 'ios') return `${type === 'production' ? 'Release' : 'Development'} (${where})`;
  return `${type === 'production' ? 'Production' : 'Special'}  (${where})`;
}

/** Modulus as colon-separated hex, 16 bytes a line (the last line has no trailing colon). */
function modulusLines(hex: string, upper: boolean, indent: string): string[] {
  const bytes = (hex.length % 2 ? `0${hex}` : hex).match(/../g)!.map((b) => (upper ? b.toUpperCase() : b));
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) lines.push(indent + bytes.slice(i, i + 16).join(':') + (i + 16 < bytes.length ? ':' : ''));
  return lines;
}

/**
 * `show software authenticity keys`: classic IOS in the seed's shape (upper-case modulus,
 * 4-space indent); IOS XE in the IE3k capture's shape (irregular colons are real).
 */
export function showKeys(p: PlatformProfile, keys: { key: KeyRecord; where: 'Primary' | 'Backup' | 'Revocation' }[]): string[] {
  const out: string[] = [];
  keys.forEach(({ key, where }, i) => {
    const title = `Public Key #${i + 1} Information`;
    const bytes = Math.ceil(key.modulus.length / 2);
    if (p.family === 'ios') {
      out.push(...section(title));
      out.push(`Key Type           : ${keyTypeWord(p, key.type, where)}`);
      out.push('Public Key Algorithm : RSA');
      out.push('Modulus :', ...modulusLines(key.modulus, true, '    '));
      out.push(`Exponent : ${key.exponent}`);
      out.push(`Key Version      : ${key.version}`);
    } else {
      if (i > 0) out.push('');
      out.push(...section(title));
      out.push(`Key Type                  : ${keyTypeWord(p, key.type, where)}`);
      out.push('Public Key Algorithm : RSA');
      out.push(`Modulus (${bytes} bytes)   :`, ...modulusLines(key.modulus, false, '        '));
      out.push(`Exponent (4 bytes)   : ${key.exponent.toString(16)}`);
      out.push(`Key Version          : ${key.version}`);
      out.push(`Product Name         : ${p.authenticity.productName}`);
    }
  });
  return out;
}

export interface UpgradeStatus {
  newVersion?: string;
  oldVersions: string[];
  primary: boolean;
  backup: boolean;
  bootImage?: { url: string; keyVersion?: string; keyType?: KeyType };
  rommonKey: { type: KeyType; version: string };
  revocationAllowed: boolean;
}

/**
 * `show software authenticity upgrade-status` [INF: no public capture, ANCHORS §1.5]: the five
 * checks of step 2 of a production key revocation (S2.7), each answered Yes/No with what
 * was found, then whether `key revoke production` would now be accepted.
 */
export function showUpgradeStatus(s: UpgradeStatus): string[] {
  const yn = (b: boolean) => (b ? 'Yes' : 'No');
  const v = s.newVersion;
  const bootSigned = !!v && s.bootImage?.keyType === 'production' && s.bootImage.keyVersion === v;
  const bootWhat = !s.bootImage
    ? 'no boot system image'
    : s.bootImage.keyVersion
      ? `${s.bootImage.url}, ${s.bootImage.keyType} key version ${s.bootImage.keyVersion}`
      : `${s.bootImage.url}, not verifiable`;
  const romSigned = !!v && s.rommonKey.type === 'production' && s.rommonKey.version === v;
  return [
    ...section('Production Key Upgrade Status'),
    `${label(0, 'New production key version')}${v ?? 'none'}${s.oldVersions.length ? ` (replaces ${s.oldVersions.join(', ')})` : ''}`,
    `${label(0, 'New key installed')}${yn(!!v && s.oldVersions.length > 0)}`,
    `${label(0, 'In primary key storage')}${yn(s.primary)}`,
    `${label(0, 'In backup key storage')}${yn(s.backup)}`,
    `${label(0, 'Autoboot image signed with it')}${yn(bootSigned)} (${bootWhat})`,
    `${label(0, 'Upgradable ROMMON signed with it')}${yn(romSigned)} (${s.rommonKey.type} key version ${s.rommonKey.version})`,
    `${label(0, 'Key revocation allowed')}${yn(s.revocationAllowed)}`,
  ];
}
