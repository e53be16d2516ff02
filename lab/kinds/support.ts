/** Small helpers the kind adapters share: port fallback, reachability probes, seeding. */
import { existsSync } from 'node:fs';
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
 * a server object half set up).
 */
export async function startOnPort<T extends { start(): Promise<void> }>(
  wellKnown: number,
  tryWellKnown: boolean,
  make: (port: number) => T,
): Promise<T> {
  if (tryWellKnown) {
    const srv = make(wellKnown);
    try {
      await srv.start();
      return srv;
    } catch (e) {
      if (!FALLBACK_CODES.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  const srv = make(0);
  await srv.start();
  return srv;
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
