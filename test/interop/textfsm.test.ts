/**
 * TextFSM (Debian's python3-textfsm) parsing what lab routers print, the way automation
 * developers do it: output fetched over SSH with netmiko, parsed by a template directly and
 * through netmiko's use_textfsm (NET_TEXTFSM + index). ntc-templates is not packaged in
 * Debian, so test/interop/textfsm/ holds our own templates keyed on the same line shapes as
 * ntc's cisco_ios_show_version and cisco_ios_dir. Captured values must equal router state.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../../lab/Lab.ts';
import type { Router } from '../../router/Router.ts';
import type { FlashFileSystem } from '../../router/storage/FlashFileSystem.ts';
import { randomLabSubnet } from '../helpers/net.ts';
import { runDebianPython } from '../helpers/peers.ts';

const TEMPLATES = fileURLToPath(new URL('./textfsm', import.meta.url));
const XE_IMAGE = 'isr4300-universalk9.16.10.01.SPA.bin';
const IOS_IMAGE = 'c3900-universalk9-mz.SPA.150-1.M7.bin';
// 1 day, 2 hours, 3 minutes (+20 s so a slow run cannot tick over to the next minute).
const UPTIME_MS = ((24 + 2) * 60 + 3) * 60_000 + 20_000;

const subnet = randomLabSubnet();
let dir: string;
let lab: Lab;

/** Per command: raw output, rows from textfsm.TextFSM, and netmiko's use_textfsm result. */
const SCRIPT = `
import json, sys, textfsm
from netmiko import ConnectHandler
host, port, device_type, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
d = ConnectHandler(device_type=device_type, host=host, port=port, username="admin",
                   password="admin", secret="cisco", timeout=20, fast_cli=False)
d.enable()
res = {}
for cmd, template in jobs:
    raw = d.send_command(cmd)
    entry = {"raw": raw}
    try:
        with open(template) as f:
            fsm = textfsm.TextFSM(f)
            entry["rows"] = [dict(zip(fsm.header, row)) for row in fsm.ParseText(raw)]
    except textfsm.TextFSMError as e:
        entry["error"] = str(e)
    entry["netmiko"] = d.send_command(cmd, use_textfsm=True)
    res[cmd] = entry
d.disconnect()
print(json.dumps(res))
`;

interface Parsed {
  raw: string;
  rows?: Record<string, string>[];
  error?: string;
  /** A list of lower-cased rows when the index matched, else the raw text. */
  netmiko: Record<string, string>[] | string;
}

async function parseOn(node: string, deviceType: string, jobs: [string, string][]): Promise<Record<string, Parsed>> {
  const info = lab.inspect().find((n) => n.name === node)!;
  const args = [join(dir, 'textfsm_check.py'), info.address, String(info.ports.ssh), deviceType, JSON.stringify(jobs.map(([c, t]) => [c, join(TEMPLATES, t)]))];
  const raw = await runDebianPython(args, {
    timeoutMs: 50_000,
    env: { ...process.env, NET_TEXTFSM: TEMPLATES },
    modules: { textfsm: 'python3-textfsm', netmiko: 'python3-netmiko' },
  });
  return JSON.parse(raw.trim().split('\n').at(-1)!) as Record<string, Parsed>;
}

/** The rows, failing with the template error and the text it choked on. */
function rowsOf(p: Parsed): Record<string, string>[] {
  if (p.error) throw new Error(`TextFSM rejected the output: ${p.error}\n---\n${p.raw}`);
  // netmiko's CliTable path must agree with the direct parse (it lower-cases the headers).
  expect(p.netmiko).toEqual(p.rows!.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v]))));
  return p.rows!;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `Nov 5 2026 13:39:58 +00:00`: dir's date column as the template captures it (one space between fields). */
function dirDate(d: Date, offsetMinutes: number): string {
  const l = new Date(d.getTime() + offsetMinutes * 60_000);
  const off = Math.abs(offsetMinutes);
  const tz = `${offsetMinutes < 0 ? '-' : '+'}${two(Math.floor(off / 60))}:${two(off % 60)}`;
  return `${MONTHS[l.getUTCMonth()]} ${l.getUTCDate()} ${l.getUTCFullYear()} ${two(l.getUTCHours())}:${two(l.getUTCMinutes())}:${two(l.getUTCSeconds())} ${tz}`;
}

