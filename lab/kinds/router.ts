/**
 * The `router` kind: a virtual router plus its SSH server (its vty lines). Healthy once
 * the router has booted (to IOS or to ROMmon) and its SSH port answers.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { RouterSshServer } from '../../router/access/SshServer.ts';
import { RouterTelnetServer } from '../../router/access/TelnetServer.ts';
import { runTranscript, type TranscriptResult } from '../../router/access/Transcript.ts';
import '../../router/features/index.ts'; // registers the IOS feature modules with the router engine
import { Router, type LabService } from '../../router/Router.ts';
import { normalize } from '../../router/storage/FlashFileSystem.ts';
import { DamagedContentError } from '../../router/storage/types.ts';
import { SealedEgress } from '../../router/net/Egress.ts';
import { armMaintenanceWindow, cronProblem, type MaintenanceWindow } from '../../router/system/MaintenanceWindow.ts';
import { LoginGuard } from '../../servers/guard/LoginGuard.ts';
import { BaseNode, type NodeInfo } from '../runtime/types.ts';
import { z } from 'zod';
import { platform, platforms } from '../../router/platforms/profile.ts';
import { base, Common, expandTemplate, imageTag, ImageSeedFields, Lines, platformIds, signing, Size, type ImageSeed, type NodeSpec } from '../topology/schema.ts';
import type { KindAdapter, KindContext, LabRefs } from './registry.ts';
import { startOnPort, tcpAnswers } from './support.ts';

const RouterImageSeed = z.strictObject({
  /** File system (`bootflash`, `flash0`, `slot0:1`); the platform's default when omitted. */
  fs: z.string().optional(),
  ...ImageSeedFields,
});

const User = z.strictObject({
  name: z.string().min(1),
  password: z.string(),
  privilege: z.number().int().min(0).max(15).optional(),
});

const RouterFields = {
  platform: z.string().optional(),
  /** File-system sizes: `{ bootflash: 2MB }` (a low-flash router is one line). */
  flash: z.record(z.string(), Size).optional(),
  users: z.array(User).optional(),
  'enable-secret': z.string().optional(),
  'boot-seconds': z.number().nonnegative().optional(),
  /** Applied at first boot, while nvram has no startup-config. `{{ dns.address }}` expands. */
  'startup-config': Lines.optional(),
  images: z.array(RouterImageSeed).optional(),
  /** IOS lines run at each time a cron expression names, on the lab clock (router/system/MaintenanceWindow.ts). */
  'maintenance-window': z
    .strictObject({
      cron: z.string().superRefine((c, ctx) => {
        const problem = cronProblem(c);
        if (problem) ctx.addIssue({ code: 'custom', message: `bad cron expression: ${problem}` });
      }),
      commands: Lines,
    })
    .optional(),
};

export interface RouterSpec extends NodeSpec {
  kind: 'router';
  platform: string;
  flash: Record<string, number>;
  users?: { name: string; password: string; privilege?: number }[];
  enableSecret?: string;
  bootSeconds?: number;
  startupConfig: string[];
  images: ImageSeed[];
  maintenanceWindow?: MaintenanceWindow;
}

export const RouterNodeSchema = z
  .strictObject({ ...Common, ...RouterFields, name: z.string(), platform: z.string({ error: 'a router needs a platform' }) })
  .superRefine((n, ctx) => {
    const profile = platforms().get(n.platform);
    if (!profile) {
      ctx.addIssue({ code: 'custom', path: ['platform'], message: `unknown router platform "${n.platform}"; known platforms: ${platformIds().join(', ')}` });
      return;
    }
    const names = profile.fileSystems.flatMap((f) => [f.name, ...f.aliases]);
    const known = `${profile.id} has ${profile.fileSystems.map((f) => f.name).join(', ')}`;
    for (const fs of Object.keys(n.flash ?? {})) {
      if (!profile.fileSystems.some((f) => f.name === fs)) ctx.addIssue({ code: 'custom', path: ['flash', fs], message: `no file system "${fs}" (${known})` });
    }
    (n.images ?? []).forEach((img, i) => {
      const dev = img.fs?.replace(/:$/, '').split(':')[0];
      if (dev !== undefined && !names.includes(dev)) ctx.addIssue({ code: 'custom', path: ['images', i, 'fs'], message: `no file system "${img.fs}" (${known})` });
    });
  })
  .transform((n): RouterSpec => {
    const profile = platforms().get(n.platform)!;
    return {
      ...base(n),
      kind: 'router',
      platform: n.platform,
      flash: n.flash ?? {},
      users: n.users,
      enableSecret: n['enable-secret'],
      bootSeconds: n['boot-seconds'],
      startupConfig: n['startup-config'] ?? [],
      ...(n['maintenance-window'] ? { maintenanceWindow: n['maintenance-window'] } : {}),
      images: (n.images ?? []).map((i) => ({
        fs: i.fs?.replace(/:$/, ''),
        path: i.name,
        platform: imageTag(i.platform ?? profile.id),
        version: i.version,
        featureSet: i['feature-set'],
        kind: i['image-kind'],
        size: i.size,
        ...signing(i),
      })),
    };
  });

