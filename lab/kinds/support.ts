/** Small helpers the kind adapters share: port fallback, reachability probes, seeding. */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve, sep } from 'node:path';
import type { ImageFactory } from '../runtime/images.ts';
import type { ImageSeed, TextFileSeed } from '../topology/schema.ts';

/** Bind errors that mean "take a high port instead". */
const FALLBACK_CODES = new Set(['EACCES', 'EPERM', 'EADDRINUSE']);

/**
 * Starts a server on its well-known port, or on an ephemeral one when that port is
 * privileged or taken. `make` builds a fresh server per attempt (a failed start may leave
 * a server object half set up). A port another process holds is worth a warning (the
 * user may have expected 22 or 69 to be the lab's): `taken` says which and who holds it.
 */
export async function startOnPort<T extends { start(): Promise<void>; readonly port: number }>(
  wellKnown: number,
  tryWellKnown: boolean,
  make: (port: number) => T,
  taken?: { address: string; what: string; warn: (line: string) => void },
): Promise<T> {
  let inUse = false;
  if (tryWellKnown) {
    const srv = make(wellKnown);
    try {
      await srv.start();
      return srv;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (!FALLBACK_CODES.has(code)) throw e;
      inUse = code === 'EADDRINUSE';
    }
  }
  const srv = make(0);
  await srv.start();
  if (inUse && taken) {
    const holder = portHolder(taken.address, wellKnown);
    const who = holder ? `by ${holder}` : 'by another process (not visible to this user)';
    taken.warn(`port ${wellKnown} on ${taken.address} is held ${who}: ${taken.what} listens on port ${srv.port} instead`);
  }
  return srv;
}

/**
 * Who holds `port` on `address` (or on every address): `pid 1234 (sshd)`, from the socket
 * tables in /proc and the processes' descriptors this user may read. Undefined when that
 * cannot be known (no /proc, another user's process).
 */
export function portHolder(address: string, port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const wanted = new Set([hexAddress(address), '00000000']);
  const inodes = new Set<string>();
  for (const table of ['tcp', 'udp', 'tcp6', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      const [addr, p] = (f[1] ?? '').split(':');
      if (p !== hexPort || !addr) continue;
      // tcp: listeners only (state 0A); v6 rows: the wildcard or a v4-mapped address.
      if (table.startsWith('tcp') && f[3] !== '0A') continue;
      const v4 = addr.length === 32 ? (/^0{32}$/.test(addr) ? '00000000' : addr.slice(24)) : addr;
      if (wanted.has(v4) && f[9]) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) {
        let comm = '';
        try {
          comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        } catch {
          // name unknown; the pid is enough
        }
        return comm ? `pid ${pid} (${comm})` : `pid ${pid}`;
      }
    }
  }
  return undefined;
}

/** 127.77.0.11 as /proc/net/tcp writes it (little-endian hex). */
function hexAddress(address: string): string {
  return address
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .join('');
}

/** Does something accept a TCP connection at address:port? */
export function tcpAnswers(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  if (!port) return Promise.resolve(false);
  return new Promise((done) => {
    const s = connect({ host: address, port });
    const finish = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      done(ok);
    };
    const t = setTimeout(() => finish(false), timeoutMs);
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

/** A path inside `root` (seed names come from the topology: never let one climb out). */
export function inside(root: string, name: string): string {
  const p = resolve(root, name);
  if (p !== resolve(root) && !p.startsWith(resolve(root) + sep)) throw new Error(`"${name}" is outside the server root`);
  return p;
}

/**
 * Seeds a server root once per lab state: later `up`s keep whatever clients uploaded or
 * deleted, as a real server's disk would.
 */
export async function seedRootOnce(
  stateDir: string,
  root: string,
  images: ImageSeed[],
  files: TextFileSeed[],
  factory: ImageFactory,
): Promise<void> {
  await mkdir(root, { recursive: true });
  const marker = join(stateDir, 'seeded');
  if (existsSync(marker)) return;
  for (const img of images) await factory.copyTo(img, inside(root, img.path));
  for (const f of files) {
    const p = inside(root, f.path);
    await mkdir(resolve(p, '..'), { recursive: true });
    await writeFile(p, f.content);
  }
  await writeFile(marker, new Date().toISOString());
}
