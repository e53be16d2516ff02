/** `show version`, computed from the platform profile and the router's state (IOS_REFERENCE §2). */
import { invalidAtToken } from '../../cli/caret.ts';
import type { Feature } from '../../cli/types.ts';
import type { PlatformProfile } from '../../platforms/profile.ts';
import type { Router } from '../../Router.ts';

/** `2 days, 3 hours, 18 minutes`: zero units omitted, singular/plural, minutes always shown. */
export function formatUptime(ms: number): string {
  let m = Math.floor(ms / 60_000);
  const units: [string, number][] = [
    ['year', 525_600],
    ['week', 10_080],
    ['day', 1_440],
    ['hour', 60],
  ];
  const parts: string[] = [];
  for (const [name, size] of units) {
    const n = Math.floor(m / size);
    m -= n * size;
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
  }
  parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  return parts.join(', ');
}

function xePadded(v: string): string {
  // 16.10.1 -> 16.10.01 (line 1 of IOS XE's show version pads the last field)
  const p = v.split('.');
  if (p.length === 3 && /^\d+$/.test(p[2]!)) p[2] = p[2]!.padStart(2, '0');
  if (p.length >= 2 && /^\d$/.test(p[1]!)) p[1] = p[1]!.padStart(2, '0');
  return p.join('.');
}

/** The export notice every crypto image prints, verbatim as on the devices (parsers skip it). */
const CRYPTO_NOTICE = [
  'This product contains cryptographic features and is subject to United',
  'States and local country laws governing import, export, transfer and',
  'use. Delivery of Cisco cryptographic products does not imply',
  'third-party authority to import, export, distribute or use encryption.',
  'Importers, exporters, distributors and users are responsible for',
  'compliance with U.S. and local country laws. By using this product you',
  'agree to comply with applicable laws and regulations. If you are unable',
  'to comply with U.S. and local laws, return this product immediately.',
  '',
  'A summary of U.S. laws governing Cisco cryptographic products may be found at:',
  'http://www.cisco.com/wwl/export/crypto/tool/stqrg.html',
  '',
  'If you require further assistance please contact us by sending email to',
  'export@cisco.com.',
];

type License = PlatformProfile['license'];

/** A license table row: columns separated by at least two spaces, as parsers split them. */
function columns(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < widths.length ? c.padEnd(Math.max(widths[i]!, c.length + 2)) : c)).join('').trimEnd();
}

function technologyTable(t: License['technology'], widths: number[]): string[] {
  return [
    '-----------------------------------------------------------------',
    'Technology    Technology-package           Technology-package',
    '              Current       Type           Next reboot  ',
    '------------------------------------------------------------------',
    ...t.rows.map((row) => columns([row.technology, row.current, row.type, row.next], widths)),
  ];
}

/** IOS XE: the suite table, the technology table, throughput and Smart Licensing status. */
function xeLicenseSections(p: PlatformProfile): string[] {
  const l = p.license;
  const out: string[] = [];
  if (l.suites) {
    out.push(`Suite License Information for Module:'${l.suites.module}' `, '');
    out.push('-'.repeat(80), 'Suite                 Suite Current         Type           Suite Next reboot     ', '-'.repeat(80));
    for (const row of l.suites.rows) out.push(columns([row.suite, row.current, row.type, row.next], [22, 22, 15]), ...row.features, '');
    out.push('');
  }
  out.push('Technology Package License Information: ', '', ...technologyTable(l.technology, [17, 17, 17]), '');
  if (l.throughputKbps) out.push(`The current throughput level is ${l.throughputKbps} kbps `, '', '');
  if (l.smartStatus) out.push(`Smart Licensing Status: ${l.smartStatus}`);
  return out;
}

/** Classic IOS (ISR G2): License Info / License UDI, then the technology table of the module. */
function classicLicenseSections(p: PlatformProfile): string[] {
  const l = p.license;
  return [
    'License Info:',
    '',
    'License UDI:',
    '',
    '-------------------------------------------------',
    'Device#   PID                   SN',
    '-------------------------------------------------',
    `*0        ${l.udi.pid.padEnd(22)}${l.udi.sn.padEnd(16)}`,
    '',
    '',
    '',
    `Technology Package License Information for Module:'${l.technology.module ?? p.imagePlatform}' `,
    '',
    ...technologyTable(l.technology, [14, 14, 15]),
  ];
}

