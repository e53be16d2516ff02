/**
 * TFTP wire format: RFC 1350 packets plus the OACK of RFC 2347.
 *
 * Decoding never throws: a malformed datagram yields `{ ok: false, error }` so a socket
 * handler can answer ERROR 4 and carry on. The hot path (DATA/ACK during a transfer) uses
 * the small `peek*`/`write*` helpers instead, which allocate nothing.
 */

export const OP = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof OP)[keyof typeof OP];

/** ERROR codes of RFC 1350 (0-7) and RFC 2347 (8). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_NEGOTIATION: 8,
} as const;

/** Fixed texts, so an error never carries a server path or other internal detail. */
export const ERROR_TEXT: Readonly<Record<number, string>> = {
  0: 'Undefined error',
  1: 'File not found',
  2: 'Access violation',
  3: 'Disk full or allocation exceeded',
  4: 'Illegal TFTP operation',
  5: 'Unknown transfer ID',
  6: 'File already exists',
  7: 'No such user',
  8: 'Option negotiation failed',
};

/** Largest blksize RFC 2348 allows (fits a 65535-byte IPv4 datagram with IP+UDP headers). */
export const MAX_BLKSIZE = 65464;
export const MIN_BLKSIZE = 8;
export const DEFAULT_BLKSIZE = 512;

/** Option names and values; names are lower-cased on decode (RFC 2347: case-insensitive). */
export type TftpOptions = Map<string, string>;

export interface RequestPacket {
  op: 'RRQ' | 'WRQ';
  filename: string;
  /** Lower-cased transfer mode ("octet", "netascii", "mail"). */
  mode: string;
  options: TftpOptions;
}
export interface DataPacket {
  op: 'DATA';
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: 'ACK';
  block: number;
}
export interface ErrorPacket {
  op: 'ERROR';
  code: number;
  message: string;
}
export interface OackPacket {
  op: 'OACK';
  options: TftpOptions;
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export interface TftpDecodeError {
  kind: 'truncated' | 'unknown-opcode' | 'malformed';
  /** The opcode read from the datagram, when there were at least two bytes. */
  opcode?: number;
  message: string;
}

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; error: TftpDecodeError };

const fail = (kind: TftpDecodeError['kind'], message: string, opcode?: number): DecodeResult => ({
  ok: false,
  error: { kind, message, opcode },
});

/** Splits NUL-terminated strings starting at `from`; null when the last one lacks its NUL. */
function splitStrings(buf: Buffer, from: number): string[] | null {
  const out: string[] = [];
  let start = from;
  while (start < buf.length) {
    const end = buf.indexOf(0, start);
    if (end < 0) return null;
    out.push(buf.toString('utf8', start, end));
    start = end + 1;
  }
  return out;
}

function parseOptions(parts: string[]): TftpOptions | null {
  // Some clients pad the request with extra NULs: an empty trailing name is harmless.
  // (an empty name with an empty value is padding too; an empty value alone is kept).
  while (parts.length > 0 && parts[parts.length - 1] === '' && (parts.length % 2 === 1 || parts[parts.length - 2] === '')) parts.pop();
  if (parts.length % 2 !== 0) return null;
  const opts: TftpOptions = new Map();
  for (let i = 0; i < parts.length; i += 2) {
    const name = parts[i]!.toLowerCase();
    if (name === '') return null;
    // RFC 2347 does not say which duplicate wins; keep the first, deterministic and cheap.
    if (!opts.has(name)) opts.set(name, parts[i + 1]!);
  }
  return opts;
}

