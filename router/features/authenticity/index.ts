/**
 * Digitally signed software (SPEC S2.1–S2.12, IOS_REFERENCE §5.2, §7, ANCHORS §1.3–1.5): the
 * router's key storage (device state), ROMmon's signature check of every image it boots, the
 * `show software authenticity …` commands, `verify <file>`, key add/revoke, `upgrade
 * rom-monitor`, and `debug software authenticity …` on the shared debug facility.
 *
 * Messages with no public capture (ANCHORS §1.5) are in MESSAGES below, marked [INF].
 */
import { CliError } from '../../cli/CliSession.ts';
import type { CommandContext } from '../../cli/types.ts';
import { envelopeOf, signerInfo, type Envelope, type KeyRecord, type KeyType } from '../../image/envelope.ts';
import { HEADER_PROBE_BYTES, parseImage, type ParsedImage } from '../../image/format.ts';
import type { BootCandidate, Router, RouterFeature } from '../../Router.ts';
import { registerDebugArea } from '../../system/Debug.ts';
import { resolveUrl } from '../filesystem/index.ts';
import { DEVICE_STATE, loadStorage, newestVersion, sameKey, saveStorage, storage, versionsIn, type KeyStorage, type RommonRecord } from './keystore.ts';
import { showFile, showKeys, showRunning, showUpgradeStatus, type SignedThing } from './output.ts';
import { embeddedDigest, imageDigest, verifyImage, type Verdict } from './verify.ts';

type Ctx = CommandContext<Router>;

export const AUTH_DEBUG = registerDebugArea({
  id: 'software-authenticity',
  title: 'Software Authenticity',
  phrase: 'Software authenticity',
  tag: 'SW_AUTH',
  flags: ['envelope', 'errors', 'key', 'revocation', 'show', 'verbose'],
  all: 'verbose',
});

const dbg = (r: Router, flag: string, text: string | (() => string)) => r.debug.message(AUTH_DEBUG.id, flag, text);

/** Texts with no public capture (ANCHORS §1.5, IOS_REFERENCE §7.4 proposals) [INF], in one place. */
const MESSAGES = {
  notSupported: '% Key revocation and replacement are not supported on this platform',
  specialImage: (what: 'add' | 'revoke') => `% Special images can not ${what} keys: boot a production image`,
  noBundled: (type: KeyType) =>
    type === 'production' ? '% The running image bundles no production key: boot the revocation image to add it' : '% The running image bundles no special key',
  alreadyPresent: (type: KeyType, v: string) => `% ${cap(type)} key version ${v} is already in primary and backup key storage`,
  wasRevoked: (type: KeyType, v: string) => `% ${cap(type)} key version ${v} has been revoked and can not be added again`,
  adding: (type: KeyType, v: string) => `% Adding new ${type} key version ${v} to primary and backup key storage... done`,
  nothingToRevoke: (type: KeyType, have: string[]) => `% Cannot revoke key: key storage holds no ${type} key older than version ${have.at(-1) ?? '?'}`,
  cannotRevoke: (why: string) => `% Cannot revoke key: ${why}`,
  revoking: (type: KeyType, v: string) => `% Revoking ${type} key version ${v}... done`,
  notRommon: (f: string) => `%Error: ${f} is not a ROMMON image for this platform`,
  rommonBadSig: (f: string) => `%Error: ROMMON image ${f} failed signature verification: not upgraded`,
  noSignature: (f: string) => `%ERROR:Signature not found in file ${f}.`,
  badEnvelope: (f: string) => `%ERROR: Not able to process Signature in ${f}.`,
  verifyFailed: (f: string) => `%ERROR: Digital signature verification failed for file ${f}`,
};

const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);

// ---- what the running image was verified with (RAM: gone at reload) --------------------

interface BootRecord {
  /** By `fs:path`: the verdict of every image ROMmon accepted during this boot. */
  verified: Map<string, { key: KeyRecord; envelope: Envelope }>;
}

const bootState = (r: Router) => r.featureState<BootRecord>('authenticity-boot', () => ({ verified: new Map() }));

