/**
 * File-system commands of privileged EXEC: dir, show <fs>:, show file systems, delete,
 * rename, mkdir, rmdir, more, cd, pwd, verify /md5, squeeze, and the flash-to-flash part of
 * copy (`localCopy`, called by the copy feature, which owns the `copy` grammar because it
 * also handles network URLs and running-config).
 */
import { performance } from 'node:perf_hooks';
import { CliError, type CliSession } from '../../cli/CliSession.ts';
import { type Dialog, Dialogs } from '../../cli/dialogs.ts';
import type { CommandContext, CommandDef, Feature } from '../../cli/types.ts';
import { platforms } from '../../platforms/profile.ts';
import type { Router } from '../../Router.ts';
import type { FlashFileSystem } from '../../storage/FlashFileSystem.ts';
import { FileSystems, type FsLocation } from '../../storage/FileSystems.ts';
import { StorageError } from '../../storage/types.ts';
import { copiedLine, dirLine, dirTotals, progressMarks, showClassB, showFileSystems, showFlash } from './format.ts';

type Ctx = CommandContext<Router>;

// ------------------------------------------------------------------ working directory

/** Each session has its own current directory (`cd`), the default device's root at first. */
const cwds = new WeakMap<CliSession<Router>, FsLocation>();

export function currentDirectory(router: Router, session: CliSession<Router>): FsLocation {
  const c = cwds.get(session);
  // A directory removed under the session falls back to the default root, as on IOS.
  if (c && c.fs.stat(c.path)?.isDir && router.fs.all().includes(c.fs)) return c;
  return { fs: router.fs.default, path: '' };
}

/** `bootflash:/dir/file`: the form IOS uses in its messages. */
export function fullName(loc: FsLocation): string {
  return `${loc.fs.prefix}/${loc.path}`;
}

/** The message name for a URL whose device does not exist (`%Error opening flash:/ (...)`). */
function typedName(url: string): string {
  const i = url.indexOf(':');
  return i < 0 ? url : `${url.slice(0, i + 1)}/${url.slice(i + 1).replace(/^\/+/, '')}`;
}

/**
 * Resolves a URL the way every file command does: `fs:path` from that device's root, a bare
 * path from the session's current directory. An unknown device is reported with `verb`.
 */
export function resolveUrl(ctx: Ctx, url: string, verb = 'opening'): FsLocation {
  try {
    return ctx.router.fs.parse(url, currentDirectory(ctx.router, ctx.session));
  } catch (e) {
    if (e instanceof StorageError) throw new CliError(`%Error ${verb} ${typedName(url)} (${e.reason})`);
    throw e;
  }
}

/** Runs a storage operation, turning its StorageError into IOS's `%Error <verb> <name> (<reason>)`. */
async function attempt<T>(verb: string, name: string, op: () => T | Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof StorageError) throw new CliError(`%Error ${verb} ${name} (${e.reason})`);
    throw e;
  }
}

function family(ctx: Ctx): 'iosxe' | 'ios' {
  return ctx.router.platform.family;
}

function tzOffset(ctx: Ctx): number {
  return ctx.router.system.timezone.offsetMinutes;
}

/** The path part typed after the device prefix (`bootflash:a/b` → `a/b`), for dialog defaults. */
function typedPath(url: string): string {
  const m = /^[A-Za-z][A-Za-z0-9-]*:(?:\d+:)?(.*)$/s.exec(url);
  return (m ? m[1]! : url).replace(/^\/+/, '');
}

const hasPrefix = (url: string) => FileSystems.hasPrefix(url);

/**
 * A dialog answer that differs from the offered default names another file: a full URL as
 * typed, else a path on the same device (or, when the command used a bare path, relative
 * to the current directory).
 */
function reparse(ctx: Ctx, original: string, loc: FsLocation, answer: string, verb: string): FsLocation {
  if (hasPrefix(answer)) return resolveUrl(ctx, answer, verb);
  if (hasPrefix(original)) return resolveUrl(ctx, `${loc.fs.prefix}${answer}`, verb);
  return resolveUrl(ctx, answer, verb);
}

