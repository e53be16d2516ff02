/**
 * Whatever is typed, the router answers in IOS's words: no internal error, no stack trace,
 * no crash. Lines are random mixes of real keywords, URLs, numbers and junk, run in every
 * mode; the seed is fixed so a failure replays.
 */
import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../helpers/router.ts';

const WORDS = [
  'show', 'sh', 'version', 'dir', 'copy', 'tftp:', 'ftp:', 'flash:', 'bootflash:', 'nvram:', 'slot0:1:', 'running-config',
  'startup-config', 'reload', 'in', 'at', 'cancel', 'boot', 'system', 'delete', '/force', '/recursive', 'verify', '/md5',
  'rename', 'mkdir', 'rmdir', 'more', 'squeeze', 'ip', 'ftp', 'username', 'password', 'host', 'name-server', 'domain',
  'name', 'hostname', 'file', 'prompt', 'quiet', 'no', 'do', 'end', 'exit', 'terminal', 'length', '0', '99999999999',
  '-1', '12:30', '25:99', 'jun', '31', 'feb', '?', '|', 'include', 'i', '(', '[', '.*', '..', '../..', 'tftp://', 'ftp://a:b@',
  'ftp://@/', 'tftp://127.0.0.1/../etc/passwd', 'flash:../../x', 'bootflash:/', '%', '"', "'", '\\', 'é', '\u0000', 'x'.repeat(300),
  'config-register', '0x2142', '0xZZ', 'clock', 'set', 'timezone', 'logging', 'buffered', 'ping', 'cd', 'pwd', 'line', 'vty',
  'write', 'memory', 'enable', 'secret', 'terminal', 'monitor', 'more', 'nvram:startup-config',
];

function rng(seed: number): () => number {
  // mulberry32: small and deterministic, so a failing line can be replayed.
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('CLI robustness', () => {
  it('answers 1500 random lines in every mode without an internal error', async () => {
    const t = await makeTestRouter({ platform: 'c3900' });
    const rand = rng(20261125);
    const pick = () => WORDS[Math.floor(rand() * WORDS.length)]!;
    const modes = [[], ['configure terminal'], ['configure terminal', 'line vty 0 4']];
    for (let i = 0; i < 1500; i++) {
      const line = Array.from({ length: 1 + Math.floor(rand() * 5) }, pick).join(' ');
      // A reload would take the router away mid-test; everything else may run.
      if (/^\s*rel/.test(line)) continue;
      const out = await t.router.exec([...modes[i % 3]!, line, '', '', 'end']);
      expect(out, `line ${JSON.stringify(line)}`).not.toMatch(/%Error: |TypeError|RangeError|ReferenceError|at .*\.ts:\d+/);
      expect(t.router.state, `line ${JSON.stringify(line)}`).toBe('running');
    }
    // Flash accounting stayed sane through it all.
    for (const fs of t.router.fs.all()) {
      expect(fs.freeBytes).toBeGreaterThanOrEqual(0);
      expect(fs.freeBytes).toBeLessThanOrEqual(fs.totalBytes);
    }
  }, 120_000);

  it('keeps every configured line across write memory and reload', async () => {
    const t = await makeTestRouter();
    await t.run(
      'configure terminal',
      'hostname EDGE-7',
      'enable secret s3cr3t',
      'username ops privilege 15 secret opspw',
      'ip domain name lab.local',
      'ip name-server 127.0.0.53 127.0.0.54',
      'ip host images 127.9.9.9',
      'file prompt quiet',
      'logging buffered 16384 informational',
      'clock timezone CET 1',
      'ip ftp username lab',
      'ip ftp password lab',
      'ip tftp blocksize 8192',
      `boot system bootflash:${t.router.platform.defaultImage}`,
      'config-register 0x2142',
      'end',
      'write memory',
    );
    const before = t.router.configText();
    t.router.reload();
    t.clock.advance(1);
    await t.router.waitFor(['running'], 5000);
    expect(t.router.configText()).toBe(before);
    expect(t.router.checkEnableSecret('s3cr3t')).toBe(true);
    expect(t.router.authenticate('ops', 'opspw')).toBe(true);
    expect(t.router.authenticate('ops', 'wrong')).toBe(false);
  });
});
