/**
 * A virtual router: a platform profile, storage, the shared CLI engine with every feature
 * module, and a boot/reload life cycle. It knows nothing of the lab; what it needs from
 * outside (clock, content store, where servers listen, transfer clients) comes in `RouterEnv`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lab/clock/LabClock.ts';
import { CliEngine } from './cli/CliEngine.ts';
import { CliSession, type SessionOptions } from './cli/CliSession.ts';
import type { Dialog } from './cli/dialogs.ts';
import type { Feature } from './cli/types.ts';
import type { KeyRecord, KeyType } from './image/envelope.ts';
import { parseImage, HEADER_PROBE_BYTES, type ParsedImage } from './image/format.ts';
import { resolveHost } from './net/resolveHost.ts';
import type { PlatformProfile } from './platforms/profile.ts';
import type { ContentStore } from './storage/ContentStore.ts';
import { DeviceState } from './storage/DeviceState.ts';
import { FileSystems } from './storage/FileSystems.ts';
import type { FlashFileSystem } from './storage/FlashFileSystem.ts';
import { Debug } from './system/Debug.ts';
import { StorageError } from './storage/types.ts';
import { Syslog } from './system/Syslog.ts';
import { hashSecret, type Secret } from './system/secrets.ts';
import type { TransferClient } from './transfer/types.ts';
import { SealedEgress, type EgressPolicy } from './net/Egress.ts';
import { sealTransfers } from './transfer/SealedTransfer.ts';

export type LabService = 'tftp' | 'ftp' | 'dns' | 'http' | 'https' | 'smtp' | 'ssh';

/** What a router needs from the world around it. */
export interface RouterEnv {
  clock: Clock & { after(ms: number, fn: () => void): () => void };
  store: ContentStore;
  /** Folder for this router's own state (file-system metadata). */
  stateDir: string;
  /** The port a lab service really listens on at `address` (routers dial well-known ports). */
  servicePort(address: string, service: LabService): number;
  /** By URL scheme; http and https are optional (a router without them refuses those copies). */
  transfer: Record<'tftp' | 'ftp', TransferClient> & Partial<Record<'http' | 'https', TransferClient>>;
  /** Is there a host at this address on the router's network (what `ping` answers)? */
  reachable?(address: string): boolean;
  /** The lab's own log: damaged state is reported there as well as in the router's syslog. */
  report?(line: string): void;
  /**
   * The lab seal: where this router may send anything. Without one, only loopback is
   * allowed (a router made outside a lab can still never reach a real network).
   */
  egress?: EgressPolicy;
  /** The lab's signing authority, as far as a router may see it: public key records (S2.2). */
  softwareKeys: SoftwareKeySource;
}

/** Where a router's key storage gets its factory keys at first boot. */
export interface SoftwareKeySource {
  keyRecord(key: { type: KeyType; version: string }): Promise<KeyRecord>;
  /** The signer's certificate (PEM), for the factory ROMmon's signer information. */
  certificate(key: { type: KeyType; version: string }): Promise<string>;
}

export interface RouterUser {
  privilege: number;
  secret: Secret;
}

/** Configuration the router core keeps, because several features read it. */
export interface SystemConfig {
  hostname: string;
  domainName?: string;
  domainLookup: boolean;
  nameServers: string[];
  hosts: Map<string, string>;
  filePrompt: 'alert' | 'noisy' | 'quiet';
  enableSecret?: Secret;
  users: Map<string, RouterUser>;
  bootSystem: string[];
  configRegister: number;
  /** config-register typed this session: takes effect at the next reload. */
  nextConfigRegister?: number;
  timezone: { name: string; offsetMinutes: number };
  loggingBuffered?: { size: number; level?: string };
  /** `transport input` on `line vty 0 4`: the protocols a vty takes. */
  vtyTransport: ('ssh' | 'telnet')[];
  /** AAA (`aaa new-model`, local login and exec authorization). */
  aaa: { newModel: boolean; loginLocal: boolean; execLocal: boolean };
  /** `ip ssh …`: protocol version (undefined: IOS's 1.99 default), auth timeout and retries. */
  ssh: { version?: 2; timeoutSec: number; retries: number };
  serviceTimestamps: boolean;
  /** The last vty line configured (`line vty 0 4`: 4); SSH takes no more sessions than lines. */
  vtyLast: number;
}

