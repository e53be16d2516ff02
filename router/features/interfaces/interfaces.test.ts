import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

describe('interface model (interfaces feature)', () => {
  it('has the ports show version counts, the management port up with the lab address', async () => {
    const t = await makeTestRouter({ platform: 'c3900', linkedInterfaces: ['Gi0/1'] });
    const version = await t.run('show version');
    expect(version).toContain('\n2 FastEthernet interfaces\n3 Gigabit Ethernet interfaces\n');
    const brief = (await t.run('show ip interface brief')).trimEnd().split('\n');
    expect(brief[0]).toBe('Interface              IP-Address      OK? Method Status                Protocol');
    expect(brief.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['GigabitEthernet0/0', 'GigabitEthernet0/1', 'GigabitEthernet0/2', 'FastEthernet0/3/0', 'FastEthernet0/3/1']);
    expect(brief).toContain('GigabitEthernet0/0     127.0.0.1       YES DHCP   up                    up');
    expect(brief).toContain('GigabitEthernet0/1     unassigned      YES unset  administratively down down');
    // A linked port comes up when it is no longer shut; an unlinked one has no carrier.
    await t.run('configure terminal', 'interface gi0/1', 'no shutdown', 'interface GigabitEthernet 0/2', 'no shutdown', 'end');
    const after = await t.run('show ip interface brief');
    expect(after).toMatch(/^GigabitEthernet0\/1\s+unassigned\s+YES unset\s+up\s+up$/m);
    expect(after).toMatch(/^GigabitEthernet0\/2\s+unassigned\s+YES unset\s+down\s+down$/m);
    expect(await t.run('show logging')).toContain('%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/1, changed state to up');
  });

  it('configures description, address, shutdown and negotiation, and shows them everywhere', async () => {
    const t = await makeTestRouter();
    const out = await t.run('configure terminal', 'interface GigabitEthernet0/0/1', 'description to core', 'ip address 10.1.2.3 255.255.255.0', 'no shutdown', 'no negotiation auto', 'end');
    expect(out).not.toContain('%');
    const run = await t.run('show running-config');
    expect(run).toContain('!\ninterface GigabitEthernet0/0/0\n ip address dhcp\n negotiation auto\n!\ninterface GigabitEthernet0/0/1\n description to core\n ip address 10.1.2.3 255.255.255.0\n no negotiation auto\n!\n');
    const sh = await t.run('show interfaces GigabitEthernet0/0/1');
    expect(sh.split('\n')[0]).toBe('GigabitEthernet0/0/1 is down, line protocol is down ');
    expect(sh).toMatch(/^ {2}Hardware is ISR4321-2x1GE, address is ([0-9a-f]{4}\.){2}[0-9a-f]{4} \(bia /m);
    expect(sh).toContain('\n  Description: to core\n  Internet address is 10.1.2.3/24\n  MTU 1500 bytes, BW 1000000 Kbit/sec');
    expect(await t.run('show ip interface gi0/0/1')).toContain('\n  Internet address is 10.1.2.3/24\n');
    expect(await t.run('show interfaces description')).toBe(
      'Interface                      Status         Protocol Description\nGi0/0/0                        up             up\nGi0/0/1                        down           down     to core\n',
    );
    // One section, framed as IOS frames it; the byte count is that of `!` through `end`.
    const one = await t.run('show running-config interface gi0/0/1');
    const body = '!\ninterface GigabitEthernet0/0/1\n description to core\n ip address 10.1.2.3 255.255.255.0\n no negotiation auto\nend\n';
    expect(one).toBe(`Building configuration...\n\nCurrent configuration : ${body.length} bytes\n${body}\n`);
    expect(await t.run('show running-config interface Loopback9')).toContain("% Invalid input detected at '^' marker.");
    // Every line of show interfaces belongs to an interface block: the shape Ansible splits on.
    const heads = (await t.run('show interfaces')).split('\n').filter((l) => l && !l.startsWith(' '));
    expect(heads.map((l) => l.split(' ')[0])).toEqual(['GigabitEthernet0/0/0', 'GigabitEthernet0/0/1']);
  });

  it('creates and removes loopbacks; configuration survives write memory and reload', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'interface Loopback5', 'ip address 10.9.9.9 255.255.255.255', 'interface gi0/0/1', 'shutdown', 'description spare', 'end', 'write memory');
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5000);
    const brief = await t.run('show ip interface brief');
    expect(brief).toMatch(/^Loopback5\s+10\.9\.9\.9\s+YES NVRAM\s+up\s+up$/m);
    expect(await t.run('show interfaces description')).toMatch(/^Gi0\/0\/1\s+admin down\s+down\s+spare$/m);
    await t.run('configure terminal', 'no interface Loopback5', 'end');
    expect(await t.run('show ip interface brief')).not.toContain('Loopback5');
  });

  it('refuses what IOS refuses, changing nothing', async () => {
    const t = await makeTestRouter();
    const bad = await t.router.exec(['configure terminal', 'interface GigabitEthernet0/0/7'], { prompts: true });
    // The caret sits under the interface name: prompt `R1(config)#` (11) + `interface ` (10).
    expect(bad).toContain(`R1(config)#${' '.repeat(21)}^\n% Invalid input detected at '^' marker.`);
    const out = await t.run(
      'configure terminal',
      'interface gi0/0/1',
      'ip address 10.0.0.1 255.0.255.0',
      'ip address 127.0.0.9 255.255.0.0',
      'ip address dhcp',
      'end',
    );
    expect(out).toContain('Bad mask 0xFF00FF00 for address 10.0.0.1');
    expect(out).toContain('% 127.0.0.0 overlaps with GigabitEthernet0/0/0');
    expect(out).toContain('% DHCP has no server on GigabitEthernet0/0/1');
    expect(await t.run('show running-config')).toContain('interface GigabitEthernet0/0/1\n no ip address\n shutdown\n');
    expect(await t.run('configure terminal', 'no interface gi0/0/1', 'end')).toContain("% Invalid input detected at '^' marker.");
    expect(await t.run('show ipv6 interface')).toBe('');
    expect(await t.run('show cdp')).toBe('% CDP is not enabled\n');
  });
});
