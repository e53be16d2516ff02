/**
 * Loopback addresses and ports for tests and benchmarks. Random 127.x addresses let test
 * files run in parallel workers (and beside other labs) without colliding.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { createServer } from 'node:net';

/** A random host address in 127.0.0.0/8 (never .0 or .255 in the last octet). */
export const randomLoopback = (): string => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A random 127.100-250.x.0/24 for a lab's mgmt subnet (`Lab.start({ mgmt: { 'ipv4-subnet' } })`). */
export const randomLabSubnet = (): string => `127.${randomInt(100, 251)}.${randomInt(0, 256)}.0/24`;

/** A TCP port free on `address` right now (bound, then released). */
export async function freeTcpPort(address: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, address, resolve);
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A UDP port free on `address` right now (bound, then released). */
export async function freeUdpPort(address: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
