import { describe, expect, it } from 'vitest';
import { kindAdapter, kindNames } from '../../lab/kinds/registry.ts';
import { topologyJsonSchema } from '../../lab/topology/jsonschema.ts';
import { DEFAULT_TOPOLOGY, loadTopology, parseTopology, resolveTopology, TopologyError } from '../../lab/topology/load.ts';
import type { RouterSpec } from '../../lab/kinds/router.ts';

/** The error text for a topology that must fail. */
function failure(yaml: string, file = '/labs/bad.yml'): string {
  try {
    parseTopology(yaml, file);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as Error).message;
  }
  throw new Error('topology unexpectedly loaded');
}

const base = (nodes: string, extra = '') => `name: t
mgmt:
  ipv4-subnet: 127.90.1.0/24
${extra}topology:
  nodes:
${nodes}`;

describe('topology errors name file, line and key', () => {
  it('a bad size', () => {
    const msg = failure(
      base(`    r1:
      kind: router
      platform: isr4321
      flash:
        bootflash: 2XB
`),
    );
    expect(msg).toBe('bad.yml:10: topology.nodes.r1.flash.bootflash: expected a size like 2MB');
  });

  it('an unknown key, at its own line', () => {
    const msg = failure(
      base(`    r1:
      kind: router
      platform: isr4321
      colour: blue
`),
    );
    expect(msg).toBe('bad.yml:9: topology.nodes.r1.colour: unknown key "colour"');
  });

  it('an unknown platform lists the bundled ones', () => {
    const msg = failure(base(`    r1: { kind: router, platform: isr9999 }\n`));
    expect(msg).toMatch(/^bad\.yml:6: topology\.nodes\.r1\.platform: unknown router platform "isr9999"; known platforms: c3900, cat4500e, isr4321$/);
  });

  it('a file system the platform lacks', () => {
    const msg = failure(
      base(`    r1:
      kind: router
      platform: c3900
      flash: { bootflash: 2MB }
`),
    );
    expect(msg).toMatch(/^bad\.yml:9: topology\.nodes\.r1\.flash\.bootflash: no file system "bootflash" \(c3900 has flash0, flash1, usbflash0, slot0, nvram\)$/);
  });

  it('a bad value inherited from kinds: points at the kinds entry', () => {
    const msg = failure(`name: t
topology:
  kinds:
    router:
      platform: isr4321
      boot-seconds: soon
  nodes:
    r1: { kind: router }
`);
    expect(msg).toMatch(/^bad\.yml:6: topology\.kinds\.router\.boot-seconds: /);
  });

  it('a router without a platform', () => {
    expect(failure(base(`    r1: { kind: router }\n`))).toBe('bad.yml:6: topology.nodes.r1.platform: a router needs a platform');
  });

  it('YAML syntax errors carry the line', () => {
    expect(failure('name: t\ntopology:\n  nodes: [\n')).toMatch(/^bad\.yml:\d+: YAML: /);
  });

  it('unknown template references in startup-config', () => {
    const msg = failure(
      base(`    r1:
      kind: router
      platform: isr4321
      startup-config:
        - ip name-server {{ nowhere.address }}
`),
    );
    expect(msg).toMatch(/^bad\.yml:10: topology\.nodes\.r1\.startup-config\.0: cannot expand \{\{ nowhere\.address \}\}/);
  });
});

describe('kinds', () => {
  it('an unknown kind lists the valid kinds', () => {
    const msg = failure(base(`    x: { kind: switch }\n`));
    expect(msg).toBe('bad.yml:6: topology.nodes.x.kind: unknown kind "switch"; valid kinds: router, ftp, tftp, dns, ida, smtp');
  });

  it('a node without a kind says so', () => {
    expect(failure(base(`    x: { address: 127.90.1.9 }\n`))).toMatch(/topology\.nodes\.x\.kind: missing kind; valid kinds: router, ftp, tftp, dns, ida, smtp/);
  });

  it('the registry offers exactly the schema kinds, and names them when asked for another', () => {
    expect(kindNames().sort()).toEqual(['dns', 'ftp', 'ida', 'router', 'smtp', 'tftp']);
    expect(() => kindAdapter('switch')).toThrow('unknown node kind "switch"; valid kinds: router, ftp, tftp, dns, ida, smtp');
  });
});

