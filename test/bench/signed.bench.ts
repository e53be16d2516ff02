/**
 * Signed software (issue 8), two figures:
 *
 *  1. Verifying a signed image: flashlab's verification (SHA-512 of the signed bytes streamed
 *     from the content store, then the RSA-2048 check against key storage, the uncached path
 *     ROMmon and `verify` take) vs `openssl dgst -sha512 -verify signer.pem -signature sig.bin
 *     signed.bin` on the same image, same run. 512 MiB by default (FLASHLAB_BENCH_MB), both
 *     reading from the page cache (a read before timing), the median of 3 each, interleaved.
 *     Goal: >= 1.0x openssl's speed.
 *  2. 200 routers booting the same 64 MiB signed image (Lab.start until every router has
 *     booted, verified, and answers SSH), in a fresh process (lab.child.ts), beside the same
 *     lab on a 1 MiB image. Verification is cached by content hash and key set, never skipped:
 *     each router still checks the signature with its own key storage. Goal: < 10 s.
 *
 *   npm run bench -- signed
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportSignedPieces, signedDigestOfFile, type KeyRecord } from '../../router/image/envelope.ts';
import { HEADER_PROBE_BYTES, parseImage } from '../../router/image/format.ts';
import { verifyWithStorage } from '../../router/features/authenticity/verify.ts';
import { envelopeOf } from '../../router/image/envelope.ts';
import { SigningAuthority } from '../../lab/signing/SigningAuthority.ts';
import { requireBinary, runCommand } from '../helpers/peers.ts';
import { makeSignedImage } from '../helpers/signing.ts';
import { benchMiB, median, ratio, table } from './common.ts';
import type { ChildResult } from './lab.child.ts';

const RUNS = Math.max(1, Math.min(9, Number(process.env.FLASHLAB_BENCH_RUNS ?? 3) || 3));
const GOAL_SECONDS = 10;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function readThrough(file: string): Promise<void> {
  for await (const _ of createReadStream(file, { highWaterMark: 1 << 20 })) {
    // page cache warm-up
  }
}

async function verifyBench(): Promise<void> {
  const openssl = requireBinary('openssl', 'openssl');
  const mib = benchMiB(512);
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-signed-'));
  try {
    const authority = new SigningAuthority(dir);
    const image = join(dir, 'image.SPA.bin');
    await makeSignedImage(image, { platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system', size: mib * 1024 * 1024 }, authority);
    const head = readFileSync(image).subarray(0, HEADER_PROBE_BYTES);
    const parsed = parseImage(head)!;
    const envelope = envelopeOf(head, parsed);
    if (!('envelope' in envelope)) throw new Error('bench image is not signed');
    const pieces = { signedBytes: join(dir, 'signed.bin'), signature: join(dir, 'sig.bin'), publicKey: join(dir, 'signer.pem') };
    await exportSignedPieces(() => createReadStream(image, { highWaterMark: 1 << 20 }), head, pieces);
    const keys: KeyRecord[] = [await authority.keyRecord({ type: 'special', version: 'A' }), await authority.keyRecord({ type: 'production', version: 'A' })];
    const storage = { primary: keys, backup: keys, rollover: [], revoked: [], rommon: undefined as never };
    await readThrough(image);
    await readThrough(pieces.signedBytes);

    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t0 = performance.now();
      // The routers' own path: the image's blob file read into one reused buffer.
      const digest = await signedDigestOfFile(image, parsed);
      const v = verifyWithStorage(digest, envelope.envelope, false, storage);
      ours.push((performance.now() - t0) / 1000);
      if (!v.ok) throw new Error('flashlab did not verify the bench image');
      t0 = performance.now();
      const out = await runCommand(openssl, ['dgst', '-sha512', '-verify', pieces.publicKey, '-signature', pieces.signature, pieces.signedBytes]);
      theirs.push((performance.now() - t0) / 1000);
      if (!out.includes('Verified OK')) throw new Error(`openssl did not verify: ${out}`);
    }
    const o = median(ours);
    const t = median(theirs);
    const mbs = (s: number) => `${((mib * 1024 * 1024) / 1e6 / s).toFixed(0)} MB/s`;
    console.log(`verify a ${mib} MiB signed image (RSA-2048, SHA-512), median of ${RUNS}, page cache warm, not pinned`);
    console.log(`peer: ${openssl} dgst -sha512 -verify signer.pem -signature sig.bin signed.bin (${(await runCommand(openssl, ['version'])).trim()})`);
    console.log(
      table(
        ['what', 'flashlab', 'openssl', 'speed ratio', 'goal'],
        [[`verify ${mib} MiB`, `${o.toFixed(3)} s (${mbs(o)})`, `${t.toFixed(3)} s (${mbs(t)})`, ratio(t, o), `>= 1.0x: ${t / o >= 1 ? 'met' : 'not met'}`]],
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function labChild(n: number, imageSize: string): Promise<ChildResult> {
  const out = await runCommand(process.execPath, ['--expose-gc', '--import', 'tsx', join(repoRoot, 'test/bench/lab.child.ts'), 'flashlab', String(n)], {
    cwd: repoRoot,
    timeoutMs: 300_000,
    env: { ...process.env, FLASHLAB_BENCH_IMAGE_SIZE: imageSize },
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as ChildResult;
}

async function bootBench(): Promise<void> {
  const n = Number(process.env.FLASHLAB_BENCH_SIGNED_ROUTERS ?? 200);
  const big: ChildResult[] = [];
  const small: ChildResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    big.push(await labChild(n, '64MB'));
    small.push(await labChild(n, '1MB'));
  }
  const b = median(big.map((r) => r.startS));
  const bw = median(big.map((r) => r.restartS));
  const s = median(small.map((r) => r.startS));
  const sw = median(small.map((r) => r.restartS));
  console.log(`\n${n} routers booting one signed image: Lab.start until all booted, verified and answering SSH;`);
  console.log(`fresh child per figure (node --expose-gc --import tsx test/bench/lab.child.ts flashlab ${n}, FLASHLAB_BENCH_IMAGE_SIZE), median of ${RUNS};`);
  console.log('cold = new lab state (signing keys made, image made, signed, stored), warm = second start on it');
  console.log(
    table(
      ['what', '64 MiB image', '1 MiB image', 'ratio', 'goal < 10 s'],
      [
        [`${n} routers, cold`, `${b.toFixed(2)} s`, `${s.toFixed(2)} s`, ratio(b, s), `${b < GOAL_SECONDS ? 'met' : 'not met'} (${(b / GOAL_SECONDS).toFixed(2)}x of it)`],
        [`${n} routers, warm`, `${bw.toFixed(2)} s`, `${sw.toFixed(2)} s`, ratio(bw, sw), `${bw < GOAL_SECONDS ? 'met' : 'not met'} (${(bw / GOAL_SECONDS).toFixed(2)}x of it)`],
      ],
    ),
  );
}

export async function run(): Promise<void> {
  await verifyBench();
  await bootBench();
}