function runningVerdict(r: Router): { key: KeyRecord; envelope: Envelope } | undefined {
  return r.runningImage ? bootState(r).verified.get(r.runningImage.url) : undefined;
}

// ---- ROMmon's check at boot ---------------------------------------------------------------

async function bootCheck(r: Router, c: BootCandidate): Promise<string | undefined> {
  const s = storage(r);
  const v = await verifyImage(c.fs, c.path, c.image, c.head, s, r.env.store);
  for (const l of v.lines) r.console(l);
  if (!v.ok) {
    r.log.emit('DIGISIGN', 3, 'VERIFICATION_FAILED', `Boot image ${c.url} refused: ${v.reason}`);
    return v.reason;
  }
  bootState(r).verified.set(`${c.fs.displayName}:${c.path}`, { key: v.key, envelope: v.envelope! });
  return undefined;
}

/** Routers whose key storage record was damaged and restored at attach, to log once booted. */
const storageRestored = new WeakSet<Router>();

/** A new ROMmon takes over at reload; a revocation image adds its key once (S2.8). */
function afterBoot(r: Router): void {
  if (storageRestored.delete(r)) r.log.emit('DIGISIGN', 3, 'KEY_STORAGE_RESET', 'Key storage was unreadable and has been restored from the factory keys');
  const s = storage(r);
  if (s.rommon.upgraded) {
    s.rommon.running = s.rommon.upgraded;
    s.rommon.upgraded = undefined;
    saveStorage(r);
  }
  r.rommonVersion = s.rommon.running.version;
  const img = r.runningImage?.image;
  if (img?.header.kind === 'revocation') {
    for (const k of img.header.bundledKeys ?? []) {
      if (k.type !== 'production') continue;
      const added = addKey(r, k);
      if (added === 'added') r.log.emit('DIGISIGN', 5, 'KEY_ADDED', `Revocation image added production key version ${k.version} to primary and backup key storage`);
    }
  }
}

/** Adds a key to primary and backup storage, each only where missing. */
function addKey(r: Router, k: KeyRecord): 'added' | 'present' | 'revoked' {
  const s = storage(r);
  if (s.revoked.some((x) => sameKey(x, k))) return 'revoked';
  let changed = false;
  for (const list of [s.primary, s.backup]) {
    if (!list.some((x) => sameKey(x, k) && x.modulus === k.modulus)) {
      list.push({ ...k });
      changed = true;
    }
  }
  if (!changed) return 'present';
  saveStorage(r);
  dbg(r, 'key', `added ${k.type} key version ${k.version} to primary and backup key storage`);
  return 'added';
}

// ---- reading an image file's signature ----------------------------------------------------

interface FileSignature {
  url: string;
  image: ParsedImage;
  head: Buffer;
  envelope: Envelope;
}

/** The image and envelope of a file, or the IOS error for a file that has none. */
async function readSigned(ctx: Ctx, url: string): Promise<FileSignature & { loc: ReturnType<typeof resolveUrl> }> {
  const loc = resolveUrl(ctx, url);
  const shown = `${loc.fs.displayName}:${loc.path}`;
  const e = loc.fs.stat(loc.path);
  if (!e || loc.path === '') throw new CliError(`%Error opening ${shown} (No such file or directory)`);
  if (e.isDir) throw new CliError(`%Error opening ${shown} (Is a directory)`);
  const head = await loc.fs.readHead(loc.path, HEADER_PROBE_BYTES);
  const image = parseImage(head);
  if (!image) {
    dbg(ctx.router, 'envelope', `${shown}: no image header, no signature envelope`);
    throw new CliError(MESSAGES.noSignature(shown));
  }
  const env = envelopeOf(head, image);
  if ('error' in env) {
    dbg(ctx.router, 'envelope', `${shown}: envelope ${env.error}`);
    dbg(ctx.router, 'errors', `${shown}: signature envelope ${env.error}`);
    throw new CliError(env.error === 'unsigned' ? MESSAGES.noSignature(shown) : MESSAGES.badEnvelope(shown));
  }
  dbg(ctx.router, 'envelope', `${shown}: envelope of ${env.envelope.imageType} image, ${env.envelope.keyType} key version ${env.envelope.keyVersion}`);
  return { url: shown, image, head, envelope: env.envelope, loc };
}

