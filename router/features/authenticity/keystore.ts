/**
 * The router's key storage and ROMmon record (S2.2, S2.8–S2.10): device state kept across
 * reloads and `down`/`up` (Router.device), never a file a user can see or delete.
 */
import { createHash } from 'node:crypto';
import { signerInfo, type KeyRecord, type KeyType, type SignedImageType, type SignerInfo } from '../../image/envelope.ts';
import type { Router } from '../../Router.ts';

/** The ROMmon a router runs, or will run after the next reload. */
export interface RommonRecord {
  version: string;
  imageType: SignedImageType;
  keyType: KeyType;
  keyVersion: string;
  signer: SignerInfo;
  /** The file it was upgraded from (absent for the factory ROMmon). */
  file?: string;
}

export interface KeyStorage {
  primary: KeyRecord[];
  backup: KeyRecord[];
  rollover: KeyRecord[];
  /** Keys revoked here: never added back (S2.8 checks the key set). */
  revoked: { type: KeyType; version: string }[];
  rommon: { running: RommonRecord; upgraded?: RommonRecord };
}

export const DEVICE_STATE = 'software-authenticity';

export const sameKey = (a: { type: KeyType; version: string }, b: { type: KeyType; version: string }): boolean =>
  a.type === b.type && a.version === b.version;

const parse = (name: string) => {
  const [type, version] = name.split(':') as [KeyType, string];
  return { type, version };
};

/** The factory key storage from the platform profile and the lab's signing authority. */
export async function factoryStorage(r: Router): Promise<KeyStorage> {
  const a = r.platform.authenticity;
  const keys = await Promise.all(a.keys.map((k) => r.env.softwareKeys.keyRecord(parse(k))));
  const rollover = await Promise.all(a.rolloverKeys.map((k) => r.env.softwareKeys.keyRecord(parse(k))));
  const rk = parse(a.rommonKey);
  const signer = signerInfo(await r.env.softwareKeys.certificate(rk));
  if (!signer) throw new Error('the signing authority gave an unreadable certificate');
  return {
    primary: keys,
    backup: keys.map((k) => ({ ...k })),
    rollover,
    revoked: [],
    rommon: {
      running: { version: r.platform.rommon.version, imageType: rk.type === 'special' ? 'special' : 'production', keyType: rk.type, keyVersion: rk.version, signer },
    },
  };
}

/** The router's key storage (loaded by the feature's attach hook before the first boot). */
export function storage(r: Router): KeyStorage {
  return r.device.get<KeyStorage>(DEVICE_STATE);
}

/**
 * Loads key storage at attach: the saved record, else the factory keys (first boot). A
 * damaged record is replaced by the factory keys ('restored': the caller says so), never a crash.
 */
export async function loadStorage(r: Router): Promise<'loaded' | 'factory' | 'restored'> {
  const loaded = r.device.load<KeyStorage>(DEVICE_STATE);
  if ('value' in loaded && Array.isArray(loaded.value.primary) && Array.isArray(loaded.value.backup) && loaded.value.rommon?.running) return 'loaded';
  r.device.set(DEVICE_STATE, await factoryStorage(r));
  return 'missing' in loaded ? 'factory' : 'restored';
}

export function saveStorage(r: Router): void {
  r.device.save(DEVICE_STATE);
}

/** Identifies the key set: a cached verdict is only reused while the keys are the same. */
export function keySetId(s: KeyStorage): string {
  const h = createHash('sha256');
  for (const [name, list] of [['p', s.primary], ['b', s.backup], ['r', s.rollover]] as const) {
    for (const k of list) h.update(`${name}/${k.type}/${k.version}/${k.modulus}/${k.exponent};`);
  }
  return h.digest('hex');
}

/** Versions of a type held in a storage, oldest first (`A`, `B`). */
export function versionsIn(list: KeyRecord[], type: KeyType): string[] {
  return list.filter((k) => k.type === type).map((k) => k.version).sort();
}

/** The newest key version of a type held in primary or backup storage. */
export function newestVersion(s: KeyStorage, type: KeyType): string | undefined {
  return [...versionsIn(s.primary, type), ...versionsIn(s.backup, type)].sort().at(-1);
}
