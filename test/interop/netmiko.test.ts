/**
 * Netmiko (Debian's python3-netmiko), unchanged, against a lab router over real SSH: prompt
 * detection, enable, show commands, a config set and save_config — what automation
 * developers run first. Run with Debian's /usr/bin/python3, where the package lives.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { randomLabSubnet } from '../helpers/net.ts';
import { runDebianPython } from '../helpers/peers.ts';

const subnet = randomLabSubnet();
let dir: string;
let lab: Lab;

const SCRIPT = `
import json, sys
from netmiko import ConnectHandler
host, port = sys.argv[1], int(sys.argv[2])
d = ConnectHandler(device_type="cisco_xe", host=host, port=port, username="admin",
                   password="admin", secret="cisco", timeout=20, fast_cli=False)
res = {"prompt_user": d.find_prompt()}
d.enable()
res["prompt_enable"] = d.find_prompt()
res["version"] = d.send_command("show version")
res["config"] = d.send_config_set(["logging buffered 16384", "ip domain name netmiko.lab"])
res["prompt_after"] = d.find_prompt()
res["save"] = d.save_config()
res["run"] = d.send_command("show running-config | include ^logging|^ip domain")
res["dir"] = d.send_command("dir")
d.disconnect()
print(json.dumps(res))
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-netmiko-'));
  lab = await Lab.start(
    {
      name: 'netmiko',
      mgmt: { 'ipv4-subnet': subnet },
      topology: {
        nodes: {
          r1: {
            kind: 'router',
            platform: 'isr4321',
            'boot-seconds': 1,
            images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }],
            // Telnet as well as SSH on the vty lines, for the cisco_ios_telnet driver.
            'startup-config': ['line vty 0 4', ' transport input all'],
          },
        },
      },
    },
    { stateDir: join(dir, 'state') },
  );
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const TELNET_SCRIPT = `
import json, sys
from netmiko import ConnectHandler
host, port = sys.argv[1], int(sys.argv[2])
d = ConnectHandler(device_type="cisco_ios_telnet", host=host, port=port, username="admin",
                   password="admin", secret="cisco", timeout=20, fast_cli=False)
res = {"prompt_user": d.find_prompt()}
d.enable()
res["prompt_enable"] = d.find_prompt()
res["version"] = d.send_command("show version")
res["config"] = d.send_config_set(["interface GigabitEthernet0/0/1", "description via telnet"])
res["brief"] = d.send_command("show interfaces description")
d.disconnect()
print(json.dumps(res))
`;

describe('Netmiko against a lab router', () => {
  it('logs in, enables, shows, configures and saves as on a real IOS XE router', async () => {
    const script = join(dir, 'netmiko_check.py');
    writeFileSync(script, SCRIPT);
    const r1 = lab.inspect().find((n) => n.name === 'r1')!;
    const raw = await runDebianPython([script, r1.address, String(r1.ports.ssh)], { timeoutMs: 120_000, modules: { netmiko: 'python3-netmiko' } });
    const res = JSON.parse(raw.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(res.prompt_user).toBe('r1>');
    expect(res.prompt_enable).toBe('r1#');
    expect(res.version).toMatch(/^Cisco IOS XE Software, Version 16\.10\.01/);
    expect(res.prompt_after).toBe('r1#');
    expect(res.save).toContain('[OK]');
    expect(res.run).toBe('logging buffered 16384\nip domain name netmiko.lab');
    expect(res.dir).toContain('isr4300-universalk9.16.10.01.SPA.bin');
    expect(await lab.router('r1').fs.get('nvram')!.readText('startup-config')).toContain('ip domain name netmiko.lab');
  }, 150_000);
});

describe('Netmiko over telnet (cisco_ios_telnet)', () => {
  it('logs in through the telnet login dialog, enables, shows and configures an interface', async () => {
    const script = join(dir, 'netmiko_telnet.py');
    writeFileSync(script, TELNET_SCRIPT);
    const r1 = lab.inspect().find((n) => n.name === 'r1')!;
    const raw = await runDebianPython([script, r1.address, String(r1.ports.telnet)], { timeoutMs: 120_000, modules: { netmiko: 'python3-netmiko' } });
    const res = JSON.parse(raw.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(res.prompt_user).toBe('r1>');
    expect(res.prompt_enable).toBe('r1#');
    expect(res.version).toMatch(/^Cisco IOS XE Software, Version 16\.10\.01/);
    expect(res.brief).toMatch(/^Gi0\/0\/1\s+admin down\s+down\s+via telnet$/m);
    expect(lab.router('r1').configText()).toContain('interface GigabitEthernet0/0/1\n description via telnet\n');
  }, 150_000);
});
