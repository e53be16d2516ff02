import { describe, expect, it } from 'vitest';
import { makeTestRouter } from '../../../test/helpers/router.ts';

describe('ping, show hosts', () => {
  it('pings a host the network has, by ip host name', async () => {
    const t = await makeTestRouter({ env: { reachable: (a) => a === '127.9.9.9' } });
    await t.run('configure terminal', 'ip host images 127.9.9.9', 'end');
    const out = await t.run('ping images repeat 3');
    expect(out).toBe(
      'Type escape sequence to abort.\nSending 3, 100-byte ICMP Echos to 127.9.9.9, timeout is 2 seconds:\n!!!\nSuccess rate is 100 percent (3/3), round-trip min/avg/max = 1/1/1 ms\n',
    );
  });

  it('times out on an address nobody holds', async () => {
    const t = await makeTestRouter({ env: { reachable: () => false } });
    const out = await t.run('ping 127.9.9.8 repeat 1');
    expect(out).toContain('\n.\nSuccess rate is 0 percent (0/1)\n');
  }, 10_000);

  it('refuses a name it cannot resolve', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'no ip domain lookup', 'end');
    expect(await t.run('ping nowhere')).toBe('% Unrecognized host or address, or protocol not running.\n\n');
  });

  it('shows the host table', async () => {
    const t = await makeTestRouter();
    await t.run('configure terminal', 'ip domain name lab.local', 'ip name-server 127.0.0.53', 'ip host images 127.9.9.9', 'end');
    const hosts = await t.run('show hosts');
    expect(hosts).toContain('Default domain is lab.local\nName/address lookup uses domain service\nName servers are 127.0.0.53\n');
    expect(hosts).toMatch(/^images\s+None\s+\(perm, OK\)\s+0\s+IP\s+127\.9\.9\.9$/m);
  });
});

describe('interactive ping', () => {
  it('asks the extended-ping questions, then prints Sending before the marks on a paged terminal', async () => {
    const t = await makeTestRouter({ env: { reachable: (a) => a === '127.9.9.9' } });
    let out = '';
    const s = t.router.openSession({ user: 'lab', lineName: 'vty0', peer: '127.0.0.1', privilege: 15, interactive: true, out: (x) => (out += x) });
    expect(s.terminal.length).toBe(24);
    for (const line of ['ping', '', '127.9.9.9', '3', '', '', '', '']) s.submit(line);
    await s.idle();
    await new Promise((r) => setTimeout(r, 50));
    s.close();
    // Answers are echoed by the terminal (the line editor), not by the session.
    expect(out).toContain('Protocol [ip]: Target IP address: Repeat count [5]: Datagram size [100]: Timeout in seconds [2]: Extended commands [n]: Sweep range of sizes [n]: ');
    expect(out).toMatch(/Type escape sequence to abort\.\nSending 3, 100-byte ICMP Echos to 127\.9\.9\.9, timeout is 2 seconds:\n!!!\nSuccess rate is 100 percent \(3\/3\)/);
  });

  it('refuses an unknown protocol and a bad repeat count', async () => {
    const t = await makeTestRouter();
    expect(await t.run('ping', 'ipx')).toContain('% Unknown protocol - "ipx", type "ping ?" for help');
    expect(await t.run('ping', '', '127.0.0.1', 'many')).toContain('% A decimal number between 1 and 2147483647.');
  });
});

describe('an unknown word in EXEC is a host name first', () => {
  it('translates it with domain lookup on, then reports it unknown', async () => {
    const t = await makeTestRouter();
    expect(await t.run('shwo')).toBe('Translating "shwo"...domain server (255.255.255.255)\n% Unknown command or computer name, or unable to find computer address\n');
    await t.run('configure terminal', 'no ip domain lookup', 'end');
    expect(await t.run('shwo')).toBe('% Unknown command or computer name, or unable to find computer address\n');
  });
});
