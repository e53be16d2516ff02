/**
 * Ansible (Debian's `ansible` package, which bundles cisco.ios) against a lab router over
 * network_cli: facts, show commands, a config push with save_when, and idempotency — the
 * playbook automation developers run against real IOS XE routers. Run with Debian's
 * /usr/bin/python3 (a pyenv python lacks the packaged collections).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { randomLabSubnet } from '../helpers/net.ts';
import { CommandError, requireBinary, runDebianPython } from '../helpers/peers.ts';

const IMAGE = 'isr4300-universalk9.16.10.01.SPA.bin';
const CONFIG_LINES = ['ip domain name ansible.lab', 'logging buffered 16384'];

const subnet = randomLabSubnet();
let dir: string;
let lab: Lab;

/** What the json stdout callback prints: one entry per play, task results by host. */
interface PlaybookJson {
  plays: { tasks: { task: { name: string }; hosts: Record<string, TaskResult> }[] }[];
  stats: Record<string, { changed: number; failures: number; ok: number; unreachable: number }>;
}
interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  msg?: string;
  ansible_facts?: Record<string, unknown>;
  stdout?: string[];
  commands?: string[];
  [k: string]: unknown;
}

function inventory(hosts: Record<string, { address: string; port: number }>): string {
  const entry = ({ address, port }: { address: string; port: number }) => ({
          ansible_host: address,
          ansible_port: port,
          ansible_user: 'admin',
          ansible_password: 'admin',
          ansible_connection: 'ansible.netcommon.network_cli',
          ansible_network_os: 'cisco.ios.ios',
          ansible_network_cli_ssh_type: 'paramiko',
          ansible_become: true,
          ansible_become_method: 'enable',
          ansible_become_password: 'cisco',
  });
  // JSON is valid YAML; the yaml inventory plugin reads it from a .yml file.
  return JSON.stringify({ all: { hosts: Object.fromEntries(Object.entries(hosts).map(([name, h]) => [name, entry(h)])) } });
}

const PLAYBOOK = `
- name: flashlab interop
  hosts: r1
  gather_facts: false
  tasks:
    - name: facts
      cisco.ios.ios_facts:
        gather_subset: [min, hardware]
    - name: commands
      cisco.ios.ios_command:
        commands: [show version, dir, show privilege]
    - name: config
      cisco.ios.ios_config:
        lines: ${JSON.stringify(CONFIG_LINES)}
        save_when: modified
`;

/** Every fact subset, and a change under an interface (parents), on both platforms. */
const INTERFACE_LINES = ['description ansible was here', 'ip address 10.12.0.1 255.255.255.0', 'no shutdown'];
const PLAYBOOK_INTERFACES = `
- name: flashlab interfaces
  hosts: r1,r2
  gather_facts: false
  tasks:
    - name: facts
      cisco.ios.ios_facts:
        gather_subset: all
    - name: interface
      cisco.ios.ios_config:
        parents: interface {{ spare_interface }}
        lines: ${JSON.stringify(INTERFACE_LINES)}
`;