function signedThing(e: Envelope): SignedThing | undefined {
  const signer = signerInfo(e.certificatePem);
  return signer && { imageType: e.imageType, keyType: e.keyType, keyVersion: e.keyVersion, signer };
}

// ---- key management -----------------------------------------------------------------------

function requireRevocationSupport(r: Router): void {
  if (!r.platform.keyRevocation) throw new CliError(MESSAGES.notSupported);
}

function runningIsSpecial(r: Router): boolean {
  const v = runningVerdict(r);
  return v?.key.type === 'special';
}

function keyAdd(ctx: Ctx, type: 'production' | 'special'): void {
  const r = ctx.router;
  requireRevocationSupport(r);
  if (runningIsSpecial(r)) throw new CliError(MESSAGES.specialImage('add'));
  const header = r.runningImage?.image.header;
  // Production keys come from a revocation image (S2.8), special keys from a production image (S2.10).
  const wantKind = type === 'production' ? 'revocation' : 'system';
  const bundled = header?.kind === wantKind ? (header.bundledKeys ?? []).filter((k) => k.type === type) : [];
  if (bundled.length === 0) throw new CliError(MESSAGES.noBundled(type));
  for (const k of bundled) {
    const result = addKey(r, k);
    if (result === 'revoked') throw new CliError(MESSAGES.wasRevoked(type, k.version));
    if (result === 'present') ctx.print(MESSAGES.alreadyPresent(type, k.version));
    else {
      ctx.print(MESSAGES.adding(type, k.version));
      r.log.emit('DIGISIGN', 5, 'KEY_ADDED', `${cap(type)} key version ${k.version} added to primary and backup key storage`);
    }
  }
}

/** The key an image file is signed with, as this router's key storage verifies it. */
async function bootImageKey(r: Router, s: KeyStorage): Promise<{ url: string; verdict?: Verdict } | undefined> {
  const url = r.system.bootSystem[0];
  if (!url) return undefined;
  try {
    const { fs, path } = r.fs.parse(url);
    const e = fs.stat(path);
    if (!e || e.isDir) return { url };
    const head = await fs.readHead(path, HEADER_PROBE_BYTES);
    const image = parseImage(head);
    if (!image) return { url };
    return { url, verdict: await verifyImage(fs, path, image, head, s, r.env.store) };
  } catch {
    return { url };
  }
}

/** Why revoking the old keys of `type` would strand the router, or undefined when it is safe. */
async function revocationBlocker(r: Router, type: 'production' | 'special'): Promise<string | undefined> {
  const s = storage(r);
  const newest = newestVersion(s, type);
  if (!newest) return `key storage holds no ${type} key`;
  if (!s.primary.some((k) => k.type === type && k.version === newest)) return `${type} key version ${newest} is not in primary key storage`;
  if (!s.backup.some((k) => k.type === type && k.version === newest)) return `${type} key version ${newest} is not in backup key storage`;
  const old = (k: { type: KeyType; version: string }) => k.type === type && k.version < newest;
  const running = runningVerdict(r);
  if (!running) return 'the running image was not verified at boot';
  if (type === 'production' && running.key.type !== 'production') return 'the running image is not a production image: reload into the image signed with the new production key';
  if (old(running.key)) return `the running image ${r.runningImage!.url} is signed with ${type} key version ${running.key.version}`;
  const boot = await bootImageKey(r, s);
  if (boot?.verdict?.ok && old(boot.verdict.key)) return `the autoboot image ${boot.url} is signed with ${type} key version ${boot.verdict.key.version}`;
  for (const rom of [s.rommon.running, s.rommon.upgraded]) {
    if (rom && rom.keyType === type && rom.keyVersion < newest) return `the ROMMON is signed with ${type} key version ${rom.keyVersion}: upgrade it with upgrade rom-monitor`;
  }
  return undefined;
}