function baseName(path: string): string {
  return path.split('/').filter(Boolean).pop() ?? '';
}

// ------------------------------------------------------------------ dialogs of this feature
// Same shapes as the shared ones (a default-answer question), texts seen on real devices.

const fsDialogs = {
  createDirectory: (def: string): Dialog => ({ kind: 'default', text: 'Create directory filename', default: def, fileOp: true }),
  removeDirectory: (def: string): Dialog => ({ kind: 'default', text: 'Remove directory filename', default: def, fileOp: true }),
  verifyFilename: (): Dialog => ({ kind: 'default', text: 'Verify filename', default: '', fileOp: true }),
  squeezeRemove: (): Dialog => ({ kind: 'confirm', text: 'All deleted files will be removed. Continue? ', fileOp: true }),
  squeezeSlow: (): Dialog => ({ kind: 'confirm', text: 'Squeeze operation may take a while. Continue? ', fileOp: true }),
};

// ------------------------------------------------------------------ dir

async function dir(ctx: Ctx): Promise<void> {
  const url = ctx.args.path;
  const loc = url ? resolveUrl(ctx, url) : currentDirectory(ctx.router, ctx.session);
  ctx.print(dirListing(ctx, loc).join('\n'));
}

/** `dir all-filesystems`: every file system, partitions one by one, each listed as `dir` lists it. */
function dirAllFilesystems(ctx: Ctx): void {
  const blocks = ctx.router.fs.all().map((fs) => dirListing(ctx, { fs, path: '' }).join('\n'));
  ctx.print(blocks.join('\n\n'));
}

function dirListing(ctx: Ctx, loc: FsLocation): string[] {
  const { fs } = loc;
  const entry = fs.stat(loc.path);
  const name = fullName(loc);
  if (!entry) throw new CliError(`%Error opening ${name} (No such file or directory)`);
  const lineOpts = { family: family(ctx), offsetMinutes: tzOffset(ctx), noDate: fs.profile.type === 'nvram' };
  const all = ctx.has('/all');
  const out: string[] = [];
  if (!entry.isDir) {
    out.push(`Directory of ${name}`, '', dirLine(entry, lineOpts));
  } else {
    const section = (path: string) => {
      const entries = fs.list(path, { deleted: all });
      out.push(`Directory of ${fs.prefix}/${path ? `${path}/` : ''}`, '');
      if (entries.length === 0) out.push('No files in directory');
      for (const e of entries) out.push(dirLine(e, lineOpts));
      if (ctx.has('/recursive')) {
        for (const e of entries) {
          if (e.isDir && !e.deleted) {
            out.push('');
            section(e.path);
          }
        }
      }
    };
    section(loc.path);
  }
  out.push('', dirTotals(fs));
  return out;
}

// ------------------------------------------------------------------ show <fs>:

function showDevice(ctx: Ctx, prefix: string): void {
  const r = ctx.router;
  const device = r.fs.device(prefix);
  if (!device) {
    // The keyword exists for another platform's device; this router has no such device, so
    // it answers as IOS does for an unknown keyword, caret under the device word.
    const col = /^\s*\S+\s+/.exec(ctx.line)?.[0].length ?? 0;
    throw new CliError(`${' '.repeat(ctx.session.prompt().length + col)}^\n% Invalid input detected at '^' marker.\n`);
  }
  let fs: FlashFileSystem | undefined = device.partitions[0];
  if (ctx.args.n !== undefined) {
    fs = device.profile.partitions !== undefined ? device.partitions[Number(ctx.args.n) - 1] : undefined;
    if (!fs) throw new CliError(`%Error opening ${device.name}:${ctx.args.n}:/ (No device available)`);
  }
  if (!fs) return;
  if (fs.squeezable) {
    // `show slot0:` with no partition lists every partition, then the card's size once.
    if (ctx.args.n === undefined && device.partitions.length > 1) {
      const blocks = device.partitions.map((p, i) => showClassB(p, device, i === device.partitions.length - 1).join('\n'));
      ctx.print(blocks.join('\n\n'));
      return;
    }
    ctx.print(showClassB(fs, device).join('\n'));
    return;
  }
  ctx.print(showFlash(fs, { family: family(ctx), offsetMinutes: tzOffset(ctx) }).join('\n'));
}

