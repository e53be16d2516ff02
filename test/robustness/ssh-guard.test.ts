/**
 * Issue 7 items 5 and 6 (SSH): host keys always load, and password guessing against a
 * router's vty lines is slowed and then refused per address, each refusal logged.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey, HostKeyError, loadOrCreateHostKey } from '../../router/access/hostKey.ts';
import { RouterSshServer } from '../../router/access/SshServer.ts';
import { LoginGuard } from '../../servers/guard/LoginGuard.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';
import { randomLoopback } from '../helpers/net.ts';

describe('SSH host keys', () => {
  it('every generated key loads in ssh2 (500 keys, where ssh2 alone fails about 1 in 250)', () => {
    for (let i = 0; i < 500; i++) {
      const parsed = ssh2.utils.parseKey(generateHostKey());
      expect(parsed instanceof Error).toBe(false);
    }
  });

  it('keeps a key in its file and names a corrupt file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-keys-'));
    try {
      const path = join(dir, 'r1', 'ssh_host_ed25519_key');
      const a = loadOrCreateHostKey(path);
      expect(loadOrCreateHostKey(path)).toBe(a);
      writeFileSync(path, 'garbage');
      expect(() => loadOrCreateHostKey(path)).toThrow(HostKeyError);
      expect(() => loadOrCreateHostKey(path)).toThrow(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SSH password guessing', () => {
  let t: TestRouter;
  let server: RouterSshServer;
  const log: string[] = [];
  const address = randomLoopback();

  beforeAll(async () => {
    t = await makeTestRouter();
    const guard = new LoginGuard({ owner: 'r1 ssh', attempts: 4, withinMs: 60_000, blockMs: 60_000, delayStepMs: 20, maxDelayMs: 100, log: (l) => log.push(l) });
    server = new RouterSshServer({ router: t.router, address, port: 0, hostKey: generateHostKey(), loginGuard: guard });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
    if (t) rmSync(t.dir, { recursive: true, force: true });
  });

  const tryLogin = (password: string) =>
    new Promise<'ok' | 'refused'>((resolve) => {
      const c = new ssh2.Client();
      c.on('ready', () => (c.end(), resolve('ok')));
      c.on('error', () => resolve('refused'));
      c.connect({ host: address, port: server.port, username: 'admin', password, hostVerifier: () => true, readyTimeout: 10_000, tryKeyboard: false });
    });

  it('lets the right password in, then blocks the address after repeated failures', async () => {
    expect(await tryLogin('admin')).toBe('ok');
    for (let i = 0; i < 4; i++) expect(await tryLogin('wrong')).toBe('refused');
    // Blocked: the right password is refused too, and both events are logged.
    expect(await tryLogin('admin')).toBe('refused');
    expect(log.some((l) => l.startsWith('r1 ssh: ') && l.includes('failed logins from'))).toBe(true);
    expect(log.some((l) => l.includes('login refused from') && l.includes('(user admin)'))).toBe(true);
  });
});
