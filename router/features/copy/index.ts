/**
 * `copy`: every source/destination pair except `copy running-config startup-config` (the
 * system feature's keyword command). Network copies (tftp:, ftp:, http(s): in, tftp:/ftp: out)
 * have their dialogs and `!` marks here (IOS_REFERENCE §4, SPEC S3.1–S3.5); the transfer
 * itself, its credentials, trust, reservation and error texts are the router's transfer
 * service (router/transfer/TransferService.ts), which the Auto-Upgrade Manager shares.
 * Flash-to-flash copies are handed to the filesystem feature's `localCopy`.
 *
 * Also the commands for the client settings the service uses: `ip ftp
 * username|password|passive`, `ip tftp blocksize`, `ip http client username|password`.
 */
import { performance } from 'node:perf_hooks';
import { CliError } from '../../cli/CliSession.ts';
import { Dialogs } from '../../cli/dialogs.ts';
import type { CommandContext, ConfigSection, Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import { FileSystems, type FsLocation } from '../../storage/FileSystems.ts';
import { StorageError } from '../../storage/types.ts';
import {
  download as transferDownload,
  ftpCredentials as serviceFtpCredentials,
  resolveServer,
  TransferFailure,
  transferSettings,
  type TransferSettings,
  type TransferTuning,
  transferTuning,
  tuneTransfers,
  upload as transferUpload,
} from '../../transfer/TransferService.ts';
import { ConfigOrder } from '../configOrder.ts';
import { fullName, localCopy, resolveUrl } from '../filesystem/index.ts';
import { copiedLine, hhmmss, Progress } from './output.ts';
import { decodeType7 } from './type7.ts';
import { baseName, classify, type CopyUrl, displayUrl, type NetUrl } from './urls.ts';

type Ctx = CommandContext<Router>;
type LocalOrRunning = Exclude<CopyUrl, NetUrl | { kind: 'unsupported' }>;

// ------------------------------------------------------------------ state and tuning

/** The client settings live in the transfer service; this feature's commands configure them. */
export type CopyConfig = TransferSettings;
export const copyConfig = transferSettings;
export type CopyTuning = TransferTuning;
export const tuneCopy = tuneTransfers;
const tuning = transferTuning;

/** The interface named in `Loading f from h (via X)`: platform data (IOS_REFERENCE §4.1). */
function viaInterface(r: Router): string {
  return r.platform.managementInterface;
}

// ------------------------------------------------------------------ errors

/** A copy failure: the message is the whole IOS line, printed after any open `!` run. */
class CopyError extends Error {}

// ------------------------------------------------------------------ shared steps

async function answer(ctx: Ctx, d: Parameters<Ctx['ask']>[0]): Promise<string> {
  return String(await ctx.ask(d)).trim();
}

/** A dialog answer other than the offered default names another file (as localCopy reads it). */
function reparse(ctx: Ctx, original: string, loc: FsLocation, typed: string): FsLocation {
  if (FileSystems.hasPrefix(typed)) return resolveUrl(ctx, typed);
  if (FileSystems.hasPrefix(original)) return resolveUrl(ctx, `${loc.fs.prefix}${typed}`);
  return resolveUrl(ctx, typed);
}

function isStartupConfig(loc: FsLocation): boolean {
  return loc.fs.profile.type === 'nvram' && loc.path === 'startup-config';
}

/**
 * Where a copy writes on this router: asks `Destination filename [<default>]?`, checks the
 * place can take a file, and warns before overwriting. Undefined when the user declined.
 */
async function localTarget(ctx: Ctx, dstUrl: string, defaultName: string): Promise<FsLocation | undefined> {
  let loc = resolveUrl(ctx, dstUrl);
  // A device or a directory as destination takes the source's base name.
  if (loc.path === '' || loc.fs.stat(loc.path)?.isDir) loc = { fs: loc.fs, path: [loc.path, defaultName].filter(Boolean).join('/') };
  const offered = loc.path;
  const typed = await answer(ctx, Dialogs.destinationFilename(offered));
  if (typed !== offered && typed !== '') loc = reparse(ctx, dstUrl, loc, typed);
  const existing = loc.fs.stat(loc.path);
  if (loc.path === '' || existing?.isDir) throw new CopyError(`%Error opening ${fullName(loc)} (Is a directory)`);
  const parent = loc.path.split('/').slice(0, -1).join('/');
  if (!loc.fs.stat(parent)?.isDir) throw new CopyError(`%Error opening ${fullName(loc)} (No such file or directory)`);
  // startup-config is replaced without a warning, as `copy running-config startup-config` does.
  if (existing && !isStartupConfig(loc) && !(await ctx.confirm(Dialogs.overwrite()))) return undefined;
  return loc;
}

/** A local file that must exist: `%Error opening <name> (...)` otherwise. */
function existingFile(loc: FsLocation): number {
  const e = loc.fs.stat(loc.path);
  if (!e || loc.path === '') throw new CopyError(`%Error opening ${fullName(loc)} (No such file or directory)`);
  if (e.isDir) throw new CopyError(`%Error opening ${fullName(loc)} (Is a directory)`);
  return e.size;
}

/** S3.1 (the transfer service's order), for this session's user. */
export function ftpCredentials(ctx: Ctx, url: NetUrl): { username: string; password: string } {
  return serviceFtpCredentials(ctx.router, url, ctx.session.user);
}

async function askHost(ctx: Ctx, url: NetUrl, mustAsk: boolean): Promise<string> {
  const cfg = copyConfig(ctx.router);
  let host = url.host;
  if (host === undefined || mustAsk) host = await answer(ctx, Dialogs.remoteHost(host ?? cfg.lastHost ?? ''));
  // No capture of IOS's text for an empty host [INV]; this names the problem in IOS's style.
  if (!host) throw new CopyError('%Error parsing filename (Bad IP address or host name)');
  cfg.lastHost = host;
  return host;
}

/**
 * A refused server certificate: the PKI syslog line (ANCHORS §1.2, emitted by the service) is
 * also printed here when this session does not see syslog (a vty without `terminal monitor`).
 */
function reportCertificate(ctx: Ctx, f: TransferFailure): void {
  const s = ctx.session;
  if (f.syslogLine && !(s.interactive && (s.terminal.monitor || s.lineName === 'console'))) ctx.write(`${f.syslogLine}\n`);
}

/** A service failure as this command's error, after any certificate line. */
function asCopyError(ctx: Ctx, e: unknown): unknown {
  if (!(e instanceof TransferFailure)) return e;
  reportCertificate(ctx, e);
  return new CopyError(e.line);
}

/** Applies configuration text as if typed in configuration mode (copy ... running-config). */
async function applyConfig(ctx: Ctx, text: string, from: string): Promise<void> {
  const r = ctx.router;
  const lines = text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && l.trim() !== 'end');
  const out = await r.exec(lines, { user: ctx.session.user, mode: 'config' });
  if (out.trim() !== '') ctx.write(out.endsWith('\n') ? out : `${out}\n`);
  r.log.emit('SYS', 5, 'CONFIG_I', `Configured from ${from} by ${ctx.session.origin()}`);
}

