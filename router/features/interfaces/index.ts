/**
 * The interface model: the platform's ports (the ones `show version` counts) plus any
 * `interface LoopbackN`, each with description, IPv4 address, shutdown and autonegotiation;
 * `show interfaces [description]`, `show ip interface [brief]`, `show ipv6 interface`, the
 * neighbour-protocol queries automation runs (`show cdp`, `show lldp`), and the interface
 * sections of running-config. A port is up when it is not shut down and a topology link (or,
 * for the management interface, the lab network) is plugged into it.
 */
import { invalidAtToken } from '../../cli/caret.ts';
import { CliError } from '../../cli/CliSession.ts';
import type { CommandContext, ConfigSection, Feature } from '../../cli/types.ts';
import type { PlatformProfile } from '../../platforms/profile.ts';
import type { Router } from '../../Router.ts';
import { ConfigOrder } from '../configOrder.ts';

type Ctx = CommandContext<Router>;
type PortType = PlatformProfile['interfaces'][number];

/** Loopbacks are software interfaces: created by `interface LoopbackN`, always up unless shut. */
const LOOPBACK: PortType = {
  type: 'Loopback',
  versionLabel: 'Loopback',
  hardware: 'Loopback',
  bandwidthKbit: 8_000_000,
  mediaLine: '',
  configDefaults: [],
  ports: [],
};

export interface InterfaceState {
  name: string;
  port: PortType;
  /** Position among the platform's ports (for the MAC address); loopbacks have none. */
  index?: number;
  description?: string;
  /** `dhcp`: the management interface takes the lab's address for the router. */
  address?: { ip: number; prefix: number; method: 'manual' | 'NVRAM' } | 'dhcp';
  shutdown: boolean;
  negotiationAuto: boolean;
}

interface InterfaceTable {
  list: InterfaceState[];
}

function table(r: Router): InterfaceTable {
  return r.featureState<InterfaceTable>('interfaces', () => ({ list: platformInterfaces(r) }));
}

function platformInterfaces(r: Router): InterfaceState[] {
  const ports = r.platform.interfaces.flatMap((t) => t.ports.map((p) => ({ t, p, key: p.split('/').map(Number) })));
  // IOS lists ports by slot/subslot/port, whatever their type (Gi0/2 before Fa0/3/0).
  ports.sort((a, b) => {
    for (let k = 0; k < Math.max(a.key.length, b.key.length); k++) if ((a.key[k] ?? -1) !== (b.key[k] ?? -1)) return (a.key[k] ?? -1) - (b.key[k] ?? -1);
    return 0;
  });
  return ports.map(({ t, p }, index) => {
    const name = `${t.type}${p}`;
    const mgmt = name === r.platform.managementInterface;
    // A router's ports come up shut down; the management port is the lab's way in.
    return { name, port: t, index, shutdown: !mgmt, address: mgmt ? 'dhcp' : undefined, negotiationAuto: t.configDefaults.includes('negotiation auto') };
  });
}

/** Every interface of the router, in the order IOS lists them. */
export function interfaces(r: Router): readonly InterfaceState[] {
  return table(r).list;
}

// ---- addresses ---------------------------------------------------------------------------