export interface RouterOptions {
  name: string;
  platform: PlatformProfile;
  /** The router's own address (its management interface). */
  address: string;
  env: RouterEnv;
  fsSizes?: Record<string, number>;
  users?: { name: string; password: string; privilege?: number }[];
  enableSecret?: string;
  bootSeconds?: number;
  /** Lines applied at first boot when nvram has no startup-config. */
  initialConfig?: string[];
  /** Interfaces the topology's links connect (their line protocol can come up). */
  linkedInterfaces?: string[];
  /** Prefix length of the lab subnet the management interface sits in. */
  prefixLength?: number;
}

export type RouterState = 'stopped' | 'booting' | 'running' | 'rommon';

/** An image ROMmon is about to boot: where it is and what its first bytes say. */
export interface BootCandidate {
  /** As `boot system` or ROMmon's `boot` names it (`bootflash:x.bin`). */
  url: string;
  fs: FlashFileSystem;
  path: string;
  image: ParsedImage;
  /** The first HEADER_PROBE_BYTES of the file (header and envelope slot). */
  head: Buffer;
}

/**
 * What a feature may hook into the router's life cycle beside its commands, so the boot
 * path has no feature-specific code: `attach` once per router before its first boot (device
 * state), `bootCheck` for every image ROMmon tries (an error string refuses it; lines for the
 * console go through `Router.console`), `afterBoot` once the image runs.
 */
export interface RouterFeatureHooks {
  attach?(r: Router): void | Promise<void>;
  bootCheck?(r: Router, candidate: BootCandidate): Promise<string | undefined>;
  afterBoot?(r: Router): void | Promise<void>;
}

export type RouterFeature = Feature<Router> & RouterFeatureHooks;

export interface RunningImage {
  url: string;
  image: ParsedImage;
}

/**
 * A router's own clock: lab time plus the offset `clock set` gave it, so setting one
 * router's clock does not move the lab's.
 */
export class RouterClock implements Clock {
  private offset = 0;
  constructor(private readonly lab: RouterEnv['clock']) {}
  now(): Date {
    return new Date(this.lab.now().getTime() + this.offset);
  }
  at(at: Date, fn: () => void): () => void {
    return this.lab.at(new Date(at.getTime() - this.offset), fn);
  }
  after(ms: number, fn: () => void): () => void {
    return this.lab.after(ms, fn);
  }
  set(to: Date): void {
    this.offset = to.getTime() - this.lab.now().getTime();
  }
}

export function defaultSystemConfig(hostname: string): SystemConfig {
  return {
    hostname,
    domainLookup: true,
    nameServers: [],
    hosts: new Map(),
    filePrompt: 'alert',
    users: new Map(),
    bootSystem: [],
    configRegister: 0x2102,
    timezone: { name: 'UTC', offsetMinutes: 0 },
    serviceTimestamps: true,
    vtyTransport: ['ssh'],
    aaa: { newModel: false, loginLocal: false, execLocal: false },
    ssh: { timeoutSec: 120, retries: 3 },
    vtyLast: 4,
  };
}

let sharedEngine: CliEngine<Router> | undefined;
let featureList: RouterFeature[] = [];

/** Every router shares one engine (one token tree per mode), built from the feature list. */
export function setRouterFeatures(features: RouterFeature[]): void {
  featureList = features;
  sharedEngine = undefined;
}

function engine(): CliEngine<Router> {
  return (sharedEngine ??= new CliEngine<Router>(featureList));
}

export class Router {
  readonly name: string;
  readonly platform: PlatformProfile;
  readonly address: string;
  readonly prefixLength: number;
  readonly linkedInterfaces: readonly string[];
  readonly env: RouterEnv;
  readonly fs: FileSystems;
  readonly log: Syslog;
  readonly clock: RouterClock;
  /** Asked before any packet leaves the router (copy, DNS, ping, HTTPS, mail). */
  readonly egress: EgressPolicy;
  system: SystemConfig;
  state: RouterState = 'stopped';
  runningImage?: RunningImage;
  /** When the router booted, on its own clock (`System restarted at`). */
  bootedAt?: Date;
  /** The same moment on the lab clock, which `clock set` does not move: uptime counts from it. */
  private bootedAtLab?: number;
  lastReloadReason = 'PowerOn';
  returnedToRomBy = 'power-on';
  readonly sessions = new Set<CliSession<Router>>();
  /** Per-feature private state, created on first use and dropped at reload when asked. */
  private readonly featureStates = new Map<string, unknown>();
  /** Per-feature device state that survives reloads and `down`/`up` (key storage…). */
  readonly device: DeviceState;
  readonly debug: Debug;
  /** What the console showed during the last boot (ROMmon's lines), for a ROMmon session. */
  bootConsole: string[] = [];
  /** The running ROMmon's version (the signed-software feature keeps the ROMmon record). */
  rommonVersion?: string;
  private attached = false;
  private readonly bootSeconds: number;
  private readonly initialConfig: string[];
  private readonly topologyUsers: RouterOptions['users'];
  private readonly topologyEnable?: string;
  private bootTimer?: () => void;
  private stateWaiters: (() => void)[] = [];
  /** Why the last boot ended in ROMmon, for the console. */
  bootFailure?: string;
  /** What the console showed across boots (`flashlab logs r1`): ROMmon's choices and why. */
  readonly consoleLog: string[] = [];

