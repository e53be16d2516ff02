/**
 * The README's examples are what new users copy first: the topology and scenario blocks
 * must load, and every command it names must exist.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { program } from '../../lab/cli/main.ts';
import { loadScenario } from '../../lab/scenario/load.ts';
import { loadTopology } from '../../lab/topology/load.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const yamlBlocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README examples', () => {
  it('the topology example loads', () => {
    const block = yamlBlocks.find((b) => b.includes('topology:') && b.includes('kind: router'));
    expect(block).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'flashlab-readme-')), 'lowflash.yml');
    writeFileSync(file, block!);
    const topo = loadTopology(file);
    expect(topo.nodes.map((n) => n.name)).toEqual(['r1', 'ftp', 'tftp', 'dns']);
  });

  it('the scenario example loads against the default topology', () => {
    const block = yamlBlocks.find((b) => b.includes('steps:'));
    expect(block).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'flashlab-readme-')), 'example.yml');
    writeFileSync(file, block!);
    const sc = loadScenario(file);
    expect(sc.steps.length).toBeGreaterThan(3);
  });

  it('every `flashlab <command>` it mentions exists', () => {
    const known = new Set(program().commands.map((c) => c.name()));
    const named = new Set([...readme.matchAll(/flashlab (\w+)/g)].map((m) => m[1]!).filter((w) => /^[a-z]+$/.test(w) && !['lab', 'scenario', 'command'].includes(w)));
    for (const n of named) expect(known.has(n), `flashlab ${n}`).toBe(true);
    expect(named.size).toBeGreaterThan(8);
  });
});
