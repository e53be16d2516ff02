/**
 * Network URLs the router's transfer service serves (tftp:, ftp:, http:, https:): parsing,
 * the form IOS shows them in, and the one table of schemes.
 */
import type { LabService } from '../Router.ts';

export type NetScheme = 'tftp' | 'ftp' | 'http' | 'https';

/** What the router needs to know of a scheme: the lab service it dials and how it logs in. */
export interface SchemeInfo {
  /** Key in the lab's port table (`servicePort`). */
  service: LabService;
  /** TCP schemes wait `ip tcp synwait-time` for a connection; TFTP retransmits instead. */
  tcp: boolean;
  /** Where credentials come from when the URL has none (S3.1 for FTP). */
  credentials: 'ftp' | 'http' | 'none';
  /** The server takes uploads from a router (the lab's web servers take none). */
  upload: boolean;
}

/** The one table of URL schemes. */
export const SCHEMES: Record<NetScheme, SchemeInfo> = {
  tftp: { service: 'tftp', tcp: false, credentials: 'none', upload: true },
  ftp: { service: 'ftp', tcp: true, credentials: 'ftp', upload: true },
  http: { service: 'http', tcp: true, credentials: 'http', upload: false },
  https: { service: 'https', tcp: true, credentials: 'http', upload: false },
};

export function isNetScheme(s: string): s is NetScheme {
  return Object.hasOwn(SCHEMES, s);
}

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

function decode(s: string): string {
  // A user may percent-encode `@` or `:` inside credentials; a stray `%` stays as typed.
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The part after `scheme:` of a network URL. */
export function parseNet(scheme: NetScheme, rest: string): NetUrl {
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

/** A whole network URL (`tftp://h/f`), or undefined when the text is not one. */
export function parseNetUrl(text: string): NetUrl | undefined {
  const m = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/s.exec(text);
  const scheme = m?.[1]!.toLowerCase();
  if (!m || scheme === undefined || !isNetScheme(scheme)) return undefined;
  return parseNet(scheme, m[2]!);
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
