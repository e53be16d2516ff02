import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../test/helpers/router.ts';
import { download, ftpCredentials, readHead, TransferFailure } from './TransferService.ts';
import { TransferError, type TransferClient, type TransferEndpoint } from './types.ts';
import { parseNetUrl, SCHEMES } from './urls.ts';

/** A server that sends `size` bytes in 16 KiB chunks, then fails after `failAfter` of them if set. */
function server(size: number, o: { failAfter?: number; announce?: boolean } = {}): TransferClient & { seen: TransferEndpoint[] } {
  const seen: TransferEndpoint[] = [];
  return {
    scheme: 'tftp',
    seen,
    download: async (ep) => {
      seen.push(ep);
      return {
        size: o.announce === false ? undefined : size,
        body: (async function* () {
          for (let sent = 0; sent < size; sent += 16 * 1024) {
            if (o.failAfter !== undefined && sent >= o.failAfter) throw new TransferError('timeout', 'read');
            yield Buffer.alloc(Math.min(16 * 1024, size - sent), 7);
          }
        })(),
      };
    },
    upload: () => Promise.reject(new TransferError('permission', 'open')),
  };
}

const url = { ...parseNetUrl('tftp://127.0.0.9/f.bin')!, host: '127.0.0.9', path: 'f.bin' };
const signal = new AbortController().signal;

describe('the transfer service', () => {
  it('one table of schemes: what each dials and whether it takes uploads', () => {
    expect(SCHEMES.ftp).toMatchObject({ service: 'ftp', tcp: true, credentials: 'ftp', upload: true });
    expect(SCHEMES.https).toMatchObject({ service: 'https', upload: false });
    expect(parseNetUrl('scp://h/f')).toBeUndefined();
  });

  it('credentials in S3.1 order: URL, ip ftp, anonymous with a generated password', async () => {
    const t = await makeTestRouter();
    const ftp = parseNetUrl('ftp://h/f')!;
    expect(ftpCredentials(t.router, ftp, 'admin')).toEqual({ username: 'anonymous', password: 'admin@R1' });
    await t.run('configure terminal', 'ip ftp username fred', 'ip ftp password secret', 'end');
    expect(ftpCredentials(t.router, ftp, 'admin')).toEqual({ username: 'fred', password: 'secret' });
    expect(ftpCredentials(t.router, parseNetUrl('ftp://u:p@h/f')!, 'admin')).toEqual({ username: 'u', password: 'p' });
  });

  it('reserves the announced size, commits at the end, and reports progress', async () => {
    const t = await makeTestRouter({ env: { transfer: { tftp: server(100_000), ftp: server(0) } } });
    const fs = t.router.fs.default;
    const marks: number[] = [];
    let reservedAtStart = -1;
    const free = fs.freeBytes;
    const r = await download(t.router, {
      url,
      display: 'tftp://127.0.0.9/f.bin',
      address: '127.0.0.9',
      target: { fs, path: 'f.bin' },
      user: 'admin',
      signal,
      onStart: () => (reservedAtStart = free - fs.freeBytes),
      onBytes: (n) => marks.push(n),
    });
    expect(r.bytes).toBe(100_000);
    expect(reservedAtStart).toBeGreaterThanOrEqual(100_000);
    expect(marks.at(-1)).toBe(100_000);
    expect(fs.stat('f.bin')?.size).toBe(100_000);
  });

  it('a failure midway leaves no file and the space as it was', async () => {
    const t = await makeTestRouter({ env: { transfer: { tftp: server(100_000, { failAfter: 50_000 }), ftp: server(0) } } });
    const fs = t.router.fs.default;
    const free = fs.freeBytes;
    const p = download(t.router, { url, display: 'tftp://127.0.0.9/f.bin', address: '127.0.0.9', target: { fs, path: 'f.bin' }, user: 'admin', signal });
    await expect(p).rejects.toThrow(TransferFailure);
    await expect(p).rejects.toMatchObject({ line: '%Error reading tftp://127.0.0.9/f.bin (Timed out)' });
    expect(fs.stat('f.bin')).toBeUndefined();
    expect(fs.freeBytes).toBe(free);
  });

  it('a file that cannot fit is refused before any data, with the device wording', async () => {
    const t = await makeTestRouter({ env: { transfer: { tftp: server(1 << 20), ftp: server(0) } }, fsSizes: { bootflash: 512 * 1024 } });
    const fs = t.router.fs.default;
    let started = false;
    const p = download(t.router, { url, display: 'tftp://127.0.0.9/f.bin', address: '127.0.0.9', target: { fs, path: 'f.bin' }, user: 'admin', signal, onStart: () => (started = true) });
    await expect(p).rejects.toMatchObject({ line: '%Error copying tftp://127.0.0.9/f.bin (No space left on device)' });
    expect(started).toBe(false);
  });

  it('readHead: the size and the first bytes only', async () => {
    const s = server(1 << 20);
    const t = await makeTestRouter({ env: { transfer: { tftp: s, ftp: server(0) } } });
    const h = await readHead(t.router, { url, display: 'tftp://127.0.0.9/f.bin', address: '127.0.0.9', bytes: 20_000, user: 'admin', signal });
    expect(h.size).toBe(1 << 20);
    expect(h.head.length).toBe(20_000);
    expect(s.seen[0]!.port).toBe(69);
  });
});
