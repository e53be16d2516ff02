/** `show version`, computed from the platform profile and the router's state (IOS_REFERENCE §2). */
import type { Feature } from '../../cli/types.ts';
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
  out.push('This product contains cryptographic features and is subject to United');
  out.push('States and local country laws governing import, export, transfer and');
  out.push('use. Delivery of Cisco cryptographic products does not imply');
  out.push('third-party authority to import, export, distribute or use encryption.');
  out.push('');
  out.push(p.hardware.chassisLine);
  out.push(`Processor board ID ${p.hardware.processorBoardId}`);
  out.push(...p.hardware.interfaces);
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
  return [
    '                Head    Total(b)     Used(b)     Free(b)   Lowest(b)  Largest(b)',
    row('Processor', '7F2D6E3010', total, used, free - 832_648, free - 937_052),
    row('lsmpi_io', '7F2CF11430', 6_295_128, 6_294_304, 824, 412),
  ];
}

/** `show inventory`: the platform's NAME/DESCR and PID/VID/SN blocks. */
export function showInventory(r: Router): string[] {
  const out: string[] = [];
  for (const i of r.platform.inventory) {
    out.push(`NAME: "${i.name}", DESCR: "${i.descr}"`);
    out.push(`PID: ${i.pid.padEnd(17)}, VID: ${i.vid.padEnd(5)}, SN: ${i.sn}`);
    out.push('');
  }
  return out;
}

export const versionFeature: Feature<Router> = {
  name: 'version',
  commands: [
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