function ipToInt(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length of a contiguous mask, undefined for `255.0.255.0`. */
function prefixOf(mask: number): number | undefined {
  const inverted = ~mask >>> 0;
  return (inverted & (inverted + 1)) === 0 ? 32 - Math.log2(inverted + 1) : undefined;
}

/** The address an interface holds now (DHCP resolves to the router's lab address). */
export function interfaceAddress(r: Router, i: InterfaceState): { ip: number; prefix: number } | undefined {
  if (i.address === 'dhcp') {
    const ip = ipToInt(r.address);
    return ip === undefined ? undefined : { ip, prefix: r.prefixLength };
  }
  return i.address;
}

// ---- state -------------------------------------------------------------------------------

function isPhysical(i: InterfaceState): boolean {
  return i.port !== LOOPBACK;
}

/** Is something plugged in: a topology link, the lab network (management), or nothing needed (loopback)? */
function carrier(r: Router, i: InterfaceState): boolean {
  if (!isPhysical(i)) return true;
  return i.name === r.platform.managementInterface || r.linkedInterfaces.some((l) => resolveName(r, l, false) === i.name);
}

export function linkStatus(r: Router, i: InterfaceState): { status: 'up' | 'down' | 'administratively down'; protocol: 'up' | 'down' } {
  if (i.shutdown) return { status: 'administratively down', protocol: 'down' };
  return carrier(r, i) ? { status: 'up', protocol: 'up' } : { status: 'down', protocol: 'down' };
}

function macAddress(r: Router, i: InterfaceState): string {
  const base = parseInt(r.platform.baseMac.replace(/\./g, ''), 16);
  // Each router of a platform gets its own block, derived from its name, as chassis differ.
  let h = 0;
  for (const c of r.name) h = (h * 31 + c.charCodeAt(0)) & 0xfff;
  const hex = (base + h * 16 + (i.index ?? 0)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 4)}.${hex.slice(4, 8)}.${hex.slice(8)}`;
}

/** `Gi0/0/0` for `show interfaces description` and the like. */
export function shortName(name: string): string {
  const m = /^([A-Za-z-]+)(.*)$/.exec(name)!;
  return m[1]!.slice(0, 2) + m[2];
}

/**
 * Resolves what the user typed (`gi0/0/1`, `GigabitEthernet 0/0/1`, `lo5`) to an interface
 * name; `create` admits a new loopback. Undefined when this router has no such interface.
 */
function resolveName(r: Router, typed: string, create: boolean): string | undefined {
  const m = /^([A-Za-z-]+)\s*(\d+(?:\/\d+)*)$/.exec(typed.trim());
  if (!m) return undefined;
  const word = m[1]!.toLowerCase();
  const types = [...r.platform.interfaces, LOOPBACK].filter((t) => t.type.toLowerCase().startsWith(word));
  if (types.length !== 1) return undefined;
  const t = types[0]!;
  if (t === LOOPBACK) return /^\d+$/.test(m[2]!) && Number(m[2]) <= 2147483647 && (create || interfaces(r).some((i) => i.name === `Loopback${Number(m[2])}`)) ? `Loopback${Number(m[2])}` : undefined;
  return t.ports.includes(m[2]!) ? `${t.type}${m[2]}` : undefined;
}

function typedName(ctx: Ctx): string {
  return ctx.args.port ? `${ctx.args.name} ${ctx.args.port}` : ctx.args.name!;
}

function lookup(ctx: Ctx, nameToken: number, create = false): InterfaceState {
  const r = ctx.router;
  const name = resolveName(r, typedName(ctx), create);
  if (!name) throw invalidAtToken(ctx, nameToken);
  const list = table(r).list;
  let i = list.find((x) => x.name === name);
  if (!i) {
    i = { name, port: LOOPBACK, shutdown: false, negotiationAuto: false };
    list.push(i);
    list.sort(listOrder);
    r.log.emit('LINK', 3, 'UPDOWN', `Interface ${name}, changed state to up`);
    r.log.emit('LINEPROTO', 5, 'UPDOWN', `Line protocol on Interface ${name}, changed state to up`);
  }
  return i;
}

/** Ports in platform order, then loopbacks by number. */
function listOrder(a: InterfaceState, b: InterfaceState): number {
  if (a.index !== undefined || b.index !== undefined) return (a.index ?? Infinity) - (b.index ?? Infinity);
  return Number(a.name.replace(/\D/g, '')) - Number(b.name.replace(/\D/g, ''));
}

/** The interface a `(config-if)#` session is in. */
function current(ctx: Ctx): InterfaceState {
  const name = ctx.session.modeData as string;
  const i = table(ctx.router).list.find((x) => x.name === name);
  if (!i) throw new CliError(`% Interface ${name} no longer exists`);
  return i;
}

/** Logs the transitions IOS logs when an interface goes up or down. */
function logChange(r: Router, i: InterfaceState, before: ReturnType<typeof linkStatus>): void {
  const after = linkStatus(r, i);
  if (after.status !== before.status) {
    if (after.status === 'administratively down') r.log.emit('LINK', 5, 'CHANGED', `Interface ${i.name}, changed state to administratively down`);
    else r.log.emit('LINK', 3, 'UPDOWN', `Interface ${i.name}, changed state to ${after.status}`);
  }
  if (after.protocol !== before.protocol) r.log.emit('LINEPROTO', 5, 'UPDOWN', `Line protocol on Interface ${i.name}, changed state to ${after.protocol}`);
}

function setAddress(ctx: Ctx, i: InterfaceState): void {
  const r = ctx.router;
  const ip = ipToInt(ctx.args.ip!);
  if (ip === undefined) throw invalidAtToken(ctx, 2);
  const mask = ipToInt(ctx.args.mask!);
  if (mask === undefined) throw invalidAtToken(ctx, 3);
  const prefix = prefixOf(mask);
  if (prefix === undefined || prefix === 0 || (prefix >= 31 && isPhysical(i) && prefix !== 31)) {
    throw new CliError(`Bad mask 0x${mask.toString(16).toUpperCase().padStart(8, '0')} for address ${ctx.args.ip}`);
  }
  const net = (ip & maskOf(prefix)) >>> 0;
  for (const other of table(r).list) {
    if (other === i) continue;
    const a = interfaceAddress(r, other);
    if (!a) continue;
    const common = Math.min(a.prefix, prefix);
    if (((a.ip ^ ip) & maskOf(common)) >>> 0 === 0) throw new CliError(`% ${intToIp(net)} overlaps with ${other.name}`);
  }
  // Lines replayed from startup-config at boot show as NVRAM in `show ip interface brief`.
  i.address = { ip, prefix, method: ctx.session.user === 'startup' ? 'NVRAM' : 'manual' };
}

// ---- output ------------------------------------------------------------------------------

function headline(r: Router, i: InterfaceState): string {
  const s = linkStatus(r, i);
  return `${i.name} is ${s.status}, line protocol is ${s.protocol} `;
}

function showInterface(r: Router, i: InterfaceState): string[] {
  const a = interfaceAddress(r, i);
  const out = [headline(r, i)];
  const loop = !isPhysical(i);
  out.push(loop ? '  Hardware is Loopback' : `  Hardware is ${i.port.hardware}, address is ${macAddress(r, i)} (bia ${macAddress(r, i)})`);
  if (i.description) out.push(`  Description: ${i.description}`);
  if (a) out.push(`  Internet address is ${intToIp(a.ip)}/${a.prefix}`);
  out.push(`  MTU ${loop ? 1514 : 1500} bytes, BW ${i.port.bandwidthKbit} Kbit/sec, DLY ${loop ? 5000 : 10} usec, `);
  out.push('     reliability 255/255, txload 1/255, rxload 1/255');
  out.push(`  Encapsulation ${loop ? 'LOOPBACK' : 'ARPA'}, loopback not set`);
  out.push(loop ? '  Keepalive set (10 sec)' : '  Keepalive not supported ');
  if (!loop) {
    out.push(`  ${i.port.mediaLine}`);
    out.push('  output flow-control is unsupported, input flow-control is unsupported');
    out.push('  ARP type: ARPA, ARP Timeout 04:00:00');
  }
  out.push('  Last input never, output never, output hang never');
  out.push('  Last clearing of "show interface" counters never');
  out.push(`  Input queue: 0/${loop ? 75 : 375}/0/0 (size/max/drops/flushes); Total output drops: 0`);
  out.push('  Queueing strategy: fifo');
  out.push(`  Output queue: 0/${loop ? 0 : 40} (size/max)`);
  out.push('  5 minute input rate 0 bits/sec, 0 packets/sec');
  out.push('  5 minute output rate 0 bits/sec, 0 packets/sec');
  out.push('     0 packets input, 0 bytes, 0 no buffer');
  out.push('     Received 0 broadcasts (0 IP multicasts)');
  out.push('     0 runts, 0 giants, 0 throttles ');
  out.push('     0 input errors, 0 CRC, 0 frame, 0 overrun, 0 ignored, 0 abort');
  out.push('     0 packets output, 0 bytes, 0 underruns');
  out.push('     0 output errors, 0 collisions, 0 interface resets');
  out.push('     0 unknown protocol drops');
  if (!loop) out.push('     0 babbles, 0 late collision, 0 deferred', '     0 lost carrier, 0 no carrier', '     0 output buffer failures, 0 output buffers swapped out');
  else out.push('     0 output buffer failures, 0 output buffers swapped out');
  return out;
}

function showIpInterface(r: Router, i: InterfaceState): string[] {
  const out = [headline(r, i)];
  const a = interfaceAddress(r, i);
  if (!a) return [...out, '  Internet protocol processing disabled'];
  out.push(`  Internet address is ${intToIp(a.ip)}/${a.prefix}`);
  out.push('  Broadcast address is 255.255.255.255');
  if (i.address === 'dhcp') out.push('  Address determined by DHCP');
  else out.push(`  Address determined by ${i.address?.method === 'NVRAM' ? 'non-volatile memory' : 'setup command'}`);
  out.push(`  MTU is ${isPhysical(i) ? 1500 : 1514} bytes`);
  out.push('  Helper address is not set');
  out.push('  Directed broadcast forwarding is disabled');
  out.push('  Outgoing access list is not set');
  out.push('  Inbound  access list is not set');
  out.push('  Proxy ARP is enabled');
  out.push('  Local Proxy ARP is disabled');
  out.push('  Security level is default');
  out.push('  Split horizon is enabled');
  out.push('  ICMP redirects are always sent');
  out.push('  ICMP unreachables are always sent');
  out.push('  ICMP mask replies are never sent');
  out.push('  IP fast switching is enabled');
  out.push('  IP CEF switching is enabled');
  return out;
}

function briefRow(r: Router, i: InterfaceState): string {
  const a = interfaceAddress(r, i);
  const method = i.address === 'dhcp' ? 'DHCP' : (i.address?.method ?? 'unset');
  const s = linkStatus(r, i);
  return `${i.name.padEnd(23)}${(a ? intToIp(a.ip) : 'unassigned').padEnd(16)}YES ${method.padEnd(7)}${s.status.padEnd(22)}${s.protocol}`;
}

function configSection(r: Router, i: InterfaceState): string[] {
  const lines = [`interface ${i.name}`];
  if (i.description) lines.push(` description ${i.description}`);
  if (i.address === 'dhcp') lines.push(' ip address dhcp');
  else if (i.address) lines.push(` ip address ${intToIp(i.address.ip)} ${intToIp(maskOf(i.address.prefix))}`);
  else lines.push(' no ip address');
  if (i.shutdown) lines.push(' shutdown');
  for (const d of i.port.configDefaults) {
    if (d === 'negotiation auto') lines.push(i.negotiationAuto ? ' negotiation auto' : ' no negotiation auto');
    else lines.push(` ${d}`);
  }
  return [...lines, '!'];
}

/** The interface (or every interface) a `show` names; unknown names get the caret. */
function selected(ctx: Ctx, nameToken: number): InterfaceState[] {
  if (!ctx.args.name) return [...interfaces(ctx.router)];
  return [lookup(ctx, nameToken)];
}

export const interfacesFeature: Feature<Router> = {
  name: 'interfaces',
  modes: [{ id: 'config-if', prompt: '(config-if)#', parent: 'config' }],
  commands: [
    {
      mode: 'config',
      syntax: 'interface <name> [<port>]',
      help: { interface: 'Select an interface to configure', name: 'Interface type and number (GigabitEthernet0/0/0, Loopback0)', port: 'Interface number' },
      run(ctx) {
        ctx.enterMode('config-if', lookup(ctx, 1, true).name);
      },
    },
    {
      mode: 'config',
      syntax: 'no interface <name> [<port>]',
      run(ctx) {
        const r = ctx.router;
        const name = resolveName(r, typedName(ctx), false);
        const i = table(r).list.find((x) => x.name === name);
        // Only software interfaces can be removed; a port is hardware.
        if (!i || isPhysical(i)) throw invalidAtToken(ctx, 2);
        table(r).list.splice(table(r).list.indexOf(i), 1);
      },
    },
    {
      mode: 'config-if',
      syntax: 'description <text:LINE>',
      help: { description: 'Interface specific description', text: 'Up to 200 characters describing this interface' },
      run(ctx) {
        const text = ctx.args.text!.trim();
        if (text.length > 200) throw new CliError('% Description too long: at most 200 characters');
        current(ctx).description = text;
      },
    },
    {
      mode: 'config-if',
      syntax: 'no description [<text:LINE>]',
      run(ctx) {
        current(ctx).description = undefined;
      },
    },
    {
      mode: 'config-if',
      syntax: 'ip address <ip> <mask>',
      help: { ip: 'Interface Internet Protocol config commands', address: 'Set the IP address of an interface', mask: 'IP subnet mask' },
      run(ctx) {
        setAddress(ctx, current(ctx));
      },
    },
    {
      mode: 'config-if',
      syntax: 'ip address dhcp',
      help: { dhcp: 'IP Address negotiated via DHCP' },
      run(ctx) {
        const i = current(ctx);
        // Only the management port has a DHCP server behind it: the lab, which hands out the router's address.
        if (i.name !== ctx.router.platform.managementInterface) throw new CliError(`% DHCP has no server on ${i.name} in this lab; use ip address <address> <mask>`);
        i.address = 'dhcp';
      },
    },
    {
      mode: 'config-if',
      syntax: 'no ip address [<ip>] [<mask>]',
      run(ctx) {
        current(ctx).address = undefined;
      },
    },
    {
      mode: 'config-if',
      syntax: 'no ip address dhcp',
      run(ctx) {
        const i = current(ctx);
        if (i.address === 'dhcp') i.address = undefined;
      },
    },
    {
      mode: 'config-if',
      syntax: 'shutdown',
      help: { shutdown: 'Shutdown the selected interface' },
      run(ctx) {
        const i = current(ctx);
        const before = linkStatus(ctx.router, i);
        i.shutdown = true;
        logChange(ctx.router, i, before);
      },
    },
    {
      mode: 'config-if',
      syntax: 'no shutdown',
      run(ctx) {
        const i = current(ctx);
        const before = linkStatus(ctx.router, i);
        i.shutdown = false;
        logChange(ctx.router, i, before);
      },
    },
    {
      mode: 'config-if',
      syntax: '[no] negotiation auto',
      help: { negotiation: 'Select Autonegotiation mode', auto: 'Enable link autonegotiation' },
      when: (r) => r.platform.interfaces.some((t) => t.configDefaults.includes('negotiation auto')),
      run(ctx) {
        const i = current(ctx);
        if (!i.port.configDefaults.includes('negotiation auto')) throw invalidAtToken(ctx, ctx.negated ? 1 : 0);
        i.negotiationAuto = !ctx.negated;
      },
    },
    {
      mode: 'user',
      syntax: 'show interfaces [<name> [<port>]]',
      help: { interfaces: 'Interface status and configuration', name: 'Interface type and number' },
      run(ctx) {
        ctx.print(selected(ctx, 2).flatMap((i) => showInterface(ctx.router, i)).join('\n'));
      },
    },
    {
      // IOS prints the one section framed as a whole configuration: `!` … `end`, counted in bytes.
      mode: 'exec',
      syntax: 'show running-config interface <name> [<port>]',
      help: { 'running-config': 'Current operating configuration', interface: 'Show interface configuration', name: 'Interface type and number' },
      run(ctx) {
        const section = configSection(ctx.router, lookup(ctx, 2)).slice(0, -1);
        const body = ['!', ...section, 'end', ''].join('\n');
        ctx.print('Building configuration...\n');
        ctx.print(`Current configuration : ${Buffer.byteLength(body)} bytes`);
        ctx.print(body);
      },
    },
    {
      mode: 'user',
      syntax: 'show interfaces description',
      help: { description: 'Show interface description' },
      run(ctx) {
        const r = ctx.router;
        const out = ['Interface                      Status         Protocol Description'];
        for (const i of interfaces(r)) {
          const s = linkStatus(r, i);
          const status = s.status === 'administratively down' ? 'admin down' : s.status;
          out.push(`${shortName(i.name).padEnd(31)}${status.padEnd(15)}${s.protocol.padEnd(9)}${i.description ?? ''}`.trimEnd());
        }
        ctx.print(out.join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show ip interface [<name> [<port>]]',
      help: { ip: 'IP information', interface: 'IP interface status and configuration' },
      run(ctx) {
        ctx.print(selected(ctx, 3).flatMap((i) => showIpInterface(ctx.router, i)).join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show ip interface brief',
      help: { brief: 'Brief summary of IP status and configuration' },
      run(ctx) {
        const r = ctx.router;
        ctx.print(['Interface              IP-Address      OK? Method Status                Protocol', ...interfaces(r).map((i) => briefRow(r, i))].join('\n'));
      },
    },
    {
      mode: 'user',
      syntax: 'show ipv6 interface [brief]',
      help: { ipv6: 'IPv6 information', interface: 'IPv6 interface status and configuration', brief: 'Brief summary' },
      // No interface has IPv6 enabled, and IOS then prints nothing.
      run() {},
    },
    {
      mode: 'user',
      syntax: 'show cdp [neighbors] [detail]',
      help: { cdp: 'CDP information', neighbors: 'CDP neighbor entries', detail: 'Show detailed information' },
      run() {
        throw new CliError('% CDP is not enabled');
      },
    },
    {
      mode: 'user',
      syntax: 'show lldp [neighbors] [detail]',
      help: { lldp: 'LLDP information', neighbors: 'LLDP neighbor entries', detail: 'Show detailed information' },
      run() {
        throw new CliError('% LLDP is not enabled');
      },
    },
  ],
  runningConfig(r) {
    return [{ order: ConfigOrder.interface, lines: ['!', ...interfaces(r).flatMap((i) => configSection(r, i))] }];
  },
};
