import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCa, newKey } from '../../lab/ca/LabCa.ts';
import { randomLoopback } from '../../test/helpers/net.ts';
import { CERT_MODES, IdaServer, parseLocatorAnswer, type CertMode, type TlsChain } from './IdaServer.ts';

const dir = mkdtempSync(join(tmpdir(), 'ida-test-'));
const address = randomLoopback();
const ca = LabCa.open(join(dir, 'ca'), new Date());
const key = newKey();
const now = Date.now();
const good: TlsChain = {
  keyPem: key,
  chainPem: ca.issueServer(key, { commonName: 'www.cisco.com', ips: [address], notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000) }) + ca.intermediate.certPem,
};
const certificates = Object.fromEntries(CERT_MODES.map((m) => [m, good])) as Record<CertMode, TlsChain>;
const root = join(dir, 'root');
mkdirSync(root);
writeFileSync(join(root, 'isr4300-universalk9.16.12.04.SPA.bin'), Buffer.alloc(4096, 7));
writeFileSync(join(dir, 'secret'), 'outside the root');

let server: IdaServer;

beforeAll(async () => {
  server = new IdaServer({
    address,
    port: 0,
    root,
    hostname: 'www.cisco.com',
    accounts: [
      { user: 'cco', password: 'cisco123', crypto: true },
      { user: 'nok9', password: 'nok9', crypto: false },
    ],
    catalog: [{ image: 'c3900-universalk9-mz.SPA.155-3.M.bin', url: 'ftp://ftp/c3900-universalk9-mz.SPA.155-3.M.bin', crypto: true }],
    certificates,
  });
  await server.start();
  await server.indexRoot();
});
afterAll(() => server.stop());

function call(path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const req = request(
      { host: address, port: server.port, path, method: body === undefined ? 'GET' : 'POST', ca: ca.root.certPem, servername: 'www.cisco.com', headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

const LOCATOR = '/cgi-bin/new-ida/locator/locator.pl';

describe('IDA locator', () => {
  it('answers a known image with its URL on a lab server', async () => {
    const r = await call(LOCATOR, 'username=cco&password=cisco123&image=c3900-universalk9-mz.SPA.155-3.M.bin');
    expect(r.status).toBe(200);
    expect(parseLocatorAnswer(r.text)).toEqual({ status: 'ok', url: 'ftp://ftp/c3900-universalk9-mz.SPA.155-3.M.bin' });
    expect(server.log.at(-1)).toMatchObject({ kind: 'locate', user: 'cco', image: 'c3900-universalk9-mz.SPA.155-3.M.bin', outcome: 'ok' });
  });

  it('answers its own images with an https URL, size and MD5 (older path, GET form)', async () => {
    const r = await call('/cgi-bin/ida/locator/locator.pl?username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin');
    const a = parseLocatorAnswer(r.text);
    expect(a).toMatchObject({ status: 'ok', url: 'https://www.cisco.com/images/isr4300-universalk9.16.12.04.SPA.bin', size: '4096' });
    expect(a.md5).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses wrong credentials, unregistered crypto downloads, unknown images and missing fields', async () => {
    expect((await call(LOCATOR, 'username=cco&password=nope&image=x.bin')).status).toBe(401);
    const nok9 = await call(LOCATOR, 'username=nok9&password=nok9&image=c3900-universalk9-mz.SPA.155-3.M.bin');
    expect(nok9.status).toBe(403);
    expect(parseLocatorAnswer(nok9.text).message).toMatch(/not registered .* register/i);
    expect((await call(LOCATOR, 'username=cco&password=cisco123&image=nothing.bin')).status).toBe(404);
    const missing = await call(LOCATOR, 'username=cco');
    expect(missing.status).toBe(400);
    expect(parseLocatorAnswer(missing.text).message).toBe('missing fields "password", "image"');
  });

  it('serves its images and nothing outside its root', async () => {
    const r = await call('/images/isr4300-universalk9.16.12.04.SPA.bin');
    expect(r.status).toBe(200);
    expect(r.text.length).toBe(4096);
    expect((await call('/images/..%2fsecret')).status).toBe(404);
    expect((await call('/images/%2e%2e/secret')).status).toBe(404);
  });

  it('faults: wrong credentials for everyone, HTTP 500, reset', async () => {
    server.setFaults({ wrongCredentials: true });
    expect((await call(LOCATOR, 'username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin')).status).toBe(401);
    server.setFaults({ http500: true });
    expect((await call(LOCATOR, 'username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin')).status).toBe(500);
    server.setFaults({ reset: true });
    await expect(call(LOCATOR, 'username=cco&password=cisco123&image=x')).rejects.toThrow(/ECONNRESET|socket hang up/);
    server.setFaults({});
    expect((await call(LOCATOR, 'username=cco&password=cisco123&image=isr4300-universalk9.16.12.04.SPA.bin')).status).toBe(200);
  });
});
