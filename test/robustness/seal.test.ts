/**
 * The lab seal (issue 7 item 1): a router reaches only lab nodes and loopback unless the
 * topology opens a network on purpose. The "outside world" is a network namespace this test
 * makes, with a listener on the seed's own example address (172.23.1.129): the sealed lab
 * must send it nothing at all, over FTP, TFTP, DNS or ping; opened with `mgmt.external`, the
 * same copy reaches it (so the listener really would have seen a sealed-in attempt).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { SealedEgress } from '../../router/net/Egress.ts';
import { outsideHost, type OutsideHost } from '../helpers/netns.ts';
import { randomLabSubnet } from '../helpers/net.ts';

const OUTSIDE = '172.23.1.129';
const HOST_SIDE = '172.23.1.130';

describe('egress policy', () => {
  const policy = (external: string[] = []) => {
    const log: string[] = [];
    const p = new SealedEgress({ owner: 'r1', labAddresses: () => ['127.9.0.11'], external, log: (l) => log.push(l) });
    return { p, log };
  };
  it('allows loopback and lab nodes, refuses and logs anything else', () => {
    const { p, log } = policy();
    expect(p.verdict('127.0.0.1', 'ftp').allowed).toBe(true);
    expect(p.verdict('127.200.3.4', 'tftp').allowed).toBe(true);
    expect(p.verdict('::1', 'ftp').allowed).toBe(true);
    expect(p.verdict(OUTSIDE, 'ftp').allowed).toBe(false);
    expect(p.verdict('8.8.8.8', 'dns').allowed).toBe(false);
    expect(p.verdict('2001:db8::1', 'ftp').allowed).toBe(false);
    expect(p.verdict('not-an-address', 'ftp').allowed).toBe(false);
    expect(log).toHaveLength(4);
    expect(log[0]).toBe(`r1: egress refused: ftp to ${OUTSIDE}: outside the lab (not a lab node, not loopback, not opened by mgmt.external)`);
  });
  it('opens exactly the CIDRs the topology names', () => {
    const { p } = policy(['172.23.1.128/30', '2001:db8::/32']);
    expect(p.verdict(OUTSIDE, 'ftp').allowed).toBe(true);
    expect(p.verdict('172.23.1.133', 'ftp').allowed).toBe(false);
    expect(p.verdict('2001:db8::1', 'ftp').allowed).toBe(true);
  });
  it('refuses a malformed CIDR', () => {
    expect(() => policy(['172.23.1.0/40'])).toThrow(/prefix \/40 is too long/);
  });
});

describe('a sealed lab against a real outside listener', () => {
  let outside: OutsideHost;
  let dir: string;
  const labs: Lab[] = [];
  const logs: string[] = [];

  const start = async (external?: string[]) => {
    const lab = await Lab.start(
      {
        name: `seal${labs.length}`,
        mgmt: { 'ipv4-subnet': randomLabSubnet(), ...(external ? { external } : {}) },
        topology: {
          kinds: { router: { 'boot-seconds': 1 } },
          nodes: {
            r1: { kind: 'router', platform: 'isr4321', images: [{ name: 'isr4300-universalk9.16.10.01.SPA.bin', version: '16.10.1', size: '1MB' }] },
            r2: { kind: 'router', platform: 'c3900', images: [{ name: 'c3900-universalk9-mz.SPA.150-1.M7.bin', version: '15.0(1)M7', size: '1MB' }] },
            dns: { kind: 'dns' },
          },
        },
      },
      { stateDir: join(dir, `lab${labs.length}`), reset: true, wellKnownPorts: false, log: (l) => logs.push(l) },
    );
    labs.push(lab);
    return lab;
  };

  /** Runs lines on a router while moving lab time on, so time-outs pass without waiting. */
  const execAdvancing = async (lab: Lab, node: string, lines: string[]) => {
    const done = lab.exec(node, lines);
    let finished = false;
    void done.finally(() => (finished = true));
    for (let i = 0; i < 200 && !finished; i++) {
      await new Promise((r) => setTimeout(r, 25));
      lab.clock.advance(5_000);
    }
    return done;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flashlab-seal-'));
    outside = await outsideHost(OUTSIDE, HOST_SIDE);
  });
  afterAll(async () => {
    for (const l of labs) await l.stop();
    await outside?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the seed's FTP upload to 172.23.1.129 prints IOS's error and opens no socket", async () => {
    const lab = await start();
    const out = await execAdvancing(lab, 'r2', [
      'configure terminal',
      'file prompt quiet',
      'end',
      'copy running-config slot0:1:your-ios',
      `copy slot0:1:your-ios ftp://myuser:mypass@${OUTSIDE}/your-ios`,
    ]);
    expect(out).toContain(`%Error opening ftp://*****:*****@${OUTSIDE}/your-ios (Timed out)`);
    expect(outside.seen).toEqual([]);
    expect(logs.some((l) => l.includes(`r2: egress refused: ftp to ${OUTSIDE}`))).toBe(true);
    expect(lab.labLog().some((l) => l.includes(`ftp to ${OUTSIDE}`))).toBe(true);
  });

  it('TFTP download, DNS through an outside name server, and ping send nothing', async () => {
    const lab = await labs[0]!;
    const tftp = await execAdvancing(lab, 'r1', [`copy tftp://${OUTSIDE}/image.bin bootflash:`]);
    expect(tftp).toContain(`%Error opening tftp://${OUTSIDE}/image.bin (Timed out)`);
    const dns = await execAdvancing(lab, 'r1', ['configure terminal', 'no ip name-server', `ip name-server ${OUTSIDE}`, 'end', 'copy tftp://images.example.com/image.bin bootflash:']);
    expect(dns).toContain(`Translating "images.example.com"...domain server (${OUTSIDE})`);
    expect(dns).toContain('%Error opening tftp://images.example.com/image.bin (Unknown host)');
    const ping = await lab.exec('r1', [`ping ${OUTSIDE} repeat 1`]);
    expect(ping).toContain('Success rate is 0 percent (0/1)');
    expect(lab.exec('r1', ['dir bootflash:'])).resolves.not.toContain('image.bin');
    expect(outside.seen).toEqual([]);
    for (const what of ['tftp', 'dns', 'icmp']) expect(logs.some((l) => l.includes(`r1: egress refused: ${what} to ${OUTSIDE}`))).toBe(true);
  });

  it('mgmt.external opens the network on purpose: the same copy reaches the listener', async () => {
    const lab = await start(['172.23.1.128/30']);
    await execAdvancing(lab, 'r1', ['configure terminal', 'ip tcp synwait-time 5', 'end', `copy ftp://u:p@${OUTSIDE}/image.bin bootflash:`]);
    expect(outside.seen.some((l) => l.startsWith('tcp:21 from'))).toBe(true);
  });
});
