/**
 * Netmiko's `file_transfer()` (Debian's python3-netmiko, with python3-scp underneath),
 * unchanged, pushing into and pulling from lab routers over real SSH + SCP: the way
 * automation developers stage images. Netmiko checks space with `dir <fs>`, existence with
 * `dir <fs>/<file>` and integrity with `verify /md5 <fs>/<file>` around the copy
 * (IOS_REFERENCE §4.3). The SCP user needs privilege 15, as on a real router.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import { randomLabSubnet } from '../helpers/net.ts';
import { runDebianPython } from '../helpers/peers.ts';

const subnet = randomLabSubnet();
const IMAGE = 'isr4300-universalk9.16.10.01.SPA.bin';
const PUSHED = 'netmiko-push.bin';
let dir: string;
let lab: Lab;

/** Runs netmiko steps given on the command line as JSON; prints one JSON result per step. */
const SCRIPT = `
import json, sys, traceback
from netmiko import ConnectHandler, file_transfer
import paramiko, scp

args = json.loads(sys.argv[1])

def connect(host, port, user="admin"):
    return ConnectHandler(device_type="cisco_xe", host=host, port=port, username=user,
                          password="admin", secret="cisco", timeout=20, fast_cli=False)

def raw_scp_put(host, port, user, local, remote):
    # scp without netmiko's space pre-check, so the router itself must refuse.
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    c.connect(host, port=port, username=user, password="admin", look_for_keys=False, allow_agent=False)
    try:
        scp.SCPClient(c.get_transport()).put(local, remote)
        return "ok"
    except scp.SCPException as e:
        return "SCPException: " + str(e).strip()
    finally:
        c.close()

out = {}
for step in args["steps"]:
    name, kind = step["name"], step["kind"]
    try:
        if kind == "transfer":
            d = connect(step["host"], step["port"])
            d.enable()
            try:
                out[name] = file_transfer(d, source_file=step["src"], dest_file=step["dst"],
                                          file_system="bootflash:", direction=step["direction"],
                                          overwrite_file=True)
                if step.get("md5"):
                    out[name + "_md5"] = d.send_command("verify /md5 bootflash:/" + step["dst"])
            finally:
                d.disconnect()
        elif kind == "raw_put":
            out[name] = raw_scp_put(step["host"], step["port"], step["user"], step["src"], step["dst"])
    except Exception as e:
        out[name] = {"error": type(e).__name__ + ": " + str(e)}
print(json.dumps(out))
`;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-netmiko-scp-'));
  const router = (flash: string, imageSize: string) => ({
    kind: 'router',
    platform: 'isr4321',
    'boot-seconds': 1,
    flash: { bootflash: flash },
    // SCP needs privilege 15 (real IOS: AAA exec authorization); `oper` shows the refusal.
    users: [
      { name: 'admin', password: 'admin', privilege: 15 },
      { name: 'oper', password: 'admin' },
    ],
    'startup-config': ['ip scp server enable'],
    images: [{ name: IMAGE, version: '16.10.1', size: imageSize }],
  });
  lab = await Lab.start(
    {
      name: 'netmiko-scp',
      mgmt: { 'ipv4-subnet': subnet },
      topology: { nodes: { r1: router('64MB', '1MB'), r2: router('1MB', '512K') } },
    },
    { stateDir: join(dir, 'state') },
  );
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Netmiko file_transfer against lab routers', () => {
  it('pushes, skips an identical file, refuses what does not fit, and pulls', async () => {
    const local = join(dir, PUSHED);
    const data = randomBytes(2 * 1024 * 1024);
    writeFileSync(local, data);
    const pulled = join(dir, 'pulled.bin');
    const script = join(dir, 'netmiko_scp.py');
    writeFileSync(script, SCRIPT);
    const node = (n: string) => lab.inspect().find((x) => x.name === n)!;
    const [r1, r2] = [node('r1'), node('r2')];
    const fs1 = lab.router('r1').fs.default;
    const fs2 = lab.router('r2').fs.default;
    const r2Before = { files: fs2.list('').map((e) => `${e.name}:${e.size}`), free: fs2.freeBytes };

    const at = (r: typeof r1) => ({ host: r.address, port: r.ports.ssh });
    const steps = [
      { name: 'push', kind: 'transfer', ...at(r1), src: local, dst: PUSHED, direction: 'put', md5: true },
      { name: 'again', kind: 'transfer', ...at(r1), src: local, dst: PUSHED, direction: 'put' },
      { name: 'get', kind: 'transfer', ...at(r1), src: IMAGE, dst: pulled, direction: 'get' },
      { name: 'small', kind: 'transfer', ...at(r2), src: local, dst: PUSHED, direction: 'put' },
      { name: 'small_raw', kind: 'raw_put', ...at(r2), user: 'admin', src: local, dst: `bootflash:/${PUSHED}` },
      { name: 'low_priv', kind: 'raw_put', ...at(r1), user: 'oper', src: local, dst: 'bootflash:/oper.bin' },
    ];

    // The second step must not send: remember which stored file the first one left.
    let firstInode: number | undefined;
    const watch = setInterval(() => (firstInode ??= fs1.stat(PUSHED)?.inode), 5);
    let raw: string;
    try {
      raw = await runDebianPython([script, JSON.stringify({ steps })], {
        timeoutMs: 240_000,
        modules: { netmiko: 'python3-netmiko', scp: 'python3-scp', paramiko: 'python3-paramiko' },
      });
    } finally {
      clearInterval(watch);
    }
    const res = JSON.parse(raw.trim().split('\n').at(-1)!) as Record<string, unknown>;

    // Push: transferred and verified; the router holds the same bytes.
    expect(res.push).toEqual({ file_exists: true, file_transferred: true, file_verified: true });
    expect(res.push_md5).toContain(`= ${md5(data)}`);
    expect(await fs1.md5(PUSHED)).toBe(md5(data));
    expect(await lab.exec('r1', `verify /md5 bootflash:/${PUSHED}`)).toContain(`verify /md5 (bootflash:/${PUSHED}) = ${md5(data)}`);

    // Again: already there with the right md5, so nothing is sent.
    expect(res.again).toEqual({ file_exists: true, file_transferred: false, file_verified: true });
    expect(fs1.stat(PUSHED)?.inode).toBe(firstInode);

    // Pull: the image comes back byte for byte.
    expect(res.get).toEqual({ file_exists: true, file_transferred: true, file_verified: true });
    expect(md5(readFileSync(pulled))).toBe(await fs1.md5(IMAGE));

    // A 1 MB bootflash: netmiko's own space check stops it; raw scp is refused by the router.
    expect(res.small).toEqual({ error: 'ValueError: Insufficient space available on remote device' });
    expect(res.small_raw).toBe(`SCPException: scp: bootflash:/${PUSHED}: No space left on device`);
    expect({ files: fs2.list('').map((e) => `${e.name}:${e.size}`), free: fs2.freeBytes }).toEqual(r2Before);

    // Privilege 1: refused, nothing stored.
    expect(res.low_priv).toBe('SCPException: scp: Permission denied');
    expect(fs1.exists('oper.bin')).toBe(false);
  }, 300_000);
});