  /** A console line, stamped with the router's clock; the oldest go past a few hundred. */
  consoleLine(text: string): void {
    this.consoleLog.push(`${this.clock.now().toISOString()} ${text}`);
    if (this.consoleLog.length > 500) this.consoleLog.splice(0, this.consoleLog.length - 500);
  }

  /** State problems found before the first boot, logged once the buffer is fresh. */
  private readonly pendingProblems: string[] = [];

  /** Damaged state: the router's syslog says it, and so does the lab's log. */
  stateProblem(text: string): void {
    this.log.emit('FILESYS', 3, 'DAMAGED', text);
    this.env.report?.(`${this.name}: ${text}`);
  }

  constructor(opts: RouterOptions) {
    this.name = opts.name;
    this.platform = opts.platform;
    this.address = opts.address;
    this.prefixLength = opts.prefixLength ?? 24;
    this.linkedInterfaces = opts.linkedInterfaces ?? [];
    this.egress = opts.env.egress ?? new SealedEgress({ labAddresses: () => [], owner: opts.name });
    // Every transfer client, whatever its scheme, goes through the seal: no code path of a
    // feature can reach a socket to a refused address.
    this.env = { ...opts.env, transfer: sealTransfers(opts.env.transfer, this.egress, opts.env.clock) };
    this.bootSeconds = opts.bootSeconds ?? opts.platform.bootSeconds;
    this.initialConfig = opts.initialConfig ?? [];
    this.topologyUsers = opts.users ?? [{ name: 'admin', password: 'admin', privilege: 1 }];
    this.topologyEnable = opts.enableSecret ?? 'cisco';
    this.clock = new RouterClock(opts.env.clock);
    mkdirSync(opts.env.stateDir, { recursive: true });
    this.fs = new FileSystems({
      profile: opts.platform,
      sizes: opts.fsSizes ?? {},
      store: opts.env.store,
      metaDir: join(opts.env.stateDir, 'fs'),
      clock: this.clock,
      onDamage: (file, e) => this.stateProblem(`${file} ${e.describe()}`),
    });
    this.log = new Syslog(this);
    this.debug = new Debug(this.log);
    this.device = new DeviceState(join(opts.env.stateDir, 'device'));
    for (const p of this.fs.loadProblems()) {
      this.pendingProblems.push(`${p.fs.prefix} metadata unreadable (${p.reason}): kept aside, ${p.fs.prefix} started empty; run flashlab doctor`);
    }
    this.system = this.freshSystem();
  }

  /** A line on the router's console during boot (ROMmon's messages). */
  console(line: string): void {
    this.bootConsole.push(line);
    this.consoleLine(line);
  }

  get engine(): CliEngine<Router> {
    return engine();
  }

  private freshSystem(): SystemConfig {
    return defaultSystemConfig(this.name);
  }

  /** Timers features set on the lab clock; a reload or power-off cancels them all. */
  private readonly timers = new Set<() => void>();

  /**
   * Runs `fn` when the router's clock reaches `at`, unless the router reloads first (a
   * scheduled reload, like everything in RAM, does not survive a reload).
   */
  at(at: Date, fn: () => void): () => void {
    const cancel = this.clock.at(at, () => {
      this.timers.delete(cancel);
      fn();
    });
    this.timers.add(cancel);
    return () => {
      this.timers.delete(cancel);
      cancel();
    };
  }

  private cancelTimers(): void {
    for (const c of this.timers) c();
    this.timers.clear();
  }

  featureState<T>(feature: string, init: () => T): T {
    let s = this.featureStates.get(feature) as T | undefined;
    if (s === undefined) this.featureStates.set(feature, (s = init()));
    return s;
  }