/** Every device prefix any bundled platform has: one `show <prefix>` keyword each (the engine is shared). */
function showDeviceCommands(): CommandDef<Router>[] {
  const prefixes = new Set<string>();
  for (const p of platforms().values()) for (const f of p.fileSystems) for (const n of [f.name, ...f.aliases]) prefixes.add(`${n}:`);
  const cmds: CommandDef<Router>[] = [...prefixes].map((prefix) => ({
    mode: 'exec',
    syntax: `show ${prefix} [partition <n:1-8>]`,
    help: { [prefix]: `display information about ${prefix} file system`, partition: 'Partition number', n: 'Partition number' },
    run: (ctx: Ctx) => showDevice(ctx, prefix),
    when: (r: Router) => r.fs.get(prefix.slice(0, -1)) !== undefined,
  }));
  // `show flash` without the colon is accepted too (an exact keyword beats the `flash0:` prefixes).
  cmds.push({ mode: 'exec', syntax: 'show flash [partition <n:1-8>]', help: { flash: 'display information about flash: file system' }, run: (ctx) => showDevice(ctx, 'flash:') });
  return cmds;
}

// ------------------------------------------------------------------ delete, rename, mkdir, rmdir

async function del(ctx: Ctx): Promise<void> {
  const force = ctx.has('/force');
  const recursive = ctx.has('/recursive');
  const url = ctx.args.path!;
  let loc = resolveUrl(ctx, url, 'deleting');
  if (!force) {
    const answer = String(await ctx.ask(Dialogs.deleteFilename(typedPath(url))));
    if (answer !== typedPath(url)) loc = reparse(ctx, url, loc, answer, 'deleting');
  }
  const name = fullName(loc);
  const entry = loc.fs.stat(loc.path);
  if (!entry || loc.path === '') throw new CliError(`%Error deleting ${name} (No such file or directory)`);
  if (entry.isDir && !recursive) throw new CliError(`%Error deleting ${name} (Is a directory)`);
  // /recursive asks once for the whole tree (per-file questions on real devices are not public: INV).
  if (!force && !(await ctx.confirm(Dialogs.deleteConfirm(name)))) return;
  await attempt('deleting', name, () => (entry.isDir ? loc.fs.deleteRecursive(loc.path) : loc.fs.delete(loc.path)));
}

async function rename(ctx: Ctx): Promise<void> {
  const from = resolveUrl(ctx, ctx.args.from!, 'renaming');
  const fromName = fullName(from);
  if (!from.fs.stat(from.path) || from.path === '') throw new CliError(`%Error renaming ${fromName} (No such file or directory)`);
  const toUrl = ctx.args.to!;
  const answer = String(await ctx.ask(Dialogs.destinationFilename(typedPath(toUrl))));
  let to = resolveUrl(ctx, toUrl, 'renaming');
  if (answer !== typedPath(toUrl)) to = reparse(ctx, toUrl, to, answer, 'renaming');
  // Renaming moves a name inside one device; across devices IOS wants `copy` (INV wording).
  if (to.fs !== from.fs) throw new CliError(`%Error renaming ${fromName} (Invalid argument)`);
  const existing = to.fs.stat(to.path);
  let overwrite = false;
  if (existing && to.path !== from.path) {
    if (existing.isDir) throw new CliError(`%Error renaming ${fromName} (Is a directory)`);
    if (!(await ctx.confirm(Dialogs.overwrite()))) return;
    overwrite = true;
  }
  await attempt('renaming', fromName, () => from.fs.rename(from.path, to.path, { overwrite }));
}

