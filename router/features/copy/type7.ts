/**
 * IOS "type 7" password obfuscation (`ip ftp password 7 <hex>`): a two-digit starting offset
 * into a fixed key, then each character XORed with the key and written as two hex digits.
 * It is not encryption; IOS uses it so passwords are not shown in clear at a glance.
 */

// The fixed key every IOS release uses for type 7 (widely published).
const KEY = 'dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87';

/** Decodes a type-7 string; undefined when it is not one. */
export function decodeType7(text: string): string | undefined {
  if (!/^\d{2}(?:[0-9A-Fa-f]{2})*$/.test(text)) return undefined;
  const start = Number(text.slice(0, 2));
  if (start >= KEY.length) return undefined;
  let out = '';
  for (let i = 2, k = start; i < text.length; i += 2, k++) {
    out += String.fromCharCode(parseInt(text.slice(i, i + 2), 16) ^ KEY.charCodeAt(k % KEY.length));
  }
  return out;
}

/** Encodes a clear password as type 7, starting at key offset `start` (IOS picks 0–15). */
export function encodeType7(clear: string, start = 2): string {
  let out = String(start).padStart(2, '0');
  for (let i = 0; i < clear.length; i++) {
    const v = clear.charCodeAt(i) ^ KEY.charCodeAt((start + i) % KEY.length);
    out += v.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