/** Runs a playbook with a private HOME/temp/cwd so no user or repo ansible.cfg applies. */
async function runPlaybook(playbook = 'playbook.yml'): Promise<PlaybookJson> {
  const playbookBin = requireBinary('ansible-playbook', 'ansible');
  const work = join(dir, 'ansible');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ANSIBLE_')) env[k] = v;
  Object.assign(env, {
    PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`,
    HOME: join(work, 'home'),
    ANSIBLE_LOCAL_TEMP: join(work, 'tmp'),
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_STDOUT_CALLBACK: 'json',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_PERSISTENT_COMMAND_TIMEOUT: '30',
  });
  let stdout: string;
  try {
    stdout = await runDebianPython([playbookBin, '-i', join(work, 'inventory.yml'), join(work, playbook)], { cwd: work, env, timeoutMs: 50_000 });
  } catch (e) {
    // Exit 2 means a task failed on some host: the json callback still printed the run.
    if (!(e instanceof CommandError && e.exitCode === 2)) {
      throw new Error(`ansible-playbook failed: ${(e as Error).message}\n${e instanceof CommandError ? e.stdout.slice(0, 4000) : ''}`, { cause: e });
    }
    stdout = e.stdout;
  }
  try {
    return JSON.parse(stdout) as PlaybookJson;
  } catch {
    throw new Error(`ansible-playbook printed no JSON: ${stdout.slice(0, 4000)}`);
  }
}

function results(run: PlaybookJson, host = 'r1'): Record<string, TaskResult> {
  const out: Record<string, TaskResult> = {};
  for (const t of run.plays[0]!.tasks) out[t.task.name] = t.hosts[host]!;
  return out;
}

/** Fails with ansible's own message when a task failed, instead of a bare assertion diff. */
function expectNoFailures(run: PlaybookJson, host = 'r1'): void {
  const failed = Object.entries(results(run, host)).filter(([, r]) => r.failed);
  expect(failed.map(([name, r]) => `${host} ${name}: ${r.msg}`)).toEqual([]);
  expect(run.stats[host]).toMatchObject({ failures: 0, unreachable: 0 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-ansible-'));
  lab = await Lab.start(
    {
      name: 'ansible',
      mgmt: { 'ipv4-subnet': subnet },
      topology: {
        nodes: {
          r1: { kind: 'router', platform: 'isr4321', 'boot-seconds': 1, images: [{ name: IMAGE, version: '16.10.1', size: '1MB' }] },
          r2: { kind: 'router', platform: 'c3900', 'boot-seconds': 1, images: [{ name: 'c3900-universalk9-mz.SPA.150-1.M7.bin', version: '15.0(1)M7', size: '1MB' }] },
        },
        links: [{ endpoints: ['r1:GigabitEthernet0/0/1', 'r2:GigabitEthernet0/1'] }],
      },
    },
    { stateDir: join(dir, 'state') },
  );
  const work = join(dir, 'ansible');
  mkdirSync(join(work, 'home'), { recursive: true });
  mkdirSync(join(work, 'tmp'), { recursive: true });
  const at = (name: string) => {
    const n = lab.inspect().find((x) => x.name === name)!;
    return { address: n.address, port: n.ports.ssh! };
  };
  writeFileSync(join(work, 'inventory.yml'), inventory({ r1: at('r1'), r2: at('r2') }));
  writeFileSync(join(work, 'playbook.yml'), PLAYBOOK);
  writeFileSync(join(work, 'playbook-interfaces.yml'), PLAYBOOK_INTERFACES);
  // The port each router's playbook configures: the ends of the topology's link.
  mkdirSync(join(work, 'host_vars'), { recursive: true });
  writeFileSync(join(work, 'host_vars', 'r1.yml'), 'spare_interface: GigabitEthernet0/0/1\n');
  writeFileSync(join(work, 'host_vars', 'r2.yml'), 'spare_interface: GigabitEthernet0/1\n');
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Ansible cisco.ios against a lab router', () => {
  it('gathers facts, runs commands, pushes and saves config, then is idempotent', async () => {
    const router = lab.router('r1');
    const bootflash = router.fs.get('bootflash')!;
    // Free space as `dir` will report it: the run below only writes nvram.
    const total = bootflash.totalBytes;
    const free = bootflash.freeBytes;

    const first = await runPlaybook();
    expectNoFailures(first);
    const r = results(first);

    // ios_facts parses `show version` (cliconf get_device_info) and `dir` (Hardware subset).
    expect(r.facts!.changed).toBe(false);
    expect(r.facts!.ansible_facts).toMatchObject({
      ansible_net_system: 'ios',
      ansible_net_api: 'cliconf',
      ansible_net_version: '16.10.01',
      ansible_net_hostname: 'r1',
      ansible_net_image: `bootflash:${IMAGE}`,
      ansible_net_model: 'ISR4321/K9',
      ansible_net_serialnum: router.platform.hardware.processorBoardId,
      ansible_net_iostype: 'IOS-XE',
      ansible_net_filesystems: ['bootflash:'],
      ansible_net_filesystems_info: { 'bootflash:': { spacetotal_kb: total / 1024, spacefree_kb: free / 1024 } },
    });
    // Memory facts come from `show memory statistics`' Processor line (total and free, in MB).
    const memTotalMb = (router.platform.hardware.mainMemoryK * 1024) / 1024 / 1024;
    expect(r.facts!.ansible_facts!.ansible_net_memtotal_mb).toBeCloseTo(memTotalMb, 3);
    expect(r.facts!.ansible_facts!.ansible_net_memfree_mb).toBeGreaterThan(0);
    expect(r.facts!.ansible_facts!.ansible_net_memfree_mb).toBeLessThan(memTotalMb);

    // ios_command: become reached privilege 15; outputs arrive without echo or prompt.
    const [version, dirOut, priv] = r.commands!.stdout!;
    expect(version).toMatch(/^Cisco IOS XE Software, Version 16\.10\.01\n/);
    expect(version).toContain('Cisco IOS Software [Gibraltar], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 16.10.1, RELEASE SOFTWARE (fc3)');
    expect(version).toContain(`System image file is "bootflash:${IMAGE}"`);
    expect(version).toMatch(/\nConfiguration register is 0x2102$/);
    expect(dirOut).toMatch(/^Directory of bootflash:\/\n/);
    expect(dirOut).toContain(`  ${IMAGE}`);
    expect(dirOut).toMatch(new RegExp(`\\n${total} bytes total \\(${free} bytes free\\)$`));
    expect(priv).toBe('Current privilege level is 15');

    // ios_config: both lines are new, pushed, and copied to startup (save_when: modified).
    expect(r.config!.changed).toBe(true);
    expect(r.config!.commands).toEqual(CONFIG_LINES);
    expect(first.stats.r1!.changed).toBe(1);
    const startup = await router.fs.get('nvram')!.readText('startup-config');
    for (const line of CONFIG_LINES) expect(startup.split('\n')).toContain(line);
    expect(router.configText().split('\n')).toEqual(expect.arrayContaining(CONFIG_LINES));

    // Second run: running already has the lines and equals startup, so nothing changes.
    const second = await runPlaybook();
    expectNoFailures(second);
    const r2 = results(second);
    expect(r2.config!.changed).toBe(false);
    expect(r2.config!.commands).toBeUndefined();
    expect(second.stats.r1!.changed).toBe(0);
  }, 110_000);
});

describe('Ansible ios_facts (gather_subset all) and ios_config under an interface', () => {
  it('reports the real interfaces of both platforms and configures one on each', async () => {
    const run = await runPlaybook('playbook-interfaces.yml');
    const expected: Record<string, { mgmt: string; spare: string; names: string[]; iostype: string }> = {
      r1: { mgmt: 'GigabitEthernet0/0/0', spare: 'GigabitEthernet0/0/1', names: ['GigabitEthernet0/0/0', 'GigabitEthernet0/0/1'], iostype: 'IOS-XE' },
      r2: { mgmt: 'GigabitEthernet0/0', spare: 'GigabitEthernet0/1', names: ['GigabitEthernet0/0', 'GigabitEthernet0/1', 'GigabitEthernet0/2', 'FastEthernet0/3/0', 'FastEthernet0/3/1'], iostype: 'IOS' },
    };
    for (const [host, want] of Object.entries(expected)) {
      expectNoFailures(run, host);
      const r = results(run, host);
      const facts = r.facts!.ansible_facts! as Record<string, any>;
      expect(facts.ansible_net_iostype).toBe(want.iostype);
      expect(Object.keys(facts.ansible_net_interfaces).sort()).toEqual([...want.names].sort());
      const address = lab.inspect().find((n) => n.name === host)!.address;
      expect(facts.ansible_net_interfaces[want.mgmt]).toMatchObject({ operstatus: 'up', lineprotocol: 'up', bandwidth: 1000000, mtu: 1500, ipv4: [{ address, subnet: expect.any(String) }] });
      expect(facts.ansible_net_interfaces[want.spare]).toMatchObject({ operstatus: 'administratively down', lineprotocol: 'down' });
      expect(facts.ansible_net_all_ipv4_addresses).toEqual([address]);
      expect(facts.ansible_net_config).toContain(`interface ${want.spare}`);
      // ios_config under `interface X`: the parent line, then the three children.
      expect(r.interface!.changed).toBe(true);
      expect(r.interface!.commands).toEqual([`interface ${want.spare}`, ...INTERFACE_LINES]);
      const running = lab.router(host).configText();
      expect(running).toContain(`interface ${want.spare}\n description ansible was here\n ip address 10.12.0.1 255.255.255.0\n`);
    }
    // Both ends of the link are up now, so the ports are up/up on each router.
    const brief = await lab.router('r2').exec(['show ip interface brief']);
    expect(brief).toMatch(/^GigabitEthernet0\/1\s+10\.12\.0\.1\s+YES manual up\s+up$/m);
  }, 110_000);
});
