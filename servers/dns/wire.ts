/**
 * A bounded first look at a DNS message, before dns2 parses it. dns2 trusts the section
 * counts of the header: a 30-byte packet claiming 65535 records of each kind costs it
 * seconds of CPU on the lab's one event loop. Here every count and every label is checked
 * against the bytes actually present, in time linear in the packet's length, so only a
 * plain query (one question, at most one EDNS OPT record) ever reaches the parser.
 */

export const HEADER_BYTES = 12;
/** A query larger than this is not a query a resolver sends (EDNS buffers top out at 4096). */
export const MAX_QUERY_BYTES = 4096;

export type QueryVerdict =
  | { ok: true }
  /** Not worth an answer (a response, a runt): dropped in silence, as BIND does. */
  | { ok: false; drop: true; why: string }
  /** A header we can answer with FORMERR. */
  | { ok: false; drop: false; why: string };

const u16 = (b: Buffer, at: number) => (b[at]! << 8) | b[at + 1]!;

/** Walks one uncompressed name from `at`; returns the offset after it, or a reason. */
function skipName(b: Buffer, at: number): number | string {
  let total = 0;
  for (let guard = 0; guard < 128; guard++) {
    if (at >= b.length) return 'name runs past the end';
    const len = b[at]!;
    if (len === 0) return at + 1;
    // A query's names come first in the message: a compression pointer has nothing to point at.
    if ((len & 0xc0) !== 0) return 'compressed or extended label in a query';
    if (len > 63) return 'label longer than 63';
    total += len + 1;
    if (total > 255) return 'name longer than 255';
    at += len + 1;
  }
  return 'too many labels';
}

export function checkQuery(b: Buffer): QueryVerdict {
  if (b.length < HEADER_BYTES) return { ok: false, drop: true, why: 'shorter than a header' };
  if ((b[2]! & 0x80) !== 0) return { ok: false, drop: true, why: 'a response, not a query' };
  if (b.length > MAX_QUERY_BYTES) return { ok: false, drop: false, why: `longer than ${MAX_QUERY_BYTES} bytes` };
  const qd = u16(b, 4);
  const an = u16(b, 6);
  const ns = u16(b, 8);
  const ar = u16(b, 10);
  if (qd !== 1) return { ok: false, drop: false, why: `${qd} questions` };
  if (an !== 0 || ns !== 0) return { ok: false, drop: false, why: 'answer or authority records in a query' };
  if (ar > 1) return { ok: false, drop: false, why: `${ar} additional records` };
  let at = skipName(b, HEADER_BYTES);
  if (typeof at === 'string') return { ok: false, drop: false, why: at };
  at += 4; // QTYPE, QCLASS
  if (at > b.length) return { ok: false, drop: false, why: 'question runs past the end' };
  if (ar === 1) {
    // EDNS OPT: root name, TYPE, CLASS, TTL, RDLENGTH, RDATA.
    const afterName = skipName(b, at);
    if (typeof afterName === 'string') return { ok: false, drop: false, why: `additional record: ${afterName}` };
    at = afterName + 10;
    if (at > b.length) return { ok: false, drop: false, why: 'additional record runs past the end' };
    at += u16(b, at - 2);
    if (at > b.length) return { ok: false, drop: false, why: 'additional record data runs past the end' };
  }
  if (at !== b.length) return { ok: false, drop: false, why: `${b.length - at} bytes after the message` };
  return { ok: true };
}

/** A FORMERR answer made from the request's header alone (nothing else of it is trusted). */
export function formErr(b: Buffer): Buffer {
  const r = Buffer.alloc(HEADER_BYTES);
  r[0] = b[0]!;
  r[1] = b[1]!;
  // QR=1, the request's opcode, RD copied; RCODE 1 (FORMERR); every count zero.
  r[2] = 0x80 | (b[2]! & 0x79);
  r[3] = 0x01;
  return r;
}
