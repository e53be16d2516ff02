import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueFrom, LabCa, newKey, selfSigned } from '../../../lab/ca/LabCa.ts';
import { CERT_MODES, IdaServer, type CertMode, type TlsChain } from '../../../servers/ida/IdaServer.ts';
import { randomLoopback } from '../../../test/helpers/net.ts';
import { makeTestRouter, type TestRouter } from '../../../test/helpers/router.ts';
import { HttpTransferClient } from '../../transfer/HttpTransferClient.ts';

const DAY = 86_400_000;
/** The test router's frozen clock (test/helpers/router.ts). */
const NOW = new Date('2026-11-25T10:00:00Z').getTime();
const dir = mkdtempSync(join(tmpdir(), 'pki-test-'));
const ca = LabCa.open(join(dir, 'ca'), new Date(NOW));
const address = randomLoopback();
const IMAGE = 'isr4300-universalk9.16.12.04.SPA.bin';

function chains(): Record<CertMode, TlsChain> {
  const key = newKey();
  const names = { commonName: 'www.cisco.com', dnsNames: [], ips: [] };
  const valid = { notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + 365 * DAY) };
  const chain = (leaf: string): TlsChain => ({ keyPem: key, chainPem: leaf + ca.intermediate.certPem });
  const rogueKey = newKey();
  const rogue = { keyPem: rogueKey, certPem: selfSigned(rogueKey, { commonName: 'Rogue', ca: true, ...valid }) };
  return {
    good: chain(ca.issueServer(key, { ...names, ...valid })),
    expired: chain(ca.issueServer(key, { ...names, notBefore: new Date(NOW - 700 * DAY), notAfter: new Date(NOW - 30 * DAY) })),
    'not-yet-valid': chain(ca.issueServer(key, { ...names, notBefore: new Date(NOW + 30 * DAY), notAfter: new Date(NOW + 700 * DAY) })),
    'wrong-host': chain(ca.issueServer(key, { commonName: 'elsewhere.example.net', ...valid })),
    'unknown-ca': { keyPem: key, chainPem: issueFrom(rogue, key, { ...names, ...valid }) },
    'self-signed': { keyPem: key, chainPem: selfSigned(key, { ...names, ...valid }) },
  };
}

const CONFIG = ['configure terminal', 'crypto pki trustpoint LAB', ' enrollment terminal', ' revocation-check none', ' exit'];
const pasted = (pem: string) => ['crypto pki authenticate LAB', ...pem.trim().split('\n'), ''];

let t: TestRouter;
let server: IdaServer;

beforeAll(async () => {
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(root, IMAGE), Buffer.alloc(300 * 1024, 9));
  server = new IdaServer({ address, port: 0, httpPort: 0, root, hostname: 'www.cisco.com', accounts: [], catalog: [], certificates: chains() });
  await server.start();
  t = await makeTestRouter({
    env: {
      transfer: { tftp: undefined as never, ftp: undefined as never, https: new HttpTransferClient('https'), http: new HttpTransferClient('http') },
      servicePort: (_a, s) => (s === 'https' ? server.port : s === 'http' ? server.httpPort : 0),
    },
  });
  await t.run('configure terminal', `ip host www.cisco.com ${address}`, 'file prompt quiet', 'end');
});
afterAll(() => server.stop());