// ------------------------------------------------------------------ download (server -> router)

async function download(ctx: Ctx, src: NetUrl, dst: LocalOrRunning): Promise<void> {
  const r = ctx.router;
  const noisy = r.system.filePrompt === 'noisy';
  const host = await askHost(ctx, src, noisy);
  let path = src.path ?? '';
  if (src.path === undefined || noisy) path = (await answer(ctx, Dialogs.sourceFilename(path))).replace(/^\/+/, '');
  const url = displayUrl(src, host, path);
  if (!path) throw new CopyError(`%Error opening ${url} (No such file or directory)`);

  let target: FsLocation | undefined;
  if (dst.kind === 'running') {
    // Only the running configuration can be meant here; IOS offers it as the default.
    await answer(ctx, Dialogs.destinationFilename('running-config'));
  } else {
    target = await localTarget(ctx, dst.url, baseName(path));
    if (!target) return;
  }

  const out = (t: string) => ctx.write(t);
  out(`Accessing ${url}...\n`);
  const t0 = performance.now();
  const t = tuning(r);
  // Timeouts and out-of-order blocks show among the marks once the marks have begun.
  let progress: Progress | undefined;
  let result;
  try {
    const address = await resolveServer(r, host, url, out, ctx.signal);
    const nvramLimit = r.fs.get('nvram')?.totalBytes ?? 1 << 20;
    result = await transferDownload(r, {
      url: { ...src, host, path },
      display: url,
      address,
      target: target ?? { memory: true, limit: nvramLimit },
      user: ctx.session.user,
      signal: ctx.signal,
      onEvent: (e) => progress?.event(e),
      onStart: () => {
        progress = new Progress(out, t.bytesPerMark, t.marksPerLine);
        progress.prefix(`Loading ${path} from ${address} (via ${viaInterface(r)}): `);
      },
      onBytes: (n) => progress?.update(n),
    });
  } catch (e) {
    if (e instanceof TransferFailure && e.transferError?.code === 'timeout') progress?.timedOut();
    progress?.endLine();
    throw asCopyError(ctx, e);
  }
  progress?.finish(result.bytes);
  progress?.endLine();
  out(`[OK - ${result.bytes} bytes]\n\n${copiedLine(result.bytes, (performance.now() - t0) / 1000)}\n`);
  if (!target) await applyConfig(ctx, result.data!.toString('utf8'), url);
}

