/**
 * "The outside world" for seal tests: a network namespace this test makes, joined to the
 * host by a veth pair, with a listener inside on the seed's example address. Traffic to it
 * stays inside this machine (the namespace is ours); the listener reports every TCP
 * connection and UDP datagram it sees, so a test can prove that nothing was attempted.
 * Needs root and iproute2 (Debian package `iproute2`); a missing `ip` fails naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { requireBinary, runCommand } from './peers.ts';

export interface OutsideHost {
  /** The address inside the namespace (the "real network" host). */
  address: string;
  /** Every connection or datagram the listener saw, as `tcp:21 from a.b.c.d` lines. */
  seen: string[];
  close(): Promise<void>;
}

const LISTENER = `
const net = require('node:net'), dgram = require('node:dgram');
const [addr, ...tcpPorts] = process.argv.slice(1);
const say = (l) => process.stdout.write(l + '\\n');
let pending = 0;
const ready = () => { if (--pending === 0) say('ready'); };
for (const p of tcpPorts) {
  pending++;
  net.createServer((s) => { say('tcp:' + p + ' from ' + s.remoteAddress); s.destroy(); }).listen(Number(p), addr, ready);
}
for (const p of ['53', '69']) {
  pending++;
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => say('udp:' + p + ' from ' + r.address));
  u.bind(Number(p), addr, ready);
}
`;

/**
 * Makes namespace + veth: host side `hostAddress/30`, namespace side `address/30`, and a
 * listener on TCP `tcpPorts` and UDP 53/69 at `address`.
 */
export async function outsideHost(address: string, hostAddress: string, tcpPorts: number[] = [21, 80, 443, 25]): Promise<OutsideHost> {
  const ip = requireBinary('ip', 'iproute2');
  const tag = randomBytes(3).toString('hex');
  const ns = `flseal-${tag}`;
  const hostIf = `fls${tag}a`;
  const nsIf = `fls${tag}b`;
  const run = (...args: string[]) => runCommand(ip, args, { timeoutMs: 10_000 });
  await run('netns', 'add', ns);
  let listener: ChildProcess | undefined;
  const close = async () => {
    if (listener?.pid && listener.exitCode === null) listener.kill('SIGKILL');
    await run('link', 'del', hostIf).catch(() => undefined);
    await run('netns', 'del', ns).catch(() => undefined);
  };
  try {
    await run('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    await run('link', 'set', nsIf, 'netns', ns);
    await run('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    await run('link', 'set', hostIf, 'up');
    await run('-n', ns, 'addr', 'add', `${address}/30`, 'dev', nsIf);
    await run('-n', ns, 'link', 'set', nsIf, 'up');
    await run('-n', ns, 'link', 'set', 'lo', 'up');
    const seen: string[] = [];
    listener = spawn(ip, ['netns', 'exec', ns, process.execPath, '-e', LISTENER, address, ...tcpPorts.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: listener.stdout! });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('listener in the namespace did not start')), 10_000);
      lines.on('line', (l) => {
        if (l === 'ready') {
          clearTimeout(t);
          resolve();
        } else seen.push(l);
      });
      listener!.once('exit', (c) => reject(new Error(`listener exited (${c})`)));
    });
    return { address, seen, close };
  } catch (e) {
    await close();
    throw e;
  }
}
