/**
 * Issue 7 item 3 (TFTP): a flood of read requests that are never acknowledged must not
 * hold sockets and files for long or without limit. A `timeout=255` option is declined,
 * transfers are capped per client and in all (the rest refused at once with a TFTP error),
 * a silent peer is given up on within the retries, descriptors return to their baseline,
 * and another client is served at once while the flood runs.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { decode, encodeRequest } from '../../servers/tftp/packets.ts';
import { randomLoopback } from '../helpers/net.ts';

let root: string;
let server: TftpServer;
const fds = () => readdirSync('/proc/self/fd').length;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'flashlab-tftpflood-'));
  writeFileSync(path.join(root, 'image.bin'), Buffer.alloc(100_000, 7));
  server = new TftpServer({ address: randomLoopback(), port: 0, root, timeoutSec: 1, retries: 2, maxSessionsPerClient: 8, maxSessions: 20 });
  await server.start();
});
afterAll(async () => {
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Sends one RRQ from `address` and returns the first answer (decoded), never acknowledging. */
function firstAnswer(address: string, options: Record<string, string> = {}, waitMs = 2000): Promise<{ sock: dgram.Socket; answer?: ReturnType<typeof decode>; ms: number }> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const t0 = performance.now();
    const timer = setTimeout(() => resolve({ sock, ms: performance.now() - t0 }), waitMs);
    sock.once('message', (m) => {
      clearTimeout(timer);
      resolve({ sock, answer: decode(m), ms: performance.now() - t0 });
    });
    sock.bind(0, address, () => sock.send(encodeRequest('RRQ', 'image.bin', 'octet', Object.entries(options)), server.port, server.address));
  });
}

describe('TFTP server under a flood of unacknowledged requests', () => {
  it('declines timeout=255, caps sessions, answers others at once, and frees everything', async () => {
    const baseline = fds();
    const flooder = randomLoopback();
    const flood = await Promise.all(Array.from({ length: 30 }, () => firstAnswer(flooder, { timeout: '255', tsize: '0' })));
    const oacks = flood.filter((f) => f.answer?.ok && f.answer.packet.op === 'OACK');
    const refused = flood.filter((f) => f.answer?.ok && f.answer.packet.op === 'ERROR');
    expect(oacks.length).toBe(8);
    expect(refused.length).toBe(22);
    for (const o of oacks) {
      const p = o.answer!.ok ? o.answer!.packet : undefined;
      expect(p && p.op === 'OACK' ? Object.fromEntries(p.options) : {}).not.toHaveProperty('timeout');
    }
    const r = refused[0]!.answer!;
    expect(r.ok && r.packet.op === 'ERROR' ? r.packet.message : '').toMatch(/Server busy/);

    // Another client is served while the flooder's sessions hang.
    // The best of three: a loaded CI machine may delay one datagram, a stalled server all.
    const others = [];
    for (let i = 0; i < 3; i++) others.push(await firstAnswer(randomLoopback()));
    for (const other of others) expect(other.answer?.ok && other.answer.packet.op).toBe('DATA');
    expect(Math.min(...others.map((o) => o.ms))).toBeLessThan(100);

    for (const f of [...flood, ...others]) f.sock.close();
    // Silent peers are given up on within (retries + 1) x timeout = 3 s here.
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && fds() > baseline + 2) await new Promise((res) => setTimeout(res, 200));
    expect(fds()).toBeLessThanOrEqual(baseline + 2);
    expect(server.log.filter((e) => e.outcome === 'timeout').length).toBeGreaterThanOrEqual(8);
  });
});
