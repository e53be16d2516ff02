/**
 * The lab's IDA server and SMTP sink against software nobody here wrote, in a lab of their
 * own (random 127.x /24, high ports): curl --cacert and openssl s_client
 * -verify_return_error accept the IDA server only in `good` mode and refuse every other
 * certificate mode with their own error; swaks delivers to the SMTP sink, and the message
 * is read back through the Mailpit API with plain HTTP. Missing tools FAIL naming their
 * Debian package.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCa } from '../../lab/ca/LabCa.ts';
import { Lab } from '../../lab/Lab.ts';
import { requireBinary, tryCommand } from '../helpers/peers.ts';
import { randomLabSubnet } from '../helpers/net.ts';

const subnet = randomLabSubnet();
let dir: string;
let lab: Lab;
let rootPem: string;
let ida: { address: string; port: number };
let smtp: { address: string; port: number; api: number };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-pki-interop-'));
  lab = await Lab.start(
    {
      name: 'pki-interop',
      mgmt: { 'ipv4-subnet': subnet },
      topology: {
        nodes: {
          ida: {
            kind: 'ida',
            accounts: [{ user: 'cco', password: 'cisco123' }],
            images: [{ name: 'isr4300-universalk9.16.12.04.SPA.bin', platform: 'isr4321', version: '16.12.4', size: '1MB' }],
          },
          smtp: { kind: 'smtp' },
        },
      },
    },
    { stateDir: join(dir, 'state'), wellKnownPorts: false },
  );
  rootPem = join(dir, 'root.pem');
  writeFileSync(rootPem, LabCa.open(join(lab.stateDir, 'ca'), new Date()).root.certPem);
  const nodes = lab.inspect();
  const i = nodes.find((n) => n.name === 'ida')!;
  const s = nodes.find((n) => n.name === 'smtp')!;
  ida = { address: i.address, port: i.ports.https! };
  smtp = { address: s.address, port: s.ports.smtp!, api: s.ports.api! };
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const LOCATOR = '/cgi-bin/new-ida/locator/locator.pl';

function curl(path: string, data?: string) {
  const url = `https://www.cisco.com:${ida.port}${path}`;
  const args = ['-sS', '--max-time', '20', '--cacert', rootPem, '--resolve', `www.cisco.com:${ida.port}:${ida.address}`, url];
  if (data) args.push('--data', data);
  return tryCommand(requireBinary('curl', 'curl'), args, { timeoutMs: 30_000 });
}

function sClient() {
  return tryCommand(
    requireBinary('openssl', 'openssl'),
    ['s_client', '-connect', `${ida.address}:${ida.port}`, '-servername', 'www.cisco.com', '-verify_hostname', 'www.cisco.com', '-CAfile', rootPem, '-verify_return_error'],
    { timeoutMs: 30_000, input: '' },
  );
}

describe('curl and openssl s_client against the IDA server', () => {
  it('good: curl gets the locator answer; openssl verifies the chain', async () => {
    await lab.setFaults('ida', { certificate: 'good' });
    const r = await curl(LOCATOR, 'username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin');
    expect(r.code).toBe(0);
    expect(r.out).toContain('status=ok\nurl=https://www.cisco.com/images/isr4300-universalk9.16.12.04.SPA.bin\nsize=1048576\n');
    const o = await sClient();
    expect(o.out).toMatch(/Verification: OK|Verify return code: 0 \(ok\)/);
    expect(o.code).toBe(0);
  });

  // Each mode as curl (OpenSSL) words it, and the verify error s_client stops on.
  it.each([
    ['unknown-ca', /unable to get local issuer certificate/, /unable to get local issuer certificate/],
    ['expired', /certificate has expired/, /certificate has expired/],
    ['not-yet-valid', /certificate is not yet valid/, /certificate is not yet valid/],
    ['wrong-host', /no alternative certificate subject name matches target host name|does not match target host name/, /hostname mismatch/],
    ['self-signed', /self[- ]signed certificate/, /self[- ]signed certificate/],
  ] as const)('%s: curl and openssl refuse it with their own error', async (mode, curlError, opensslError) => {
    await lab.setFaults('ida', { certificate: mode });
    const r = await curl(LOCATOR, 'username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(curlError);
    const o = await sClient();
    expect(o.code).not.toBe(0);
    expect(o.out).toMatch(opensslError);
  });

  it('no request reached the locator in a bad mode', async () => {
    const locates = ((await lab.logs('ida')) as { kind: string; certificate: string }[]).filter((e) => e.kind === 'locate');
    expect(locates.map((e) => e.certificate)).toEqual(['good']);
  });
});

describe('swaks against the SMTP sink, read back through the Mailpit API', () => {
  const api = (path: string) => fetch(`http://${smtp.address}:${smtp.api}${path}`);
  const swaks = (...extra: string[]) =>
    tryCommand(
      requireBinary('swaks', 'swaks'),
      ['--server', smtp.address, '--port', String(smtp.port), '--from', 'r1@lab.local', '--to', 'ops@lab.local', '--header', 'Subject: Auto Upgrade status for r1', '--body', 'Status: SUCCESS', ...extra],
      { timeoutMs: 30_000 },
    );

  it('swaks delivers; GET /api/v1/message/latest returns it in Mailpit shape', async () => {
    const r = await swaks();
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/<- +250 Ok: queued as \S+/);
    const m = (await (await api('/api/v1/message/latest')).json()) as Record<string, unknown>;
    expect(m).toMatchObject({ Subject: 'Auto Upgrade status for r1', From: { Address: 'r1@lab.local' }, To: [{ Address: 'ops@lab.local' }] });
    expect(String(m.Text)).toContain('Status: SUCCESS');
    const list = (await (await api('/api/v1/search?query=subject%3A%22Auto%20Upgrade%22')).json()) as { messages_count: number };
    expect(list.messages_count).toBe(1);
  });

  it('a recipient fault refuses at RCPT TO as Mailpit chaos does; swaks reports it; nothing is stored', async () => {
    await lab.setFaults('smtp', { 'recipient-error': 451 });
    const r = await swaks();
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('<** 451 Chaos recipient error');
    await lab.setFaults('smtp', {});
    expect(((await (await api('/api/v1/messages')).json()) as { total: number }).total).toBe(1);
  });
});
