/**
 * The Cisco IOS Auto-Upgrade Manager (SPEC S4.1–S4.14, IOS_REFERENCE §8, ANCHORS §1.9):
 * `autoupgrade …` configuration, `upgrade automatic` (interactive, getversion, runversion,
 * abortversion), `show autoupgrade configuration unknown`, `debug autoupgrade`.
 *
 * A getversion runs without any dialog of `copy`: it asks the IDA locator over HTTPS (through
 * the router's trustpoints) where the image lives, reads the image's header to check memory,
 * platform and crypto before any byte reaches flash, cleans the disk per the clean-up rules
 * and the disk-management mode, downloads through the transfer service (reserve-then-commit,
 * so a failure leaves nothing), verifies the signature (a refused image is deleted), puts the
 * image first in `boot system`, saves, and schedules the warm upgrade on the lab clock.
 * After the reload, `afterBoot` finishes the job: the completion (or rollback) mail, the
 * short-storage second download (S4.6), and the lines the new image's parser lacks saved to
 * `nvram:invalid-config` (S4.5). Texts are in ./messages.ts.
 */
import { CliError } from '../../cli/CliSession.ts';
import type { CommandContext, ConfigSection } from '../../cli/types.ts';
import { HEADER_PROBE_BYTES, parseImage, type ParsedImage } from '../../image/format.ts';
import type { Router, RouterFeature } from '../../Router.ts';
import type { FlashFileSystem } from '../../storage/FlashFileSystem.ts';
import { StorageError } from '../../storage/types.ts';
import { registerDebugArea } from '../../system/Debug.ts';
import { download, exchange, readHead, resolveServer, TransferFailure, transferTuning } from '../../transfer/TransferService.ts';
import { baseName, displayUrl, type NetUrl, parseNetUrl } from '../../transfer/urls.ts';
import { storage } from '../authenticity/keystore.ts';
import { verifyImage } from '../authenticity/verify.ts';
import { cancelScheduledReload, formatIn, parseAt, parseIn, pendingReload, reloadNow, scheduleReload } from '../boot/index.ts';
import { ConfigOrder } from '../configOrder.ts';
import { copiedLine, Progress } from '../copy/output.ts';
import { saveStartupConfig } from '../system/index.ts';
import { sendStatusMail, type StatusMail } from './mail.ts';
import { AumText } from './messages.ts';

type Ctx = CommandContext<Router>;

export const AUM_DEBUG = registerDebugArea({ id: 'autoupgrade', title: AumText.debugArea.title, phrase: AumText.debugArea.phrase, tag: AumText.debugArea.tag, flags: ['events'], all: 'events' });
export const dbg = (r: Router, text: string | (() => string)) => r.debug.message(AUM_DEBUG.id, 'events', text);

/** The seed's default locator (S4.3); the command reference's is `/cgi-bin/ida/…`. */
export const DEFAULT_IDA_URL = 'https://www.cisco.com/cgi-bin/new-ida/locator/locator.pl';

// ------------------------------------------------------------------ configuration (running-config)

export type CleanupKind = 'crashinfo' | 'core' | 'image' | 'irrecoverable';
const CLEANUP_KINDS: CleanupKind[] = ['crashinfo', 'core', 'image', 'irrecoverable'];
/** ANCHORS §1.9: crashinfo, core and image files are cleaned by default; irrecoverable is not. */
const CLEANUP_DEFAULT: Record<CleanupKind, boolean> = { crashinfo: true, core: true, image: true, irrecoverable: false };

export interface AumConfig {
  cleanup: Record<CleanupKind, boolean>;
  idaUrl: string;
  recipient?: string;
  smtpServer?: string;
}

export function aumConfig(r: Router): AumConfig {
  return r.featureState<AumConfig>('autoupgrade-config', () => ({ cleanup: { ...CLEANUP_DEFAULT }, idaUrl: DEFAULT_IDA_URL }));
}

// ------------------------------------------------------------------ state

/** What survives the warm reload (device state, like the ROMmon variables AUM leaves behind). */
interface AumRecord {
  pending?: {
    /** `bootflash:isr….bin`, as `boot system` names it. */
    image: string;
    fromVersion: string;
    toVersion: string;
    /** The image's URL (credentials included) for the short-storage second download. */
    url: string;
    user: string;
    /** S4.6: the image sits on secondary storage; after the upgrade it goes to `primary`, erasing `erase`. */
    shortStorage?: { primary: string; erase: string[] };
  };
}

const DEVICE_STATE = 'autoupgrade';
const record = (r: Router): AumRecord => r.device.get<AumRecord>(DEVICE_STATE);
const saveRecord = (r: Router) => r.device.save(DEVICE_STATE);

