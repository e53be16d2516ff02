/**
 * The lab DNS server: authoritative for its own table of A records, NXDOMAIN for every
 * other name, and it never forwards or looks anything up itself.
 *
 * dns2 parses and encodes messages; the sockets are our own (node:dgram, node:net) so that
 * every message is checked for bounds before dns2 sees it (servers/dns/wire.ts), responses
 * sent to us are ignored, and DNS over TCP answers any number of queries per connection
 * with bounded buffers, idle time and connection count (RFC 7766).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import dns2 from 'dns2';
import { checkQuery, formErr } from './wire.ts';

const { Packet } = dns2;
type DnsPacket = InstanceType<typeof dns2.Packet>;

export interface DnsFaults {
  /** Answer nothing: clients time out. */
  down?: boolean;
  /** Names answered NXDOMAIN even if known. */
  nxdomain?: string[];
}

export interface DnsServerOptions {
  address?: string;
  port: number;
  /** FQDN (lowercase) -> IPv4 address. */
  records: Record<string, string>;
  faults?: DnsFaults;
  /** Also serve DNS over TCP on the same port (default true). */
  tcp?: boolean;
  /** Log entries kept (oldest dropped first); default 10000. */
  logLimit?: number;
  /** Concurrent TCP connections; more are closed at once (default 64). */
  maxTcpConnections?: number;
  /** An idle TCP connection is closed after this (default 10 s, RFC 7766 §6.2.3). */
  tcpIdleMs?: number;
}

export interface DnsLogEntry {
  time: Date;
  transport: 'udp' | 'tcp';
  from: string;
  name: string;
  /** Query type as a number (1 = A). */
  type: number;
  /** 'answer' (with `address`), 'nodata', 'nxdomain', 'notimp', 'formerr' (malformed), or 'dropped' (down fault). */
  result: 'answer' | 'nodata' | 'nxdomain' | 'notimp' | 'formerr' | 'dropped';
  address?: string;
}

// Response codes (RFC 1035 4.1.1); dns2's types do not declare its RCODE table.
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;

/** Record TTL: short, so a scenario that edits records is not fighting caches. */
const TTL = 5;

/** Lowercase, no trailing dot: the one spelling used for lookups. */
function canon(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

function canonRecords(r: Record<string, string>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, addr] of Object.entries(r)) {
    if (!isIPv4(addr)) throw new Error(`DnsServer: ${name} -> ${addr} is not an IPv4 address`);
    m.set(canon(name), addr);
  }
  return m;
}

export class DnsServer {
  readonly log: DnsLogEntry[] = [];
  private records: Map<string, string>;
  private faults: DnsFaults;
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly conns = new Set<Socket>();
  private readonly addr: string;
  private boundPort = 0;

  constructor(private readonly opts: DnsServerOptions) {
    this.addr = opts.address ?? '127.0.0.1';
    this.records = canonRecords(opts.records);
    this.faults = { ...(opts.faults ?? {}) };
  }

  get address(): string {
    return this.addr;
  }

  get port(): number {
    return this.boundPort || this.opts.port;
  }

  setRecords(r: Record<string, string>): void {
    this.records = canonRecords(r);
  }

  setFaults(f: DnsFaults): void {
    this.faults = { ...f };
  }