export function decode(buf: Buffer): DecodeResult {
  if (buf.length < 2) return fail('truncated', 'datagram shorter than an opcode');
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case OP.RRQ:
    case OP.WRQ: {
      const parts = splitStrings(buf, 2);
      if (parts === null) return fail('malformed', 'request string not NUL-terminated', opcode);
      if (parts.length < 2) return fail('malformed', 'request lacks filename or mode', opcode);
      const filename = parts[0]!;
      const mode = parts[1]!.toLowerCase();
      if (filename === '') return fail('malformed', 'empty filename', opcode);
      if (mode === '') return fail('malformed', 'empty mode', opcode);
      const options = parseOptions(parts.slice(2));
      if (options === null) return fail('malformed', 'option without a value', opcode);
      return { ok: true, packet: { op: opcode === OP.RRQ ? 'RRQ' : 'WRQ', filename, mode, options } };
    }
    case OP.DATA:
      if (buf.length < 4) return fail('truncated', 'DATA without block number', opcode);
      return { ok: true, packet: { op: 'DATA', block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case OP.ACK:
      // Trailing bytes after the block number are tolerated: some stacks pad small datagrams.
      if (buf.length < 4) return fail('truncated', 'ACK without block number', opcode);
      return { ok: true, packet: { op: 'ACK', block: buf.readUInt16BE(2) } };
    case OP.ERROR: {
      if (buf.length < 4) return fail('truncated', 'ERROR without code', opcode);
      const end = buf.indexOf(0, 4);
      // A missing final NUL is common enough in the wild to accept.
      const message = buf.toString('utf8', 4, end < 0 ? buf.length : end);
      return { ok: true, packet: { op: 'ERROR', code: buf.readUInt16BE(2), message } };
    }
    case OP.OACK: {
      const parts = splitStrings(buf, 2);
      if (parts === null) return fail('malformed', 'OACK string not NUL-terminated', opcode);
      const options = parseOptions(parts);
      if (options === null) return fail('malformed', 'option without a value', opcode);
      return { ok: true, packet: { op: 'OACK', options } };
    }
    default:
      return fail('unknown-opcode', `unknown opcode ${opcode}`, opcode);
  }
}

function strings(op: number, list: readonly string[]): Buffer {
  let len = 2;
  const encoded = list.map((s) => Buffer.from(s, 'utf8'));
  for (const b of encoded) {
    if (b.includes(0)) throw new RangeError('TFTP strings cannot contain NUL');
    len += b.length + 1;
  }
  const out = Buffer.alloc(len);
  out.writeUInt16BE(op, 0);
  let at = 2;
  for (const b of encoded) {
    b.copy(out, at);
    at += b.length + 1; // the NUL is already there (alloc zero-fills)
  }
  return out;
}

function optionList(options?: Iterable<readonly [string, string]>): string[] {
  const list: string[] = [];
  if (options) for (const [k, v] of options) list.push(k, v);
  return list;
}

export function encodeRequest(
  op: 'RRQ' | 'WRQ',
  filename: string,
  mode = 'octet',
  options?: Iterable<readonly [string, string]>,
): Buffer {
  return strings(op === 'RRQ' ? OP.RRQ : OP.WRQ, [filename, mode, ...optionList(options)]);
}

export function encodeOack(options: Iterable<readonly [string, string]>): Buffer {
  return strings(OP.OACK, optionList(options));
}

export function encodeData(block: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  writeHeader(out, OP.DATA, block);
  data.copy(out, 4);
  return out;
}

export function encodeAck(block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  writeHeader(out, OP.ACK, block);
  return out;
}

export function encodeError(code: number, message?: string): Buffer {
  const text = Buffer.from(message ?? ERROR_TEXT[code] ?? ERROR_TEXT[0]!, 'utf8');
  const out = Buffer.alloc(5 + text.length);
  out.writeUInt16BE(OP.ERROR, 0);
  out.writeUInt16BE(code & 0xffff, 2);
  text.copy(out, 4);
  return out;
}

export function encode(p: TftpPacket): Buffer {
  switch (p.op) {
    case 'RRQ':
    case 'WRQ':
      return encodeRequest(p.op, p.filename, p.mode, p.options);
    case 'DATA':
      return encodeData(p.block, p.data);
    case 'ACK':
      return encodeAck(p.block);
    case 'ERROR':
      return encodeError(p.code, p.message);
    case 'OACK':
      return encodeOack(p.options);
  }
}

/** Writes a 4-byte DATA/ACK header; `block` is taken modulo 2^16 (rollover to 0). */
export function writeHeader(buf: Buffer, op: number, block: number): void {
  buf[0] = 0;
  buf[1] = op;
  buf[2] = (block >>> 8) & 0xff;
  buf[3] = block & 0xff;
}

/** Opcode of a datagram, or -1 when it is too short. */
export function peekOpcode(buf: Buffer): number {
  return buf.length >= 2 ? (buf[0]! << 8) | buf[1]! : -1;
}

/** Block number of a DATA/ACK datagram (caller checked length >= 4). */
export function peekBlock(buf: Buffer): number {
  return (buf[2]! << 8) | buf[3]!;
}

/** Parses an option value as a decimal integer within [min, max]; undefined when invalid. */
export function intOption(value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}