export function showVersion(r: Router): string[] {
  const p = r.platform;
  const sw = p.software;
  const version = r.softwareVersion();
  const header = r.runningImage?.image.header;
  const imageId = header ? `${p.software.imageId.replace(/UNIVERSALK9/, header.featureSet.toUpperCase())}` : sw.imageId;
  const uptime = formatUptime(r.uptimeMs());
  const out: string[] = [];
  if (p.family === 'iosxe') {
    out.push(`Cisco IOS XE Software, Version ${xePadded(version)}`);
    out.push(`Cisco IOS Software [${sw.codename ?? 'Gibraltar'}], ${sw.platformWord} Software (${imageId}), Version ${version}, RELEASE SOFTWARE (${sw.fc})`);
  } else {
    out.push(`Cisco IOS Software, ${sw.platformWord} Software (${imageId}), Version ${version}, RELEASE SOFTWARE (${sw.fc})`);
  }
  out.push('Technical Support: http://www.cisco.com/techsupport');
  out.push(`Copyright (c) 1986-${sw.copyrightYear} by Cisco Systems, Inc.`);
  out.push(`Compiled ${sw.compiled}`);
  out.push('');
  if (p.family === 'iosxe') {
    out.push('');
    out.push(`Cisco IOS-XE software, Copyright (c) 2005-${sw.copyrightYear} by cisco Systems, Inc.`);
    out.push('All rights reserved.  Certain components of Cisco IOS-XE software are');
    out.push('licensed under the GNU General Public License ("GPL") Version 2.0.  The');
    out.push('software code licensed under GPL Version 2.0 is free software that comes');
    out.push('with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such');
    out.push('GPL code under the terms of GPL Version 2.0.  For more details, see the');
    out.push('documentation or "License Notice" file accompanying the IOS-XE software,');
    out.push('or the applicable URL provided on the flyer accompanying the IOS-XE');
    out.push('software.');
    out.push('');
    out.push('');
  }
  // Classic IOS names the ROMmon's version here, so an `upgrade rom-monitor` shows after reload; IOS XE prints a fixed word.
  out.push(`ROM: ${p.family === 'ios' && r.rommonVersion ? `System Bootstrap, Version ${r.rommonVersion}, RELEASE SOFTWARE (fc1)` : sw.rom}`);
  out.push('');
  out.push(`${r.system.hostname} uptime is ${uptime}`);
  if (p.family === 'iosxe') out.push(`Uptime for this control processor is ${uptime}`);
  out.push(`System returned to ROM by ${r.returnedToRomBy}`);
  if (r.bootedAt) out.push(`System restarted at ${r.log.formatLongTime(r.bootedAt)}`);
  out.push(`System image file is "${r.runningImage?.url ?? ''}"`);
  if (p.family === 'ios') out.push('Last reload type: Normal Reload');
  out.push(`Last reload reason: ${r.lastReloadReason}`);
  out.push('', '', '');
  out.push(...CRYPTO_NOTICE);
  out.push('');
  if (p.family === 'iosxe') out.push(...xeLicenseSections(p), '');
  out.push(p.hardware.chassisLine);
  out.push(`Processor board ID ${p.hardware.processorBoardId}`);
  for (const t of p.interfaces) out.push(`${t.ports.length} ${t.versionLabel} interface${t.ports.length === 1 ? '' : 's'}`);
  out.push(...p.hardware.extraLines);
  out.push(`${p.hardware.nvramK}K bytes of non-volatile configuration memory.`);
  if (p.hardware.physicalMemoryK) out.push(`${p.hardware.physicalMemoryK}K bytes of physical memory.`);
  for (const fs of p.fileSystems) {
    if (!fs.versionLine) continue;
    const dev = r.fs.get(fs.name);
    const bytes = dev ? dev.totalBytes * (fs.partitions ?? 1) : fs.sizeBytes;
    out.push(fs.versionLine.replace('{k}', String(Math.floor(bytes / 1024))));
  }
  out.push('');
  if (p.family === 'ios') out.push('', ...classicLicenseSections(p), '');
  const next = r.system.nextConfigRegister;
  const reg = `0x${r.system.configRegister.toString(16).toUpperCase()}`;
  out.push(`Configuration register is ${reg}${next !== undefined && next !== r.system.configRegister ? ` (will be 0x${next.toString(16).toUpperCase()} at next reload)` : ''}`);
  out.push('');
  return out;
}

/** `show memory statistics`: the processor pool from the platform's main memory (figures inferred). */
export function showMemoryStatistics(r: Router): string[] {
  const row = (name: string, head: string, total: number, used: number, lowest: number, largest: number) =>
    [name.padStart(9), head, ...[total, used, total - used, lowest, largest].map((n) => String(n).padStart(10))].join('  ');
  const total = r.platform.hardware.mainMemoryK * 1024;
  // A freshly booted router uses a steady share of its heap; the rest is free.
  const used = Math.round(total * 0.142);
  const free = total - used;
  const out = ['                Head    Total(b)     Used(b)     Free(b)   Lowest(b)  Largest(b)'];
  if (r.platform.family === 'iosxe') {
    out.push(row('Processor', '7F2D6E3010', total, used, free - 832_648, free - 937_052));
    // IOS XE's packet-buffer pool between IOSd and the Linux kernel; classic IOS has none.
    out.push(row('lsmpi_io', '7F2CF11430', 6_295_128, 6_294_304, 824, 412));
  } else {
    out.push(row('Processor', '3D7B9A20', total, used, free - 832_648, free - 937_052));
    const io = (r.platform.hardware.ioMemoryK ?? 0) * 1024;
    const ioUsed = Math.round(io * 0.21);
    if (io) out.push(row('I/O', 'C400000', io, ioUsed, io - ioUsed - 4_096, io - ioUsed - 65_536));
  }
  return out;
}