// ------------------------------------------------------------------ upload (router -> server)

interface UploadSource {
  /** Base name (dialog default, seed dialog). */
  name: string;
  size: number;
  open(): AsyncIterable<Buffer>;
  /** Set for a file on flash (the classic platform's checksum/confirm dialog applies). */
  loc?: FsLocation;
}

async function uploadSource(ctx: Ctx, src: LocalOrRunning, noisy: boolean): Promise<UploadSource> {
  const r = ctx.router;
  if (src.kind === 'running') {
    const data = Buffer.from(r.configText(), 'utf8');
    // IOS names a configuration upload `<hostname>-confg` in lower case.
    return {
      name: `${r.system.hostname.toLowerCase()}-confg`,
      size: data.length,
      async *open() {
        yield data;
      },
    };
  }
  let loc = resolveUrl(ctx, src.url);
  if (loc.path === '' || noisy) {
    const typed = await answer(ctx, Dialogs.sourceFilename(loc.path));
    if (typed !== loc.path) loc = reparse(ctx, src.url, loc, typed);
  }
  const size = existingFile(loc);
  const at = loc;
  return {
    name: baseName(loc.path),
    size,
    loc: at,
    async *open() {
      try {
        for await (const c of at.fs.openRead(at.path)) yield c as Buffer;
      } catch (e) {
        throw new CopyError(`%Error reading ${fullName(at)} (${e instanceof StorageError ? e.reason : 'I/O error'})`);
      }
    },
  };
}

/** `file # N` of the seed's checksum line: the file's place in its directory, as `show slot0:` numbers it. */
function fileNumber(loc: FsLocation): number {
  const dir = loc.path.split('/').slice(0, -1).join('/');
  const files = loc.fs.list(dir, { deleted: true }).filter((e) => !e.isDir);
  return files.findIndex((e) => e.path === loc.path && !e.deleted) + 1;
}

async function upload(ctx: Ctx, src: LocalOrRunning, dst: NetUrl): Promise<void> {
  const r = ctx.router;
  const noisy = r.system.filePrompt === 'noisy';
  const source = await uploadSource(ctx, src, noisy);
  // The seed's classic-IOS FTP upload (S3.3): a complete URL asks nothing, then the checksum
  // check and `Copy ... ? [yes/no]`. Elsewhere IOS asks host and name with the URL's parts
  // as defaults (IOS_REFERENCE §4.1, GLIBS captures).
  const seedDialog = r.platform.family === 'ios' && dst.scheme === 'ftp' && source.loc !== undefined && source.loc.fs.profile.type !== 'nvram';
  const host = await askHost(ctx, dst, !seedDialog || noisy);
  let path = dst.path ?? source.name;
  if (!seedDialog || dst.path === undefined || noisy) path = (await answer(ctx, Dialogs.destinationFilename(path))).replace(/^\/+/, '');
  const url = displayUrl(dst, host, path);
  if (!path) throw new CopyError(`%Error opening ${url} (No such file or directory)`);

  const out = (t: string) => ctx.write(t);
  if (seedDialog) {
    const loc = source.loc!;
    out(`Verifying checksum for '${source.name}' (file # ${fileNumber(loc)})... `);
    await loc.fs.md5(loc.path);
    out('OK\n');
    const go = await ctx.confirm({ kind: 'yesno', text: `Copy '${source.name}' from Flash to server\n as '${path}'?`, fileOp: true, colon: false });
    if (!go) return;
  }
  const t = tuning(r);
  const progress = new Progress(out, t.bytesPerMark, t.marksPerLine);
  let n = 0;
  const t0 = performance.now();
  try {
    const address = await resolveServer(r, host, url, out, ctx.signal);
    // FTP uploads name the file before the marks (`Writing R1.cfg !`, §4.2); TFTP shows marks only.
    if (dst.scheme === 'ftp' && !seedDialog) progress.prefix(`Writing ${path} `);
    await transferUpload(r, {
      url: { ...dst, host, path },
      display: url,
      address,
      size: source.size,
      body: source.open(),
      user: ctx.session.user,
      signal: ctx.signal,
      onBytes: (bytes) => {
        n = bytes;
        progress.update(bytes);
      },
      onEvent: (e) => progress.event(e),
    });
  } catch (e) {
    if (e instanceof TransferFailure && e.transferError?.code === 'timeout' && n > 0) progress.timedOut();
    progress.endLine();
    throw asCopyError(ctx, e);
  }
  progress.finish(source.size);
  progress.endLine();
  const secs = (performance.now() - t0) / 1000;
  if (seedDialog) out(`Upload to server done\nFlash device copy took ${hhmmss(secs)} [hh:mm:ss]\n`);
  else out(`${copiedLine(source.size, secs)}\n`);
}