/** RAM: an upgrade in progress, and the lines the running image did not understand at boot. */
interface AumRuntime {
  busy: boolean;
  unknownLines: string[];
}
const runtime = (r: Router) => r.featureState<AumRuntime>('autoupgrade', () => ({ busy: false, unknownLines: [] }));

/** An AUM failure: `text` goes to the console and the logging buffer (S4.5). */
class AumError extends Error {}

// ------------------------------------------------------------------ when

export type When = { kind: 'now' } | { kind: 'at'; at: Date } | { kind: 'in'; at: Date } | { kind: 'manual' };

function parseWhen(r: Router, form: 'at' | 'in', text: string): When {
  if (form === 'at') {
    const at = parseAt(r, text);
    if (!at) throw new CliError(AumText.badTime);
    return { kind: 'at', at };
  }
  // `in hh:mm` (the guide's `in 01:15`), or minutes as `reload in` takes them.
  const minutes = parseIn(text);
  if (minutes === undefined) throw new CliError(AumText.badTime);
  return { kind: 'in', at: new Date(r.clock.now().getTime() + minutes * 60_000) };
}

function whenFromArgs(ctx: Ctx): When | undefined {
  const picked = [ctx.has('now'), ctx.args.at !== undefined, ctx.args.in !== undefined].filter(Boolean).length;
  if (picked > 1) throw new CliError('% Specify only one of at, in and now');
  if (ctx.has('now')) return { kind: 'now' };
  if (ctx.args.at !== undefined) return parseWhen(ctx.router, 'at', ctx.args.at);
  if (ctx.args.in !== undefined) return parseWhen(ctx.router, 'in', ctx.args.in);
  return undefined;
}

const hms = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

// ------------------------------------------------------------------ the IDA exchange (S4.3)

interface Located {
  url: string;
  size?: number;
}

