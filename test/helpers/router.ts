/**
 * Builds a standalone router for unit and feature tests: a real content store and file
 * systems in a temp folder, a frozen lab clock, and transfer clients the test may swap.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabClock } from '../../lab/clock/LabClock.ts';
import '../../router/features/index.ts';
import { platform } from '../../router/platforms/profile.ts';
import { Router, type RouterEnv, type RouterOptions } from '../../router/Router.ts';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import type { TransferClient } from '../../router/transfer/types.ts';
import { makeSignedImage, testAuthority } from './signing.ts';

const unusedTransfer = (scheme: 'tftp' | 'ftp'): TransferClient => ({
  scheme,
  download: () => Promise.reject(new Error(`no ${scheme} client in this test`)),
  upload: () => Promise.reject(new Error(`no ${scheme} client in this test`)),
});

export interface TestRouter {
  router: Router;
  clock: LabClock;
  dir: string;
  /** Runs lines as a privileged user and returns the output. */
  run(...lines: string[]): Promise<string>;
}

export async function makeTestRouter(
  opts: Partial<Omit<RouterOptions, 'env' | 'platform'>> & { platform?: string; env?: Partial<RouterEnv>; image?: boolean; sign?: string } = {},
): Promise<TestRouter> {
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-test-'));
  const clock = new LabClock({ start: new Date('2026-11-25T10:00:00Z'), frozen: true });
  const profile = platform(opts.platform ?? 'isr4321');
  const env: RouterEnv = {
    clock,
    store: new ContentStore(join(dir, 'store')),
    stateDir: join(dir, 'r1'),
    servicePort: (_a, s) => ({ tftp: 69, ftp: 21, dns: 53, http: 80, https: 443, smtp: 25, ssh: 22 })[s],
    transfer: { tftp: unusedTransfer('tftp'), ftp: unusedTransfer('ftp') },
    softwareKeys: testAuthority(),
    ...opts.env,
  };
  const { platform: _p, env: _e, image, sign, ...rest } = opts;
  const router = new Router({ name: 'R1', address: '127.0.0.1', platform: profile, env, bootSeconds: 0, ...rest });
  if (image !== false) {
    const file = join(dir, 'image.bin');
    await makeSignedImage(file, { platform: profile.imagePlatform, version: profile.software.version, featureSet: 'universalk9', kind: 'system', size: 64 * 1024, sign });
    const { createReadStream } = await import('node:fs');
    const w = router.fs.default.createWriter(profile.defaultImage, 64 * 1024);
    for await (const chunk of createReadStream(file)) await w.write(chunk as Buffer);
    await w.commit();
  }
  await router.powerOn();
  return { router, clock, dir, run: (...lines) => router.exec(lines) };
}
