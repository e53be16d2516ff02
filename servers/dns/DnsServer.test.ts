/**
 * DnsServer and RouterResolver over real UDP/TCP sockets on random loopback addresses.
 * Queries go to the lab server only: dns2's client and node:dns are both pointed at it.
 */
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import dns2 from 'dns2';
import { afterEach, describe, expect, it } from 'vitest';
import { ResolveError, RouterResolver } from '../../router/net/Resolver.ts';
import { randomLoopback } from '../../test/helpers/net.ts';
import { DnsServer, type DnsServerOptions } from './DnsServer.ts';

const servers: DnsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function start(over: Partial<DnsServerOptions> = {}): Promise<DnsServer> {
  const s = new DnsServer({
    address: randomLoopback(),
    port: 0,
    records: { 'ftp.lab.test': '127.0.0.21', 'tftp.lab.test': '127.0.0.22' },
    ...over,
  });
  await s.start();
  servers.push(s);
  return s;
}

/** node:dns aimed at one lab server only. */
function nodeResolver(s: DnsServer, timeout = 1000): Resolver {
  const r = new Resolver({ timeout, tries: 1 });
  r.setServers([`${s.address}:${s.port}`]);
  return r;
}

async function errCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  throw new Error('expected a failure');
}

async function resolveError(p: Promise<unknown>): Promise<ResolveError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ResolveError) return e;
    throw e;
  }
  throw new Error('expected a ResolveError');
}

describe('DnsServer', () => {
  it('answers A queries for known names over UDP and TCP', async () => {
    const s = await start();
    expect(await nodeResolver(s).resolve4('ftp.lab.test')).toEqual(['127.0.0.21']);
    const tcp = dns2.TCPClient({ dns: s.address, port: s.port });
    const res = await tcp('tftp.lab.test');
    expect(res.answers.map((a) => a.address)).toEqual(['127.0.0.22']);
    expect(s.log.map((e) => [e.transport, e.name, e.result])).toEqual([
      ['udp', 'ftp.lab.test', 'answer'],
      ['tcp', 'tftp.lab.test', 'answer'],
    ]);
  });

  it('answers NXDOMAIN (rcode 3) for unknown names and never forwards', async () => {
    const s = await start();
    expect(await errCode(nodeResolver(s).resolve4('www.example.com'))).toBe('ENOTFOUND');
    // Raw check of the rcode and the recursion-available bit.
    const sock = createSocket('udp4');
    const reply = await new Promise<Buffer>((resolve, reject) => {
      sock.once('message', resolve);
      sock.once('error', reject);
      const q = new dns2.Packet();
      q.header.id = 4242;
      q.header.rd = 1;
      q.questions.push({ name: 'unknown.lab.test', type: dns2.Packet.TYPE.A, class: dns2.Packet.CLASS.IN } as never);
      sock.send(q.toBuffer(), s.port, s.address);
    });
    sock.close();
    const parsed = dns2.Packet.parse(reply);
    expect(parsed.header.id).toBe(4242);
    expect(parsed.header.rcode).toBe(3);
    expect(parsed.header.ra).toBe(0);
    expect(parsed.answers).toEqual([]);
  });

  it('matches names case-insensitively and tolerates a trailing dot', async () => {
    const s = await start({ records: { 'FTP.Lab.Test.': '127.0.0.21' } });
    const r = nodeResolver(s);
    expect(await r.resolve4('ftp.lab.test')).toEqual(['127.0.0.21']);
    expect(await r.resolve4('FtP.LAB.tEsT')).toEqual(['127.0.0.21']);
    expect(await r.resolve4('ftp.lab.test.')).toEqual(['127.0.0.21']);
  });

  it('answers NODATA, not NXDOMAIN, for other types of a known name', async () => {
    const s = await start();
    expect(await errCode(nodeResolver(s).resolve6('ftp.lab.test'))).toBe('ENODATA');
  });

  it('serves updated records after setRecords', async () => {
    const s = await start();
    s.setRecords({ 'new.lab.test': '127.0.0.40' });
    const r = nodeResolver(s);
    expect(await r.resolve4('new.lab.test')).toEqual(['127.0.0.40']);
    expect(await errCode(r.resolve4('ftp.lab.test'))).toBe('ENOTFOUND');
  });

  it('nxdomain fault: a known name is answered NXDOMAIN', async () => {
    const s = await start({ faults: { nxdomain: ['ftp.lab.test'] } });
    const r = nodeResolver(s);
    expect(await errCode(r.resolve4('FTP.lab.test'))).toBe('ENOTFOUND');
    expect(await r.resolve4('tftp.lab.test')).toEqual(['127.0.0.22']);
  });

  it('down fault: nothing is answered and the router resolver reports timeout', async () => {
    const s = await start();
    s.setFaults({ down: true });
    const resolver = new RouterResolver({ nameServers: [{ address: s.address, port: s.port }], hosts: {}, timeoutMs: 300 });
    const t0 = Date.now();
    const err = await resolveError(resolver.resolve('ftp.lab.test'));
    expect(err.reason).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(s.log.at(-1)).toMatchObject({ name: 'ftp.lab.test', result: 'dropped' });
    s.setFaults({});
    expect(await resolver.resolve('ftp.lab.test')).toMatchObject({ address: '127.0.0.21', via: 'dns' });
  });
});

