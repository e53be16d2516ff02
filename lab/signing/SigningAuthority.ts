/**
 * The lab's signing authority (SPEC S2.2): RSA-2048 key pairs made with node:crypto once per
 * lab and kept in its state (`<state>/signing/authority.json`, mode 0600), each with an X.509
 * certificate (node-forge) whose subject and serial are what `show software authenticity`
 * prints. Keys are made on first use: production A, B, C…, special A, B…, the rollover key.
 *
 * Routers never see a private key: they get key records (type, version, modulus) for their
 * key storage, and images carry the signer's certificate in their envelope.
 */
import { createPrivateKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { keyRecordOf, type KeyRecord, type KeyType, type Signer } from '../../router/image/envelope.ts';

const generate = promisify(generateKeyPair);

/** `production:A`, `special:B`, `rollover`: how topologies and `image make --sign` name a key. */
export interface KeyName {
  type: KeyType;
  version: string;
}

export function parseKeyName(text: string): KeyName {
  const m = /^(production|special):([A-Z])$|^(rollover)(?::([A-Z]))?$/.exec(text.trim());
  if (!m) throw new Error(`not a signing key: "${text}" (use production:A, production:B, special:A, rollover or none)`);
  return m[3] ? { type: 'rollover', version: m[4] ?? 'A' } : { type: m[1] as KeyType, version: m[2]! };
}

export const keyId = (k: KeyName): string => `${k.type}:${k.version}`;

interface StoredKey {
  privateKeyPem: string;
  certificatePem: string;
}

/** The subject a signer certificate carries (lab-made values in the seed's shapes). */
const SUBJECT: Record<KeyType, { ou: string }> = {
  production: { ou: 'IOS-XE' },
  special: { ou: 'IOS-XE-DEV' },
  rollover: { ou: 'IOS-XE-ROLLOVER' },
};

export class SigningAuthority {
  private readonly file: string;
  private readonly keys: Record<string, StoredKey>;
  private readonly making = new Map<string, Promise<Signer>>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly records = new Map<string, KeyRecord>();

  constructor(stateDir: string) {
    this.file = join(stateDir, 'signing', 'authority.json');
    let keys: Record<string, StoredKey> = {};
    try {
      keys = (JSON.parse(readFileSync(this.file, 'utf8')) as { keys: Record<string, StoredKey> }).keys ?? {};
    } catch {
      keys = {};
    }
    this.keys = keys;
  }

  /** The signer for a key, making its key pair and certificate the first time. */
  signer(k: KeyName): Promise<Signer> {
    const id = keyId(k);
    let p = this.making.get(id);
    if (!p) {
      p = this.load(k);
      this.making.set(id, p);
    }
    return p;
  }

  /** Starts making these keys (`production:A`, `rollover:A`) in parallel; failures surface where they are used. */
  prepare(names: string[]): void {
    for (const n of names) this.signer(parseKeyName(n)).catch(() => undefined);
  }

  /** The public key record a router's key storage holds for this key. */
  async keyRecord(k: KeyName): Promise<KeyRecord> {
    const id = keyId(k);
    let r = this.records.get(id);
    if (!r) this.records.set(id, (r = keyRecordOf(k.type, k.version, (await this.signer(k)).privateKey)));
    return { ...r };
  }

  async certificate(k: KeyName): Promise<string> {
    return (await this.signer(k)).certificatePem;
  }

  private async load(k: KeyName): Promise<Signer> {
    const id = keyId(k);
    let stored = this.keys[id];
    if (!stored) {
      const { privateKey } = await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
      stored = { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, certificatePem: await makeCertificate(k, privateKey) };
      this.keys[id] = stored;
      this.save();
    }
    let key = this.privateKeys.get(id);
    if (!key) this.privateKeys.set(id, (key = createPrivateKey(stored.privateKeyPem)));
    return { keyType: k.type, keyVersion: k.version, privateKey: key, certificatePem: stored.certificatePem };
  }

  /** Written beside and renamed: a crash never leaves half a key file. */
  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys: this.keys }, null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** A self-signed certificate for the signer: CN/OU/O and a serial `show software authenticity` prints. */
async function makeCertificate(k: KeyName, privateKey: KeyObject): Promise<string> {
  // Loaded here, the one place it is used: node agents read keys the lab made and never load it.
  const { default: forge } = await import('node-forge');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const fkey = forge.pki.privateKeyFromPem(pem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(fkey.n, fkey.e);
  // Eight hex digits, like the real signer serials (`5A94807E`); the top bit clear keeps it positive.
  const serial = randomBytes(4);
  serial[0]! &= 0x7f;
  serial[0]! |= 0x10;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.UTC(2010, 0, 1));
  cert.validity.notAfter = new Date(Date.UTC(2099, 11, 31));
  const attrs = [
    { shortName: 'CN', value: 'CiscoSystems' },
    { shortName: 'OU', value: SUBJECT[k.type].ou },
    { shortName: 'O', value: 'CiscoSystems' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(fkey, forge.md.sha512.create());
  return forge.pki.certificateToPem(cert);
}