  /** The running configuration as IOS prints it. */
  runningConfig(): string[] {
    return this.engine.runningConfig(this);
  }

  /** The running configuration as saved to nvram:startup-config. */
  configText(): string {
    return this.runningConfig().join('\n') + '\n';
  }

  /**
   * The configuration as of the last boot or save: IOS asks "Save?" at reload only when
   * something was configured since then.
   */
  savedConfig = '';

  // ---- sessions -------------------------------------------------------------------------

  openSession(opts: Omit<SessionOptions, 'privilege'> & { privilege?: number }): CliSession<Router> {
    const privilege = opts.privilege ?? this.loginPrivilege(opts.user);
    const session = new CliSession<Router>(
      {
        engine: this.engine,
        context: this,
        hostname: () => this.system.hostname,
        preAnswer: (d: Dialog) => this.preAnswer(d),
        lookupWord: (word, out, signal) => this.lookupWord(word, out, signal),
        onConfigExit: (s) =>
          this.log.emit('SYS', 5, 'CONFIG_I', `Configured from ${s.lineName === 'console' ? 'console' : `console by ${s.origin()}`}`),
      },
      {
        ...opts,
        privilege,
        onClose: () => {
          this.sessions.delete(session);
          opts.onClose?.();
        },
      },
    );
    if (this.state === 'rommon') {
      session.enterMode('rommon');
      // Whoever reaches a router in ROMmon sees what its console showed on the way down.
      if (this.bootConsole.length) opts.out(`${this.bootConsole.join('\n')}\n\n`);
    }
    this.sessions.add(session);
    return session;
  }

  /** How long one name server may stay silent (IOS's `ip domain timeout`; tests shorten it). */
  dnsTimeoutMs = 2000;

  /**
   * An unknown word typed in EXEC: with `ip domain lookup` on, IOS resolves it as a host
   * name first (`Translating "word"...domain server (…)`), which is why a typo can hang.
   */
  private async lookupWord(word: string, out: (text: string) => void, signal: AbortSignal): Promise<void> {
    if (!this.system.domainLookup) return;
    try {
      await resolveHost(this, word, out, { signal, timeoutMs: this.dnsTimeoutMs });
    } catch {
      // Unknown or aborted: the session says it could not find it.
    }
  }

  /** `file prompt quiet` answers file questions with their defaults (IOS_REFERENCE §4.5). */
  private preAnswer(d: Dialog): string | boolean | undefined {
    if (this.system.filePrompt !== 'quiet' || d.kind === 'secret' || !('fileOp' in d) || !d.fileOp) return undefined;
    return d.kind === 'default' ? d.default : true;
  }

  /** `ip ssh authentication-retries`: failed passwords before the SSH connection drops. */
  get sshAuthRetries(): number {
    return this.system.ssh.retries;
  }

  /** `ip ssh time-out`: seconds from connection to a completed SSH login. */
  get sshTimeoutSec(): number {
    return this.system.ssh.timeoutSec;
  }

  /**
   * The privilege a vty login starts at. `login local` applies the user's configured level;
   * under `aaa new-model` only exec authorization (`aaa authorization exec default local`)
   * does, otherwise the session starts at 1, as on IOS.
   */
  loginPrivilege(user: string): number {
    const u = this.system.users.get(user);
    if (!u) return 1;
    const aaa = this.system.aaa;
    return aaa.newModel && !aaa.execLocal ? 1 : u.privilege;
  }

  /** Does `transport input` on the vty lines admit this protocol? */
  vtyAccepts(protocol: 'ssh' | 'telnet'): boolean {
    return this.system.vtyTransport.includes(protocol);
  }

  /** vty lines configured, as many SSH sessions as the router takes at once. */
  vtyLines(): number {
    return this.system.vtyLast + 1;
  }

  /** Time since boot; `clock set` changes the time of day, not how long the router has run. */
  uptimeMs(): number {
    return this.bootedAtLab === undefined ? 0 : this.env.clock.now().getTime() - this.bootedAtLab;
  }

  /** Checks a login against the configured users (local authentication on the vty lines). */
  authenticate(user: string, password: string): boolean {
    const u = this.system.users.get(user);
    return !!u && u.secret.verify(password);
  }

  checkEnableSecret(password: string): boolean {
    return !!this.system.enableSecret?.verify(password);
  }