describe('RouterResolver', () => {
  it('returns literals as they are and prefers the ip host table', async () => {
    const s = await start();
    const resolver = new RouterResolver({
      nameServers: [{ address: s.address, port: s.port }],
      hosts: { 'FTP.lab.test': '127.0.0.99', backup: '127.0.0.98' },
    });
    expect(await resolver.resolve('127.0.0.5')).toEqual({ address: '127.0.0.5', via: 'literal' });
    expect(await resolver.resolve('ftp.lab.test')).toEqual({ address: '127.0.0.99', via: 'host-table' });
    expect(await resolver.resolve('BACKUP')).toEqual({ address: '127.0.0.98', via: 'host-table' });
    expect(await resolver.resolve('tftp.lab.test')).toEqual({ address: '127.0.0.22', via: 'dns', server: `${s.address}:${s.port}` });
    // Literals and the host table never touch DNS.
    expect(s.log.map((e) => e.name)).toEqual(['tftp.lab.test']);
  });

  it('appends ip domain name to unqualified names before asking, as IOS does', async () => {
    const s = await start();
    const resolver = new RouterResolver({ nameServers: [{ address: s.address, port: s.port }], hosts: {}, domain: 'lab.test' });
    expect(await resolver.resolve('ftp')).toMatchObject({ address: '127.0.0.21', via: 'dns' });
    // Only the completed name is asked: the bare one never reaches the server.
    expect(s.log.map((e) => [e.name, e.result])).toEqual([['ftp.lab.test', 'answer']]);
    // A dotted name is taken as complete.
    expect((await resolveError(resolver.resolve('ftp.other'))).reason).toBe('nxdomain');
    expect(s.log.at(-1)?.name).toBe('ftp.other');
    const bare = new RouterResolver({ nameServers: [{ address: s.address, port: s.port }], hosts: {} });
    expect((await resolveError(bare.resolve('ftp'))).reason).toBe('nxdomain');
  });

  it('moves to the next name server when one is silent', async () => {
    const down = await start({ faults: { down: true } });
    const up = await start();
    const resolver = new RouterResolver({
      nameServers: [
        { address: down.address, port: down.port },
        { address: up.address, port: up.port },
      ],
      hosts: {},
      timeoutMs: 300,
    });
    expect(await resolver.resolve('ftp.lab.test')).toEqual({ address: '127.0.0.21', via: 'dns', server: `${up.address}:${up.port}` });
  });

  it('reports no-server without name servers, or when nothing listens', async () => {
    const none = new RouterResolver({ nameServers: [], hosts: {} });
    expect((await resolveError(none.resolve('ftp.lab.test'))).reason).toBe('no-server');
    const s = await start();
    const port = s.port;
    const address = s.address;
    await s.stop();
    servers.splice(servers.indexOf(s), 1);
    const gone = new RouterResolver({ nameServers: [{ address, port }], hosts: {}, timeoutMs: 300 });
    // Loopback answers a datagram to a closed port with ICMP unreachable: refused at once.
    expect((await resolveError(gone.resolve('ftp.lab.test'))).reason).toBe('no-server');
  });
});
