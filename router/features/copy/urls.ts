/**
 * The URLs `copy` accepts, sorted into what the command does with them: a network server
 * (the transfer service's schemes), the running configuration, or a local file (left to the
 * filesystem feature to resolve against devices and the current directory).
 */
import { isNetScheme, type NetUrl, parseNet } from '../../transfer/urls.ts';

export { baseName, displayUrl, type NetScheme, type NetUrl } from '../../transfer/urls.ts';

export type CopyUrl =
  | NetUrl
  | { kind: 'running' }
  /** A local file URL (startup-config already rewritten to nvram:startup-config). */
  | { kind: 'local'; url: string }
  /** A scheme IOS knows but this lab does not serve (scp:, rcp:, sftp:). */
  | { kind: 'unsupported'; url: string };

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
  if (isNetScheme(scheme)) return parseNet(scheme, m[2]!);
  if (scheme === 'system' && m[2]!.replace(/^\/+/, '') === 'running-config') return { kind: 'running' };
  if (OTHER_SCHEMES.includes(scheme)) return { kind: 'unsupported', url: text };
  return { kind: 'local', url: text };
}