/** Templates in startup-config expand; routers find lab names through the lab's DNS unless their config says otherwise. */
function finishRouter(n: RouterSpec, lab: LabRefs): void {
  n.startupConfig = n.startupConfig.map((line, i) => expandTemplate(line, lab.name, lab.domain, lab.byName, (m) => lab.issue(['startup-config', i], m)));
  const dns = lab.nodes.find((x) => x.kind === 'dns');
  if (dns && !n.startupConfig.some((l) => /^\s*ip\s+name-server\b/.test(l))) {
    if (!n.startupConfig.some((l) => /^\s*ip\s+domain[ -]name\b/.test(l))) n.startupConfig.push(`ip domain name ${lab.domain}`);
    n.startupConfig.push(`ip name-server ${dns.address}`);
  }
}

export class RouterNode extends BaseNode {
  readonly kind = 'router';
  readonly router: Router;
  private ssh?: RouterSshServer;
  private telnet?: RouterTelnetServer;
  /** Kept across SSH server restarts: a reload does not forgive a guessing address. */
  private readonly loginGuard: LoginGuard;

  constructor(
    readonly spec: RouterSpec,
    private readonly ctx: KindContext,
  ) {
    super();
    const profile = platform(spec.platform);
    if (!ctx.transfer) throw new Error(`${spec.name}: a router needs the lab's transfer clients`);
    this.loginGuard = new LoginGuard({ owner: `${spec.name} ssh`, log: ctx.log });
    this.router = new Router({
      name: spec.name,
      platform: profile,
      address: ctx.address,
      env: {
        clock: ctx.clock,
        store: ctx.store,
        stateDir: ctx.stateDir,
        servicePort: (address: string, service: LabService) => ctx.services.servicePort(address, service),
        transfer: ctx.transfer,
        // The lab network: every node of the lab answers, nothing else exists.
        reachable: (address: string) => ctx.addresses().some((n) => n.address === address),
        softwareKeys: ctx.authority,
        report: (line: string) => ctx.log?.(line),
        egress: new SealedEgress({
          owner: spec.name,
          labAddresses: () => ctx.addresses().map((n) => n.address),
          external: ctx.external,
          log: ctx.log,
        }),
      },
      fsSizes: spec.flash,
      users: spec.users,
      enableSecret: spec.enableSecret,
      bootSeconds: spec.bootSeconds,
      initialConfig: spec.startupConfig,
      linkedInterfaces: ctx.links,
      prefixLength: ctx.lab.prefixLength,
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** First `up` of this lab state: put the topology's images in flash. */
  override async create(): Promise<void> {
    const marker = join(this.ctx.stateDir, 'seeded');
    if (existsSync(marker)) return;
    for (const img of this.spec.images) {
      const fs = img.fs ? this.router.fs.get(img.fs) : this.router.fs.default;
      if (!fs) throw new Error(`${this.name}: no file system "${img.fs}" on ${this.spec.platform}`);
      const blob = await this.ctx.images.blob(img);
      const segs = normalize(img.path);
      for (let i = 1; i < segs.length; i++) {
        const dir = segs.slice(0, i).join('/');
        if (!fs.exists(dir)) fs.mkdir(dir);
      }
      try {
        fs.link(segs.join('/'), blob.hash, blob.size);
      } catch (e) {
        throw new Error(`${this.name}: cannot seed ${img.path} (${blob.size} bytes) into ${fs.prefix} ${(e as Error).message}`);
      }
    }
    await writeFile(marker, new Date().toISOString());
  }

  /** Stops the maintenance window's timer. */
  private closeWindow?: () => void;

  override async start(): Promise<void> {
    await this.router.powerOn();
    if (this.spec.maintenanceWindow) this.closeWindow ??= armMaintenanceWindow(this.router, this.spec.maintenanceWindow);
    this.ssh = await startOnPort(
      22,
      this.ctx.wellKnownPorts,
      (port) => new RouterSshServer({ router: this.router, address: this.ctx.address, port, hostKey: this.ctx.hostKey, loginGuard: this.loginGuard }),
      { address: this.ctx.address, what: `${this.name}'s ssh`, warn: (l) => this.ctx.warn(l) },
    );
    this.ctx.services.set(this.ctx.address, 'ssh', this.ssh.port);
    // Telnet listens always; `transport input` on the vty lines decides who gets in.
    this.telnet = await startOnPort(23, this.ctx.wellKnownPorts, (port) => new RouterTelnetServer({ router: this.router, address: this.ctx.address, port }));
    this.ctx.services.set(this.ctx.address, 'telnet', this.telnet.port);
  }

  override async healthy(): Promise<boolean> {
    const booted = this.router.state === 'running' || this.router.state === 'rommon';
    return booted && !!this.ssh && (await tcpAnswers(this.ctx.address, this.ssh.port));
  }

  override async stop(): Promise<void> {
    this.closeWindow?.();
    this.closeWindow = undefined;
    const telnet = this.telnet;
    this.telnet = undefined;
    if (telnet) {
      this.ctx.services.delete(this.ctx.address, 'telnet', telnet.port);
      await telnet.stop();
    }
    const ssh = this.ssh;
    this.ssh = undefined;
    if (ssh) {
      this.ctx.services.delete(this.ctx.address, 'ssh', ssh.port);
      await ssh.stop();
    }
    this.router.powerOff();
  }

  exec(lines: string[]): Promise<string> {
    return this.router.exec(lines);
  }

  /** `flashlab logs r1`: the console (boots, ROMmon's choices and why) then the logging buffer. */
  logs(): string[] {
    const r = this.router;
    return ['--- console ---', ...r.consoleLog, '--- logging buffer ---', ...r.log.buffer.map((m) => m.line)];
  }

  /** `flashlab exec`: a transcript as a topology user (default the first), enabled with the topology's secret. */
  transcript(lines: string[], o: { user?: string; answers?: string[]; yes?: boolean }): Promise<TranscriptResult> {
    const user = o.user ?? this.spec.users?.[0]?.name ?? 'admin';
    return runTranscript(this.router, lines, { user, enableSecret: this.spec.enableSecret ?? 'cisco', answers: o.answers, yes: o.yes });
  }

  blobReferences(): Iterable<string> {
    return this.router.fs.liveHashes();
  }

  /** Unreadable metadata (kept aside) and files whose stored content is missing or short. */
  async stateProblems(): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.router.fs.loadProblems()) {
      out.push(`${this.name}: ${p.fs.prefix} metadata ${p.file} was unreadable (${p.reason}); kept as ${basename(p.keptAs)}, ${p.fs.prefix} started empty. Run "flashlab doctor" to see what it held`);
    }
    for (const fs of this.router.fs.all()) {
      for (const e of fs.walk()) {
        if (e.isDir) continue;
        try {
          await this.ctx.store.checkSize(fs.blobHash(e.path), e.size);
        } catch (err) {
          if (!(err instanceof DamagedContentError)) throw err;
          out.push(`${this.name}: ${fs.prefix}${e.path}: ${err.describe()}; the router answers "I/O error" for it. Run "flashlab doctor --repair" to drop it`);
        }
      }
    }
    return out;
  }

  info(): NodeInfo {
    return {
      name: this.name,
      kind: this.kind,
      state: this.router.state,
      address: this.ctx.address,
      ports: { ...(this.ssh ? { ssh: this.ssh.port } : {}), ...(this.telnet ? { telnet: this.telnet.port } : {}) },
      detail: { platform: this.spec.platform, version: this.router.softwareVersion() },
    };
  }
}

export const routerKind: KindAdapter<RouterSpec> = {
  kind: 'router',
  order: 'router',
  fields: RouterFields,
  spec: RouterNodeSchema,
  finish: finishRouter,
  create: (spec, ctx) => new RouterNode(spec, ctx),
};