// ------------------------------------------------------------------ running-config <-> local files

async function saveRunning(ctx: Ctx, dstUrl: string): Promise<void> {
  const r = ctx.router;
  const target = await localTarget(ctx, dstUrl, `${r.system.hostname.toLowerCase()}-confg`);
  if (!target) return;
  const startup = isStartupConfig(target);
  if (startup) ctx.write('Building configuration...\n');
  const t0 = performance.now();
  const text = r.configText();
  try {
    await target.fs.writeText(target.path, text);
  } catch (e) {
    if (e instanceof StorageError) throw new CopyError(`%Error copying system:running-config (${e.reason})`);
    throw e;
  }
  ctx.write(startup ? '[OK]\n' : `${copiedLine(Buffer.byteLength(text), (performance.now() - t0) / 1000)}\n`);
}

async function loadRunning(ctx: Ctx, srcUrl: string): Promise<void> {
  const loc = resolveUrl(ctx, srcUrl);
  existingFile(loc);
  await answer(ctx, Dialogs.destinationFilename('running-config'));
  const t0 = performance.now();
  const text = await loc.fs.readText(loc.path);
  ctx.write(`${copiedLine(Buffer.byteLength(text), (performance.now() - t0) / 1000)}\n`);
  await applyConfig(ctx, text, fullName(loc));
}

// ------------------------------------------------------------------ the command

async function copy(ctx: Ctx): Promise<void> {
  const src = classify(ctx.args.src!);
  const dst = classify(ctx.args.dst!);
  try {
    if (src.kind === 'unsupported') throw new CopyError(`%Error opening ${src.url} (Protocol not supported)`);
    if (dst.kind === 'unsupported') throw new CopyError(`%Error opening ${dst.url} (Protocol not supported)`);
    if (src.kind === 'net') {
      if (dst.kind === 'net') throw new CopyError('%Error: copy between two network servers is not supported');
      return await download(ctx, src, dst);
    }
    // The lab's web servers take no uploads (IOS's HTTP client has no PUT for copy either).
    if (dst.kind === 'net' && (dst.scheme === 'http' || dst.scheme === 'https')) throw new CopyError(`%Error opening ${ctx.args.dst} (Operation not supported)`);
    if (dst.kind === 'net') return await upload(ctx, src, dst);
    if (src.kind === 'running') {
      if (dst.kind === 'running') throw new CopyError('%Error: source and destination are the same');
      return await saveRunning(ctx, dst.url);
    }
    if (dst.kind === 'running') return await loadRunning(ctx, src.url);
    return await localCopy(ctx, src.url, dst.url);
  } catch (e) {
    if (e instanceof CopyError) {
      ctx.write(`${e.message}\n`);
      return;
    }
    throw e; // CliError (printed by the session) or a dialog aborted by Ctrl-C
  }
}

