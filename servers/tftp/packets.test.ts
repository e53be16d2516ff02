import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  intOption,
  peekBlock,
  peekOpcode,
  writeHeader,
  type TftpPacket,
} from './packets.ts';
import { netasciiDecoder, netasciiEncode } from './session.ts';

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

function decoded(buf: Buffer): TftpPacket {
  const r = decode(buf);
  if (!r.ok) throw new Error(`unexpected decode error: ${r.error.message}`);
  return r.packet;
}

describe('TFTP packet encoding', () => {
  it('encodes an RRQ byte for byte as RFC 1350/2347 lay it out', () => {
    const b = encodeRequest('RRQ', 'dir/file.bin', 'octet', [
      ['blksize', '1468'],
      ['tsize', '0'],
    ]);
    expect(b).toEqual(bytes([0, 1], 'dir/file.bin', [0], 'octet', [0], 'blksize', [0], '1468', [0], 'tsize', [0], '0', [0]));
  });

  it('encodes WRQ, DATA, ACK, ERROR and OACK', () => {
    expect(encodeRequest('WRQ', 'a', 'netascii')).toEqual(bytes([0, 2], 'a', [0], 'netascii', [0]));
    expect(encodeData(258, Buffer.from('xyz'))).toEqual(bytes([0, 3, 1, 2], 'xyz'));
    expect(encodeAck(65535)).toEqual(bytes([0, 4, 0xff, 0xff]));
    expect(encodeError(1)).toEqual(bytes([0, 5, 0, 1], 'File not found', [0]));
    expect(encodeError(0, 'custom')).toEqual(bytes([0, 5, 0, 0], 'custom', [0]));
    expect(encodeOack([['windowsize', '16']])).toEqual(bytes([0, 6], 'windowsize', [0], '16', [0]));
  });

  it('wraps block numbers modulo 65536 (rollover to 0)', () => {
    expect(encodeAck(65536)).toEqual(bytes([0, 4, 0, 0]));
    expect(encodeData(65537, Buffer.alloc(0))).toEqual(bytes([0, 3, 0, 1]));
    const h = Buffer.alloc(4);
    writeHeader(h, 3, 70000);
    expect(peekOpcode(h)).toBe(3);
    expect(peekBlock(h)).toBe(70000 - 65536);
  });

  it('refuses NUL inside strings rather than emitting a corrupt packet', () => {
    expect(() => encodeRequest('RRQ', 'a\0b')).toThrow(RangeError);
  });
});