async function keyRevoke(ctx: Ctx, type: 'production' | 'special'): Promise<void> {
  const r = ctx.router;
  requireRevocationSupport(r);
  if (runningIsSpecial(r)) throw new CliError(MESSAGES.specialImage('revoke'));
  const s = storage(r);
  const versions = [...new Set([...versionsIn(s.primary, type), ...versionsIn(s.backup, type)])].sort();
  if (versions.length < 2) throw new CliError(MESSAGES.nothingToRevoke(type, versions));
  const blocker = await revocationBlocker(r, type);
  if (blocker) {
    dbg(r, 'revocation', `revoke ${type} refused: ${blocker}`);
    dbg(r, 'errors', `revoke ${type} refused: ${blocker}`);
    throw new CliError(MESSAGES.cannotRevoke(blocker));
  }
  const newest = versions.at(-1)!;
  for (const v of versions.slice(0, -1)) {
    s.primary = s.primary.filter((k) => !(k.type === type && k.version === v));
    s.backup = s.backup.filter((k) => !(k.type === type && k.version === v));
    s.revoked.push({ type, version: v });
    ctx.print(MESSAGES.revoking(type, v));
    dbg(r, 'revocation', `${type} key version ${v} revoked; version ${newest} remains`);
    r.log.emit('DIGISIGN', 4, 'KEY_REVOKED', `${cap(type)} key version ${v} revoked from primary and backup key storage`);
  }
  saveStorage(r);
}

// ---- upgrade rom-monitor --------------------------------------------------------------------

async function upgradeRommon(ctx: Ctx): Promise<void> {
  const r = ctx.router;
  const f = await readSigned(ctx, ctx.args.path!);
  if (f.image.header.kind !== 'rommon' || f.image.header.platform !== r.platform.imagePlatform) throw new CliError(MESSAGES.notRommon(f.url));
  const v = await verifyImage(f.loc.fs, f.loc.path, f.image, f.head, storage(r), r.env.store);
  if (!v.ok) {
    dbg(r, 'errors', `${f.url}: ${v.reason}`);
    throw new CliError(MESSAGES.rommonBadSig(f.url));
  }
  const signer = signerInfo(f.envelope.certificatePem);
  if (!signer) throw new CliError(MESSAGES.badEnvelope(f.url));
  // ISR4k's real upgrade lines (ANCHORS §1.4); the success ending is not public [INF].
  if (r.platform.family === 'iosxe') ctx.print(`Chassis model ${r.platform.inventory[0]?.pid ?? r.platform.id} has a single rom-monitor.\n`);
  ctx.print('Upgrade rom-monitor\n');
  ctx.print('Target copying rom-monitor image file');
  ctx.print('Switching to ROM 1');
  ctx.print('Upgrading ROMMON image...');
  ctx.print('Verifying ROMMON image...');
  ctx.print('Switching back to ROM 0');
  ctx.print('ROMMON upgrade complete.');
  ctx.print('To make the new ROMMON permanent, you must restart the RP with the new ROMMON.');
  const rec: RommonRecord = { version: f.image.header.version, imageType: 'rommon', keyType: v.key.type, keyVersion: v.key.version, signer, file: f.url };
  const s = storage(r);
  s.rommon.upgraded = rec;
  saveStorage(r);
  r.log.emit('DIGISIGN', 5, 'ROMMON_UPGRADED', `ROMMON ${rec.version} signed with ${rec.keyType} key version ${rec.keyVersion} takes effect at the next reload`);
}

// ---- verify <file> ----------------------------------------------------------------------------

