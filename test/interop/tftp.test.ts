/**
 * Our TFTP against independent implementations, on loopback:
 *  - curl and Debian's tftp-hpa client against the lab TftpServer;
 *  - TftpTransferClient against Debian's tftpd-hpa (in.tftpd run by hand).
 * A missing tool FAILS naming its Debian package (CI installs them): it never skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TftpServer } from '../../servers/tftp/TftpServer.ts';
import { TftpTransferClient } from '../../servers/tftp/TftpClient.ts';
import { TransferError } from '../../router/transfer/types.ts';
import { requireBinary, startTftpdHpa, tryCommand, type TftpdHpa } from '../helpers/peers.ts';

const HOST = '127.0.0.1';
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const md5File = (p: string): string => md5(fs.readFileSync(p));
/** Exit status and stdout+stderr: the tests judge what the peer printed. */
const run = (cmd: string, args: string[]) => tryCommand(cmd, args, { timeoutMs: 60_000 });

let base: string;
let labRoot: string;
let hpaRoot: string;
let lab: TftpServer;
let hpa: TftpdHpa | undefined;
const big = randomBytes(65536 * 512 + 4321); // over 65535 blocks at 512: block numbers wrap
const mid = randomBytes(3_000_017);

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'flashlab-tftp-interop-'));
  labRoot = path.join(base, 'lab');
  hpaRoot = path.join(base, 'hpa');
  for (const r of [labRoot, hpaRoot]) {
    fs.mkdirSync(path.join(r, 'up'), { recursive: true });
    fs.writeFileSync(path.join(r, 'mid.bin'), mid);
    fs.writeFileSync(path.join(r, 'big.bin'), big);
  }
  lab = new TftpServer({ address: HOST, port: 0, root: labRoot, allowWrite: true, allowCreate: true });
  await lab.start();
});

