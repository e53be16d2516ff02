/**
 * The lab DNS server, on dns2: authoritative for its own table of A records, NXDOMAIN for
 * every other name, and it never forwards or looks anything up itself.
 */
import { isIPv4, type Socket } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import dns2 from 'dns2';

const { Packet } = dns2;
type DnsPacket = InstanceType<typeof dns2.Packet>;
type Udp = InstanceType<typeof dns2.UDPServer>;
type Tcp = InstanceType<typeof dns2.TCPServer>;

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
}

export interface DnsLogEntry {
  time: Date;
  transport: 'udp' | 'tcp';
  from: string;
  name: string;
  /** Query type as a number (1 = A). */
  type: number;
  /** 'answer' (with `address`), 'nodata', 'nxdomain', 'notimp', or 'dropped' (down fault). */
  result: 'answer' | 'nodata' | 'nxdomain' | 'notimp' | 'dropped';
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
  private udp?: Udp;
  private tcp?: Tcp;
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
      const udp = new dns2.UDPServer({ type: 'udp4' });
      udp.on('request', (req, send, client) => this.answer(req, send, 'udp', client as RemoteInfo));
      udp.on('requestError', () => {}); // malformed datagram: nothing to answer
      udp.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.opts.port, this.addr, () => {
          udp.removeListener('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      if (this.opts.tcp === false) {
        this.udp = udp;
        this.boundPort = port;
        return;
      }
      const tcp = new dns2.TCPServer();
      tcp.on('request', (req, send, client) => this.answer(req, send, 'tcp', client as Socket));
      tcp.on('requestError', () => {});
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
      // TCP clients may hold idle pipelined connections open: close() alone would wait for them.
      (tcp as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  }

  private answer(
    req: DnsPacket,
    send: (response: DnsPacket | Buffer) => Promise<Buffer>,
    transport: 'udp' | 'tcp',
    client: RemoteInfo | Socket,
  ): void {
    const from = (client as Socket).remoteAddress ?? (client as RemoteInfo).address;
    const q = req.questions[0];
    const entry = (result: DnsLogEntry['result'], address?: string) =>
      this.log.push({ time: new Date(), transport, from, name: q ? canon(q.name) : '', type: q?.type ?? 0, result, address });
    if (this.faults.down) {
      entry('dropped');
      return;
    }
    const res = Packet.createResponseFromRequest(req);
    res.header.aa = 1;
    res.header.ra = 0; // no recursion offered: nothing is ever forwarded
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
    send(res).catch(() => {});
  }
}
