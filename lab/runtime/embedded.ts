/**
 * The embedded runtime: every node in this one process, each on its own loopback address
 * from the mgmt subnet (any 127.x address works on Linux). Where the OS only answers on
 * 127.0.0.1, every node shares it and ports tell nodes apart; then the name table and
 * `servicePort` can hold one server per service.
 *
 * Ports: the well-known one when the process may bind it, a high one otherwise; routers
 * always dial the well-known port and `servicePort` maps it to the real one.
 */
import { SigningAuthority } from '../signing/SigningAuthority.ts';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadOrCreateHostKey } from '../../router/access/hostKey.ts';
import { ContentStore } from '../../router/storage/ContentStore.ts';
import type { LabClock } from '../clock/LabClock.ts';
import { kindAdapter, type KindContext } from '../kinds/registry.ts';
import type { RouterSpec } from '../kinds/router.ts';
import type { Topology } from '../topology/schema.ts';
import { ImageFactory, signingKeysOf } from './images.ts';
import type { RuntimeOptions } from './index.ts';
import { ServiceTable } from './services.ts';
import { LocalNodeHandle } from './local.ts';
import { transferClients } from './transferClients.ts';
import type { LabNode, LabRuntime, NodeHandle, NodeInfo } from './types.ts';

export interface EmbeddedOptions {
  /** The lab's state folder: content store, node state, host key. */
  stateDir: string;
  clock: LabClock;
  /** Try 21/22/53/69 first (default true); false goes straight to high ports. */
  wellKnownPorts?: boolean;
  /** How long nodes get to become healthy (default 60 s). */
  healthTimeoutMs?: number;
  log?: (line: string) => void;
}


export class EmbeddedRuntime implements LabRuntime {
  readonly name = 'embedded' as const;
  readonly services = new ServiceTable();
  readonly store: ContentStore;
  readonly nodes = new Map<string, LabNode>();
  private readonly nodeHandles = new Map<string, LocalNodeHandle>();
  /** Addresses nodes really bind, by node name. */
  private readonly bound = new Map<string, string>();
  private readonly images: ImageFactory;
  /** The lab's signing authority (S2.2): keys and signer certificates, kept in the state folder. */
  readonly authority: SigningAuthority;
  private readonly transfer: KindContext['transfer'];
  private started: LabNode[] = [];
  /** Problems the user must hear about, found while starting (printed by `flashlab up`). */
  readonly warnings: string[] = [];

  constructor(
    readonly topology: Topology,
    private readonly opts: EmbeddedOptions,
  ) {
    mkdirSync(opts.stateDir, { recursive: true });
    this.store = new ContentStore(join(opts.stateDir, 'store'));
    this.authority = new SigningAuthority(opts.stateDir);
    this.images = new ImageFactory(join(opts.stateDir, 'images'), this.store, this.authority);
    // One client of each per lab: they hold no per-router state.
    this.transfer = transferClients();
  }

  servicePort(address: string, service: string): number {
    return this.services.servicePort(address, service);
  }

  addressOf(node: string): string | undefined {
    return this.bound.get(node);
  }