afterAll(async () => {
  await hpa?.stop();
  await lab?.stop();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

describe('curl against the lab TftpServer', () => {
  it.each([512, 1468, 8192])('downloads with --tftp-blksize %i', async (bs) => {
    const curl = requireBinary('curl', 'curl');
    const out = path.join(base, `curl-${bs}.bin`);
    const r = await run(curl, ['-s', '-S', '--max-time', '30', '--tftp-blksize', String(bs), `tftp://${HOST}:${lab.port}/mid.bin`, '-o', out]);
    expect(r.code, r.out).toBe(0);
    expect(md5File(out)).toBe(md5(mid));
  });

  it('downloads a file over 65535 blocks at 512 (rollover against an independent client)', async () => {
    const curl = requireBinary('curl', 'curl');
    const out = path.join(base, 'curl-big.bin');
    const r = await run(curl, ['-s', '-S', '--max-time', '30', `tftp://${HOST}:${lab.port}/big.bin`, '-o', out]);
    expect(r.code, r.out).toBe(0);
    expect(md5File(out)).toBe(md5(big));
    fs.rmSync(out);
  });

  it('uploads with -T', async () => {
    const curl = requireBinary('curl', 'curl');
    const src = path.join(base, 'curl-up-src.bin');
    fs.writeFileSync(src, mid);
    for (const bs of [512, 8192]) {
      const r = await run(curl, ['-s', '-S', '--max-time', '30', '--tftp-blksize', String(bs), '-T', src, `tftp://${HOST}:${lab.port}/up/curl-${bs}.bin`]);
      expect(r.code, r.out).toBe(0);
      // The server renames the upload into place before its final ACK.
      expect(md5File(path.join(labRoot, 'up', `curl-${bs}.bin`))).toBe(md5(mid));
    }
  });

  it('gets a clean error for a missing file', async () => {
    const curl = requireBinary('curl', 'curl');
    const r = await run(curl, ['-s', '-S', '--max-time', '30', `tftp://${HOST}:${lab.port}/missing.bin`, '-o', path.join(base, 'x')]);
    expect(r.code, r.out).toBe(68); // CURLE_TFTP_NOTFOUND: curl read our ERROR 1
  });
});

describe("Debian's tftp-hpa client against the lab TftpServer", () => {
  it('gets in binary mode', async () => {
    const tftp = requireBinary('tftp', 'tftp-hpa');
    const out = path.join(base, 'hpa-get.bin');
    const r = await run(tftp, [HOST, String(lab.port), '-m', 'binary', '-c', 'get', 'mid.bin', out]);
    expect(r.out).not.toMatch(/error/i);
    expect(md5File(out)).toBe(md5(mid));
  });

  it('puts in binary mode', async () => {
    const tftp = requireBinary('tftp', 'tftp-hpa');
    const src = path.join(base, 'hpa-put-src.bin');
    fs.writeFileSync(src, mid);
    const r = await run(tftp, [HOST, String(lab.port), '-m', 'binary', '-c', 'put', src, 'up/hpa-put.bin']);
    expect(r.out).not.toMatch(/error/i);
    expect(md5File(path.join(labRoot, 'up', 'hpa-put.bin'))).toBe(md5(mid));
  });

  it('is refused a path outside the root', async () => {
    const tftp = requireBinary('tftp', 'tftp-hpa');
    const r = await run(tftp, [HOST, String(lab.port), '-m', 'binary', '-c', 'get', '../lab/mid.bin', path.join(base, 'nope')]);
    expect(r.out).toMatch(/Access violation/);
    expect(r.out).not.toContain(base);
  });
});

describe("TftpTransferClient against Debian's tftpd-hpa", () => {
  const client = new TftpTransferClient({ timeoutSec: 2 });

  async function getAll(file: string, blksize?: number): Promise<{ data: Buffer; size?: number }> {
    const d = await client.download({ host: HOST, port: hpa!.port, path: file, blksize });
    const parts: Buffer[] = [];
    for await (const b of d.body) parts.push(b);
    return { data: Buffer.concat(parts), size: d.size };
  }

  beforeAll(async () => {
    hpa = await startTftpdHpa(hpaRoot, { address: HOST, create: true });
  });

  it.each([512, 1468, 8192])('downloads at blksize %i with tsize', async (bs) => {
    const { data, size } = await getAll('mid.bin', bs);
    expect(size).toBe(mid.length);
    expect(md5(data)).toBe(md5(mid));
  });

  it('downloads a file over 65535 blocks at 512 (their rollover, our receiver)', async () => {
    const { data } = await getAll('big.bin');
    expect(md5(data)).toBe(md5(big));
  });

  it('uploads at 512 over 65535 blocks and at 8192 (our rollover, their receiver)', async () => {
    async function* body(b: Buffer) {
      for (let i = 0; i < b.length; i += 1 << 20) yield b.subarray(i, i + (1 << 20));
    }
    await client.upload({ host: HOST, port: hpa!.port, path: 'up/ours-big.bin' }, body(big), big.length);
    expect(md5File(path.join(hpaRoot, 'up', 'ours-big.bin'))).toBe(md5(big));
    await client.upload({ host: HOST, port: hpa!.port, path: 'up/ours-8192.bin', blksize: 8192 }, body(mid), mid.length);
    expect(md5File(path.join(hpaRoot, 'up', 'ours-8192.bin'))).toBe(md5(mid));
  });

  it('maps tftpd-hpa errors: missing file -> not-found, unreadable file -> permission', async () => {
    const miss = await client.download({ host: HOST, port: hpa!.port, path: 'missing.bin' }).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(TransferError);
    expect([(miss as TransferError).code, (miss as TransferError).phase]).toEqual(['not-found', 'open']);
    // tftpd-hpa serves only world-readable files: anything else is its ERROR 2.
    fs.writeFileSync(path.join(hpaRoot, 'private.bin'), 'x', { mode: 0o600 });
    fs.chmodSync(path.join(hpaRoot, 'private.bin'), 0o600);
    const denied = await client.download({ host: HOST, port: hpa!.port, path: 'private.bin' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(TransferError);
    expect([(denied as TransferError).code, (denied as TransferError).phase]).toEqual(['permission', 'open']);
  });
});