async function locate(ctx: Ctx, user: string, password: string, image: string): Promise<Located> {
  const r = ctx.router;
  const cfg = aumConfig(r);
  const ida = parseNetUrl(cfg.idaUrl);
  if (!ida?.host || !ida.path || (ida.scheme !== 'https' && ida.scheme !== 'http')) throw new AumError(AumText.fail.unreachableIda(cfg.idaUrl));
  const display = displayUrl(ida, ida.host, ida.path);
  dbg(r, `asking ${display} for ${image} as ${user}`);
  let answer;
  try {
    const address = await resolveServer(r, ida.host, display, (t) => ctx.write(t), ctx.signal);
    answer = await exchange(r, { url: { ...ida, host: ida.host, path: ida.path }, display, address, form: { username: user, password, image }, user: ctx.session.user, signal: ctx.signal });
  } catch (e) {
    if (!(e instanceof TransferFailure)) throw e;
    reportSyslogLine(ctx, e);
    ctx.print(e.line);
    throw new AumError(AumText.fail.unreachableIda(display));
  }
  const fields = new Map(
    answer.text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  dbg(r, `IDA answered ${answer.status} ${fields.get('code') ?? fields.get('status') ?? ''}`.trim());
  if (answer.status === 401) throw new AumError(`%AUM: ${AumText.fail.badCredentials}`);
  if (answer.status === 403) throw new AumError(AumText.fail.notRegistered(user));
  if (answer.status === 404 && fields.get('code') === 'unknown-image') throw new AumError(AumText.fail.notFound);
  const url = fields.get('url');
  if (answer.status !== 200 || !url) throw new AumError(AumText.fail.idaAnswer(answer.status));
  const size = Number(fields.get('size'));
  return { url, size: Number.isFinite(size) ? size : undefined };
}

function reportSyslogLine(ctx: Ctx, f: TransferFailure): void {
  const s = ctx.session;
  if (f.syslogLine && !(s.interactive && (s.terminal.monitor || s.lineName === 'console'))) ctx.print(f.syslogLine);
}

// ------------------------------------------------------------------ disk clean-up (S4.4, S4.13)

/** The files `autoupgrade disk-cleanup` allows AUM to delete, never the running or a boot image. */
async function cleanupCandidates(r: Router, fs: FlashFileSystem, keep: string): Promise<{ path: string; size: number }[]> {
  const cfg = aumConfig(r).cleanup;
  const protectedUrls = new Set([r.runningImage?.url, ...r.system.bootSystem].filter((u): u is string => !!u).map((u) => normalizeUrl(r, u)));
  const out: { path: string; size: number }[] = [];
  for (const e of fs.walk()) {
    if (e.isDir || e.path === keep) continue;
    const name = baseName(e.path).toLowerCase();
    const url = `${fs.displayName}:${e.path}`;
    if (protectedUrls.has(url)) continue;
    if (cfg.crashinfo && (name.startsWith('crashinfo') || e.path.toLowerCase().startsWith('crashinfo/'))) out.push(e);
    else if (cfg.core && (name.endsWith('.core') || e.path.toLowerCase().startsWith('core/'))) out.push(e);
    else if (cfg.image) {
      const head = await fs.readHead(e.path, HEADER_PROBE_BYTES).catch(() => undefined);
      const img = head && parseImage(head);
      if (img && img.header.kind === 'system') out.push(e);
    }
  }
  return out;
}

/** `flash:x`, `bootflash:/x` → `bootflash:x`: how boot entries and files are compared. */
function normalizeUrl(r: Router, url: string): string {
  try {
    const loc = r.fs.parse(url);
    return `${loc.fs.displayName}:${loc.path}`;
  } catch {
    return url;
  }
}

interface Placement {
  fs: FlashFileSystem;
  path: string;
  /** S4.6: the image goes to this secondary storage first; `primary` gets it after the upgrade. */
  shortStorage?: { primary: FlashFileSystem; erase: string[] };
}

/**
 * Where the image goes, making room first. `auto` deletes what the rules allow (only when
 * that makes enough room); `confirm` asks per file; `no` fails when space is short. When the
 * primary flash cannot hold both images, another writable storage that can take it is used
 * and the old image is replaced after the upgrade (S4.6).
 */
async function place(ctx: Ctx, name: string, size: number, mode: 'auto' | 'confirm' | 'no'): Promise<Placement> {
  const r = ctx.router;
  const fs = r.fs.default;
  const fits = () => fs.fileCharge(size) <= fs.freeBytes;
  if (fits()) return { fs, path: name };
  dbg(r, `${fs.prefix} has ${fs.freeBytes} bytes free, the image needs ${fs.fileCharge(size)}`);
  if (mode === 'no') throw new AumError(AumText.fail.space(fs.prefix));
  const candidates = await cleanupCandidates(r, fs, name);
  if (mode === 'confirm') {
    for (const c of candidates) {
      if (fits()) break;
      if (!(await ctx.confirm({ kind: 'confirm', text: AumText.deleteFile(`${fs.prefix}${c.path}`) }))) continue;
      remove(ctx, fs, c.path);
    }
    if (!fits()) throw new AumError(AumText.fail.space(fs.prefix));
    return { fs, path: name };
  }
  const freed = candidates.reduce((n, c) => n + fs.fileCharge(c.size), 0);
  if (fs.freeBytes + freed >= fs.fileCharge(size)) {
    for (const c of candidates) {
      if (fits()) break;
      remove(ctx, fs, c.path);
    }
    return { fs, path: name };
  }
  // Short storage: the running image itself is in the way. Another storage holds the new
  // one until it runs; then the old one is erased and the image downloaded again (S4.6).
  const running = r.runningImage ? normalizeUrl(r, r.runningImage.url) : undefined;
  const other = r.fs.all().find((f) => f !== fs && f.profile.type !== 'nvram' && f.fileCharge(size) <= f.freeBytes);
  if (running && other && running.startsWith(`${fs.displayName}:`)) {
    dbg(r, `short storage: ${name} goes to ${other.prefix} until the upgrade completes`);
    return { fs: other, path: name, shortStorage: { primary: fs, erase: [running] } };
  }
  throw new AumError(AumText.fail.space(fs.prefix));
}

function remove(ctx: Ctx, fs: FlashFileSystem, path: string): void {
  const r = ctx.router;
  ctx.print(AumText.deleting(`${fs.prefix}${path}`));
  fs.delete(path);
  r.log.emit('AUM', 6, 'DISK_CLEANUP', AumText.log.cleaned(`${fs.prefix}${path}`));
}

// ------------------------------------------------------------------ getversion

export type Source = { kind: 'cisco'; user: string; password: string; image: string } | { kind: 'url'; url: string };

export interface GetVersionOptions {
  source: Source;
  /** Undefined: ask (interactive) or manual (single line). */
  when?: When;
  disk: 'auto' | 'confirm' | 'no';
  interactive: boolean;
}

function runningVersion(r: Router): string {
  return r.softwareVersion();
}

async function getVersion(ctx: Ctx, o: GetVersionOptions): Promise<void> {
  const r = ctx.router;
  const rt = runtime(r);
  if (rt.busy) throw new CliError(AumText.busy);
  rt.busy = true;
  let imageName = o.source.kind === 'cisco' ? o.source.image : baseName(parseNetUrl(o.source.url)?.path ?? o.source.url);
  let toVersion: string | undefined;
  try {
    await getVersionSteps(ctx, o, (name, version) => {
      imageName = name;
      toVersion = version;
    });
  } catch (e) {
    if (!(e instanceof AumError)) throw e;
    ctx.print(e.message);
    r.log.emit('AUM', 3, 'DOWNLOAD_FAILED', AumText.log.downloadFailed(e.message));
    await mail(r, { status: 'FAILURE', image: imageName, to: toVersion, reason: AumText.log.downloadFailed(e.message) });
  } finally {
    rt.busy = false;
  }
}

async function getVersionSteps(ctx: Ctx, o: GetVersionOptions, found: (name: string, version: string) => void): Promise<void> {
  const r = ctx.router;
  const out = (t: string) => ctx.write(t);
  const src = o.source;

  // 1. Where the image is: the IDA locator for a Cisco download (S4.3), else the URL typed.
  let urlText: string;
  if (src.kind === 'cisco') {
    // S4.2: only a crypto image may fetch from Cisco.
    const fsName = r.runningImage?.image.header.featureSet ?? 'universalk9';
    if (!/k9/i.test(fsName)) throw new AumError(AumText.fail.notCrypto(runningVersion(r)));
    urlText = (await locate(ctx, src.user, src.password, src.image)).url;
  } else urlText = src.url;
  const url = parseNetUrl(urlText);
  if (!url?.host || !url.path) throw new AumError(`%Error parsing filename ${urlText} (Bad IP address or host name)`);
  const net: NetUrl & { host: string; path: string } = { ...url, host: url.host, path: url.path };
  const display = displayUrl(url, url.host, url.path);
  const name = baseName(url.path);

  // 2. The header before any byte reaches flash: a system image, for this platform, that fits in memory.
  let address: string;
  let size: number | undefined;
  let parsed: ParsedImage | undefined;
  try {
    address = await resolveServer(r, net.host, display, out, ctx.signal);
    const probe = await readHead(r, { url: net, display, address, bytes: HEADER_PROBE_BYTES, user: ctx.session.user, signal: ctx.signal });
    size = probe.size;
    parsed = parseImage(probe.head);
  } catch (e) {
    if (!(e instanceof TransferFailure)) throw e;
    reportSyslogLine(ctx, e);
    throw new AumError(e.line);
  }
  if (!parsed || parsed.header.kind !== 'system') throw new AumError(AumText.fail.notImage(name));
  found(name, parsed.header.version);
  if (parsed.header.platform !== r.platform.imagePlatform) throw new AumError(AumText.fail.wrongPlatform(name, r.platform.imagePlatform));
  const haveMb = Math.floor(r.platform.hardware.mainMemoryK / 1024);
  if (parsed.header.dramMb !== undefined && parsed.header.dramMb > haveMb) throw new AumError(AumText.fail.memory(name, parsed.header.dramMb, haveMb));
  if (size === undefined) throw new AumError(AumText.fail.noSize(display));
  const running = r.runningImage ? normalizeUrl(r, r.runningImage.url) : undefined;
  if (running === `${r.fs.default.displayName}:${name}`) throw new AumError(AumText.fail.running(`${r.fs.default.prefix}${name}`));

  ctx.print(AumText.imageFound(name, size));
  ctx.print(AumText.memoryAvailable(haveMb, r.fs.default.freeBytes));
  ctx.print(AumText.downloadTo(`${r.fs.default.prefix}${name}`));

  // 3. The interactive questions, in the guide's order.
  let when = o.when;
  if (o.interactive) {
    const now = await askYes(ctx, AumText.askReloadNow);
    if (now) when = { kind: 'now' };
    else {
      ctx.print(AumText.whenReload);
      const t = String(await ctx.ask({ kind: 'default', text: AumText.askReloadTime, default: 'Manual' })).trim();
      when = /^manual$/i.test(t) || t === '' ? { kind: 'manual' } : parseWhen(r, 'at', t);
    }
    if (!(await askYes(ctx, AumText.proceed(display, name)))) throw new AumError(AumText.fail.declined);
  }

  // 4. Room on flash (clean-up per the rules and the mode), then the download.
  const placed = await place(ctx, name, size, o.disk);
  const target = `${placed.fs.prefix}${placed.path}`;
  ctx.print(src.kind === 'cisco' ? AumText.downloadingCisco : AumText.downloadingUrl);
  await fetchInto(ctx, net, display, address, placed.fs, placed.path);
  ctx.print(AumText.downloadComplete);
  r.log.emit('AUM', 6, 'DOWNLOAD_COMPLETE', AumText.log.downloadComplete(placed.path, placed.fs.prefix));

  // 5. The signature (S2.3): a refused image is deleted, and the reason said.
  out(AumText.verifying);
  const head = await placed.fs.readHead(placed.path, HEADER_PROBE_BYTES);
  const image = parseImage(head);
  const verdict = image ? await verifyImage(placed.fs, placed.path, image, head, storage(r), r.env.store) : undefined;
  out('.........................\n');
  ctx.print(AumText.done);
  if (!verdict?.ok) {
    ctx.print(AumText.verificationFail);
    placed.fs.delete(placed.path);
    throw new AumError(AumText.fail.verification(target, verdict ? verdict.reason : 'not an image'));
  }
  ctx.print(AumText.verificationPass);

  // 6. boot system names the new image first; saved, so any reload boots it.
  const sys = r.system;
  sys.bootSystem = [target, ...sys.bootSystem.filter((b) => normalizeUrl(r, b) !== normalizeUrl(r, target))];
  await saveStartupConfig(r);
  const rec = record(r);
  rec.pending = {
    image: target,
    fromVersion: runningVersion(r),
    toVersion: image!.header.version,
    url: urlText,
    user: ctx.session.user,
    ...(placed.shortStorage ? { shortStorage: { primary: placed.shortStorage.primary.displayName, erase: placed.shortStorage.erase } } : {}),
  };
  saveRecord(r);
  dbg(r, `${target} verified (${verdict.storage} key storage); boot system updated and saved`);

  // 7. The warm upgrade: now, at a time, in a while, or when the user runs runversion.
  await mail(r, { status: 'SCHEDULED', image: target, to: image!.header.version });
  if (!when || when.kind === 'manual') {
    ctx.print(AumText.reloadManually);
    return;
  }
  runVersion(ctx, when);
}

/** A `[yes]:` question (`field` dialog with yes as default): true for yes. */
async function askYes(ctx: Ctx, text: string): Promise<boolean> {
  const a = String(await ctx.ask({ kind: 'field', text, default: 'yes' })).trim();
  return /^y(es?)?$/i.test(a) || a === '';
}

/** The download with copy's `Loading …` / `!` / `[OK - n bytes]` lines (IOS_REFERENCE §8). */
async function fetchInto(ctx: Ctx, net: NetUrl & { host: string; path: string }, display: string, address: string, fs: FlashFileSystem, path: string): Promise<void> {
  const r = ctx.router;
  const t = transferTuning(r);
  let progress: Progress | undefined;
  const t0 = performance.now();
  try {
    const res = await download(r, {
      url: net,
      display,
      address,
      target: { fs, path },
      user: ctx.session.user,
      signal: ctx.signal,
      onStart: () => {
        progress = new Progress((s) => ctx.write(s), t.bytesPerMark, t.marksPerLine);
        progress.prefix(`Loading ${net.path} from ${address} (via ${r.platform.managementInterface}): `);
      },
      onBytes: (n) => progress?.update(n),
      onEvent: (e) => progress?.event(e),
    });
    progress?.finish(res.bytes);
    progress?.endLine();
    ctx.print(`[OK - ${res.bytes} bytes]`);
    dbg(r, copiedLine(res.bytes, (performance.now() - t0) / 1000));
  } catch (e) {
    if (e instanceof TransferFailure && e.transferError?.code === 'timeout') progress?.timedOut();
    progress?.endLine();
    if (e instanceof TransferFailure) {
      reportSyslogLine(ctx, e);
      throw new AumError(e.line);
    }
    if (e instanceof StorageError) throw new AumError(`%Error copying ${display} (${e.reason})`);
    throw e;
  }
}

// ------------------------------------------------------------------ runversion / abortversion

/** Reloads into the downloaded image now, or schedules the warm upgrade (S4.10). */
function runVersion(ctx: Ctx, when: When): void {
  const r = ctx.router;
  const p = record(r).pending;
  if (!p) throw new CliError(AumText.nothingToRun);
  let loc;
  try {
    loc = r.fs.parse(p.image);
  } catch {
    throw new CliError(AumText.runImageGone(p.image));
  }
  if (!loc.fs.stat(loc.path)) throw new CliError(AumText.runImageGone(p.image));
  const by = ctx.session.lineName === 'console' ? 'console' : ctx.session.origin();
  ctx.print(AumText.upgradingTo(p.image));
  if (when.kind === 'now' || when.kind === 'manual') {
    dbg(r, `reloading into ${p.image} now`);
    reloadNow(r, by, AumText.reasonWord);
    return;
  }
  const left = when.at.getTime() - r.clock.now().getTime();
  ctx.print(AumText.scheduledFor(r.log.formatLongTime(when.at), formatIn(left), p.image, by));
  ctx.print(AumText.reloadReason);
  ctx.print(when.kind === 'at' ? AumText.warmAt(r.log.formatLongTime(when.at).slice(0, 8)) : AumText.warmIn(hms(left)));
  ctx.print(AumText.toCancel);
  scheduleReload(r, when.at, by, when.kind, AumText.reasonWord);
  r.log.emit('AUM', 5, 'UPGRADE_SCHEDULED', AumText.log.scheduled(p.image, r.log.formatLongTime(when.at)));
}

function abortVersion(ctx: Ctx): void {
  const r = ctx.router;
  if (pendingReload(r)?.reason !== AumText.reasonWord) throw new CliError(AumText.nothingToAbort);
  ctx.print(AumText.aborted);
  cancelScheduledReload(r);
}

// ------------------------------------------------------------------ interactive (S4.8)

async function interactive(ctx: Ctx): Promise<void> {
  ctx.print(AumText.welcome);
  ctx.print(AumText.ciscoIntro);
  const cisco = await askYes(ctx, AumText.askCisco);
  let source: Source;
  if (cisco) {
    const user = String(await ctx.ask({ kind: 'field', text: AumText.askUsername })).trim();
    const password = String(await ctx.ask({ kind: 'secret', text: AumText.askPassword }));
    const image = String(await ctx.ask({ kind: 'field', text: AumText.askImage })).trim();
    source = { kind: 'cisco', user, password, image };
  } else {
    const url = String(await ctx.ask({ kind: 'field', text: AumText.askLocation })).trim();
    source = { kind: 'url', url };
  }
  await getVersion(ctx, { source, disk: 'auto', interactive: true });
}

// ------------------------------------------------------------------ status mail (S4.13)

async function mail(r: Router, m: Omit<StatusMail, 'host' | 'from' | 'time'> & { from?: string }): Promise<void> {
  const cfg = aumConfig(r);
  await sendStatusMail(r, { recipient: cfg.recipient, smtpServer: cfg.smtpServer }, { host: r.system.hostname, from: m.from ?? runningVersion(r), time: r.log.formatLongTime(r.clock.now()), ...m }, (t) => dbg(r, t));
}

// ------------------------------------------------------------------ after the reload

async function attach(r: Router): Promise<void> {
  const loaded = r.device.load<AumRecord>(DEVICE_STATE);
  if (!('value' in loaded)) r.device.set<AumRecord>(DEVICE_STATE, {});
}

async function afterBoot(r: Router): Promise<void> {
  await checkInvalidConfig(r);
  const p = record(r).pending;
  if (!p) return;
  const running = r.runningImage ? normalizeUrl(r, r.runningImage.url) : '';
  record(r).pending = undefined;
  saveRecord(r);
  if (running !== normalizeUrl(r, p.image)) {
    const reason = AumText.log.rolledBack(p.image, running || 'no image');
    r.log.emit('AUM', 3, 'UPGRADE_FAILED', reason);
    void mail(r, { status: 'FAILURE', image: p.image, from: p.fromVersion, to: p.toVersion, reason });
    return;
  }
  r.log.emit('AUM', 5, 'UPGRADE_COMPLETE', AumText.log.completed(p.fromVersion, p.toVersion));
  // After boot, in the background: the mail, and for short storage the second download.
  void (async () => {
    if (p.shortStorage) await secondDownload(r, p);
    await mail(r, { status: 'SUCCESS', image: p.image, from: p.fromVersion, to: p.toVersion });
  })();
}

/**
 * S4.6: the upgrade ran from secondary storage; the old image is erased from the primary
 * flash and the image downloaded there again, then `boot system` names it first and is saved.
 */
async function secondDownload(r: Router, p: NonNullable<AumRecord['pending']>): Promise<void> {
  const ss = p.shortStorage!;
  const primary = r.fs.all().find((f) => f.displayName === ss.primary);
  const url = parseNetUrl(p.url);
  if (!primary || !url?.host || !url.path) return;
  const name = baseName(url.path);
  const signal = new AbortController().signal;
  try {
    for (const old of ss.erase) {
      const loc = r.fs.parse(old);
      if (loc.fs.stat(loc.path)) loc.fs.delete(loc.path);
    }
    const display = displayUrl(url, url.host, url.path);
    const address = await resolveServer(r, url.host, display, () => undefined, signal);
    await download(r, { url: { ...url, host: url.host, path: url.path }, display, address, target: { fs: primary, path: name }, user: p.user, signal });
    const target = `${primary.prefix}${name}`;
    const gone = new Set([target, ...ss.erase].map((u) => normalizeUrl(r, u)));
    r.system.bootSystem = [target, ...r.system.bootSystem.filter((b) => !gone.has(normalizeUrl(r, b)))];
    await saveStartupConfig(r);
    r.log.emit('AUM', 5, 'SHORT_STORAGE', AumText.log.shortStorage(name, primary.prefix));
  } catch (e) {
    const why = e instanceof TransferFailure ? e.line : e instanceof StorageError ? e.reason : String(e);
    r.log.emit('AUM', 3, 'DOWNLOAD_FAILED', AumText.log.downloadFailed(why));
  }
}

/**
 * S4.5: lines of the saved configuration whose commands the running image's parser lacks
 * (its header lists them) are refused at boot with an error, taken out of the running
 * configuration, and saved to nvram:invalid-config for `show autoupgrade configuration unknown`.
 */
async function checkInvalidConfig(r: Router): Promise<void> {
  const lacks = r.runningImage?.image.header.unsupportedCommands ?? [];
  if (lacks.length === 0) return;
  const nvram = r.fs.get('nvram');
  if (!nvram?.stat('startup-config')) return;
  const text = await nvram.readText('startup-config').catch(() => '');
  const starts = (line: string, cmd: string) => line === cmd || line.startsWith(`${cmd} `);
  const bad = text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.startsWith(' ') && lacks.some((c) => starts(l.trim(), c.trim())));
  if (bad.length === 0) return;
  for (const l of bad) r.console(AumText.parserError(l));
  // The image does not know these commands: they are not part of what it runs.
  await r.exec(['configure terminal', ...bad.map((l) => `no ${l}`), 'end'], { user: 'startup' });
  r.savedConfig = r.configText();
  await nvram.writeText('invalid-config', `${bad.join('\n')}\n`);
  runtime(r).unknownLines = bad;
  r.log.emit('AUM', 3, 'INVALID_CONFIG', AumText.log.invalidConfig(bad.length));
}