  /** Creates every node, starts servers then routers (each group in parallel), waits for health. */
  async start(): Promise<void> {
    const t = this.topology;
    // Key generation is the slow part of a fresh lab: start every key the lab will need now,
    // in parallel, while the rest comes up (each is made once and kept in the state folder).
    this.authority.prepare(signingKeysOf(t));
    const shared = !(await perNodeAddressesWork(t.nodes[0]?.address));
    if (shared) this.opts.log?.('this system answers only on 127.0.0.1: nodes share it and differ by port');
    for (const spec of t.nodes) this.bound.set(spec.name, shared ? '127.0.0.1' : spec.address);

    for (const original of t.nodes) {
      // Shared address: config lines naming a node's subnet address must name 127.0.0.1 instead.
      const spec =
        shared && original.kind === 'router'
          ? { ...original, startupConfig: (original as RouterSpec).startupConfig.map((l) => t.nodes.reduce((acc, n) => acc.replace(addressPattern(n.address), '127.0.0.1'), l)) }
          : original;
      const stateDir = join(this.opts.stateDir, 'nodes', spec.name);
      mkdirSync(stateDir, { recursive: true });
      const ctx: KindContext = {
        lab: { name: t.name, domain: t.domain, prefixLength: Number(t.subnet.split('/')[1]), stateDir: this.opts.stateDir },
        clock: this.opts.clock,
        store: this.store,
        stateDir,
        address: this.bound.get(spec.name)!,
        // Shared address: high ports only, or the second FTP server would take 21 from nobody.
        wellKnownPorts: !shared && (this.opts.wellKnownPorts ?? true),
        hostKey: original.kind === 'router' ? this.hostKey(spec.name) : '',
        services: this.services,
        images: this.images,
        authority: this.authority,
        addresses: () => t.nodes.map((n) => ({ name: n.name, address: this.bound.get(n.name)! })),
        transfer: this.transfer,
        // `r1:GigabitEthernet0/0/0` → this node's linked interface names.
        links: t.links.flatMap((l) => l.endpoints).filter((e) => e.split(':')[0] === spec.name).map((e) => e.slice(spec.name.length + 1)),
        external: t.external,
        log: this.opts.log,
        warn: (line) => this.warn(line),
      };
      const node = kindAdapter(spec.kind).create(spec as never, ctx);
      this.nodes.set(spec.name, node);
      this.nodeHandles.set(spec.name, new LocalNodeHandle(node));
    }

    const all = [...this.nodes.values()];
    const servers = all.filter((n) => kindAdapter(n.kind).order === 'server');
    const routers = all.filter((n) => kindAdapter(n.kind).order === 'router');
    try {
      await Promise.all(all.map((n) => n.create()));
      this.images.releasePins();
      await this.checkState(all);
      await this.startGroup(servers);
      await this.startGroup(routers);
      await this.waitHealthy(all, this.opts.healthTimeoutMs ?? 60_000);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private warn(line: string): void {
    this.warnings.push(line);
    this.opts.log?.(`warning: ${line}`);
  }

  /**
   * Before anything boots: remove temp files of writes a killed lab left, report damaged
   * state, then collect blobs nothing references. Collection waits while a file system's
   * metadata was found unreadable (now or before, `*.corrupt-*` still beside it): the
   * blobs it referenced are all that is left of its files until `flashlab doctor` says so.
   */
  private async checkState(nodes: LabNode[]): Promise<void> {
    const tmp = await this.store.cleanTemporaries();
    if (tmp.files) this.opts.log?.(`removed ${tmp.files} temporary file(s) of interrupted writes (${tmp.bytes} bytes)`);
    for (const n of nodes) for (const p of (await n.stateProblems?.()) ?? []) this.warn(p);
    const references = () => {
      const live = new Set<string>();
      for (const n of nodes) for (const h of n.blobReferences?.() ?? []) live.add(h);
      return live;
    };
    const kept = corruptMetadataFiles(join(this.opts.stateDir, 'nodes'));
    if (kept.length) {
      this.opts.log?.(`store not collected: ${kept.length} unreadable metadata file(s) kept aside (${kept.join(', ')}); "flashlab doctor" reviews them`);
      return;
    }
    const removed = await this.store.gc(references());
    if (removed) this.opts.log?.(`removed ${removed} unreferenced blob(s) from the store`);
    this.store.trackReferences(references);
  }

  private async startGroup(nodes: LabNode[]): Promise<void> {
    const results = await Promise.allSettled(
      nodes.map(async (n) => {
        await n.start();
        this.started.push(n);
      }),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]!.name}: ${(r.reason as Error)?.message ?? r.reason}`] : []));
    if (failed.length) throw new Error(`nodes failed to start:\n  ${failed.join('\n  ')}`);
  }

  private async waitHealthy(nodes: LabNode[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = nodes;
    for (;;) {
      const ok = await Promise.all(pending.map((n) => n.healthy().catch(() => false)));
      pending = pending.filter((_, i) => !ok[i]);
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const list = pending.map((n) => `${n.name} (${n.info().state})`).join(', ');
        throw new Error(`nodes not healthy after ${Math.round(timeoutMs / 1000)} s: ${list}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops every started node (in parallel; one failure does not keep the others up). */
  async stop(): Promise<void> {
    const started = this.started;
    this.started = [];
    await Promise.allSettled(started.map((n) => n.stop()));
    await Promise.allSettled([...this.nodes.values()].map((n) => n.destroy()));
  }

  inspect(): NodeInfo[] {
    return [...this.nodes.values()].map((n) => n.info());
  }

  handles(): NodeHandle[] {
    return [...this.nodeHandles.values()];
  }

  handle(name: string): NodeHandle | undefined {
    return this.nodeHandles.get(name);
  }

  /** One clock in one process: a move has fired every timer before `advance` returns. */
  async clockSettled(): Promise<void> {}

  /**
   * Each router's own SSH host key, made once and kept under `keys/` (which `up --reset`
   * keeps), so clients' known_hosts stay valid across restarts and resets.
   */
  private hostKey(node: string): string {
    return loadOrCreateHostKey(join(this.opts.stateDir, 'keys', node, 'ssh_host_ed25519_key'));
  }
}

/** Can this process bind a 127.x address other than 127.0.0.1? (Linux: yes; macOS: only if aliased.) */
async function perNodeAddressesWork(sample: string | undefined): Promise<boolean> {
  if (!sample || sample === '127.0.0.1') return true;
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, sample, () => s.close(() => resolve(true)));
  });
}

/** Matches an address as a whole (127.77.0.2 but not inside 127.77.0.21). */
function addressPattern(address: string): RegExp {
  return new RegExp(`(?<![\\d.])${address.replace(/\./g, '\\.')}(?![\\d])`, 'g');
}

/** Unreadable metadata files kept aside (`<fs>.json.corrupt-<ms>`) under the nodes' state folders. */
export function corruptMetadataFiles(nodesDir: string): string[] {
  if (!existsSync(nodesDir)) return [];
  const out: string[] = [];
  for (const node of readdirSync(nodesDir)) {
    const fsDir = join(nodesDir, node, 'fs');
    if (!existsSync(fsDir)) continue;
    for (const f of readdirSync(fsDir)) if (/\.json\.corrupt-\d+$/.test(f)) out.push(`${node}/fs/${f}`);
  }
  return out;
}

export function createEmbeddedRuntime(topology: Topology, opts: RuntimeOptions): EmbeddedRuntime {
  return new EmbeddedRuntime(topology, opts);
}
