/**
 * One signing authority for every test in a process: RSA key generation is the slow part, so
 * tests share keys kept in the OS temp folder (each process still holds its own keys in
 * memory, so a race between processes only costs a second key generation).
 */
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { makeImage, type MakeImageOptions } from '../../router/image/format.ts';
import { parseKeyName, SigningAuthority } from '../../lab/signing/SigningAuthority.ts';

let shared: SigningAuthority | undefined;

export function testAuthority(): SigningAuthority {
  return (shared ??= new SigningAuthority(join(tmpdir(), `flashlab-test-authority-${userInfo().uid}`)));
}

/** makeImage, signed with a named key of the test authority (`production:A`, `rollover`, `none`). */
export async function makeSignedImage(
  path: string,
  opts: Omit<MakeImageOptions, 'sign'> & { sign?: string; bundle?: string[] },
  authority = testAuthority(),
): Promise<{ size: number }> {
  const { sign = 'production:A', bundle = [], ...rest } = opts;
  const bundledKeys = await Promise.all(bundle.map((k) => authority.keyRecord(parseKeyName(k))));
  return makeImage(path, {
    ...rest,
    ...(bundledKeys.length ? { bundledKeys } : {}),
    sign: sign === 'none' ? undefined : await authority.signer(parseKeyName(sign)),
  });
}