  /** Runs lines in a scripted session and returns what it printed (control API, boot). */
  async exec(lines: string[], opts: { user?: string; privilege?: number; mode?: string; prompts?: boolean } = {}): Promise<string> {
    let out = '';
    const s = this.openSession({
      user: opts.user ?? 'lab',
      lineName: 'vty0',
      peer: '127.0.0.1',
      privilege: opts.privilege ?? 15,
      interactive: false,
      noPrompt: opts.prompts !== true,
      out: (t) => (out += t),
    });
    if (opts.mode) s.enterMode(opts.mode);
    for (const l of lines) s.submit(l);
    await s.idle();
    s.close();
    return out;
  }

  // ---- life cycle -----------------------------------------------------------------------

  /** Power on: boots at once (a lab starting); a reload waits the simulated boot time instead. */
  async powerOn(): Promise<void> {
    if (!this.attached) {
      this.attached = true;
      for (const f of featureList) await f.attach?.(this);
    }
    await this.boot();
  }

  powerOff(): void {
    this.bootTimer?.();
    this.cancelTimers();
    for (const s of [...this.sessions]) s.close();
    this.state = 'stopped';
    this.notifyState();
  }

  /**
   * Reload: every session drops, the router is gone for the platform's boot time, then it
   * boots from what `boot system` names with the saved configuration.
   */
  reload(reason = 'Reload Command', returnedToRomBy = 'Reload Command'): void {
    const when = this.clock.now();
    this.cancelTimers();
    for (const s of [...this.sessions]) s.close();
    this.state = 'booting';
    this.lastReloadReason = reason;
    this.returnedToRomBy = `${returnedToRomBy} at ${this.log.formatLongTime(when)}`;
    this.notifyState();
    this.bootTimer = this.clock.after(this.bootSeconds * 1000, () => {
      this.bootTimer = undefined;
      void this.boot();
    });
  }

