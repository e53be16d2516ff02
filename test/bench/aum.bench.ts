/**
 * The Auto-Upgrade Manager at fleet scale (issue 10): N routers (default 100) each run
 * `upgrade automatic getversion cisco …` at once against one IDA locator and one FTP server
 * for a 64 MiB image: the locator answers with the image's FTP URL, each router reads its
 * header, checks memory, flash and crypto, downloads it into its own flash, verifies its
 * signature and updates and saves boot system. Wall time until every router printed
 * `Image Verification: PASS`, and the lab process's peak RSS during it (sampled every 20 ms).
 *
 * Peer, in the same run and from the same FTP server: the same N downloads by curl, all
 * started at once, each into a file of its own (as each router writes its own flash). For
 * scale, the routers' own `copy ftp: bootflash:` of the same file is timed too: AUM's
 * overhead over the router's copy path, apart from the server's and the client's cost.
 * Goal: AUM within 1.5x of curl's wall time (the servers, not the routers, set the pace).
 *
 *   npm run bench -- aum
 *   FLASHLAB_BENCH_AUM_ROUTERS=10 FLASHLAB_BENCH_MB=8 npm run bench -- aum     (a quick check)
 *
 * The locator is asked over HTTPS at its default URL: every router first gets the lab CA
 * in a trustpoint, as `crypto pki certificate chain` lines (what a saved configuration
 * replays after `crypto pki authenticate`), before the clock starts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { LabCa } from '../../lab/ca/LabCa.ts';
import { Lab } from '../../lab/Lab.ts';
import { hexLines, serialHex } from '../../router/features/pki/certs.ts';
import { benchMiB, ratio, table } from './common.ts';

const GOAL = 1.5;
const IMAGE = 'isr4300-universalk9.16.12.04.SPA.bin';

function routers(): number {
  const n = Number(process.env.FLASHLAB_BENCH_AUM_ROUTERS ?? 100);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('FLASHLAB_BENCH_AUM_ROUTERS: a router count, 1..1000');
  return n;
}

function topology(n: number, mib: number, second: number) {
  const nodes: Record<string, unknown> = {
    dns: { kind: 'dns', records: { 'www.cisco.com': 'ida' } },
    ftp: {
      kind: 'ftp',
      accounts: [{ user: 'lab', password: 'lab', home: '.', write: false }],
      'pasv-range': [31000, 31999],
      images: [{ name: IMAGE, platform: 'isr4321', version: '16.12.4', size: `${mib}MB` }],
    },
    ida: {
      kind: 'ida',
      hostnames: ['www.cisco.com'],
      accounts: [{ user: 'cco', password: 'cisco123', crypto: true }],
      catalog: [{ image: IMAGE, url: `ftp://ftp/${IMAGE}` }],
    },
  };
  for (let i = 1; i <= n; i++) nodes[`r${i}`] = { kind: 'router' };
  return {
    name: `bench-aum-${n}`,
    mgmt: { 'ipv4-subnet': `127.${second}.0.0/16` },
    topology: {
      kinds: {
        router: {
          platform: 'isr4321',
          'boot-seconds': 1,
          images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }],
          'startup-config': [
            'ip domain name {{ lab.domain }}',
            'ip name-server {{ dns.address }}',
            'ip ftp username lab',
            'ip ftp password lab',
            'boot system bootflash:isr4300-universalk9.16.10.01.SPA.bin',
          ],
        },
      },
      nodes,
    },
  };
}

/** Peak RSS of this process while `work` runs, sampled every 20 ms. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ value: T; peakMB: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await work();
    return { value, peakMB: Math.max(peak, process.memoryUsage().rss) / 1e6 };
  } finally {
    clearInterval(timer);
  }
}

/** N curl downloads started together; resolves with the wall time once all ended, and their bytes. */
function curlFleet(url: string, n: number, dir: string): Promise<{ seconds: number; bytes: number[] }> {
  const t0 = performance.now();
  return Promise.all(
    Array.from({ length: n }, (_, i) => {
      const out = join(dir, `curl-${i}.bin`);
      return new Promise<number>((resolve, reject) => {
        const p = spawn('curl', ['-sS', '--ftp-pasv', '-o', out, url], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve(statSync(out).size) : reject(new Error(`curl exited ${code}: ${err.trim()}`))));
      });
    }),
  ).then((bytes) => ({ seconds: (performance.now() - t0) / 1000, bytes }));
}