  async start(): Promise<void> {
    if (this.udp) throw new Error('DnsServer already started');
    // With an ephemeral port, UDP picks it and TCP must get the same number: retry if taken.
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket('udp4');
      udp.on('message', (msg, rinfo) => {
        const reply = this.handle(msg, 'udp', rinfo.address);
        if (reply) udp.send(reply, rinfo.port, rinfo.address, () => {});
      });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.opts.port, this.addr, () => {
          udp.removeListener('error', reject);
          resolve();
        });
      });
      udp.on('error', () => {}); // a send to a vanished client: nothing to do
      const port = udp.address().port;
      if (this.opts.tcp === false) {
        this.udp = udp;
        this.boundPort = port;
        return;
      }
      const tcp = createServer((sock) => this.serveTcp(sock));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, this.addr, () => {
            tcp.removeListener('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && this.opts.port === 0 && attempt < 10) continue;
        throw e;
      }
      tcp.on('error', () => {});
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return;
    }
  }

  async stop(): Promise<void> {
    const { udp, tcp } = this;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp) {
      for (const c of this.conns) c.destroy();
      this.conns.clear();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  }

  /** DNS over TCP: length-prefixed messages, as many as the client sends, within bounds. */
  private serveTcp(sock: Socket): void {
    if (this.conns.size >= (this.opts.maxTcpConnections ?? 64)) {
      sock.destroy();
      return;
    }
    this.conns.add(sock);
    sock.setTimeout(this.opts.tcpIdleMs ?? 10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const reply = this.handle(msg, 'tcp', sock.remoteAddress ?? '');
        if (reply) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          sock.write(framed);
        }
      }
      // A frame can never exceed 65537 bytes: nothing more is ever held per connection.
      if (buf.length > 65_537) sock.destroy();
    });
  }

  /** One message in, the bytes to send back (or nothing). */
  private handle(msg: Buffer, transport: 'udp' | 'tcp', from: string): Buffer | undefined {
    const verdict = checkQuery(msg);
    if (!verdict.ok) {
      if (verdict.drop) return undefined;
      this.record({ time: new Date(), transport, from, name: '', type: 0, result: 'formerr' });
      return this.faults.down ? undefined : formErr(msg);
    }
    let req: DnsPacket;
    try {
      req = Packet.parse(msg);
    } catch {
      this.record({ time: new Date(), transport, from, name: '', type: 0, result: 'formerr' });
      return this.faults.down ? undefined : formErr(msg);
    }
    const res = this.answer(req, transport, from);
    if (!res) return undefined;
    try {
      return res.toBuffer();
    } catch {
      return formErr(msg);
    }
  }

  private record(entry: DnsLogEntry): void {
    this.log.push(entry);
    const limit = this.opts.logLimit ?? 10_000;
    // Trimmed in batches: one splice per tenth of the limit, not one per query.
    if (this.log.length > limit + Math.ceil(limit / 10)) this.log.splice(0, this.log.length - limit);
  }

  private answer(req: DnsPacket, transport: 'udp' | 'tcp', from: string): DnsPacket | undefined {
    const q = req.questions[0];
    const entry = (result: DnsLogEntry['result'], address?: string) =>
      this.record({ time: new Date(), transport, from, name: q ? canon(q.name) : '', type: q?.type ?? 0, result, address });
    if (this.faults.down) {
      entry('dropped');
      return undefined;
    }
    const res = Packet.createResponseFromRequest(req);
    res.header.aa = 1;
    res.header.ra = 0; // no recursion offered: nothing is ever forwarded
    // EDNS OPT records of the query are not echoed: the answer is plain DNS.
    res.additionals = [];
    if (req.header.opcode !== 0 || !q) {
      res.header.rcode = RCODE_NOTIMP;
      entry('notimp');
    } else {
      const name = canon(q.name);
      const address = this.faults.nxdomain?.some((n) => canon(n) === name) ? undefined : this.records.get(name);
      if (address === undefined) {
        res.header.rcode = RCODE_NXDOMAIN;
        entry('nxdomain');
      } else if (q.type === Packet.TYPE.A || q.type === Packet.TYPE.ANY) {
        // The question's own spelling is echoed back (resolvers may randomise letter case).
        res.answers.push({ name: q.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: TTL, address } as DnsPacket['answers'][number]);
        entry('answer', address);
      } else {
        // The name exists but has no record of that type (AAAA...): NODATA, not NXDOMAIN, so a
        // resolver asking both does not conclude the name is missing.
        entry('nodata');
      }
    }
    return res;
  }
}