describe('crypto pki trustpoint and authenticate', () => {
  it('pastes the lab root, shows IOS fingerprints and imports it', async () => {
    const out = await t.run(...CONFIG, ...pasted(ca.root.certPem), 'yes', 'end');
    expect(out).toContain('Enter the base 64 encoded CA certificate.\nEnd with a blank line or the word "quit" on a line by itself');
    expect(out).toMatch(/Certificate has the following attributes:\n {7}Fingerprint MD5: ([0-9A-F]{8} ){4}\n {6}Fingerprint SHA1: ([0-9A-F]{8} ){5}\n/);
    expect(out).toContain('% Do you accept this certificate? [yes/no]: yes\nTrustpoint CA certificate accepted.\n% Certificate successfully imported');
    const show = await t.run('show crypto pki trustpoints');
    expect(show).toBe('Trustpoint LAB:\n    Subject Name:\n    cn=flashlab Lab Root CA\n    o=flashlab\n          Serial Number (hex): 01\n    Certificate configured.\n');
    expect(await t.run('show crypto pki trustpoints status')).toContain('    Issuing CA authenticated ....... Yes');
    expect(await t.run('show crypto pki certificates')).toMatch(/^CA Certificate\n  Status: Available\n  Certificate Serial Number \(hex\): 01\n[\s\S]*    end   date: \d\d:\d\d:\d\d UTC \w{3} \d+ \d{4}\n  Associated Trustpoints: LAB \n/);
  });

  it('running-config carries the certificate; replayed on a fresh router it is the same trustpoint', async () => {
    const config = await t.run('show running-config');
    expect(config).toMatch(/crypto pki trustpoint LAB\n enrollment terminal\n revocation-check none\n!\ncrypto pki certificate chain LAB\n certificate ca 01\n  ([0-9A-F]{8} ){7}[0-9A-F]{8}\n/);
    const block = config.slice(config.indexOf('crypto pki trustpoint'), config.lastIndexOf('quit') + 4);
    const fresh = await makeTestRouter();
    expect(await fresh.run('configure terminal', ...block.split('\n'), 'end')).not.toContain('%');
    expect(await fresh.run('show crypto pki trustpoints status')).toBe(await t.run('show crypto pki trustpoints status'));
  });

  it('write memory keeps the trustpoint and its CA through a reload', async () => {
    const before = await t.run('show crypto pki certificates');
    expect(await t.run('write memory')).toContain('[OK]');
    t.router.reload();
    t.clock.advance(1000);
    await t.router.waitFor(['running'], 10_000);
    expect(await t.run('show crypto pki certificates')).toBe(before);
    expect(before).toContain('Associated Trustpoints: LAB');
  });

  it('refuses text that is not base 64, a truncated certificate and a certificate that is not a CA; nothing is kept', async () => {
    await t.run('configure terminal', 'crypto pki trustpoint BAD', 'enrollment terminal', 'end');
    const notB64 = await t.run('configure terminal', 'crypto pki authenticate BAD', 'this is not base64 !!', '', 'end');
    expect(notB64).toContain('% The certificate is not base 64 encoded.\n% Error in saving certificate: status = FAIL');
    const body = ca.root.certPem.split('\n').filter((l) => !l.startsWith('-----'));
    const truncated = await t.run('configure terminal', 'crypto pki authenticate BAD', ...body.slice(0, 5), 'quit', 'end');
    expect(truncated).toContain('% The certificate is truncated or is not an X.509 certificate.');
    const leaf = chains().good.chainPem.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----';
    const notCa = await t.run('configure terminal', 'crypto pki authenticate BAD', ...leaf.split('\n'), '', 'end');
    expect(notCa).toContain("but certificate is not a CA certificate.\nManual verification required\nAuthentication failed - could not validate certificate\n% Error in saving certificate: status = FAIL");
    expect(await t.run('show crypto pki trustpoints status')).toMatch(/Trustpoint BAD:\n  State:\n[\s\S]*Issuing CA authenticated ....... No/);
    expect(await t.run('configure terminal', 'crypto pki authenticate NONE', 'end')).toContain('% Trustpoint NONE not found.');
    await t.run('configure terminal', 'no crypto pki trustpoint BAD', 'end');
  });
});

describe('copy https: checks the chain against the trustpoints and the router clock', () => {
  const copy = `copy https://www.cisco.com/images/${IMAGE} bootflash:`;
  const expectNothingWritten = async () => expect(t.router.fs.default.exists(IMAGE)).toBe(false);

  it.each([
    ['expired', /%PKI-3-CERTIFICATE_INVALID_EXPIRED: Certificate chain validation has failed\. The certificate \(SN: [0-9A-F]+\) has expired\. {3}Validity period ended on \d\d:\d\d:\d\d UTC/],
    ['not-yet-valid', /%PKI-3-CERTIFICATE_INVALID_NOT_YET_VALID: Certificate chain validation has failed\. The certificate \(SN: [0-9A-F]+\) is not yet valid {3}Validity period starts on/],
    ['unknown-ca', /%PKI-3-CERTIFICATE_INVALID_UNAUTHORIZED: .*issued by a CA no trustpoint holds \(issuer cn=rogue,o=flashlab\)/],
    ['self-signed', /%PKI-3-CERTIFICATE_INVALID_UNAUTHORIZED: .*is self-signed and no trustpoint holds it/],
    ['wrong-host', /%PKI-3-CERTIFICATE_INVALID: .*does not match the host name www\.cisco\.com/],
  ] as const)('%s: its own message, then %%Error, nothing written', async (mode, message) => {
    server.setFaults({ certificate: mode as CertMode });
    const out = await t.run(copy);
    expect(out).toMatch(message);
    expect(out).toContain(`%Error opening https://www.cisco.com/images/${IMAGE} (Certificate validation failed)`);
    await expectNothingWritten();
    expect(server.log.filter((e) => e.kind === 'download')).toHaveLength(0);
  });

  it('good: the copy goes through with marks and the byte count', async () => {
    server.setFaults({ certificate: 'good' });
    const out = await t.run(copy);
    expect(out).toContain(`Accessing https://www.cisco.com/images/${IMAGE}...`);
    expect(out).toContain('[OK - 307200 bytes]');
    expect(t.router.fs.default.stat(IMAGE)?.size).toBe(307200);
    await t.run(`delete /force bootflash:${IMAGE}`);
  });

  it('the router clock set back makes the good certificate not yet valid', async () => {
    await t.run('clock set 10:00:00 1 January 2026');
    const out = await t.run(copy);
    expect(out).toContain('%PKI-3-CERTIFICATE_INVALID_NOT_YET_VALID');
    await expectNothingWritten();
    t.router.clock.set(new Date(NOW));
  });

  it('without any authenticated trustpoint nothing is trusted', async () => {
    await t.run('configure terminal', 'no crypto pki trustpoint LAB', 'yes', 'end');
    const out = await t.run(copy);
    expect(out).toContain('No trustpoint has an authenticated CA certificate');
    await expectNothingWritten();
  });

  it('copy http:// needs no certificate', async () => {
    const out = await t.run(`copy http://www.cisco.com/images/${IMAGE} bootflash:`);
    expect(out).toContain('[OK - 307200 bytes]');
    expect(await t.run(`copy bootflash:${IMAGE} http://www.cisco.com/x`)).toContain('(Operation not supported)');
  });
});
