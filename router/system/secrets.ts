/**
 * Passwords as IOS keeps them: `secret 9` is scrypt (N=16384, r=1, p=1) with a 14-character
 * salt, both written in Cisco's base64 alphabet as `$9$<salt>$<hash>`.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function encode(buf: Buffer): string {
  // Standard base64 re-mapped onto the crypt alphabet, no padding.
  const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  return buf
    .toString('base64')
    .replace(/=+$/, '')
    .split('')
    .map((c) => ALPHABET[std.indexOf(c)])
    .join('');
}

function derive(password: string, salt: string): string {
  return encode(scryptSync(password, salt, 32, { N: 16384, r: 1, p: 1 }));
}

export interface Secret {
  /** The `9 $9$…` form for running-config. */
  readonly display: string;
  verify(password: string): boolean;
}

const memo = new Map<string, string>();

/**
 * A secret from a clear-text password. Hashing is deferred until the hash is shown or
 * checked, and memoised per password, so a 200-router lab does not spend seconds in scrypt.
 */
export function hashSecret(password: string): Secret {
  let hashed: string | undefined;
  const get = () => {
    hashed ??= memo.get(password);
    if (!hashed) {
      const salt = encode(randomBytes(11)).slice(0, 14);
      hashed = `$9$${salt}$${derive(password, salt)}`;
      memo.set(password, hashed);
    }
    return hashed;
  };
  return {
    get display() {
      return `9 ${get()}`;
    },
    verify: (p) => p === password,
  };
}

/** A secret read back from configuration (`secret 9 $9$…`, or `secret 0 clear`). */
export function parseSecret(type: string | undefined, value: string): Secret | undefined {
  if (type === undefined || type === '0') return hashSecret(value);
  if (type !== '9') return undefined;
  const m = /^\$9\$([./0-9A-Za-z]{14})\$([./0-9A-Za-z]{43})$/.exec(value);
  if (!m) return undefined;
  const [, salt, hash] = m;
  return {
    display: `9 ${value}`,
    verify: (p) => {
      const a = Buffer.from(derive(p, salt!));
      const b = Buffer.from(hash!);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