async function mkdir(ctx: Ctx): Promise<void> {
  const url = ctx.args.path!;
  let loc = resolveUrl(ctx, url, 'Creating dir');
  const answer = String(await ctx.ask(fsDialogs.createDirectory(typedPath(url))));
  if (answer !== typedPath(url)) loc = reparse(ctx, url, loc, answer, 'Creating dir');
  const name = fullName(loc);
  await attempt('Creating dir', name, () => loc.fs.mkdir(loc.path));
  ctx.print(`Created dir ${name}`);
}

async function rmdir(ctx: Ctx): Promise<void> {
  const url = ctx.args.path!;
  let loc = resolveUrl(ctx, url, 'Removing dir');
  const answer = String(await ctx.ask(fsDialogs.removeDirectory(typedPath(url))));
  if (answer !== typedPath(url)) loc = reparse(ctx, url, loc, answer, 'Removing dir');
  // rmdir names the directory without the slash after the colon (seen on IOS XE).
  const name = `${loc.fs.prefix}${loc.path}`;
  const entry = loc.fs.stat(loc.path);
  if (!entry || loc.path === '') throw new CliError(`%Error Removing dir ${name} (No such file or directory)`);
  if (!(await ctx.confirm(Dialogs.deleteConfirm(name)))) return;
  try {
    loc.fs.rmdir(loc.path);
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    // Classic IOS words a non-empty directory its own way (seen on an ISR G2); IOS XE uses errno text.
    const reason = e.reason === 'Directory not empty' && family(ctx) === 'ios' ? "Can't delete a directory that has files in it" : e.reason;
    throw new CliError(`%Error Removing dir ${name} (${reason})`);
  }
  ctx.print(`Removed dir ${name}`);
}

// ------------------------------------------------------------------ more, cd, pwd

/** Larger files are images, not something `more` should pour onto a terminal. */
const MORE_LIMIT = 4 * 1024 * 1024;

async function more(ctx: Ctx): Promise<void> {
  const loc = resolveUrl(ctx, ctx.args.path!);
  const name = fullName(loc);
  const entry = loc.fs.stat(loc.path);
  if (!entry) throw new CliError(`%Error opening ${name} (No such file or directory)`);
  if (entry.isDir) throw new CliError(`%Error opening ${name} (Is a directory)`);
  const head = await attempt('opening', name, () => loc.fs.readHead(loc.path, 8192));
  // Binary content (images) is refused rather than dumped (INV: IOS would print raw bytes).
  if (entry.size > MORE_LIMIT || head.includes(0)) throw new CliError(`%Error opening ${name} (Invalid argument)`);
  const text = await attempt('reading', name, () => loc.fs.readText(loc.path));
  ctx.print(text.replace(/\r?\n$/, '').replace(/\r\n/g, '\n'));
}

function cd(ctx: Ctx): void {
  const url = ctx.args.path;
  const loc = url ? resolveUrl(ctx, url, 'changing directory to') : { fs: ctx.router.fs.default, path: '' };
  const entry = loc.fs.stat(loc.path);
  const name = fullName(loc);
  if (!entry) throw new CliError(`%Error changing directory to ${name} (No such file or directory)`);
  if (!entry.isDir) throw new CliError(`%Error changing directory to ${name} (Not a directory)`);
  cwds.set(ctx.session, loc);
}

function pwd(ctx: Ctx): void {
  const c = currentDirectory(ctx.router, ctx.session);
  ctx.print(`${c.fs.prefix}/${c.path ? `${c.path}/` : ''}`);
}

// ------------------------------------------------------------------ verify /md5, /sha512

/** `verify /md5` (IOS_REFERENCE §5.1) and `verify /sha512` (IOS XE 16.5+: 128 hex digits, same lines). */
function verifyDigest(algorithm: 'md5' | 'sha512') {
  return (ctx: Ctx) => verifyFile(ctx, algorithm);
}

