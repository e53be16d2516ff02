/**
 * `flashlab compose`: one service per node on the lab network, the shared state volume,
 * health checks, servers before routers; the repository's docker-compose.yml is exactly the
 * default lab's output, and docker-compose (Debian's, a peer) accepts it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, composeFile } from '../../lab/runtime/container/compose.ts';
import { labLayout } from '../../lab/runtime/container/layout.ts';
import { DEFAULT_TOPOLOGY, loadTopology } from '../../lab/topology/load.ts';
import { requireBinary, runCommand } from '../helpers/peers.ts';

interface Service {
  container_name: string;
  command: string[];
  networks: { lab: { ipv4_address: string } };
  volumes: string[];
  healthcheck: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  build: { context: string };
}

const defaultLab = loadTopology(DEFAULT_TOPOLOGY);

describe('flashlab compose', () => {
  it("is the repository's docker-compose.yml for the default lab (regenerate with: flashlab compose -o docker-compose.yml)", () => {
    expect(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')).toBe(composeFile(defaultLab, { outDir: REPO_ROOT }));
  });

  it('maps every node to a service on the lab network at its host offset, with the state volume, a health check and the prepare step', () => {
    const doc = parse(composeFile(defaultLab, { outDir: REPO_ROOT })) as { services: Record<string, Service>; networks: Record<string, unknown>; volumes: Record<string, unknown> };
    expect(Object.keys(doc.services)).toEqual(['prepare', ...defaultLab.nodes.map((n) => n.name)]);
    expect(doc.services.prepare!.command).toEqual(['compose', '/flashlab/lab/topologies/default.yml', '--prepare-state', '/var/lib/flashlab/default', '--subnet', '10.214.0.0/24']);
    for (const n of defaultLab.nodes) {
      const s = doc.services[n.name]!;
      expect(s.container_name).toBe(`flashlab-default-${n.name}`);
      expect(s.networks.lab.ipv4_address).toBe(n.address.replace(/^127\.77\.0\./, '10.214.0.'));
      expect(s.volumes).toContain('state:/var/lib/flashlab/default');
      expect(s.command).toEqual(['node', '--config', `/var/lib/flashlab/default/run/${n.name}.json`]);
      expect(s.healthcheck.test[0]).toBe('CMD');
    }
    // Every node waits for the prepared state only (all start at once, as under up --runtime container).
    for (const n of defaultLab.nodes) expect(doc.services[n.name]!.depends_on).toEqual({ prepare: { condition: 'service_completed_successfully' } });
    expect(doc.networks).toEqual({ lab: { name: 'flashlab-default', labels: { 'flashlab.lab': 'default' }, ipam: { config: [{ subnet: '10.214.0.0/24' }] } } });
    expect(doc.volumes).toEqual({ state: { name: 'flashlab-default-state', labels: { 'flashlab.lab': 'default' } } });
  });

  it('mounts a topology from outside the repository and builds from the repository, both relative to the output folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flashlab-compose-'));
    try {
      const file = join(dir, 'mini.yml');
      writeFileSync(file, 'name: mini\nmgmt: { ipv4-subnet: 127.91.0.0/24 }\ntopology:\n  nodes:\n    tftp: { kind: tftp, address: 127.91.0.5 }\n');
      const doc = parse(composeFile(loadTopology(file), { outDir: dir, subnet: '10.214.9.0/24' })) as { services: Record<string, Service> };
      const s = doc.services.tftp!;
      expect(doc.services.prepare!.volumes).toContain('./mini.yml:/etc/flashlab/topology.yml:ro');
      expect(doc.services.prepare!.command[1]).toBe('/etc/flashlab/topology.yml');
      expect(s.networks.lab.ipv4_address).toBe('10.214.9.5');
      expect(readFileSync(join(dir, s.build.context, 'Containerfile'), 'utf8')).toContain('FROM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a lab network smaller than the topology, and a subnet that is not one', () => {
    expect(() => labLayout(defaultLab, { subnet: '10.214.0.0/28' })).toThrow(/smaller than the topology's 127\.77\.0\.0\/24: use a \/24 or larger/);
    expect(() => labLayout(defaultLab, { subnet: '10.214.0/24' })).toThrow(/is not an IPv4 subnet/);
  });

  it('is accepted by docker-compose config', async () => {
    const bin = requireBinary('docker-compose', 'docker-compose');
    const text = await runCommand(bin, ['-f', join(REPO_ROOT, 'docker-compose.yml'), 'config', '--services']);
    expect(text.trim().split('\n').sort()).toEqual(['prepare', ...defaultLab.nodes.map((n) => n.name)].sort());
  });
});