export async function run(): Promise<void> {
  const n = routers();
  const mib = benchMiB(64);
  const second = 100 + Math.floor(Math.random() * 150);
  const dir = mkdtempSync(join(tmpdir(), 'flashlab-bench-aum-'));
  console.log(`AUM fleet: ${n} routers, upgrade automatic getversion cisco … (IDA locator over HTTPS, image over FTP), ${mib} MiB image`);
  console.log(`  vs peer: ${n} curl downloads at once from the same FTP server, each into its own file`);
  console.log(`node ${process.version}; one run each, curl first then AUM, same lab; MB = 10^6 bytes; pinning: none (one lab process)`);
  let lab: Lab | undefined;
  try {
    lab = await Lab.start(topology(n, mib, second), { stateDir: join(dir, 'state'), healthTimeoutMs: 120_000 });
    const ftp = lab.inspect().find((x) => x.name === 'ftp')!;
    const url = `ftp://lab:lab@${ftp.address}:${ftp.ports.ftp}/${IMAGE}`;
    const size = mib * 1024 * 1024;

    // The lab CA in every router's trustpoint, as a saved configuration carries it.
    const root = new X509Certificate(LabCa.open(join(lab.stateDir, 'ca'), lab.clock.now()).root.certPem);
    const trust = [
      'configure terminal',
      'crypto pki trustpoint LAB-CA',
      'enrollment terminal',
      'revocation-check none',
      'exit',
      'crypto pki certificate chain LAB-CA',
      `certificate ca ${serialHex(root)}`,
      ...hexLines(root.raw),
      'quit',
      'end',
    ];
    const names = Array.from({ length: n }, (_, i) => `r${i + 1}`);
    await Promise.all(names.map((r) => lab!.exec(r, trust)));

    const curl = await curlFleet(url, n, dir);
    const curlOk = curl.bytes.filter((b) => b === size).length;
    rmSync(join(dir, 'curl-0.bin'), { force: true });
    for (let i = 0; i < n; i++) rmSync(join(dir, `curl-${i}.bin`), { force: true });

    // The routers' plain copy path from the same server, for scale: what AUM adds to it.
    const c0 = performance.now();
    const copies = await Promise.all(names.map((r) => lab!.exec(r, [`copy ftp://ftp/${IMAGE} bootflash:`, '', `delete /force bootflash:${IMAGE}`])));
    const copyS = (performance.now() - c0) / 1000;
    const copied = copies.filter((o) => o.includes(`[OK - ${size} bytes]`)).length;
    if (copied < n) console.log(`copy failed: ${copies.find((o) => !o.includes("[OK -"))?.slice(-300)}`);

    const line = `upgrade automatic getversion cisco username cco password cisco123 image ${IMAGE}`;
    const t0 = performance.now();
    const aum = await withPeakRss(() => Promise.all(names.map((r) => lab!.exec(r, line))));
    const aumS = (performance.now() - t0) / 1000;
    const passed = aum.value.filter((o) => o.includes('Image Verification: PASS')).length;
    const firstFailure = aum.value.find((o) => !o.includes('Image Verification: PASS'));

    console.log(
      table(
        ['contender', 'wall time', 'completed', 'throughput (all)', 'peak RSS (lab process)'],
        [
          ['flashlab AUM getversion', `${aumS.toFixed(2)} s`, `${passed}/${n}`, `${((n * size) / 1e6 / aumS).toFixed(0)} MB/s`, `${aum.peakMB.toFixed(0)} MB`],
          ['flashlab copy ftp: bootflash:', `${copyS.toFixed(2)} s`, `${copied}/${n}`, `${((n * size) / 1e6 / copyS).toFixed(0)} MB/s`, ''],
          ['curl (FTP)', `${curl.seconds.toFixed(2)} s`, `${curlOk}/${n}`, `${((n * size) / 1e6 / curl.seconds).toFixed(0)} MB/s`, '(separate processes)'],
        ],
      ),
    );
    if (firstFailure) console.log(`FAILED router output:\n${firstFailure.split('\n').slice(-6).join('\n')}`);
    const r = ratio(aumS, curl.seconds);
    const verdict = passed === n && curlOk === n ? (aumS / curl.seconds <= GOAL ? 'met' : 'MISSED') : 'n/a (failures)';
    console.log(`\nratio AUM / curl wall time: ${r} (goal <= ${GOAL.toFixed(2)}x): ${verdict}`);
  } finally {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