async function verifyFile(ctx: Ctx, algorithm: 'md5' | 'sha512'): Promise<void> {
  let url = ctx.args.path!;
  let loc = resolveUrl(ctx, url);
  if (loc.path === '' && hasPrefix(url)) {
    // `verify /md5 bootflash:` asks for the file (§5.1).
    const answer = String(await ctx.ask(fsDialogs.verifyFilename()));
    url = hasPrefix(answer) ? answer : `${loc.fs.prefix}${answer}`;
    loc = resolveUrl(ctx, url);
  }
  const entry = loc.fs.stat(loc.path);
  if (!entry) throw new CliError(`%Error opening ${fullName(loc)} (No such file or directory)`);
  if (entry.isDir) throw new CliError(`%Error opening ${fullName(loc)} (Is a directory)`);
  // Read end to end and checked against the stored content's hash: a damaged file is `I/O error`.
  const md5 = await attempt('reading', fullName(loc), () => (algorithm === 'md5' ? loc.fs.md5(loc.path) : loc.fs.digest(loc.path, algorithm)));
  ctx.write(progressMarks(entry.size, '.'));
  ctx.print('Done!');
  // The file is named as typed when it had a prefix (`bootflash:test1.bin`), else with the device's.
  const shown = hasPrefix(url) ? url : `${loc.fs.prefix}${loc.path}`;
  const expected = ctx.args.hash?.toLowerCase();
  if (expected === undefined) ctx.print(`verify /${algorithm} (${shown}) = ${md5}`);
  else if (expected === md5) ctx.print(`Verified (${shown}) = ${md5}`);
  else ctx.print([`%Error verifying ${shown}`, `Computed signature = ${md5}`, `Submitted signature = ${ctx.args.hash}`].join('\n'));
}

// ------------------------------------------------------------------ squeeze

async function squeeze(ctx: Ctx): Promise<void> {
  const url = ctx.args.fs!;
  const loc = resolveUrl(ctx, hasPrefix(url) ? url : `${url}:`);
  const nolog = ctx.has('/nolog');
  if (nolog) ctx.print('%Warning: Using /nolog option would render squeeze operation uninterruptible.');
  if (!(await ctx.confirm(fsDialogs.squeezeRemove()))) return;
  if (!(await ctx.confirm(fsDialogs.squeezeSlow()))) return;
  const t0 = performance.now();
  // Only class-B flash keeps deleted files; elsewhere delete already freed the space, so
  // squeeze succeeds having nothing to do (IOS XE behaviour is not public: INV).
  loc.fs.squeeze();
  ctx.print('');
  const secs = ((performance.now() - t0) / 1000).toFixed(3);
  ctx.print(nolog ? `Squeeze of ${loc.fs.displayName} completed in ${secs} secs .` : `Squeeze of ${loc.fs.displayName} complete`);
}

// ------------------------------------------------------------------ copy between devices

/**
 * `copy <fs>:<file> <fs>:[<file>]` between local devices. The copy feature registers the
 * `copy` grammar and calls this for two local URLs. Contents are shared by hash, so the
 * copy is instant; the space check is real and a refused copy leaves nothing behind.
 */
export async function localCopy(ctx: Ctx, srcUrl: string, dstUrl: string): Promise<void> {
  const src = resolveUrl(ctx, srcUrl);
  const srcName = fullName(src);
  const srcEntry = src.fs.stat(src.path);
  if (!srcEntry || src.path === '') throw new CliError(`%Error opening ${srcName} (No such file or directory)`);
  if (srcEntry.isDir) throw new CliError(`%Error opening ${srcName} (Is a directory)`);

  let dst = resolveUrl(ctx, dstUrl);
  // A device or directory as destination takes the source's base name.
  const dstEntry = dst.fs.stat(dst.path);
  if (dst.path === '' || dstEntry?.isDir) dst = { fs: dst.fs, path: [dst.path, baseName(src.path)].filter(Boolean).join('/') };
  const answer = String(await ctx.ask(Dialogs.destinationFilename(dst.path)));
  // Another answer is a path on the destination device (or a full URL).
  if (answer !== dst.path) dst = resolveUrl(ctx, hasPrefix(answer) ? answer : `${dst.fs.prefix}${answer}`);

  const existing = dst.fs.stat(dst.path);
  if (existing?.isDir || dst.path === '') throw new CliError(`%Error opening ${fullName(dst)} (Is a directory)`);
  if (existing && !(await ctx.confirm(Dialogs.overwrite()))) return;

  const t0 = performance.now();
  const entry = await attempt('copying', srcName, () => dst.fs.copyFrom(src.fs, src.path, dst.path));
  ctx.write(`Copy in progress...${progressMarks(entry.size, 'C')}\n`);
  ctx.print(copiedLine(entry.size, (performance.now() - t0) / 1000));
}

