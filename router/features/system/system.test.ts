import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

describe('configuration (system feature)', () => {
  it('orders show running-config as IOS does', async () => {
    const t = await makeTestRouter();
    await t.run(
      'configure terminal',
      'username ops privilege 15 secret s3cret',
      'file prompt quiet',
      'ip name-server 127.0.0.53',
      'ip domain name lab.local',
      'hostname EDGE',
      'clock timezone JST 9',
      'logging buffered 16384',
      'end',
    );
    const run = await t.run('show running-config');
    const order = ['version 16.10', 'service timestamps log', 'hostname EDGE', 'boot-start-marker', 'logging buffered 16384', 'enable secret 9 $9$', 'clock timezone JST 9 0', 'ip domain name lab.local', 'ip name-server 127.0.0.53', 'file prompt quiet', 'username ops privilege 15 secret 9 $9$', 'line vty 0 4', '\nend'];
    let last = -1;
    for (const l of order) {
      const at = run.indexOf(l);
      expect(at, l).toBeGreaterThan(last);
      last = at;
    }
    expect(run).toMatch(/^Building configuration\.\.\.\n\nCurrent configuration : \d+ bytes\n/);
  });

  it('saves with write memory and copy running-config startup-config, and replays at boot', async () => {
    const t = await makeTestRouter();
    expect(await t.run('configure terminal', 'hostname SAVED', 'end', 'write memory')).toContain('Building configuration...\n[OK]');
    expect(await t.run('copy running-config startup-config', '')).toContain('Destination filename [startup-config]? ');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5000);
    expect(t.router.system.hostname).toBe('SAVED');
  });

  it('logs %SYS-5-CONFIG_I when configuration mode ends', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'end');
    expect(await t.run('show logging')).toMatch(/\*Nov 25 10:00:00\.000: %SYS-5-CONFIG_I: Configured from console by lab on vty0 \(127\.0\.0\.1\)/);
  });

  it('checks the enable secret, three tries then % Bad secrets', async () => {
    const t = await makeTestRouter();
    const ok = await t.router.exec(['enable', 'cisco', 'show privilege'], { privilege: 1 });
    expect(ok).toContain('Password: ');
    expect(ok).toContain('Current privilege level is 15');
    const bad = await t.router.exec(['enable', 'a', 'b', 'c', 'show privilege'], { privilege: 1 });
    expect(bad).toContain('% Bad secrets');
    expect(bad).toContain('Current privilege level is 1');
    expect(bad).not.toContain('a\n');
  });

  it('sets and shows the clock in the configured time zone', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'clock timezone JST 9', 'end');
    await t.run('clock set 19:30:00 5 June 2026');
    expect(await t.run('show clock')).toMatch(/^\*19:30:00\.\d{3} JST Fri Jun 5 2026\n$/);
  });

  it('refuses bad values with IOS-style errors and keeps the old ones', async () => {
    const t = await makeTestRouter();
    const out = await t.run('configure terminal', 'ip name-server not-an-ip', 'hostname 9bad', 'end');
    expect(out).toContain('% Invalid address not-an-ip');
    expect(out).toContain('% Hostname contains one or more illegal characters.');
    expect(t.router.system.hostname).toBe('R1');
    expect(t.router.system.nameServers).toEqual([]);
  });
});

describe('hardware facts (version feature)', () => {
  it('show memory statistics gives the Processor pool as Ansible reads it', async () => {
    const t = await makeTestRouter();
    const line = (await t.run('show memory statistics')).split('\n').find((l) => l.includes('Processor'))!;
    const nums = line.split(/\s+/).filter((w) => /^\d+$/.test(w)).map(Number);
    expect(nums[0]).toBe(t.router.platform.hardware.mainMemoryK * 1024);
    expect(nums[0]! - nums[1]!).toBe(nums[2]);
  });
  it('show inventory lists the platform data in NAME/PID blocks', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    const out = await t.run('show inventory');
    expect(out).toMatch(/^NAME: "CISCO3945-CHASSIS", DESCR: "CISCO3945-CHASSIS"\nPID: CISCO3945-CHASSIS\s*, VID: V05\s*, SN: FGL161010K8\n/);
  });
});
