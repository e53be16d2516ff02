/** `flashlab exec`'s transcript against a real router object: echo, privilege, questions, refusals. */
import { describe, expect, it } from 'vitest';
import { runTranscript } from '../../router/access/Transcript.ts';
import { makeTestRouter } from '../helpers/router.ts';

describe('scripted transcript (flashlab exec)', () => {
  it('logs in as the user, enables with the secret, echoes each line after its prompt', async () => {
    const t = await makeTestRouter();
    const r = await runTranscript(t.router, ['show privilege', 'show clock'], { user: 'admin', enableSecret: 'cisco' });
    expect(r.text).toMatch(/^R1>enable\nPassword: \nR1#show privilege\nCurrent privilege level is 15\nR1#show clock\n\*10:00:00\.000 UTC Wed Nov 25 2026\nR1#$/);
    expect(r.refused).toBe(false);
    expect(r.stoppedAt).toBeUndefined();
  });

  it('stays at the login privilege without a secret; refused lines make it fail', async () => {
    const t = await makeTestRouter();
    const r = await runTranscript(t.router, ['show privilege', 'show nothing'], { user: 'admin' });
    expect(r.text).toContain('R1>show privilege\nCurrent privilege level is 1\nR1>show nothing\n');
    expect(r.text).toContain("% Invalid input detected at '^' marker.");
    expect(r.refused).toBe(true);
  });

  it('stops at a question nobody answered, and the router does nothing', async () => {
    const t = await makeTestRouter();
    await t.run('write memory');
    const r = await runTranscript(t.router, ['reload in 5', 'show reload'], { user: 'admin', enableSecret: 'cisco' });
    expect(r.stoppedAt).toBe('Proceed with reload? [confirm]');
    expect(r.text).not.toContain('show reload');
    expect(await t.run('show reload')).toBe('No reload is scheduled.\n');
  });

  it('answers questions from --answer in order, then --yes takes the defaults', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'hostname EDGE', 'end');
    const r = await runTranscript(t.router, ['reload in 5', 'show reload'], { user: 'admin', enableSecret: 'cisco', answers: ['no'], yes: true });
    expect(r.text).toContain('System configuration has been modified. Save? [yes/no]: no\n');
    expect(r.text).toContain('Proceed with reload? [confirm]\n');
    expect(r.text).toMatch(/EDGE#show reload\nReload scheduled in 5 minutes by admin on vty0/);
    expect(r.stoppedAt).toBeUndefined();
  });

  it('refuses a user the router does not have', async () => {
    const t = await makeTestRouter();
    await expect(runTranscript(t.router, ['show clock'], { user: 'mallory' })).rejects.toThrow('no user "mallory" on R1; users: admin');
  });
});