/** Is this URL one of this router's local devices (so `copy` should hand it to localCopy)? */
export function isLocalUrl(router: Router, url: string): boolean {
  if (!hasPrefix(url)) return true; // a bare name is relative to the current directory
  const prefix = url.slice(0, url.indexOf(':'));
  return router.fs.device(prefix) !== undefined;
}

// ------------------------------------------------------------------ the feature

export const filesystemFeature: Feature<Router> = {
  name: 'filesystem',
  commands: [
    {
      mode: 'exec',
      syntax: 'dir [{/all|/recursive}] [{/all|/recursive}] [<path>]',
      help: { dir: 'List files on a filesystem', '/all': 'List all files', '/recursive': 'List files recursively', path: 'Directory or file name' },
      run: dir,
    },
    {
      mode: 'exec',
      syntax: 'dir all-filesystems',
      help: { 'all-filesystems': 'List files on all filesystems' },
      run: dirAllFilesystems,
    },
    ...showDeviceCommands(),
    {
      mode: 'exec',
      syntax: 'show file systems',
      help: { file: 'Show filesystem information', systems: 'List filesystems' },
      run(ctx) {
        ctx.print(showFileSystems(ctx.router.fs.devices(), ctx.router.fs.default.name).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'delete [{/force|/recursive}] [{/force|/recursive}] <path>',
      help: { delete: 'Delete a file', '/force': 'Force delete', '/recursive': 'Delete a directory including its contents', path: 'File to delete' },
      run: del,
    },
    {
      mode: 'exec',
      syntax: 'rename <from> <to>',
      help: { rename: 'Rename a file', from: 'Source file', to: 'Destination file' },
      run: rename,
    },
    {
      mode: 'exec',
      syntax: 'mkdir <path>',
      help: { mkdir: 'Create new directory', path: 'Directory name' },
      run: mkdir,
    },
    {
      mode: 'exec',
      syntax: 'rmdir <path>',
      help: { rmdir: 'Remove existing directory', path: 'Directory name' },
      run: rmdir,
    },
    {
      mode: 'exec',
      syntax: 'more <path>',
      help: { more: 'Display the contents of a file', path: 'File to display' },
      run: more,
    },
    {
      mode: 'exec',
      syntax: 'cd [<path>]',
      help: { cd: 'Change current directory', path: 'Directory name' },
      run: cd,
    },
    {
      mode: 'exec',
      syntax: 'pwd',
      help: { pwd: 'Display current working directory' },
      run: pwd,
    },
    {
      mode: 'exec',
      syntax: 'verify /md5 <path> [<hash>]',
      help: { verify: 'Verify a file', '/md5': 'Compute an MD5 signature for a file', path: 'File to verify', hash: 'Expected MD5 signature' },
      run: verifyDigest('md5'),
    },
    {
      mode: 'exec',
      syntax: 'verify /sha512 <path> [<hash>]',
      help: { '/sha512': 'Compute a SHA-512 signature for a file', path: 'File to verify', hash: 'Expected SHA-512 signature' },
      // IOS XE from 16.5 on; the classic IOS 15 image has only /md5.
      when: (r: Router) => r.platform.family === 'iosxe',
      run: verifyDigest('sha512'),
    },
    {
      mode: 'exec',
      syntax: 'squeeze [/nolog] <fs>',
      help: { squeeze: 'Squeeze a filesystem', '/nolog': 'Squeeze without the squeeze log (uninterruptible)', fs: 'File system to squeeze' },
      run: squeeze,
    },
  ],
};