/** `verify <file>` (IOS_REFERENCE §5.2, IOS XE lines): computed vs embedded SHA-512, then the verdict. */
async function verifySignature(ctx: Ctx): Promise<void> {
  const r = ctx.router;
  let f;
  try {
    f = await readSigned(ctx, ctx.args.path!);
  } catch (e) {
    if (e instanceof CliError && e.message.startsWith('%ERROR:Signature not found')) {
      const name = e.message.slice('%ERROR:Signature not found in file '.length, -1);
      r.log.emit('SIGNATURE', 4, 'NOT_PRESENT', `%WARNING: Signature not found in file ${name}.`);
    }
    throw e;
  }
  const s = storage(r);
  ctx.print(`Verifying file integrity of ${f.url}`);
  ctx.print('Starting image verification');
  const digest = await imageDigest(f.loc.fs, f.loc.path, f.image, r.env.store);
  ctx.print('Hash Computation:    100%Done!');
  const block = (title: string, d: Buffer | undefined) => {
    const hex = d ? d.toString('hex') : '(not recoverable with the keys in key storage)';
    const parts = d ? hex.match(/.{32}/g)! : [hex];
    return [`${title}${parts[0]}`, ...parts.slice(1).map((p) => ' '.repeat(22) + p), ' '.repeat(22)];
  };
  const keys = [...s.primary, ...s.backup, ...s.rollover];
  ctx.print([...block('Computed Hash   SHA2: ', digest), ...block('Embedded Hash   SHA2: ', embeddedDigest(f.envelope, keys))].join('\n'));
  const v = await verifyImage(f.loc.fs, f.loc.path, f.image, f.head, s, r.env.store);
  if (v.ok) {
    dbg(r, 'key', `${f.url} verified with ${v.key.type} key version ${v.key.version} (${v.storage} key storage)`);
    ctx.print(`Digital signature successfully verified in file ${f.url}`);
  } else {
    dbg(r, 'errors', `${f.url}: ${v.reason}`);
    r.log.emit('DIGISIGN', 3, 'VERIFICATION_FAILED', `Digital signature verification failed for file ${f.url}`);
    ctx.print(MESSAGES.verifyFailed(f.url));
  }
}

// ---- show commands -------------------------------------------------------------------------------

function rommonThing(rec: RommonRecord): SignedThing & { version: string } {
  return { imageType: 'production', keyType: rec.keyType, keyVersion: rec.keyVersion, signer: rec.signer, version: rec.version };
}

async function upgradeStatus(r: Router): Promise<string[]> {
  const s = storage(r);
  const newest = newestVersion(s, 'production');
  const all = [...new Set([...versionsIn(s.primary, 'production'), ...versionsIn(s.backup, 'production')])].sort();
  const boot = await bootImageKey(r, s);
  const rom = s.rommon.upgraded ?? s.rommon.running;
  const blocker = r.platform.keyRevocation && all.length > 1 ? await revocationBlocker(r, 'production') : 'nothing to revoke';
  return showUpgradeStatus({
    newVersion: newest,
    oldVersions: all.filter((v) => v !== newest),
    primary: !!newest && s.primary.some((k) => k.type === 'production' && k.version === newest),
    backup: !!newest && s.backup.some((k) => k.type === 'production' && k.version === newest),
    bootImage: boot && { url: boot.url, keyType: boot.verdict?.ok ? boot.verdict.key.type : undefined, keyVersion: boot.verdict?.ok ? boot.verdict.key.version : undefined },
    rommonKey: { type: rom.keyType, version: rom.keyVersion },
    revocationAllowed: r.platform.keyRevocation && !blocker,
  });
}

const AUTH_HELP = {
  software: 'Software information',
  authenticity: 'Software authenticity',
  running: 'Software authenticity of the running image and ROMMON',
  file: 'Software authenticity of an image file',
  keys: 'Public keys in key storage',
  'upgrade-status': 'Production key upgrade checks',
  path: 'Image file (fs:file)',
};