  /** Resolves when the router reaches one of the given states. */
  waitFor(states: RouterState[], timeoutMs = 60_000): Promise<RouterState> {
    if (states.includes(this.state)) return Promise.resolve(this.state);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name} did not reach ${states.join('/')} (is ${this.state})`)), timeoutMs);
      const check = () => {
        if (states.includes(this.state)) {
          clearTimeout(t);
          resolve(this.state);
        } else this.stateWaiters.push(check);
      };
      this.stateWaiters.push(check);
    });
  }

  private notifyState(): void {
    for (const w of this.stateWaiters.splice(0)) w();
  }

  private async boot(): Promise<void> {
    this.state = 'booting';
    this.consoleLine(`${this.name} booting (${this.platform.description})`);
    this.featureStates.clear();
    this.debug.reset();
    this.bootConsole = [];
    this.system = this.freshSystem();
    this.applyTopologyLogins();
    // The saved configuration is parsed as the router comes up; first boot uses the topology's lines.
    const nvram = this.fs.get('nvram');
    // A damaged startup-config is logged (onDamage) and skipped, as a router with an NVRAM error boots.
    const startup = nvram?.stat('startup-config') ? await nvram.readText('startup-config').catch(() => undefined) : undefined;
    const lines = startup !== undefined ? startup.split('\n') : this.initialConfig;
    this.consoleLine(startup !== undefined ? 'configuration: nvram:startup-config' : `configuration: the topology's startup lines (${this.initialConfig.length}), nvram has none`);
    if (lines.length) await this.exec(['configure terminal', ...lines.map((l) => l.replace(/\r$/, '')), 'end'], { user: 'startup' });
    this.savedConfig = this.configText();
    // config-register typed before the reload (or saved) takes effect now.
    if (this.system.nextConfigRegister !== undefined) {
      this.system.configRegister = this.system.nextConfigRegister;
      this.system.nextConfigRegister = undefined;
    }
    this.log.clearConsoleMessages();
    for (const p of this.pendingProblems.splice(0)) this.stateProblem(p);
    const image = await this.selectImage();
    this.bootedAt = this.clock.now();
    this.bootedAtLab = this.env.clock.now().getTime();
    if (!image) {
      this.consoleLine(`rommon 1 > (no image booted: ${this.bootFailure ?? 'none found'})`);
      this.state = 'rommon';
      this.runningImage = undefined;
      this.notifyState();
      return;
    }
    await this.bootImage(image);
  }

  /** Starts the given image (from boot, or from ROMmon's `boot`): sessions in ROMmon drop. */
  async bootImage(image: RunningImage): Promise<void> {
    for (const s of [...this.sessions]) if (s.mode === 'rommon') s.close();
    this.runningImage = image;
    this.bootedAt = this.clock.now();
    this.consoleLine(`booted ${image.url} (version ${image.image.header.version})`);
    this.bootedAtLab = this.env.clock.now().getTime();
    this.state = 'running';
    this.bootFailure = undefined;
    this.log.emit('SYS', 5, 'RESTART', 'System restarted --');
    for (const f of featureList) await f.afterBoot?.(this);
    this.notifyState();
  }

  /** Topology users and the enable secret exist even before any configuration is saved. */
  private applyTopologyLogins(): void {
    for (const u of this.topologyUsers ?? []) {
      this.system.users.set(u.name, { privilege: u.privilege ?? 1, secret: hashSecret(u.password) });
    }
    if (this.topologyEnable) this.system.enableSecret = hashSecret(this.topologyEnable);
  }

  /**
   * ROMmon's choice: each `boot system` entry in order; when none boots, the first image on
   * the default device that passes every check (ANCHORS §1.3: `no valid BOOT image found`,
   * `Final autoboot attempt from default boot device...`); else the ROMmon prompt.
   */
  async selectImage(): Promise<RunningImage | undefined> {
    this.consoleLine(
      this.system.bootSystem.length ? `BOOT variable = ${this.system.bootSystem.join(';')}` : `no BOOT variable: first image on ${this.fs.default.name}:`,
    );
    const reasons: string[] = [];
    for (const url of this.system.bootSystem) {
      const r = await this.loadableImage(url);
      if ('image' in r) return r;
      reasons.push(`${url}: ${r.error}`);
    }
    this.console('no valid BOOT image found');
    this.console('Final autoboot attempt from default boot device...');
    const def = this.fs.default;
    for (const e of def.list('')) {
      if (e.isDir) continue;
      const url = `${def.name}:${e.path}`;
      // Only files that are images for this platform are candidates; others are not "located".
      let head: Buffer;
      try {
        head = await def.readHead(e.path, HEADER_PROBE_BYTES);
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        reasons.push(`${url}: ${err.reason}`);
        continue;
      }
      const image = parseImage(head);
      if (!image || image.header.platform !== this.platform.imagePlatform || image.header.kind === 'rommon') continue;
      this.console(`Located ${e.path}`);
      const r = await this.loadableImage(url);
      if ('image' in r) return r;
      this.consoleLine(`skipped ${url}: ${r.error}`);
      reasons.push(`${url}: ${r.error}`);
    }
    this.bootFailure = reasons.length ? reasons.join('; ') : 'no bootable image found';
    this.log.emit('BOOT', 3, 'BOOTFAIL', `Boot failed: ${this.bootFailure}`);
    return undefined;
  }

  /**
   * Can this file boot here? Checks header and platform, then every feature's boot check;
   * a refusal prints ROMmon's real lines (ANCHORS §1.3) on the console.
   */
  async loadableImage(url: string): Promise<RunningImage | { error: string }> {
    const r = await this.checkImage(url);
    if ('error' in r) {
      this.console(`boot: error executing "boot ${url}"`);
      this.console('autoboot: boot failed, restarting...');
    }
    return r;
  }

  private async checkImage(url: string): Promise<RunningImage | { error: string }> {
    let loc;
    try {
      loc = this.fs.parse(url);
    } catch {
      return { error: 'No device available' };
    }
    const { fs, path } = loc;
    const entry = fs.stat(path);
    if (!entry || entry.isDir) return { error: 'No such file or directory' };
    // The whole file is read and checked against its content hash (cached per blob, so a
    // lab of routers booting one image reads it once); damage stops the boot here.
    try {
      await fs.verifyContent(path);
    } catch (e) {
      if (e instanceof StorageError) return { error: e.reason };
      throw e;
    }
    const head = await fs.readHead(path, HEADER_PROBE_BYTES);
    const image = parseImage(head);
    if (!image) return { error: 'not a bootable image' };
    if (image.header.platform !== this.platform.imagePlatform || image.header.kind === 'rommon') {
      return { error: `image is for platform ${image.header.platform}, not ${this.platform.imagePlatform}` };
    }
    for (const f of featureList) {
      const err = await f.bootCheck?.(this, { url, fs, path, image, head });
      if (err) return { error: err };
    }
    return { url: `${fs.displayName}:${path}`, image };
  }

  /** The boot-time text IOS prints for the running software (used by show version). */
  softwareVersion(): string {
    return this.runningImage?.image.header.version ?? this.platform.software.version;
  }
}
