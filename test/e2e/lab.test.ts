/**
 * A whole lab in this process over real loopback sockets: a random 127.x /24 per run so
 * parallel test files and other labs never collide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { parseSubnet } from '../../lab/topology/load.ts';

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const subnet = `127.${rand(100, 250)}.${rand(0, 255)}.0/24`;
const prefix = subnet.split('.').slice(0, 3).join('.') + '.';
let dir: string;
let lab: Lab;

const topology = () => ({
  name: 'e2e',
  mgmt: { 'ipv4-subnet': subnet },
  topology: {
    kinds: { router: { 'boot-seconds': 1 } },
    nodes: {
      r1: {
        kind: 'router',
        platform: 'isr4321',
        flash: { bootflash: '64MB' },
        images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '2MB' }],
      },
      r2: { kind: 'router', platform: 'c3900', images: [{ name: 'c3900-universalk9-mz.SPA.150-1.M7.bin', version: '15.0(1)M7', size: '1MB' }] },
      ftp: {
        kind: 'ftp',
        accounts: [{ user: 'lab', password: 'lab', write: true }],
        images: [{ name: 'isr4300-universalk9.16.12.04.SPA.bin', platform: 'isr4321', version: '16.12.4', size: '1MB' }],
      },
      tftp: { kind: 'tftp', 'allow-write': true, files: [{ name: 'hello.txt', content: 'hello\n' }] },
      dns: { kind: 'dns', records: { 'images.lab.local': 'ftp' } },
    },
  },
});

function sshExec(host: string, port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    let out = '';
    c.once('error', reject);
    c.once('ready', () =>
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.once('close', () => {
          c.end();
          resolve(out);
        });
      }),
    );
    c.connect({ host, port, username: 'admin', password: 'admin', hostVerifier: () => true, readyTimeout: 10_000 });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-e2e-'));
  lab = await Lab.start(topology(), { stateDir: join(dir, 'state') });
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded lab', () => {
  it('brings every node up healthy, each on its own address of the subnet', async () => {
    const nodes = lab.inspect();
    expect(nodes.map((n) => n.name)).toEqual(['r1', 'r2', 'ftp', 'tftp', 'dns']);
    for (const n of nodes) {
      expect(n.state).toBe('running');
      expect(n.address.startsWith(prefix)).toBe(true);
      expect(await lab.handle(n.name).healthy()).toBe(true);
    }
    expect(new Set(nodes.map((n) => n.address)).size).toBe(nodes.length);
    expect(typeof parseSubnet(subnet)).toBe('object');
  });

  it('inspect shows the ports by service, and servicePort maps the well-known port to them', () => {
    const byName = Object.fromEntries(lab.inspect().map((n) => [n.name, n]));
    expect(Object.keys(byName.r1!.ports)).toEqual(['ssh', 'telnet']);
    expect(Object.keys(byName.ftp!.ports)).toEqual(['ftp']);
    expect(Object.keys(byName.tftp!.ports)).toEqual(['tftp']);
    expect(Object.keys(byName.dns!.ports)).toEqual(['dns']);
    for (const [name, svc] of [['ftp', 'ftp'], ['tftp', 'tftp'], ['dns', 'dns'], ['r1', 'ssh'], ['r1', 'telnet']] as const) {
      expect(lab.servicePort(byName[name]!.address, svc)).toBe(byName[name]!.ports[svc]);
    }
  });

  it('exec on a router returns its output without prompts', async () => {
    const out = await lab.exec('r1', ['show version']);
    expect(out).toMatch(/Cisco IOS XE Software/);
    expect(out).not.toMatch(/^r1[>#]/m);
    expect(await lab.exec('r2', 'show running-config')).toMatch(/^hostname r2$/m);
    await expect(lab.exec('ftp', ['show version'])).rejects.toThrow(/exec runs on routers/);
  });

  it('routers are configured with the lab DNS, which knows every node', async () => {
    const dns = lab.inspect().find((n) => n.name === 'dns')!;
    expect(await lab.exec('r1', ['show running-config'])).toContain(`ip name-server ${dns.address}`);
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`${dns.address}:${dns.ports.dns}`]);
    const r1 = lab.inspect().find((n) => n.name === 'r1')!;
    const ftp = lab.inspect().find((n) => n.name === 'ftp')!;
    expect(await r.resolve4('r1.lab.local')).toEqual([r1.address]);
    expect(await r.resolve4('r1')).toEqual([r1.address]);
    expect(await r.resolve4('images.lab.local')).toEqual([ftp.address]);
  });

  it('answers SSH with the topology login', async () => {
    const r2 = lab.inspect().find((n) => n.name === 'r2')!;
    expect(await sshExec(r2.address, r2.ports.ssh!, 'show version')).toMatch(/Cisco IOS Software/);
  });

  it('server faults and logs are reachable through the lab', async () => {
    await lab.setFaults('ftp', { 'read-only': true });
    await lab.setFaults('ftp', {});
    // Runtime faults speak the topology's words: sizes are parsed, unknown knobs refused.
    const tftp = lab.server('tftp') as unknown as { faults: Record<string, unknown> };
    await lab.setFaults('tftp', { 'stall-after-bytes': '2MB', 'drop-every-n': 3 });
    expect(tftp.faults).toMatchObject({ stallAfterBytes: 2 * 1024 * 1024, dropEveryN: 3 });
    await lab.setFaults('tftp', {});
    const dns = lab.server('dns') as unknown as { faults: Record<string, unknown> };
    await lab.setFaults('dns', { nxdomain: 'tftp.lab.local' });
    expect(dns.faults).toMatchObject({ nxdomain: ['tftp.lab.local'] });
    await lab.setFaults('dns', {});
    await expect(lab.setFaults('tftp', { 'drop-everything': true })).rejects.toThrow(/bad faults/);
    await expect(lab.setFaults('ftp', { 'rate-limit': 'fast' })).rejects.toThrow(/expected a size/);
    expect(Array.isArray(await lab.logs('tftp'))).toBe(true);
    expect(() => lab.router('ftp')).toThrow(/not a router/);
    await expect(lab.setFaults('r1', {})).rejects.toThrow(/no faults/);
  });

  it('keeps flash across down and up', async () => {
    const fs = lab.router('r1').fs.default;
    expect(fs.exists('isr4300-universalk9.16.10.01.SPA.bin')).toBe(true);
    await fs.writeText('notes.txt', 'kept across restarts\n');
    await lab.exec('r1', ['configure terminal', 'hostname edge1', 'end', 'write memory']);
    await lab.stop();

    lab = await Lab.start(topology(), { stateDir: join(dir, 'state') });
    const again = lab.router('r1').fs.default;
    expect(await again.readText('notes.txt')).toBe('kept across restarts\n');
    expect(again.exists('isr4300-universalk9.16.10.01.SPA.bin')).toBe(true);
    expect(await lab.exec('r1', ['show running-config'])).toMatch(/^hostname edge1$/m);
  });

  it('refuses a second lab on the same state folder', async () => {
    await expect(Lab.start(topology(), { stateDir: join(dir, 'state') })).rejects.toThrow(/already running/);
  });
});
