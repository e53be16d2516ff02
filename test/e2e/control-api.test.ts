/**
 * The control API refuses what it cannot use (issue 7 item 4): every input typed, finite and
 * bounded, a 400 with the reason, the lab untouched. control.json is private on every write
 * (issue 7 item 3). A well-known port another process holds is named with its holder
 * (issue 13 item 10).
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portHolder, startOnPort } from '../../lab/kinds/support.ts';
import { Lab } from '../../lab/Lab.ts';
import { CONTROL_FILE, startControlServer, TOKEN_HEADER, type ControlServer } from '../../lab/control/server.ts';
import { freeTcpPort, randomLabSubnet, randomLoopback } from '../helpers/net.ts';

let dir: string;
let lab: Lab;
let control: ControlServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-control-'));
  const stateDir = join(dir, 'state');
  lab = await Lab.start(
    {
      name: 'control',
      mgmt: { 'ipv4-subnet': randomLabSubnet() },
      topology: { nodes: { r1: { kind: 'router', platform: 'isr4321', images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }] } } },
    },
    { stateDir, wellKnownPorts: false },
  );
  // An old control file left readable by others: the next write must make it private.
  writeFileSync(join(stateDir, CONTROL_FILE), '{}');
  chmodSync(join(stateDir, CONTROL_FILE), 0o644);
  control = await startControlServer(lab, { onDown: () => undefined });
});

afterAll(async () => {
  await control?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: { error?: string; now?: string; output?: string } }> {
  const res = await fetch(`${control.info.url}${path}`, {
    method,
    headers: { [TOKEN_HEADER]: control.info.token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { error?: string } };
}

describe('control.json', () => {
  it('is 0600 after a write over an existing 0644 file', () => {
    expect(statSync(join(lab.stateDir, CONTROL_FILE)).mode & 0o777).toBe(0o600);
  });
});

describe('control API input checks', () => {
  it('POST /clock/advance {"ms": 1e308} is a 400 and the clock stays finite', async () => {
    const before = lab.clock.now().getTime();
    const r = await call('POST', '/clock/advance', '{"ms": 1e308}');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/"ms" must be at most \d+ \(ten years\)/);
    expect(Number.isFinite(lab.clock.now().getTime())).toBe(true);
    expect(lab.clock.now().getTime() - before).toBeLessThan(60_000);
    expect((await lab.exec('r1', 'show clock')).includes('NaN')).toBe(false);
  });

  it.each([
    ['a string', { ms: '5' }, /"ms" must be a number/],
    ['negative', { ms: -1 }, /"ms" must be >= 0/],
    ['a fraction', { ms: 1.5 }, /whole number/],
    ['missing', {}, /"ms" must be a number/],
    ['with an unknown field', { ms: 1, extra: true }, /unknown field "extra"/],
  ])('POST /clock/advance %s is a 400', async (_what, body, reason) => {
    const r = await call('POST', '/clock/advance', body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(reason);
  });

  it('a valid advance works', async () => {
    const r = await call('POST', '/clock/advance', { ms: 3_600_000 });
    expect(r.status).toBe(200);
    expect(Number.isFinite(Date.parse(r.json.now!))).toBe(true);
  });

  it.each([
    ['a node name that is not one', { node: '../r1', lines: ['show clock'] }, /"node" is not a node name/],
    ['lines that are not strings', { node: 'r1', lines: [1, 2] }, /"lines" must be a string or a list of strings/],
    ['too many lines', { node: 'r1', lines: Array(1001).fill('show clock') }, /at most 1000/],
    ['a line too long', { node: 'r1', lines: ['x'.repeat(9000)] }, /"lines"\[0\] is 9000 characters long; at most 8192/],
    ['no lines', { node: 'r1', lines: [] }, /"lines" is empty/],
  ])('POST /exec with %s is a 400', async (_what, body, reason) => {
    const r = await call('POST', '/exec', body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(reason);
  });

  it('POST /faults checks its values, and a body that is not an object is refused', async () => {
    expect((await call('POST', '/faults', { node: 'r1', faults: { x: { deep: 1 } } })).json.error).toMatch(/must be a boolean, a finite number/);
    expect((await call('POST', '/faults', { node: 'r1', faults: [] })).json.error).toMatch(/"faults" must be an object/);
    expect((await call('POST', '/exec', '[1,2]')).status).toBe(400);
    expect((await call('POST', '/exec', 'not json')).json.error).toBe('expected a JSON object');
  });

  it('a bad percent-encoding in a path is a 400 with the reason, not a crash', async () => {
    const r = await call('GET', '/logs/%E0%A4%A');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/not valid percent-encoding/);
  });

  it('valid requests still work', async () => {
    const r = await call('POST', '/exec', { node: 'r1', lines: 'show clock' });
    expect(r.status).toBe(200);
    expect(r.json.output).toMatch(/\d\d:\d\d:\d\d/);
  });
});

describe('a well-known port another process holds', () => {
  let holder: Server;
  let address: string;
  let port: number;

  beforeAll(async () => {
    address = randomLoopback();
    port = await freeTcpPort(address);
    holder = createServer();
    await new Promise<void>((r) => holder.listen(port, address, r));
  });
  afterAll(() => new Promise<void>((r) => holder.close(() => r())));

  it('is named with its holder, and the node takes another port', async () => {
    expect(portHolder(address, port)).toMatch(new RegExp(`^pid ${process.pid}( \\(.+\\))?$`));
    const warnings: string[] = [];
    const server = createServer();
    const started = await startOnPort(
      port,
      true,
      (p) => ({
        port: 0,
        async start() {
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(p, address, () => resolve());
          });
          this.port = (server.address() as { port: number }).port;
        },
      }),
      { address, what: "r9's ssh", warn: (l) => warnings.push(l) },
    );
    expect(started.port).not.toBe(port);
    expect(warnings).toHaveLength(1);
    const addr = address.replace(/\./g, '\\.');
    expect(warnings[0]).toMatch(new RegExp(`^port ${port} on ${addr} is held by pid ${process.pid}( \\([^)]+\\))?: r9's ssh listens on port ${started.port} instead$`));
    await new Promise<void>((r) => server.close(() => r()));
  });
});