/** `show inventory`: the platform's NAME/DESCR and PID/VID/SN blocks. */
export function showInventory(r: Router): string[] {
  const out: string[] = [];
  for (const i of r.platform.inventory) {
    out.push(`NAME: "${i.name}", DESCR: "${i.descr}"`);
    // Column widths as the devices print them: PID 18, VID 5 on IOS XE and 4 on classic IOS.
    const vidWidth = r.platform.family === 'iosxe' ? 5 : 4;
    out.push(`PID: ${`${i.pid} `.padEnd(18)}, VID: ${`${i.vid} `.padEnd(vidWidth)}, SN:${i.sn ? ` ${i.sn}` : ''}`);
    out.push('');
  }
  return out;
}

/** Time since boot as IOS's short tables print it: `00:12:34`, `2d03h`, `1w2d`. */
export function shortUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const two = (n: number) => String(n).padStart(2, '0');
  if (d === 0) return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  if (d < 7) return `${d}d${two(Math.floor(s / 3600) % 24)}h`;
  return `${Math.floor(d / 7)}w${d % 7}d`;
}

/** The ROMmon the router booted with: an `upgrade rom-monitor` shows once a reload ran it. */
function runningRommon(r: Router): string {
  return r.rommonVersion ?? r.platform.rommon.version;
}

/** `show platform` (IOS XE): chassis slots with state and insert time, then CPLD and ROMmon versions. */
export function showPlatform(r: Router): string[] {
  const p = r.platform;
  const since = shortUptime(r.clock.now().getTime() - (r.bootedAt ?? r.clock.now()).getTime());
  const out = [`Chassis type: ${p.license.udi.pid.padEnd(20)}`, ''];
  out.push('Slot      Type                State                 Insert time (ago) ');
  out.push('--------- ------------------- --------------------- ----------------- ');
  for (const s of p.chassisSlots) out.push(`${s.slot.padEnd(10)}${s.type.padEnd(20)}${s.state.padEnd(22)}${since.padEnd(14)}`);
  out.push('');
  out.push('Slot      CPLD Version        Firmware Version                        ');
  out.push('--------- ------------------- --------------------------------------- ');
  for (const s of p.chassisSlots) if (s.cpld) out.push(`${s.slot.padEnd(10)}${s.cpld.padEnd(20)}${runningRommon(r).padEnd(36)}`);
  out.push('');
  return out;
}

/** `show license udi`: IOS XE's Smart Licensing one-liner, classic IOS's device table. */
export function showLicenseUdi(r: Router): string[] {
  const { pid, sn } = r.platform.license.udi;
  if (r.platform.family === 'iosxe') return [`UDI: PID:${pid},SN:${sn}`, ''];
  return [
    'Device#   PID                   SN              UDI',
    '-----------------------------------------------------------------------------',
    `*0        ${pid.padEnd(22)}${sn.padEnd(16)}${pid}:${sn}`,
    '',
  ];
}

export const versionFeature: Feature<Router> = {
  name: 'version',
  commands: [
    {
      mode: 'user',
      syntax: 'show platform',
      help: { platform: 'show platform information' },
      when: (r) => r.platform.family === 'iosxe',
      run(ctx) {
        ctx.print(showPlatform(ctx.router).join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show license udi',
      help: { license: 'Show license information', udi: 'Show license UDI information' },
      run(ctx) {
        ctx.print(showLicenseUdi(ctx.router).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'show rom-monitor <slot>',
      help: { 'rom-monitor': 'Show rom-monitor information', slot: 'Slot (R0, F0, 0, 1)' },
      when: (r) => r.platform.family === 'iosxe',
      run(ctx) {
        const p = ctx.router.platform;
        const slot = p.chassisSlots.find((s) => s.cpld && s.slot.trim().toLowerCase() === ctx.args.slot!.toLowerCase());
        if (!slot) throw invalidAtToken(ctx, 2);
        ctx.print(`System Bootstrap, Version ${runningRommon(ctx.router)}, RELEASE SOFTWARE`);
        ctx.print(`Copyright (c) ${p.rommon.copyrightYears}  by cisco Systems, Inc.`);
        ctx.print('');
      },
    },
    {
      mode: 'user',
      syntax: 'show memory statistics',
      help: { memory: 'Memory statistics', statistics: 'Memory statistics' },
      run(ctx) {
        ctx.print(showMemoryStatistics(ctx.router).join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show inventory',
      help: { inventory: 'Show the physical inventory' },
      run(ctx) {
        ctx.print(showInventory(ctx.router).join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show version',
      help: { show: 'Show running system information', version: 'System hardware and software status' },
      run(ctx) {
        ctx.print(showVersion(ctx.router).join('\n'));
      },
    },
  ],
};
