/**
 * Topology files are bounded (issue 13 item 12): size, nesting and problem count, so a huge
 * or hostile file is refused quickly with its first problems; names are what DNS and file
 * systems accept, with the rule named; a lab needs a node; a damaged host key names its file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { loadTopology, MAX_ISSUES, MAX_NODES, MAX_TOPOLOGY_BYTES, parseTopology, resolveTopology, TopologyError } from '../../lab/topology/load.ts';
import { randomLabSubnet } from '../helpers/net.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-topo-limits-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as Error).message;
  }
  throw new Error('expected a TopologyError');
}

const router = { kind: 'router', platform: 'isr4321' };

describe('size and work', () => {
  it('refuses a 10 MB file before reading it', () => {
    const file = join(dir, 'huge.yml');
    writeFileSync(file, Buffer.alloc(10 * 1024 * 1024, 'a: [\n'));
    expect(failure(() => loadTopology(file))).toBe(`huge.yml: the topology is ${10 * 1024 * 1024} bytes; at most ${MAX_TOPOLOGY_BYTES} (256 KiB) are read`);
  });

  it('refuses unclosed brackets by their nesting, with the line', () => {
    const text = 'name: x\ntopology:\n  nodes:\n' + Array.from({ length: 5000 }, (_, i) => `    r${i}: {kind: router`).join('\n');
    expect(failure(() => parseTopology(text, 'b.yml'))).toMatch(/^b\.yml:68: YAML: collections nested more than 64 deep/);
    expect(failure(() => parseTopology(`x: ${'- '.repeat(50_000)}`, 'c.yml'))).toMatch(/^c\.yml:1: YAML: collections nested more than 64 deep/);
  });

  it('reports at most a few YAML errors, and repeated keys in one pass', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `k${i}: "a`).join('\n');
    expect(failure(() => parseTopology(text, 'q.yml')).split('\n').length).toBeLessThanOrEqual(5);
    expect(failure(() => parseTopology('name: t\ntopology:\n  nodes:\n    r1: { kind: dns }\n    r1: { kind: dns }\n', 'd.yml'))).toBe(
      'd.yml:5: YAML: the key "r1" appears twice in one map',
    );
  });

  it('refuses more nodes than a lab holds, saying how many', () => {
    const nodes = Object.fromEntries(Array.from({ length: MAX_NODES + 1 }, (_, i) => [`n${i}`, { kind: 'nosuch' }]));
    expect(failure(() => resolveTopology({ name: 't', topology: { nodes } }))).toBe(`topology.nodes: ${MAX_NODES + 1} nodes; a lab holds at most ${MAX_NODES}`);
  });

  it('stops after the first problems instead of listing thousands', () => {
    const nodes = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`n${i}`, { kind: 'nosuch' }]));
    const lines = failure(() => resolveTopology({ name: 't', mgmt: { 'ipv4-subnet': '127.0.0.0/8' }, topology: { nodes } })).split('\n');
    expect(lines).toHaveLength(MAX_ISSUES + 1);
    expect(lines[0]).toMatch(/^topology\.nodes\.n0\.kind: unknown (node )?kind "nosuch"/);
    expect(lines.at(-1)).toBe('… and more problems; fix these first');
  });

  it('refuses a topology with no node', () => {
    expect(failure(() => resolveTopology({ name: 't', topology: { nodes: {} } }))).toBe('topology.nodes: a topology needs at least one node');
  });
});

describe('names', () => {
  it('a 10 MB lab name is refused with the rule and a short message', () => {
    const msg = failure(() => resolveTopology({ name: 'a'.repeat(10_000_000), topology: { nodes: { r1: router } } }));
    expect(msg.length).toBeLessThan(400);
    expect(msg).toMatch(/^name: "a{40}…" \(10000000 characters\) is not a lab name: lab names become a folder name: .*at most 63 characters$/);
  });

  it.each([
    ['r_1', 'underscore'],
    ['r1-', 'trailing dash'],
    ['1r', 'leading digit'],
    ['r'.repeat(64), 'too long'],
  ])('node name %s (%s) names the DNS rule', (name) => {
    const msg = failure(() => resolveTopology({ name: 't', topology: { nodes: { [name]: router } } }));
    expect(msg).toContain('is not a node name: node names become DNS labels (<node>.<domain>) and folder names');
    expect(msg).not.toContain('Invalid key in record');
  });

  it('refuses two nodes whose names differ only in case', () => {
    expect(failure(() => resolveTopology({ name: 't', topology: { nodes: { r1: router, R1: router } } }))).toMatch(/"R1" and "r1" differ only in case/);
  });

  it('accepts a 63-character node name', () => {
    const name = `r${'x'.repeat(62)}`;
    expect(resolveTopology({ name: 't', topology: { nodes: { [name]: router } } }).nodes[0]!.name).toBe(name);
  });
});

describe('the SSH host key', () => {
  it('a damaged key file stops the start and is named', async () => {
    const stateDir = join(dir, 'keylab');
    const keyFile = join(stateDir, 'keys', 'r1', 'ssh_host_ed25519_key');
    mkdirSync(join(keyFile, '..'), { recursive: true });
    writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n');
    const topo = { name: 'keylab', mgmt: { 'ipv4-subnet': randomLabSubnet() }, topology: { nodes: { r1: router } } };
    await expect(Lab.start(topo, { stateDir, wellKnownPorts: false })).rejects.toThrow(keyFile);
  });
});