// ------------------------------------------------------------------ the feature

const UPGRADE_HELP = {
  upgrade: 'Upgrade firmware',
  automatic: 'Cisco Auto Upgrade Manager',
  getversion: 'Download a new image',
  runversion: 'Reload into the downloaded image',
  abortversion: 'Cancel a scheduled upgrade reload',
  cisco: 'Download from the Cisco server',
  username: 'cisco.com username',
  password: 'cisco.com password',
  image: 'Image name',
  url: 'Image location (tftp:, ftp:, https: URL)',
  at: 'Reload at a specific time (hh:mm)',
  now: 'Reload immediately after the download',
  in: 'Reload after a time interval (hh:mm)',
  'disk-management': 'Disk clean-up when flash is short',
  auto: 'Delete files the clean-up rules allow',
  confirm: 'Ask before each file is deleted',
  no: 'Fail when flash is short',
};

function diskMode(ctx: Ctx): 'auto' | 'confirm' | 'no' {
  return ctx.has('confirm') ? 'confirm' : ctx.has('no') ? 'no' : 'auto';
}

const CONFIG_HELP = {
  autoupgrade: 'Configure Cisco Auto Upgrade Manager',
  'disk-cleanup': 'Disk clean-up before a download',
  crashinfo: 'Delete crashinfo files',
  core: 'Delete core files',
  image: 'Delete images other than the running and the boot image',
  irrecoverable: 'Delete irrecoverable (deleted) files',
  ida: 'Cisco IDA server',
  url: 'IDA locator URL',
  status: 'Upgrade status',
  email: 'Status email',
  recipient: 'Recipient address',
  'smtp-server': 'SMTP server',
};

