import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

const AAA = ['aaa new-model', 'aaa authentication login default local', 'aaa authorization exec default local'];
const SSH = ['ip ssh version 2', 'ip ssh time-out 60', 'ip ssh authentication-retries 2'];

/** The prompt a vty login of `user` lands at. */
async function loginPrompt(t: Awaited<ReturnType<typeof makeTestRouter>>, user: string): Promise<string> {
  let out = '';
  const s = t.router.openSession({ user, lineName: 'vty0', peer: '127.0.0.1', interactive: false, out: (x) => (out += x) });
  s.showPrompt();
  s.close();
  return out;
}

describe('AAA and ip ssh lines (aaa feature)', () => {
  it('accepts the lines real configs carry, prints them where IOS does, and replays them at boot', async () => {
    const t = await makeTestRouter();
    const out = await t.run('configure terminal', ...AAA, ...SSH, 'line vty 0 4', 'login local', 'end');
    expect(out).not.toContain('%');
    const run = t.router.configText();
    expect(run).toMatch(/\nenable secret 9 \S+\n!\naaa new-model\n!\naaa authentication login default local\naaa authorization exec default local\n!\naaa session-id common\n!\n/);
    expect(run).toMatch(/\n!\nip ssh time-out 60\nip ssh authentication-retries 2\nip ssh version 2\n!\nline con 0\n/);
    await t.run('write memory');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5000);
    expect(t.router.configText()).toBe(run);
    expect(await t.run('show ip ssh')).toBe('SSH Enabled - version 2.0\nAuthentication methods:publickey,keyboard-interactive,password\nAuthentication timeout: 60 secs; Authentication retries: 2\n');
    expect(t.router.sshAuthRetries).toBe(2);
  });

  it('a user privilege applies at login with login local, or with aaa authorization exec; under aaa new-model alone it does not', async () => {
    const t = await makeTestRouter({ users: [{ name: 'ops', password: 'ops', privilege: 15 }, { name: 'viewer', password: 'v', privilege: 1 }] });
    expect(await loginPrompt(t, 'ops')).toBe('R1#');
    expect(await loginPrompt(t, 'viewer')).toBe('R1>');
    await t.run('configure terminal', 'aaa new-model', 'aaa authentication login default local', 'end');
    expect(t.router.loginPrivilege('ops')).toBe(1);
    expect(await loginPrompt(t, 'ops')).toBe('R1>');
    await t.run('configure terminal', 'aaa authorization exec default local', 'end');
    expect(t.router.loginPrivilege('ops')).toBe(15);
    expect(await loginPrompt(t, 'ops')).toBe('R1#');
    expect(t.router.loginPrivilege('viewer')).toBe(1);
  });

  it('refuses what IOS refuses', async () => {
    const t = await makeTestRouter();
    const out = await t.run('configure terminal', 'aaa authorization exec default local', 'ip ssh version 1', 'ip ssh time-out 500', 'end');
    expect(out).toContain('% aaa authorization requires "aaa new-model"');
    expect(out).toContain('% SSH version 1 is not supported by this image');
    expect(out).toContain("% Invalid input detected at '^' marker.");
    expect(t.router.configText()).not.toMatch(/aaa|ip ssh/);
  });
});
