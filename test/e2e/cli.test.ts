/** The `flashlab` command run as a user would: `node bin/flashlab.mjs ...` in a child process. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_PROBE_BYTES, parseImage } from '../../router/image/format.ts';

const BIN = resolve(import.meta.dirname, '../../bin/flashlab.mjs');
let dir: string;

function flashlab(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, FLASHLAB_HOME: join(dir, 'home') },
    encoding: 'utf8',
    timeout,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-cli-'));
});

afterAll(() => {
  // Whatever happened above, no lab process outlives the test.
  flashlab(['down']);
  rmSync(dir, { recursive: true, force: true });
});

describe('flashlab image make', () => {
  it('makes a valid 100 MiB image in well under a second', () => {
    const file = join(dir, 'isr4300-universalk9.16.12.04.SPA.bin');
    // Unsigned: the speed of the stand-in image itself (signing hashes it once more, below).
    const r = flashlab(['image', 'make', file, '--platform', 'isr4321', '--version', '16.12.4', '--size', '100M', '--sign', 'none']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const secs = Number(/\((\d+\.\d+) s\)/.exec(r.stdout)?.[1]);
    expect(secs).toBeLessThan(1);
    expect(statSync(file).size).toBe(100 * 1024 * 1024);
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(HEADER_PROBE_BYTES);
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    expect(parseImage(head)?.header).toMatchObject({ platform: 'isr4300', version: '16.12.4', featureSet: 'universalk9', kind: 'system' });
  });

  it('signs with the lab\'s keys by default, and --tamper needs a signature', () => {
    const file = join(dir, 'signed.SPA.bin');
    const r = flashlab(['image', 'make', file, '--platform', 'isr4321', '--version', '16.12.4', '--size', '2M']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/signed\.SPA\.bin: isr4300 16\.12\.4 universalk9 system image, 2097152 bytes, signed with production:A \(/);
    const fd = openSync(file, 'r');
    const head = Buffer.alloc(HEADER_PROBE_BYTES);
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const image = parseImage(head)!;
    expect(JSON.parse(head.subarray(image.envelopeOffset, head.indexOf(0, image.envelopeOffset)).toString())).toMatchObject({ imageType: 'production', keyType: 'production', keyVersion: 'A' });
    const bad = flashlab(['image', 'make', join(dir, 'y.bin'), '--platform', 'isr4321', '--version', '1', '--sign', 'none', '--tamper']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tamper needs a signed image/);
    const wrong = flashlab(['image', 'make', join(dir, 'z.bin'), '--platform', 'isr4321', '--version', '1', '--sign', 'release:A']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/not a signing key: "release:A"/);
  });

  it('refuses a size it cannot read', () => {
    const r = flashlab(['image', 'make', join(dir, 'x.bin'), '--platform', 'c3900', '--version', '15.5(3)M', '--size', 'huge']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a size/);
  });
});

describe('flashlab schema', () => {
  it('prints the topology JSON Schema', () => {
    const r = flashlab(['schema']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
    expect(s.properties).toHaveProperty('topology');
  });

  it('names the schemas it knows when asked for another', () => {
    const r = flashlab(['schema', 'router']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/use topology or scenario/);
  });
});

describe('flashlab --version and help', () => {
  it('--version prints the package version', () => {
    const r = flashlab(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('run --help lists its options', () => {
    const r = flashlab(['run', '--help']);
    expect(r.code).toBe(0);
    for (const o of ['--reports <dir>', '--topology <file>', '--subnet <cidr>', '--state <dir>', '--keep-state', '--check']) expect(r.stdout).toContain(o);
  });

  it('exec --help names the exit statuses and the answer options', () => {
    const r = flashlab(['exec', '--help']);
    expect(r.stdout).toContain('--answer <text>');
    expect(r.stdout).toContain('--yes');
    expect(r.stdout).toContain('3 stopped at an unanswered question');
  });
});

describe('flashlab up / inspect / exec / down', () => {
  const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  const subnet = `127.${rand(100, 250)}.${rand(0, 255)}.0/24`;
  // `up --subnet` moves the whole lab there.
  const movedTo = `127.${rand(100, 250)}.${rand(0, 255)}.0/24`;
  let topo: string;

  beforeAll(() => {
    topo = join(dir, 'cli-lab.yml');
    writeFileSync(
      topo,
      `name: cli-lab
mgmt:
  ipv4-subnet: ${subnet}
topology:
  nodes:
    r1:
      kind: router
      platform: isr4321
      images:
        - { name: isr4300-universalk9.16.10.01.SPA.bin, version: 16.10.1, size: 1MB }
    tftp:
      kind: tftp
    dns:
      kind: dns
    smtp:
      kind: smtp
`,
    );
  });

  it('reports a bad topology with file:line:key, and starts nothing', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, `name: bad\ntopology:\n  nodes:\n    r1: { kind: router, platform: isr4321, flash: { bootflash: lots } }\n`);
    const r = flashlab(['up', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('bad.yml:4: topology.nodes.r1.flash.bootflash: expected a size like 2MB');
  });

  it('--image is for the container runtime: up and run refuse it elsewhere, starting nothing', () => {
    const up = flashlab(['up', topo, '--image', 'localhost/flashlab:mine']);
    expect(up.stderr).toMatch(/--image names the image of --runtime container's nodes; this lab's runtime is embedded/);
    expect(up.code).toBe(2);
    const run = flashlab(['run', '--runtime', 'netns', '--image', 'localhost/flashlab:mine', '--reports', join(dir, 'reports-image')]);
    expect(run.stderr).toMatch(/--image names the image of --runtime container's nodes; this run's runtime is netns/);
    expect(run.code).toBe(2);
  });

  it('up --subnet refuses a subnet outside loopback, naming it', () => {
    const r = flashlab(['up', topo, '--subnet', '10.0.0.0/24']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mgmt\.ipv4-subnet/);
  });

  it('up prints the nodes and ready, in the background (moved into --subnet)', () => {
    const r = flashlab(['up', topo, '--subnet', movedTo]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^starting lab cli-lab: 4 nodes \(r1, tftp, dns, smtp\)\.* \d+\.\d s$/m);
    expect(r.stdout).toMatch(/\| r1 +\| router +\| isr4321 +\| running/);
    expect(r.stdout).toMatch(/^ready: lab cli-lab/m);
  });

  it('refuses a second up of the same lab', () => {
    const r = flashlab(['up', topo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already running/);
  });

  it('inspect --json gives name, kind, state, address and ports by service', () => {
    const r = flashlab(['inspect', '--json']);
    expect(r.code).toBe(0);
    const nodes = JSON.parse(r.stdout) as { name: string; kind: string; state: string; address: string; ports: Record<string, number> }[];
    expect(nodes.map((n) => [n.name, n.kind, n.state])).toEqual([
      ['r1', 'router', 'running'],
      ['tftp', 'tftp', 'running'],
      ['dns', 'dns', 'running'],
      ['smtp', 'smtp', 'running'],
    ]);
    const prefix = movedTo.split('.').slice(0, 3).join('.') + '.';
    for (const n of nodes) expect(n.address.startsWith(prefix)).toBe(true);
    expect(nodes[0]!.ports.ssh).toBeGreaterThan(0);
    expect(nodes[1]!.ports.tftp).toBeGreaterThan(0);
    expect(nodes[2]!.ports.dns).toBeGreaterThan(0);
  });

  it('exec prints a terminal transcript as the topology user, enabled with the secret', () => {
    const r = flashlab(['exec', 'r1', 'show version', 'show running-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^r1>enable\nPassword: \nr1#show version\nCisco IOS XE Software, Version 16\.10\.01\n/);
    expect(r.stdout).toMatch(/\nr1#show running-config\nBuilding configuration\.\.\./);
    expect(r.stdout).toMatch(/^hostname r1$/m);
    const bad = flashlab(['exec', 'nosuch', 'show version']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no node "nosuch"/);
  });

  it('exec: exit 1 when a line is refused, 3 at an unanswered question; --answer and --yes answer', () => {
    const refused = flashlab(['exec', 'r1', 'show nonsense', 'show clock']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("% Invalid input detected at '^' marker.");
    expect(refused.stdout).toContain('r1#show clock\n');
    const asked = flashlab(['exec', 'r1', 'reload in 30', 'show reload']);
    expect(asked.code).toBe(3);
    expect(asked.stdout).toMatch(/Proceed with reload\? \[confirm\]\n$/);
    expect(asked.stderr).toContain('stopped at the question "Proceed with reload? [confirm]": answer it with --answer <text>');
    const answered = flashlab(['exec', 'r1', '--yes', 'reload in 30', 'show reload', 'reload cancel']);
    expect(answered.code).toBe(0);
    expect(answered.stdout).toMatch(/Proceed with reload\? \[confirm\]\nr1#show reload\nReload scheduled in \d+ minutes by admin on vty0/);
    const user = flashlab(['exec', 'r1', '--user', 'nobody', 'show clock']);
    expect(user.code).toBe(1);
    expect(user.stderr).toContain('no user "nobody" on r1');
  });

  it('logs r1 shows the console (what booted and why) and the logging buffer', () => {
    const r = flashlab(['logs', 'r1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^--- console ---\n/);
    // Between the two: ROMmon's own lines, the signature check of the image it boots (S2.3).
    expect(r.stdout).toMatch(/no BOOT variable: first image on bootflash:\n[^]*RSA Signed RELEASE Image Signature Verification Successful\.\n.*Image validated\n.*booted bootflash:isr4300-universalk9\.16\.10\.01\.SPA\.bin \(version 16\.10\.1\)/);
    expect(r.stdout).toMatch(/--- logging buffer ---\n[^]*%SYS-5-RESTART: System restarted --/);
  });

  it('fault, clock and logs drive the running lab', () => {
    const f = flashlab(['fault', 'tftp', 'drop-every-n=5', 'stall-after-bytes=2MB']);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('tftp: {"drop-every-n":5,"stall-after-bytes":"2MB"}');
    const bad = flashlab(['fault', 'tftp', 'drop-everything=true']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad faults: .*drop-everything.*; valid keys: .*drop-every-n, .*stall-after-bytes/);
    expect(flashlab(['fault', 'tftp', '--clear']).stdout).toContain('tftp: faults cleared');
    const before = Date.parse(flashlab(['clock']).stdout.trim());
    const moved = flashlab(['clock', 'advance', '2h']);
    expect(moved.code).toBe(0);
    const after = Date.parse(moved.stdout.replace('lab clock now ', '').trim());
    expect(after - before).toBeGreaterThanOrEqual(2 * 3600_000);
    expect(after - before).toBeLessThan(2 * 3600_000 + 60_000);
    expect(flashlab(['clock', 'advance', 'soon']).code).toBe(2);
    const logs = flashlab(['logs', 'dns', '--json']);
    expect(logs.code).toBe(0);
    expect(Array.isArray(JSON.parse(logs.stdout))).toBe(true);
  });

  it("ca prints the lab CA's root with IOS-style fingerprints; mail lists and shows the sink's messages", async () => {
    const ca = flashlab(['ca']);
    expect(ca.code).toBe(0);
    expect(ca.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n\n {2}Fingerprint MD5: ([0-9A-F]{8} ){3}[0-9A-F]{8}\n Fingerprint SHA1: ([0-9A-F]{8} ){4}[0-9A-F]{8}\n/);
    const pem = flashlab(['ca', '--pem']).stdout.trim();
    expect(readFileSync(join(dir, 'home', 'cli-lab', 'ca', 'root.pem'), 'utf8').trim()).toBe(pem);

    expect(flashlab(['mail']).stdout).toContain('smtp: no messages');
    const nodes = JSON.parse(flashlab(['inspect', '--json']).stdout) as { name: string; address: string; ports: Record<string, number> }[];
    const smtp = nodes.find((n) => n.name === 'smtp')!;
    await nodemailer
      .createTransport({ host: smtp.address, port: smtp.ports.smtp, ignoreTLS: true })
      .sendMail({ from: 'r1@lab.local', to: 'ops@lab.local', subject: 'Auto Upgrade status for r1', text: 'Status: SUCCESS' });
    const list = flashlab(['mail']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^\S{22} {2}\S+Z {2}r1@lab\.local -> ops@lab\.local {2}Auto Upgrade status for r1\n1 message\n$/);
    expect(flashlab(['mail', 'latest']).stdout).toMatch(/^From: r1@lab\.local\nTo: ops@lab\.local\n[\s\S]*Subject: Auto Upgrade status for r1\n\nStatus: SUCCESS/);
    expect((JSON.parse(flashlab(['mail', '--json']).stdout) as { total: number }).total).toBe(1);
  });

  it('down stops the lab; inspect then finds nothing', () => {
    const r = flashlab(['down']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lab cli-lab stopped/);
    const after = flashlab(['inspect']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/no lab is running/);
  });
});