export const authenticityFeature: RouterFeature = {
  name: 'authenticity',
  async attach(r) {
    if ((await loadStorage(r)) === 'restored') storageRestored.add(r);
    r.rommonVersion = storage(r).rommon.running.version;
  },
  bootCheck,
  afterBoot,
  commands: [
    {
      mode: 'exec',
      syntax: 'show software authenticity running',
      help: AUTH_HELP,
      run(ctx) {
        const r = ctx.router;
        const v = runningVerdict(r);
        const sys = v && signedThing(v.envelope);
        dbg(r, 'show', 'show software authenticity running');
        const s = storage(r);
        ctx.print(showRunning(r.platform, sys && { ...sys, keyType: v.key.type, keyVersion: v.key.version }, rommonThing(s.rommon.running)).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'show software authenticity file <path>',
      help: AUTH_HELP,
      async run(ctx) {
        const f = await readSigned(ctx, ctx.args.path!);
        const t = signedThing(f.envelope);
        if (!t) throw new CliError(MESSAGES.badEnvelope(f.url));
        dbg(ctx.router, 'show', `show software authenticity file ${f.url}`);
        ctx.print(showFile(f.url, t).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'show software authenticity keys',
      help: AUTH_HELP,
      run(ctx) {
        const s = storage(ctx.router);
        dbg(ctx.router, 'show', 'show software authenticity keys');
        const list = [
          ...s.primary.map((key) => ({ key, where: 'Primary' as const })),
          ...s.backup.map((key) => ({ key, where: 'Backup' as const })),
          ...s.rollover.map((key) => ({ key, where: 'Revocation' as const })),
        ];
        ctx.print(showKeys(ctx.router.platform, list).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'show software authenticity upgrade-status',
      help: AUTH_HELP,
      async run(ctx) {
        dbg(ctx.router, 'show', 'show software authenticity upgrade-status');
        ctx.print((await upgradeStatus(ctx.router)).join('\n'));
      },
    },
    {
      mode: 'exec',
      syntax: 'software authenticity key add {production|special}',
      help: { software: 'Software management', authenticity: 'Software authenticity', key: 'Key storage', add: 'Add the bundled key to key storage', production: 'Production (release) key', special: 'Special (development) key' },
      run(ctx) {
        keyAdd(ctx, ctx.has('production') ? 'production' : 'special');
      },
    },
    {
      mode: 'exec',
      syntax: 'software authenticity key revoke {production|special}',
      help: { revoke: 'Revoke the replaced key from key storage', production: 'Production (release) key', special: 'Special (development) key' },
      async run(ctx) {
        await keyRevoke(ctx, ctx.has('production') ? 'production' : 'special');
      },
    },
    {
      mode: 'exec',
      syntax: 'upgrade rom-monitor {file|filename} <path> [<slot>]',
      help: { upgrade: 'Upgrade firmware', 'rom-monitor': 'Upgrade the ROM monitor', file: 'ROMMON image file', filename: 'ROMMON image file', path: 'ROMMON image (fs:file)', slot: 'R0 or all' },
      async run(ctx) {
        await upgradeRommon(ctx);
      },
    },
    {
      mode: 'exec',
      syntax: 'verify <path>',
      help: { verify: 'Verify a file', path: 'File to verify (fs:file)' },
      async run(ctx) {
        await verifySignature(ctx);
      },
    },
    {
      mode: 'exec',
      syntax: 'debug software authenticity {envelope|errors|key|revocation|show|verbose}',
      help: {
        debug: 'Debugging functions',
        software: 'Software debugging',
        authenticity: 'Software authenticity debugging',
        envelope: 'Signature envelope parsing',
        errors: 'Verification errors',
        key: 'Key storage and key use',
        revocation: 'Key revocation',
        show: 'Show commands',
        verbose: 'Everything',
      },
      run(ctx) {
        const flag = AUTH_DEBUG.flags.find((f) => ctx.has(f))!;
        ctx.print(ctx.negated ? ctx.router.debug.disable(AUTH_DEBUG.id, flag) : ctx.router.debug.enable(AUTH_DEBUG.id, flag));
      },
    },
    {
      mode: 'exec',
      syntax: '{no debug|undebug} software authenticity {envelope|errors|key|revocation|show|verbose}',
      run(ctx) {
        const flag = AUTH_DEBUG.flags.find((f) => ctx.has(f))!;
        ctx.print(ctx.router.debug.disable(AUTH_DEBUG.id, flag));
      },
    },
  ],
};
