/**
 * Binds a vty front end (SSH, telnet) and returns the port it got. Errors on the listening
 * socket after the start (rare) must not take the lab down, so a quiet listener stays on.
 */
interface Listenable {
  on(event: 'error', fn: (e: Error) => void): unknown;
  once(event: 'error', fn: (e: Error) => void): unknown;
  removeListener(event: 'error', fn: (e: Error) => void): unknown;
  listen(port: number, address: string, cb: () => void): unknown;
  address(): unknown;
}

export function listenOn(server: Listenable, port: number, address: string): Promise<number> {
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.removeListener('error', reject);
      const addr = server.address() as { port?: number } | null;
      resolve(typeof addr === 'object' && addr?.port ? addr.port : port);
    });
  });
}
