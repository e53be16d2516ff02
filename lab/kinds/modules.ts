/**
 * Where each node kind's code lives, loaded on demand; a new kind is one line here. The
 * registry (`registry.ts`) loads every kind, since a topology file is checked against all
 * their schemas; a node agent runs one node and loads only its kind's module (`loadKind`):
 * a router agent never loads ftp-srv or the mail sink, a server agent never loads the
 * router, which is most of what an agent process holds in memory.
 */
import type { KindAdapter } from './registry.ts';

export const KIND_MODULES = {
  router: async () => (await import('./router.ts')).routerKind,
  ftp: async () => (await import('./ftp.ts')).ftpKind,
  tftp: async () => (await import('./tftp.ts')).tftpKind,
  dns: async () => (await import('./dns.ts')).dnsKind,
  ida: async () => (await import('./ida.ts')).idaKind,
  smtp: async () => (await import('./smtp.ts')).smtpKind,
};

/** One kind's adapter, loading only its module. */
export async function loadKind(kind: string): Promise<KindAdapter> {
  if (!Object.hasOwn(KIND_MODULES, kind)) throw new Error(`unknown node kind "${kind}"; valid kinds: ${Object.keys(KIND_MODULES).join(', ')}`);
  return (await KIND_MODULES[kind as keyof typeof KIND_MODULES]()) as unknown as KindAdapter;
}
