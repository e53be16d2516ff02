/**
 * The URLs `copy` accepts, sorted into what the command does with them: a network server
 * (tftp:, ftp:, http:, https:), the running configuration, or a local file (left to the filesystem feature
 * to resolve against devices and the current directory).
 */

export type NetScheme = 'tftp' | 'ftp' | 'http' | 'https';

/** `ftp://[user[:password]@]host/path`, any part possibly missing (then asked for). */
export interface NetUrl {
  kind: 'net';
  scheme: NetScheme;
  host?: string;
  user?: string;
  password?: string;
  /** Remote path without the leading slash; undefined when the URL names none. */
  path?: string;
}

export type CopyUrl =
  | NetUrl
  | { kind: 'running' }
  /** A local file URL (startup-config already rewritten to nvram:startup-config). */
  | { kind: 'local'; url: string }
  /** A scheme IOS knows but this lab does not serve (scp:, rcp:, sftp:). */
  | { kind: 'unsupported'; url: string };

const NET_SCHEMES: NetScheme[] = ['tftp', 'ftp', 'http', 'https'];
const OTHER_SCHEMES = ['scp', 'rcp', 'sftp'];

/** IOS accepts `running-config` / `startup-config` abbreviated (`run`, `start`). */
function abbreviates(word: string, full: string): boolean {
  return word.length >= 3 && full.startsWith(word.toLowerCase());
}

export function classify(text: string): CopyUrl {
  const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/s.exec(text);
  if (!m) {
    if (abbreviates(text, 'running-config')) return { kind: 'running' };
    if (abbreviates(text, 'startup-config')) return { kind: 'local', url: 'nvram:startup-config' };
    return { kind: 'local', url: text };
  }
  const scheme = m[1]!.toLowerCase();
  if ((NET_SCHEMES as string[]).includes(scheme)) return parseNet(scheme as NetScheme, m[2]!);
  if (scheme === 'system' && m[2]!.replace(/^\/+/, '') === 'running-config') return { kind: 'running' };
  if (OTHER_SCHEMES.includes(scheme)) return { kind: 'unsupported', url: text };
  return { kind: 'local', url: text };
}

function decode(s: string): string {
  // A user may percent-encode `@` or `:` inside credentials; a stray `%` stays as typed.
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseNet(scheme: NetScheme, rest: string): NetUrl {
  const url: NetUrl = { kind: 'net', scheme };
  let path = rest;
  if (rest.startsWith('//')) {
    const body = rest.slice(2);
    const slash = body.indexOf('/');
    const authority = slash < 0 ? body : body.slice(0, slash);
    path = slash < 0 ? '' : body.slice(slash + 1);
    // The last `@` ends the credentials: a password may itself contain one.
    const at = authority.lastIndexOf('@');
    const host = at < 0 ? authority : authority.slice(at + 1);
    if (at >= 0) {
      const info = authority.slice(0, at);
      const colon = info.indexOf(':');
      url.user = decode(colon < 0 ? info : info.slice(0, colon));
      if (colon >= 0) url.password = decode(info.slice(colon + 1));
    }
    if (host) url.host = host;
  }
  path = path.replace(/^\/+/, '');
  if (path) url.path = path;
  return url;
}

/**
 * The URL as IOS shows it in `Accessing` and `%Error` lines. Credentials typed in the URL
 * are masked as newer trains do (`ftp://*****:*****@h/f`), so a password never reaches a
 * screen or a scenario log; a URL typed without them shows none.
 */
export function displayUrl(u: { scheme: NetScheme; user?: string; password?: string }, host: string, path: string): string {
  const creds = u.user !== undefined ? `*****${u.password !== undefined ? ':*****' : ''}@` : '';
  return `${u.scheme}://${creds}${host}/${path}`;
}

export function baseName(path: string): string {
  return path.split('/').filter(Boolean).pop() ?? '';
}
