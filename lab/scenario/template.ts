/**
 * `{{ ... }}` in scenario texts, filled when the step runs (so a remembered value or a file
 * a server just received is current):
 *
 *   {{ name }}                 a variable (`vars:`, or remembered by an earlier step)
 *   {{ r1.address }}           a node's address; {{ ftp.fqdn }} its name in the lab domain
 *   {{ lab.domain }}           the lab's DNS domain; {{ lab.name }} the lab's name
 *   {{ lab.ca }}               the lab CA's root certificate (PEM), to paste into crypto pki authenticate
 *   {{ md5 tftp:images/x.bin }} MD5 of a file under a server's root; {{ size ftp:x.bin }} its size
 */
export type TemplateRef =
  | { kind: 'var'; name: string }
  | { kind: 'node'; node: string; field: 'address' | 'fqdn' }
  | { kind: 'lab'; field: 'domain' | 'name' | 'ca' }
  | { kind: 'file'; fn: 'md5' | 'size'; server: string; path: string }
  | { kind: 'bad'; message: string };

const TEMPLATE = /\{\{\s*(.*?)\s*\}\}/g;

export function parseRef(expr: string): TemplateRef {
  let m = /^(md5|size)\s+([A-Za-z][\w-]*):(\S+)$/.exec(expr);
  if (m) return { kind: 'file', fn: m[1] as 'md5' | 'size', server: m[2]!, path: m[3]! };
  m = /^lab\.(domain|name|ca)$/.exec(expr);
  if (m) return { kind: 'lab', field: m[1] as 'domain' | 'name' | 'ca' };
  m = /^([A-Za-z][\w-]*)\.(address|fqdn)$/.exec(expr);
  if (m) return { kind: 'node', node: m[1]!, field: m[2] as 'address' | 'fqdn' };
  m = /^([A-Za-z_]\w*)$/.exec(expr);
  if (m) return { kind: 'var', name: m[1]! };
  return {
    kind: 'bad',
    message: `cannot read {{ ${expr} }}: use {{ variable }}, {{ node.address }}, {{ node.fqdn }}, {{ lab.domain }}, {{ lab.ca }}, {{ md5 server:path }} or {{ size server:path }}`,
  };
}

/** Every reference in the strings of a value, with its key path (for load-time checks). */
export function templateRefs(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; ref: TemplateRef }[] {
  if (typeof value === 'string') return [...value.matchAll(TEMPLATE)].map((m) => ({ path, ref: parseRef(m[1]!) }));
  if (Array.isArray(value)) return value.flatMap((v, i) => templateRefs(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => templateRefs(v, [...path, k]));
  return [];
}

export type RefResolver = (ref: TemplateRef) => Promise<string>;

/** Fills every `{{ ... }}` of a text. */
export async function fill(text: string, resolve: RefResolver): Promise<string> {
  const matches = [...text.matchAll(TEMPLATE)];
  if (matches.length === 0) return text;
  let out = '';
  let last = 0;
  for (const m of matches) {
    out += text.slice(last, m.index) + (await resolve(parseRef(m[1]!)));
    last = m.index! + m[0].length;
  }
  return out + text.slice(last);
}

/** Fills every string inside a value (objects and lists copied). */
export async function fillDeep<T>(value: T, resolve: RefResolver): Promise<T> {
  if (typeof value === 'string') return (await fill(value, resolve)) as T;
  if (Array.isArray(value)) return (await Promise.all(value.map((v) => fillDeep(v, resolve)))) as T;
  if (value && typeof value === 'object' && !(value instanceof RegExp)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await fillDeep(v, resolve);
    return out as T;
  }
  return value;
}
