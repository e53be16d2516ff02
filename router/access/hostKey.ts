/**
 * SSH host keys that always load. ssh2's own ed25519 generator returns, about one time in
 * 250, a key that ssh2 itself then refuses to parse ("Malformed OpenSSH private key"), and a
 * lab start failed that way. Each new key is parsed back before it is used or saved, and a
 * saved key that does not parse is reported with its file.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';

const { utils } = ssh2;

/** Parse failures in a row before giving up (each is a 1-in-250 event). */
const MAX_TRIES = 20;

function parses(key: string): boolean {
  const parsed = utils.parseKey(key);
  return !(parsed instanceof Error) && !(Array.isArray(parsed) && parsed.length === 0);
}

/** A new ed25519 host key in OpenSSH format, checked to load in ssh2. */
export function generateHostKey(): string {
  for (let i = 0; i < MAX_TRIES; i++) {
    const key = utils.generateKeyPairSync('ed25519').private;
    if (parses(key)) return key;
  }
  throw new Error(`could not make an SSH host key that loads (${MAX_TRIES} tries)`);
}

export class HostKeyError extends Error {}

/**
 * The key kept at `path`, made (0600) on first use. A file that does not parse is never
 * silently replaced (clients' known_hosts would break): the error names it and the fix.
 */
export function loadOrCreateHostKey(path: string): string {
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8');
    if (!parses(key)) throw new HostKeyError(`SSH host key ${path} is corrupt (not an OpenSSH private key ssh2 can load): delete it to make a new one (clients will see a new host key)`);
    return key;
  }
  const key = generateHostKey();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, key, { mode: 0o600 });
  return key;
}