describe('addresses', () => {
  it('refuses a mgmt subnet outside loopback', () => {
    const msg = failure(`name: t\nmgmt:\n  ipv4-subnet: 10.1.2.0/24\ntopology:\n  nodes: {}\n`);
    expect(msg).toMatch(/^bad\.yml:3: mgmt\.ipv4-subnet: 10\.1\.2\.0\/24 is outside loopback \(127\.0\.0\.0\/8\)/);
    expect(() => resolveTopology({ name: 't', mgmt: { 'ipv4-subnet': '192.168.0.0/16' }, topology: { nodes: {} } })).toThrow(/outside loopback/);
  });

  it('allocates from .2, keeps fixed addresses, refuses duplicates and strays', () => {
    const t = resolveTopology({
      name: 't',
      mgmt: { 'ipv4-subnet': '127.90.1.0/24' },
      topology: { nodes: { a: { kind: 'dns', address: '127.90.1.3' }, b: { kind: 'tftp' }, c: { kind: 'ftp' } } },
    });
    expect(t.nodes.map((n) => n.address)).toEqual(['127.90.1.3', '127.90.1.2', '127.90.1.4']);
    expect(() =>
      resolveTopology({ name: 't', mgmt: { 'ipv4-subnet': '127.90.1.0/24' }, topology: { nodes: { a: { kind: 'dns', address: '127.90.2.3' } } } }),
    ).toThrow(/not a host address of the mgmt subnet/);
    expect(() =>
      resolveTopology({
        name: 't',
        topology: { nodes: { a: { kind: 'dns', address: '127.77.0.9' }, b: { kind: 'ftp', address: '127.77.0.9' } } },
      }),
    ).toThrow(/already taken/);
  });
});

describe('defaults', () => {
  it('merge defaults < kinds < node, each kind taking only the fields it knows', () => {
    const t = resolveTopology({
      name: 't',
      topology: {
        defaults: { 'boot-seconds': 2, faults: { down: true } },
        kinds: { router: { platform: 'c3900', flash: { flash0: '64MB', slot0: '8MB' } } },
        nodes: {
          r1: { kind: 'router', flash: { slot0: '4MB' } },
          r2: { kind: 'router', 'boot-seconds': 0 },
          dns: { kind: 'dns' },
        },
      },
    });
    const [r1, r2, dns] = t.nodes as [RouterSpec, RouterSpec, { faults: unknown; kind: string }];
    expect(r1.platform).toBe('c3900');
    expect(r1.bootSeconds).toBe(2);
    expect(r1.flash).toEqual({ flash0: 64 * 1024 ** 2, slot0: 4 * 1024 ** 2 });
    expect(r2.bootSeconds).toBe(0);
    expect(r2.flash).toEqual({ flash0: 64 * 1024 ** 2, slot0: 8 * 1024 ** 2 });
    expect(dns.faults).toEqual({ down: true });
  });
});

describe('the default topology', () => {
  it('loads: two routers and the servers, each router pointed at the lab DNS', () => {
    const t = loadTopology(DEFAULT_TOPOLOGY);
    expect(t.name).toBe('default');
    expect(t.subnet).toBe('127.77.0.0/24');
    expect(t.nodes.map((n) => `${n.name}:${n.kind}`)).toEqual(['r1:router', 'r2:router', 'ftp:ftp', 'tftp:tftp', 'ida:ida', 'smtp:smtp', 'dns:dns']);
    const dns = t.nodes.find((n) => n.kind === 'dns')!;
    const [r1, r2] = t.nodes as RouterSpec[];
    expect(r1!.platform).toBe('isr4321');
    expect(r2!.platform).toBe('c3900');
    for (const r of [r1!, r2!]) {
      expect(r.startupConfig).toContain('ip domain name lab.local');
      expect(r.startupConfig).toContain(`ip name-server ${dns.address}`);
      expect(r.images).toHaveLength(1);
    }
    expect(r1!.images[0]).toMatchObject({ platform: 'isr4300', version: '16.10.1', fs: 'bootflash' });
    expect(r2!.images[0]).toMatchObject({ platform: 'c3900', fs: 'flash0' });
  });

  it('has a JSON Schema for editors', () => {
    const s = topologyJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['name', 'mgmt', 'topology']));
    expect(JSON.stringify(s)).toContain('"const":"router"');
  });
});