function setFtpPassword(ctx: Ctx): void {
  const type = ctx.args.type;
  const value = ctx.args.password!;
  const cfg = copyConfig(ctx.router);
  if (type === undefined || type === '0') {
    cfg.ftpPassword = { clear: value };
    return;
  }
  if (type !== '7') throw new CliError('% Invalid encryption type: only 0 and 7 are supported');
  const clear = decodeType7(value);
  if (clear === undefined) throw new CliError('% Invalid encrypted password');
  cfg.ftpPassword = { clear, type7: value.toUpperCase() };
}

export const copyFeature: Feature<Router> = {
  name: 'copy',
  commands: [
    {
      mode: 'exec',
      syntax: 'copy <src> <dst>',
      help: { copy: 'Copy from one file to another', src: 'Source URL (flash:, tftp:, ftp:, running-config...)', dst: 'Destination URL' },
      run: copy,
    },
    {
      mode: 'config',
      syntax: 'ip ftp username <username>',
      help: { ip: 'Global IP configuration subcommands', ftp: 'FTP configuration commands', username: 'Specify username for connections' },
      run(ctx) {
        copyConfig(ctx.router).ftpUsername = ctx.args.username!;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip ftp username [<username>]',
      run(ctx) {
        copyConfig(ctx.router).ftpUsername = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'ip ftp password [<type:0-7>] <password>',
      help: { password: 'Specify password for connections', type: 'Encryption type (0=not yet encrypted, 7=hidden)' },
      run: setFtpPassword,
    },
    {
      mode: 'config',
      syntax: 'no ip ftp password [<type:0-7>] [<password>]',
      run(ctx) {
        copyConfig(ctx.router).ftpPassword = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'ip ftp passive',
      help: { passive: 'Connect using passive mode' },
      run(ctx) {
        copyConfig(ctx.router).ftpPassive = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip ftp passive',
      run(ctx) {
        copyConfig(ctx.router).ftpPassive = false;
      },
    },
    {
      mode: 'config',
      syntax: 'ip http client username <username>',
      help: { http: 'HTTP configuration commands', client: 'HTTP client configuration', username: 'HTTP client username' },
      run(ctx) {
        copyConfig(ctx.router).httpUsername = ctx.args.username!;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip http client username [<username>]',
      run(ctx) {
        copyConfig(ctx.router).httpUsername = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'ip http client password <password>',
      help: { password: 'HTTP client password' },
      run(ctx) {
        copyConfig(ctx.router).httpPassword = ctx.args.password!;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip http client password [<password>]',
      run(ctx) {
        copyConfig(ctx.router).httpPassword = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'ip tftp blocksize <size:512-8192>',
      help: { tftp: 'tftp configuration commands', blocksize: 'Specify TFTP client blocksize', size: 'blocksize' },
      run(ctx) {
        copyConfig(ctx.router).tftpBlocksize = Number(ctx.args.size);
      },
    },
    {
      mode: 'config',
      syntax: 'no ip tftp blocksize [<size:512-8192>]',
      run(ctx) {
        copyConfig(ctx.router).tftpBlocksize = undefined;
      },
    },
  ],
  runningConfig(r): ConfigSection[] {
    const cfg = copyConfig(r);
    const out: ConfigSection[] = [];
    const ftp: string[] = [];
    if (cfg.ftpUsername !== undefined) ftp.push(`ip ftp username ${cfg.ftpUsername}`);
    // Shown as typed: clear text stays clear (IOS does the same unless `service
    // password-encryption`, which the lab does not model); a type-7 entry stays type 7.
    if (cfg.ftpPassword) ftp.push(cfg.ftpPassword.type7 ? `ip ftp password 7 ${cfg.ftpPassword.type7}` : `ip ftp password ${cfg.ftpPassword.clear}`);
    if (!cfg.ftpPassive) ftp.push('no ip ftp passive');
    if (ftp.length) out.push({ order: ConfigOrder.ipFtp, lines: [...ftp, '!'] });
    if (cfg.tftpBlocksize !== undefined) out.push({ order: ConfigOrder.ipTftp, lines: [`ip tftp blocksize ${cfg.tftpBlocksize}`, '!'] });
    const http: string[] = [];
    if (cfg.httpUsername !== undefined) http.push(`ip http client username ${cfg.httpUsername}`);
    if (cfg.httpPassword !== undefined) http.push(`ip http client password ${cfg.httpPassword}`);
    if (http.length) out.push({ order: ConfigOrder.ipTftp, lines: [...http, '!'] });
    return out;
  },
};
