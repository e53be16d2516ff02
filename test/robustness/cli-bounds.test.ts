/**
 * The router CLI's last unbounded paths (issue 7 item 2, issue 13), replayed over real SSH
 * against a real router: a catastrophic `| include` pattern, an exec client that never
 * reads, and scp channels counted against the vty lines.
 */
import { rmSync } from 'node:fs';
import type { ClientChannel } from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey, RouterSshServer, VTY_REFUSAL } from '../../router/access/SshServer.ts';
import { randomLoopback } from '../helpers/net.ts';
import { makeTestRouter, type TestRouter } from '../helpers/router.ts';
import { openShell, type Shell, type SshClient, sshConnect, sshExec } from '../helpers/ssh.ts';

const address = randomLoopback();
let t: TestRouter;
let server: RouterSshServer;
const clients: SshClient[] = [];

beforeAll(async () => {
  t = await makeTestRouter();
  await t.run('configure terminal', 'username ops privilege 15 secret opspw', 'ip scp server enable', 'end');
  server = new RouterSshServer({ router: t.router, address, port: 0, hostKey: generateHostKey() });
  await server.start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  t.router.system.hosts.clear();
  const end = Date.now() + 10_000;
  while (t.router.sessions.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await server?.stop();
  if (t) rmSync(t.dir, { recursive: true, force: true });
});

async function client(): Promise<SshClient> {
  const c = await sshConnect(address, server.port, { username: 'ops', password: 'opspw' });
  clients.push(c);
  return c;
}

async function login(): Promise<Shell> {
  const sh = await openShell(await client());
  await sh.waitFor(/R1#$/);
  return sh;
}

/** Milliseconds from a typed `show privilege` to its answer and the prompt after it. */
async function answerTime(sh: Shell): Promise<number> {
  const from = sh.mark();
  const start = performance.now();
  sh.send('show privilege\r');
  await sh.waitFor(/level is 15\r\nR1#$/, from);
  return performance.now() - start;
}

describe('a catastrophic | include pattern', () => {
  it('(a+)+$ on a 5,000-character line answers at once, and another session answers within 100 ms meanwhile', async () => {
    // `ip host aaa…a 127.0.0.9`: a backtracking matcher tries 2^5000 ways to split the a's.
    t.router.system.hosts.set('a'.repeat(5000), '127.0.0.9');
    const other = await login();
    const c = await client();
    const request = [
      ...Array<string>(20).fill('show running-config | count (a+)+$'),
      'show running-config | include ^ip host (a+)+ 127\\.0\\.0\\.9$',
      'show running-config | count ip host (a|aa)*c',
    ].join('\n');
    // A first run compiles the exec and filter paths (V8's JIT): the bound is for the pattern.
    const warm = await sshExec(c, request);
    let finished = false;
    const exec = sshExec(c, request).finally(() => (finished = true));
    const latencies: number[] = [];
    do latencies.push(await answerTime(other));
    while (!finished);
    const r = await exec;
    expect(r).toEqual(warm);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'Number of lines which match regexp = 0\r\n'.repeat(20) + `ip host ${'a'.repeat(5000)} 127.0.0.9\r\nNumber of lines which match regexp = 0\r\n`,
    );
    expect(Math.max(...latencies)).toBeLessThan(100);
  }, 30_000);
});

describe('an exec client that never reads', () => {
  it('a large show output requested 1,500 times, never read: memory stays bounded, other sessions answer', async () => {
    // About 300 KB of running-config per run: 450 MB in all if nothing held the output back.
    for (let i = 0; i < 12_000; i++) t.router.system.hosts.set(`host-${i}`, '127.0.0.9');
    const c = await client();
    const stalled = await new Promise<ClientChannel>((resolve, reject) =>
      c.exec(Array<string>(1500).fill('show running-config').join('\n'), (err, stream) => (err ? reject(err) : resolve(stream))),
    );
    // Never read: paused, ssh2's window to the server closes once its buffer is full.
    stalled.pause();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(peak - rssBefore).toBeLessThan(50 * 1024 * 1024);
    // The stalled exec holds its vty and its one session; the router answers others.
    expect(t.router.sessions.size).toBe(1);
    const other = await login();
    expect(await answerTime(other)).toBeLessThan(1000);
    // The client hangs up: the lines not yet run never run, the session ends.
    c.end();
    const end = Date.now() + 10_000;
    while (t.router.sessions.size > 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(t.router.sessions.size).toBe(1);
  }, 30_000);
});

describe('scp and the vty lines', () => {
  /** An `scp -t` push that has begun (the router acknowledged it) and waits for its file. */
  async function openPush(c: SshClient): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      c.exec('scp -t bootflash:pushed.bin', (err, stream) => {
        if (err) return reject(err);
        stream.once('data', (d: Buffer) => (d[0] === 0 ? resolve(stream) : reject(new Error(`scp refused: ${d.toString()}`))));
      }),
    );
  }

  it('an scp transfer takes a vty line: with it and four sessions the sixth is refused; a sixth scp is refused too', async () => {
    const shells: Shell[] = [];
    for (let i = 0; i < 4; i++) shells.push(await login());
    const push = await openPush(await client());
    // line vty 0 4: five lines, all taken.
    expect((await sshExec(await client(), 'show privilege')).out).toBe(`${VTY_REFUSAL}\r\n`);
    const refusedPush = await sshExec(await client(), 'scp -t bootflash:other.bin');
    expect(refusedPush).toEqual({ out: `${VTY_REFUSAL}\r\n`, code: 1 });
    // The transfer ends (the client closes its channel): its line is free again.
    const closed = new Promise<void>((r) => push.once('close', () => r()));
    push.end();
    push.close();
    await closed;
    const fifth = await login();
    expect(await answerTime(fifth)).toBeGreaterThan(0);
    // And with one shell gone, a push gets a line.
    shells[0]!.send('exit\r');
    await shells[0]!.closed;
    const again = await openPush(await client());
    again.close();
    expect(t.router.fs.default.stat('pushed.bin')).toBeUndefined();
  }, 30_000);
});
