/**
 * A node agent loads its own node's kind only: packages are most of what an agent process
 * holds besides Node itself, so a router agent must not load the servers' packages, nor a
 * server agent the router's. Checked in a fresh process per kind through the agent's module
 * graph as tsx runs it (the container runtime), and in the split bundle the netns runtime
 * runs (packages the agent needs only for some kinds stay out of its entry file).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentBundle } from '../../lab/runtime/agentBundle.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const url = (p: string) => pathToFileURL(resolve(ROOT, p)).href;

/** Packages of the router (and its SSH and mail), of the servers, of image signing. */
const ROUTER_ONLY = ['ssh2', 'nodemailer', 'basic-ftp', 'node-cron', 're2js'];
const SERVERS_ONLY = ['ftp-srv', 'dns2', 'smtp-server', 'mailparser'];
const LAB_ONLY = ['node-forge'];

/** The CommonJS packages a fresh process has loaded after loading the agent and `kind`. */
function packagesLoadedFor(kind: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(url('lab/runtime/agent.ts'))});
    const { loadKind } = await import(${JSON.stringify(url('lab/kinds/modules.ts'))});
    await loadKind(${JSON.stringify(kind)});
    const names = Object.keys(createRequire(import.meta.url).cache).flatMap((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(p)?.[1] ?? []);
    process.stdout.write(JSON.stringify([...new Set(names)]));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`agent load for ${kind} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

describe('node agent: only its kind', () => {
  it('a router agent loads the router, none of the servers and no signing library', { timeout: 120_000 }, () => {
    const loaded = packagesLoadedFor('router');
    expect(loaded).toContain('ssh2');
    for (const p of [...SERVERS_ONLY, ...LAB_ONLY, 'nodemailer']) expect(loaded).not.toContain(p);
  });

  it('a server agent loads its server, not the router nor another server', { timeout: 120_000 }, () => {
    const ftp = packagesLoadedFor('ftp');
    expect(ftp).toContain('ftp-srv');
    for (const p of [...ROUTER_ONLY, ...LAB_ONLY, 'dns2', 'smtp-server', 'mailparser']) expect(ftp).not.toContain(p);
    const dns = packagesLoadedFor('dns');
    expect(dns).toContain('dns2');
    for (const p of [...ROUTER_ONLY, ...LAB_ONLY, 'ftp-srv', 'smtp-server', 'mailparser']) expect(dns).not.toContain(p);
  });

  it('refuses a kind it does not know, naming the ones it does', async () => {
    const { loadKind } = await import('../../lab/kinds/modules.ts');
    await expect(loadKind('toString')).rejects.toThrow('unknown node kind "toString"; valid kinds: router, ftp, tftp, dns, ida, smtp');
  });

  it('the bundle imports kinds on demand: no kind-only package in its entry file', { timeout: 120_000 }, async () => {
    const entry = await agentBundle();
    expect(entry).toBeDefined();
    const text = readFileSync(entry!, 'utf8');
    const staticImports = [...text.matchAll(/^import\s[^;]*?from\s*"([^"]+)"|^import\s*"([^"]+)"/gm)].map((m) => m[1] ?? m[2]!);
    for (const p of [...ROUTER_ONLY, ...SERVERS_ONLY, ...LAB_ONLY, 'zod']) expect(staticImports).not.toContain(p);
    // Each kind is a chunk beside it, loaded by import().
    expect([...text.matchAll(/import\("\.\/chunk-[A-Z0-9]+\.mjs"\)/g)].length).toBeGreaterThanOrEqual(6);
  });
});