/** The rows `dir` of a file system's root should yield, in directory order. */
function expectedDir(router: Router, fs: FlashFileSystem, perms: { file: string; dir: string }) {
  return fs.list('').map((e) => ({
    FILE_SYSTEM: `${fs.displayName}:/`,
    ID: String(e.inode),
    PERMISSIONS: e.isDir ? perms.dir : perms.file,
    SIZE: String(e.size),
    DATE_TIME: dirDate(e.mtime, router.system.timezone.offsetMinutes),
    NAME: e.name,
    TOTAL_SIZE: String(fs.totalBytes),
    TOTAL_FREE: String(fs.freeBytes),
  }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flashlab-textfsm-'));
  writeFileSync(join(dir, 'textfsm_check.py'), SCRIPT);
  lab = await Lab.start(
    {
      name: 'textfsm',
      mgmt: { 'ipv4-subnet': subnet },
      topology: {
        nodes: {
          r1: { kind: 'router', platform: 'isr4321', 'boot-seconds': 1, images: [{ name: XE_IMAGE, version: '16.10.1', size: '1MB' }] },
          r2: { kind: 'router', platform: 'c3900', 'boot-seconds': 1, images: [{ name: IOS_IMAGE, version: '15.0(1)M7', size: '1MB' }] },
        },
      },
    },
    { stateDir: join(dir, 'state') },
  );
  // More than one row per listing, a directory among them, and an empty directory.
  const bootflash = lab.router('r1').fs.get('bootflash')!;
  bootflash.mkdir('images');
  await bootflash.writeText('notes.txt', 'flashlab textfsm\n');
  const flash0 = lab.router('r2').fs.get('flash0')!;
  flash0.mkdir('config');
  await flash0.writeText('notes.txt', 'flashlab textfsm\n');
  // A pending register: show version then prints "0x2102 (will be 0x2142 at next reload)".
  await lab.exec('r2', ['configure terminal', 'config-register 0x2142', 'end']);
  lab.clock.advance(UPTIME_MS);
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('TextFSM templates against lab router output', () => {
  it('parses show version and dir of an ISR4321 (IOS XE 16.10)', async () => {
    const router = lab.router('r1');
    const res = await parseOn('r1', 'cisco_xe', [
      ['show version', 'flashlab_cisco_ios_show_version.textfsm'],
      ['dir bootflash:', 'flashlab_cisco_ios_dir.textfsm'],
      ['dir bootflash:images', 'flashlab_cisco_ios_dir.textfsm'],
    ]);

    expect(rowsOf(res['show version']!)).toEqual([
      {
        VERSION: router.softwareVersion(),
        ROMMON: 'IOS-XE',
        HOSTNAME: router.system.hostname,
        UPTIME: '1 day, 2 hours, 3 minutes',
        UPTIME_YEARS: '',
        UPTIME_WEEKS: '',
        UPTIME_DAYS: '1',
        UPTIME_HOURS: '2',
        UPTIME_MINUTES: '3',
        RELOAD_REASON: router.lastReloadReason,
        RUNNING_IMAGE: XE_IMAGE,
        HARDWARE: 'ISR4321/K9',
        SERIAL: router.platform.hardware.processorBoardId,
        CONFIG_REGISTER: '0x2102',
      },
    ]);
    expect(router.softwareVersion()).toBe('16.10.1');
    expect(router.runningImage?.url).toBe(`bootflash:${XE_IMAGE}`);

    const fs = router.fs.get('bootflash')!;
    const rows = rowsOf(res['dir bootflash:']!);
    expect(rows).toEqual(expectedDir(router, fs, { file: '-rw-', dir: 'drwx' }));
    expect(rows.map((r) => r.NAME).sort()).toEqual([XE_IMAGE, 'images', 'notes.txt'].sort());
    expect(rows.find((r) => r.NAME === XE_IMAGE)!.SIZE).toBe(String(1024 * 1024));

    // An empty directory still yields its totals (the template's "No files in directory" branch).
    expect(rowsOf(res['dir bootflash:images']!)).toEqual([
      { FILE_SYSTEM: 'bootflash:/images/', ID: '', PERMISSIONS: '', SIZE: '', DATE_TIME: '', NAME: '', TOTAL_SIZE: String(fs.totalBytes), TOTAL_FREE: String(fs.freeBytes) },
    ]);
  }, 55_000);

  it('parses show version and dir of a C3900 (IOS 15)', async () => {
    const router = lab.router('r2');
    const res = await parseOn('r2', 'cisco_ios', [
      ['show version', 'flashlab_cisco_ios_show_version.textfsm'],
      ['dir flash0:', 'flashlab_cisco_ios_dir.textfsm'],
    ]);

    expect(res['show version']!.raw).toContain('Configuration register is 0x2102 (will be 0x2142 at next reload)');
    expect(rowsOf(res['show version']!)).toEqual([
      {
        VERSION: router.softwareVersion(),
        ROMMON: 'System',
        HOSTNAME: router.system.hostname,
        UPTIME: '1 day, 2 hours, 3 minutes',
        UPTIME_YEARS: '',
        UPTIME_WEEKS: '',
        UPTIME_DAYS: '1',
        UPTIME_HOURS: '2',
        UPTIME_MINUTES: '3',
        RELOAD_REASON: router.lastReloadReason,
        RUNNING_IMAGE: IOS_IMAGE,
        HARDWARE: 'CISCO3945-CHASSIS',
        SERIAL: router.platform.hardware.processorBoardId,
        CONFIG_REGISTER: `0x${router.system.configRegister.toString(16).toUpperCase()}`,
      },
    ]);
    expect(router.softwareVersion()).toBe('15.0(1)M7');
    expect(router.system.configRegister).toBe(0x2102);

    const fs = router.fs.get('flash0')!;
    const rows = rowsOf(res['dir flash0:']!);
    expect(rows).toEqual(expectedDir(router, fs, { file: '-rw-', dir: 'drw-' }));
    expect(rows.map((r) => r.NAME).sort()).toEqual([IOS_IMAGE, 'config', 'notes.txt'].sort());
  }, 55_000);
});
