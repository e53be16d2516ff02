/**
 * The node protocol on its own: a real router and a real TFTP server, each behind a node
 * protocol server on a Unix socket, driven through RemoteNodeHandle as the netns runtime
 * drives an agent. Proves the calls, the refusals (same messages as in process), events
 * (syslog, long-polled) and the clock following the lab's moves, scheduled reload included.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabClock } from '../../lab/clock/LabClock.ts';
import { EmbeddedRuntime } from '../../lab/runtime/embedded.ts';
import { LocalNodeHandle } from '../../lab/runtime/local.ts';
import { NodeProtocolServer, RemoteNodeHandle } from '../../lab/runtime/protocol.ts';
import { resolveTopology } from '../../lab/topology/load.ts';
import type { NodeEvent } from '../../lab/runtime/types.ts';
import { randomLabSubnet } from '../helpers/net.ts';

let dir: string;
let runtime: EmbeddedRuntime;
let clock: LabClock;
const servers: NodeProtocolServer[] = [];
const remotes: RemoteNodeHandle[] = [];

/** Serves one of the embedded runtime's nodes over a socket, as an agent would. */
async function serve(name: string): Promise<RemoteNodeHandle> {
  const local = runtime.handle(name) as LocalNodeHandle;
  const server = new NodeProtocolServer(local, { followClock: (ms) => clock.follow(ms), stop: async () => {} });
  const socket = join(dir, `${name}.sock`);
  await server.listen(socket);
  servers.push(server);
  const remote = new RemoteNodeHandle(name, local.kind, socket, local.info().address);
  remote.startEvents();
  remotes.push(remote);
  return remote;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-protocol-'));
  mkdirSync(join(dir, 'state'));
  const topology = resolveTopology({
    name: 'protocol',
    mgmt: { 'ipv4-subnet': randomLabSubnet() },
    clock: { start: '2026-03-01T10:00:00Z', frozen: true },
    topology: {
      nodes: {
        r1: { kind: 'router', platform: 'isr4321', 'boot-seconds': 1, images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '64KB' }] },
        tftp: { kind: 'tftp', images: [{ name: 'f.bin', platform: 'isr4321', version: '16.12.4', size: '32KB' }] },
      },
    },
  });
  clock = new LabClock({ start: new Date('2026-03-01T10:00:00Z'), frozen: true });
  runtime = new EmbeddedRuntime(topology, { stateDir: join(dir, 'state'), clock, wellKnownPorts: false });
  await runtime.start();
});

afterAll(async () => {
  for (const r of remotes) r.close();
  for (const s of servers) await s.close();
  await runtime?.stop();
  clock?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('node protocol', () => {
  it('answers info, health, exec and router status as the node itself does', async () => {
    const r1 = await serve('r1');
    expect(await r1.healthy()).toBe(true);
    expect(r1.info()).toMatchObject({ name: 'r1', kind: 'router', state: 'running', address: runtime.handle('r1')!.info().address });
    expect(await r1.exec(['show version | include System image'])).toContain('System image file is "bootflash:isr4300-universalk9.16.10.01.SPA.bin"');
    const status = await r1.routerStatus();
    expect(status).toMatchObject({ state: 'running', defaultFs: 'bootflash' });
    expect(Date.parse(status.bootedAt!)).toBeGreaterThan(0);
    const t = await r1.transcript(['show clock'], {});
    expect(t.refused).toBe(false);
    expect(t.text).toMatch(/r1#show clock/);
  });

  it('refuses what the node cannot do with the in-process message', async () => {
    const r1 = remotes.find((r) => r.name === 'r1')!;
    const tftp = await serve('tftp');
    await expect(r1.setFaults({})).rejects.toThrow(/node "r1" is a router node: it has no faults/);
    await expect(tftp.exec(['show version'])).rejects.toThrow(/exec runs on routers/);
    await expect(tftp.setFaults({ 'drop-everything': true })).rejects.toThrow(/bad faults/);
    await expect(tftp.serverFile('../../etc/passwd')).rejects.toThrow(/outside tftp's root/);
  });

  it('reads server files by size and MD5 under the root only', async () => {
    const tftp = remotes.find((r) => r.name === 'tftp')!;
    const f = await tftp.serverFile('f.bin');
    expect(f).toMatchObject({ exists: true, size: 32 * 1024 });
    expect(f.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(await tftp.serverFile('nothing.bin')).toEqual({ exists: false });
    await tftp.setFaults({ 'refuse-all': true });
    await tftp.setFaults({});
    expect(Array.isArray(await tftp.logs())).toBe(true);
  });

  it('long-polls syslog events, and the clock follows the lab: a scheduled reload fires', async () => {
    const r1 = remotes.find((r) => r.name === 'r1')!;
    const events: NodeEvent[] = [];
    const off = r1.subscribe((e) => events.push(e));
    await r1.exec(['configure terminal', 'hostname r1', 'end']);
    await expect.poll(() => events.some((e) => e.type === 'syslog' && /%SYS-5-CONFIG_I/.test(e.line)), { timeout: 5000 }).toBe(true);
    const before = (await r1.routerStatus()).bootedAt;
    const out = await r1.exec(['reload in 10']);
    expect(out).toMatch(/Reload scheduled/);
    // The "lab" clock moves in another object; the node's clock follows through the protocol.
    await r1.followClock(clock.now().getTime() + 10 * 60_000 + 1000);
    await r1.followClock(clock.now().getTime() + 5000);
    await expect.poll(async () => (await r1.routerStatus()).bootedAt !== before && (await r1.routerStatus()).state === 'running', { timeout: 10_000 }).toBe(true);
    off();
  });
  it('a call on a kept-alive socket the agent just closed is sent again, not lost (EPIPE under load)', async () => {
    const r1 = remotes.find((r) => r.name === 'r1')!;
    expect(await r1.healthy()).toBe(true);
    // The agent drops its idle connections, as an idle timeout would, just as the next call goes out on one.
    const server = servers[0] as unknown as { server: import('node:http').Server };
    server.server.closeIdleConnections();
    expect(await r1.exec(['show clock'])).toMatch(/UTC/);
    server.server.closeIdleConnections();
    expect((await r1.routerStatus()).state).toBe('running');
  });
});