describe('TFTP packet decoding', () => {
  it('round-trips every packet type', () => {
    const packets: TftpPacket[] = [
      { op: 'RRQ', filename: 'images/c8000v.bin', mode: 'octet', options: new Map([['blksize', '8192']]) },
      { op: 'WRQ', filename: 'cfg', mode: 'netascii', options: new Map() },
      { op: 'DATA', block: 7, data: Buffer.from('hello') },
      { op: 'DATA', block: 1, data: Buffer.alloc(0) },
      { op: 'ACK', block: 0 },
      { op: 'ERROR', code: 2, message: 'Access violation' },
      { op: 'OACK', options: new Map([['tsize', '1234'], ['timeout', '3']]) },
    ];
    for (const p of packets) expect(decoded(encode(p))).toEqual(p);
  });

  it('lower-cases mode and option names (RFC 2347: case-insensitive), keeps values', () => {
    const p = decoded(bytes([0, 1], 'File', [0], 'OcTeT', [0], 'BLKSIZE', [0], '1468', [0], 'TSize', [0], '0', [0]));
    expect(p).toEqual({ op: 'RRQ', filename: 'File', mode: 'octet', options: new Map([['blksize', '1468'], ['tsize', '0']]) });
  });

  it('keeps the first of duplicated options and tolerates trailing NUL padding', () => {
    const p = decoded(bytes([0, 1], 'f', [0], 'octet', [0], 'blksize', [0], '512', [0], 'blksize', [0], '9000', [0], [0, 0]));
    expect(p.op === 'RRQ' && p.options.get('blksize')).toBe('512');
  });

  it('returns typed errors for malformed input instead of throwing', () => {
    const cases: Array<[Buffer, string]> = [
      [Buffer.alloc(0), 'truncated'],
      [Buffer.from([0]), 'truncated'],
      [bytes([0, 1], 'file'), 'malformed'], // filename not terminated
      [bytes([0, 1], 'file', [0]), 'malformed'], // no mode
      [bytes([0, 1], [0], 'octet', [0]), 'malformed'], // empty filename
      [bytes([0, 2], 'f', [0], 'octet', [0], 'blksize', [0]), 'malformed'], // option without value
      [bytes([0, 2], 'f', [0], 'octet', [0], 'blksize', [0], '8'), 'malformed'], // value unterminated
      [bytes([0, 3, 0]), 'truncated'],
      [bytes([0, 4, 0]), 'truncated'],
      [bytes([0, 5, 0]), 'truncated'],
      [bytes([0, 6], 'blksize'), 'malformed'],
      [bytes([0, 9, 0, 0]), 'unknown-opcode'],
      [bytes([0xff, 0xff]), 'unknown-opcode'],
    ];
    for (const [buf, kind] of cases) {
      const r = decode(buf);
      expect(r.ok, buf.toString('hex')).toBe(false);
      if (!r.ok) expect(r.error.kind, buf.toString('hex')).toBe(kind);
    }
  });

  it('never throws on random garbage', () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rnd() * 40);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd() < 0.3 ? 0 : Math.floor(rnd() * 256);
      if (len >= 2 && rnd() < 0.7) b[0] = 0, (b[1] = 1 + Math.floor(rnd() * 7));
      expect(() => decode(b)).not.toThrow();
    }
  });

  it('accepts an ERROR whose message lacks the final NUL', () => {
    expect(decoded(bytes([0, 5, 0, 1], 'nope'))).toEqual({ op: 'ERROR', code: 1, message: 'nope' });
  });

  it('DATA payload is a view on the datagram (no copy on the hot path)', () => {
    const dgram = bytes([0, 3, 0, 2], 'abc');
    const p = decoded(dgram);
    expect(p.op === 'DATA' && p.data.buffer).toBe(dgram.buffer);
  });
});

describe('option values', () => {
  it('parses decimal integers within bounds only', () => {
    expect(intOption('1468', 8, 65464)).toBe(1468);
    expect(intOption('7', 8, 65464)).toBeUndefined();
    expect(intOption('65465', 8, 65464)).toBeUndefined();
    expect(intOption('0x10', 0, 100)).toBeUndefined();
    expect(intOption('-1', 0, 100)).toBeUndefined();
    expect(intOption('', 0, 100)).toBeUndefined();
    expect(intOption(undefined, 0, 100)).toBeUndefined();
    expect(intOption('12a', 0, 100)).toBeUndefined();
  });
});

describe('netascii', () => {
  async function encodeAll(chunks: string[]): Promise<string> {
    async function* src() {
      for (const c of chunks) yield Buffer.from(c, 'latin1');
    }
    const out: Buffer[] = [];
    for await (const b of netasciiEncode(src())) out.push(b);
    return Buffer.concat(out).toString('latin1');
  }

  it('encodes LF as CR LF and a bare CR as CR NUL', async () => {
    expect(await encodeAll(['a\nb\rc', '\n'])).toBe('a\r\nb\r\0c\r\n');
  });

  it('decodes back, including a CR split across two blocks', () => {
    const d = netasciiDecoder();
    const parts = [d.push(Buffer.from('line1\r', 'latin1')), d.push(Buffer.from('\nx\r', 'latin1')), d.push(Buffer.from('\0y', 'latin1')), d.end()];
    expect(Buffer.concat(parts).toString('latin1')).toBe('line1\nx\ry');
  });
});