export const autoupgradeFeature: RouterFeature = {
  name: 'autoupgrade',
  attach,
  afterBoot,
  commands: [
    // ---- configuration (S4.13)
    {
      mode: 'config',
      syntax: 'autoupgrade disk-cleanup {crashinfo|core|image|irrecoverable}',
      help: CONFIG_HELP,
      run(ctx) {
        const kind = CLEANUP_KINDS.find((k) => ctx.has(k))!;
        aumConfig(ctx.router).cleanup[kind] = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no autoupgrade disk-cleanup {crashinfo|core|image|irrecoverable}',
      help: CONFIG_HELP,
      run(ctx) {
        const kind = CLEANUP_KINDS.find((k) => ctx.has(k))!;
        aumConfig(ctx.router).cleanup[kind] = false;
      },
    },
    {
      mode: 'config',
      syntax: 'autoupgrade ida url <url>',
      help: CONFIG_HELP,
      run(ctx) {
        const url = parseNetUrl(ctx.args.url!);
        if (!url?.host || (url.scheme !== 'https' && url.scheme !== 'http')) throw new CliError(`% Invalid IDA URL ${ctx.args.url}: use https://host/path`);
        aumConfig(ctx.router).idaUrl = ctx.args.url!;
      },
    },
    {
      mode: 'config',
      syntax: 'no autoupgrade ida url [<url>]',
      help: CONFIG_HELP,
      run(ctx) {
        aumConfig(ctx.router).idaUrl = DEFAULT_IDA_URL;
      },
    },
    {
      mode: 'config',
      syntax: 'autoupgrade status email recipient <address>',
      help: CONFIG_HELP,
      run(ctx) {
        if (!/^[^@\s]+@[^@\s]+$/.test(ctx.args.address!)) throw new CliError(`% Invalid email address ${ctx.args.address}`);
        aumConfig(ctx.router).recipient = ctx.args.address!;
      },
    },
    {
      mode: 'config',
      syntax: 'autoupgrade status email smtp-server <host>',
      help: CONFIG_HELP,
      run(ctx) {
        aumConfig(ctx.router).smtpServer = ctx.args.host!;
      },
    },
    {
      mode: 'config',
      syntax: 'no autoupgrade status email recipient [<address>]',
      help: CONFIG_HELP,
      run(ctx) {
        aumConfig(ctx.router).recipient = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'no autoupgrade status email smtp-server [<host>]',
      help: CONFIG_HELP,
      run(ctx) {
        aumConfig(ctx.router).smtpServer = undefined;
      },
    },
    // ---- show and debug (S4.14)
    {
      mode: 'exec',
      syntax: 'show autoupgrade configuration unknown',
      help: { autoupgrade: 'Cisco Auto Upgrade Manager', configuration: 'AUM configuration', unknown: 'Config lines not understood by the current image' },
      run(ctx) {
        const lines = runtime(ctx.router).unknownLines;
        ctx.print([AumText.unknownHeader, ...lines, AumText.unknownTotal(lines.length)].join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'debug autoupgrade',
      help: { debug: 'Debugging functions', autoupgrade: 'Cisco Auto Upgrade Manager debugging' },
      run(ctx) {
        ctx.print(ctx.router.debug.enable(AUM_DEBUG.id, 'events'));
      },
    },
    {
      mode: 'exec',
      syntax: 'no debug autoupgrade',
      help: { autoupgrade: 'Cisco Auto Upgrade Manager debugging' },
      run(ctx) {
        ctx.print(ctx.router.debug.disable(AUM_DEBUG.id, 'events'));
      },
    },
    // ---- upgrade automatic (S4.8–S4.11)
    {
      mode: 'exec',
      syntax: 'upgrade automatic',
      help: UPGRADE_HELP,
      run: interactive,
    },
    {
      mode: 'exec',
      syntax: 'upgrade automatic getversion cisco username <username> password <password> image <image> [at <at>] [now] [in <in>] [disk-management {auto|confirm|no}]',
      help: UPGRADE_HELP,
      async run(ctx) {
        const when = whenFromArgs(ctx);
        await getVersion(ctx, { source: { kind: 'cisco', user: ctx.args.username!, password: ctx.args.password!, image: ctx.args.image! }, when, disk: diskMode(ctx), interactive: false });
      },
    },
    {
      mode: 'exec',
      syntax: 'upgrade automatic getversion <url> [at <at>] [now] [in <in>] [disk-management {auto|confirm|no}]',
      help: UPGRADE_HELP,
      async run(ctx) {
        const when = whenFromArgs(ctx);
        if (!parseNetUrl(ctx.args.url!)) throw new CliError(`%Error opening ${ctx.args.url} (Protocol not supported)`);
        await getVersion(ctx, { source: { kind: 'url', url: ctx.args.url! }, when, disk: diskMode(ctx), interactive: false });
      },
    },
    {
      mode: 'exec',
      syntax: 'upgrade automatic runversion [at <at>] [now] [in <in>]',
      help: UPGRADE_HELP,
      run(ctx) {
        runVersion(ctx, whenFromArgs(ctx) ?? { kind: 'now' });
      },
    },
    {
      mode: 'exec',
      syntax: 'upgrade automatic abortversion',
      help: UPGRADE_HELP,
      run: abortVersion,
    },
  ],
  runningConfig(r): ConfigSection[] {
    const cfg = aumConfig(r);
    const lines: string[] = [];
    for (const k of CLEANUP_KINDS) if (cfg.cleanup[k] !== CLEANUP_DEFAULT[k]) lines.push(`${cfg.cleanup[k] ? '' : 'no '}autoupgrade disk-cleanup ${k}`);
    if (cfg.idaUrl !== DEFAULT_IDA_URL) lines.push(`autoupgrade ida url ${cfg.idaUrl}`);
    if (cfg.recipient) lines.push(`autoupgrade status email recipient ${cfg.recipient}`);
    if (cfg.smtpServer) lines.push(`autoupgrade status email smtp-server ${cfg.smtpServer}`);
    return lines.length ? [{ order: ConfigOrder.autoupgrade, lines: [...lines, '!'] }] : [];
  },
};
