/**
 * Protocol fuzz (issue 7, "How to show it"): random and mutated TFTP and DNS datagrams,
 * DNS-over-TCP frames and FTP command lines against the lab's real servers, sized for CI;
 * FLASHLAB_FUZZ_PACKETS raises the count for a soak run. After the storm every server still
 * answers a well-formed request at once, and nothing threw an unhandled error.
 */
import dgram from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dns2 from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../../servers/dns/DnsServer.ts';
import { FtpServer } from '../../servers/ftp/FtpServer.ts';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { decode, encodeRequest } from '../../servers/tftp/packets.ts';
import { randomLoopback } from '../helpers/net.ts';

const PACKETS = Number(process.env.FLASHLAB_FUZZ_PACKETS ?? 3000);
const problems: unknown[] = [];
const onProblem = (e: unknown) => problems.push(e);
let root: string;
let tftp: TftpServer;
let dns: DnsServer;
let ftp: FtpServer;

function dnsQuery(name: string, id: number): Buffer {
  const p = new dns2.Packet();
  p.header.id = id;
  p.questions.push({ name, type: dns2.Packet.TYPE.A, class: dns2.Packet.CLASS.IN } as (typeof p.questions)[number]);
  return p.toBuffer();
}

/** A valid packet with a few random bytes flipped, cut or appended; sometimes pure noise. */
function mutate(valid: Buffer): Buffer {
  const r = randomInt(10);
  if (r === 0) return randomBytes(randomInt(0, 600));
  const b = Buffer.from(valid);
  for (let i = randomInt(1, 4); i > 0; i--) b[randomInt(b.length)] = randomInt(256);
  if (r === 1) return b.subarray(0, randomInt(b.length));
  if (r === 2) return Buffer.concat([b, randomBytes(randomInt(1, 64))]);
  return b;
}

const FTP_WORDS = ['USER', 'PASS', 'PASV', 'EPSV', 'PORT', 'EPRT', 'LIST', 'NLST', 'RETR', 'STOR', 'SIZE', 'CWD', 'CDUP', 'MKD', 'RMD', 'DELE', 'RNFR', 'RNTO', 'SITE', 'OPTS', 'FEAT', 'TYPE', 'MODE', 'STRU', 'REST', 'ABOR', 'STAT', 'HELP', 'NOOP', 'AUTH', 'PBSZ', 'PROT', 'MDTM', 'XYZ'];
function ftpLine(): string {
  const word = FTP_WORDS[randomInt(FTP_WORDS.length)]!;
  const args = ['', ' ', ' ..', ' ../../etc/passwd', ' /', ' CHMOD', ' CHMOD 777', ' 1,2,3', ' |1|127.0.0.1|1|', ' %s%s%n', ` ${'A'.repeat(randomInt(1, 3000))}`, ` ${randomBytes(8).toString('latin1').replace(/[\r\n]/g, '')}`];
  return word + args[randomInt(args.length)]!;
}

function pasvRange(): [number, number] {
  const base = randomInt(20000, 60000);
  return [base, base + 9];
}

beforeAll(async () => {
  process.on('unhandledRejection', onProblem);
  process.on('uncaughtException', onProblem);
  root = mkdtempSync(path.join(tmpdir(), 'flashlab-fuzz-'));
  mkdirSync(path.join(root, 'home'));
  writeFileSync(path.join(root, 'home', 'f.bin'), 'data');
  writeFileSync(path.join(root, 'f.bin'), 'data');
  tftp = new TftpServer({ address: randomLoopback(), port: 0, root, retries: 1, timeoutSec: 1 });
  dns = new DnsServer({ address: randomLoopback(), port: 0, records: { 'ftp.lab.test': '127.0.0.21' } });
  ftp = new FtpServer({ address: randomLoopback(), port: 0, root, pasvRange: pasvRange(), accounts: [{ user: 'lab', password: 'lab', home: 'home', write: true }], loginGuard: { attempts: 1_000_000 } });
  await Promise.all([tftp.start(), dns.start(), ftp.start()]);
});

afterAll(async () => {
  process.off('unhandledRejection', onProblem);
  process.off('uncaughtException', onProblem);
  await Promise.all([tftp?.stop(), dns?.stop(), ftp?.stop()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

function udpAsk(address: string, port: number, msg: Buffer, waitMs = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => (s.close(), resolve(undefined)), waitMs);
    s.once('message', (m) => (clearTimeout(t), s.close(), resolve(m)));
    s.send(msg, port, address);
  });
}

describe(`protocol fuzz (${PACKETS} packets per server)`, () => {
  it('TFTP and DNS datagrams, DNS TCP frames, FTP lines: servers keep answering', async () => {
    const sender = dgram.createSocket('udp4');
    const tftpValid = [encodeRequest('RRQ', 'f.bin', 'octet', [['blksize', '1024'], ['tsize', '0']]), encodeRequest('WRQ', 'x.bin', 'netascii')];
    for (let i = 0; i < PACKETS; i++) {
      sender.send(mutate(tftpValid[i % 2]!), tftp.port, tftp.address);
      sender.send(mutate(dnsQuery('ftp.lab.test', i & 0xffff)), dns.port, dns.address);
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    // DNS over TCP: mutated frames on a few connections.
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const sock = connect(dns.port, dns.address);
        sock.on('error', () => {});
        for (let i = 0; i < PACKETS / 20; i++) {
          const m = mutate(dnsQuery('ftp.lab.test', i));
          const f = Buffer.alloc(2);
          f.writeUInt16BE(randomInt(4) === 0 ? randomInt(65536) : m.length);
          sock.write(Buffer.concat([f, m]));
        }
        await new Promise((r) => setTimeout(r, 50));
        sock.destroy();
      }),
    );
    // FTP: random lines on a few logged-in and anonymous sessions.
    await Promise.all(
      Array.from({ length: 4 }, async (_, n) => {
        const sock = connect(ftp.port, ftp.address);
        sock.on('error', () => {});
        sock.on('data', () => {});
        await new Promise((r) => sock.once('connect', r));
        if (n % 2 === 0) sock.write('USER lab\r\nPASS lab\r\n');
        for (let i = 0; i < PACKETS / 20; i++) sock.write(`${ftpLine()}\r\n`);
        await new Promise((r) => setTimeout(r, 300));
        sock.destroy();
      }),
    );
    sender.close();
    await new Promise((r) => setTimeout(r, 200));

    // Everyone still answers a well-formed request.
    const d = await udpAsk(dns.address, dns.port, dnsQuery('ftp.lab.test', 4711));
    expect(d && dns2.Packet.parse(d).answers[0]?.address).toBe('127.0.0.21');
    const t = await udpAsk(tftp.address, tftp.port, encodeRequest('RRQ', 'f.bin'));
    const tp = t ? decode(t) : undefined;
    expect(tp?.ok && tp.packet.op).toBe('DATA');
    const greeting = await new Promise<string>((resolve) => {
      const s = connect(ftp.port, ftp.address);
      s.once('data', (b) => (s.destroy(), resolve(b.toString())));
      s.once('error', () => resolve('(error)'));
    });
    expect(greeting).toMatch(/^220/);
    expect(problems).toEqual([]);
  });
});
