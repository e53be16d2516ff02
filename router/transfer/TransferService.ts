/**
 * The router's transfer service: every download and upload a router makes goes through here,
 * whoever asks (`copy`, the Auto-Upgrade Manager, anything later), with or without an
 * interactive session. It owns:
 *
 * - the client settings (`ip ftp username|password|passive`, `ip tftp blocksize`,
 *   `ip http client …`; the copy feature's commands write them) and the credentials order
 *   (S3.1: URL, then `ip ftp`, then anonymous with a generated password);
 * - the endpoint of each scheme (the lab's port table, `ip tcp synwait-time`, the router's
 *   trustpoints and clock for https: never the host's CA store or time);
 * - name resolution through the router's own name servers;
 * - reserve-then-commit into flash: the announced size is reserved before any data, the
 *   file appears only at commit, and any failure (server, space, Ctrl-C) leaves nothing;
 * - abort (an AbortSignal), progress (bytes and TFTP events) and IOS's failure texts.
 *
 * What it never does is print dialogs or progress marks: callers draw their own output
 * from the callbacks, so `copy` keeps its exact lines and AUM its own.
 */
import type { FsLocation } from '../storage/FileSystems.ts';
import type { FlashWriter } from '../storage/FlashFileSystem.ts';
import { StorageError } from '../storage/types.ts';
import type { Router } from '../Router.ts';
import { ResolveAbortedError, resolveHost, UnknownHostError } from '../net/resolveHost.ts';
import { tcpSynwaitSec } from '../features/net/index.ts';
import { trustAnchors } from '../features/pki/index.ts';
import { CERTIFICATE_FAILED_REASON, chainFailureLog } from '../features/pki/messages.ts';
import { CertificateError, type Download, TransferError, type TransferEndpoint, type TransferErrorCode, type TransferPhase } from './types.ts';
import { SCHEMES, type NetScheme, type NetUrl } from './urls.ts';

// ------------------------------------------------------------------ settings and tuning

/** What `ip ftp` / `ip tftp` / `ip http client` configured, plus the last host a copy used. */
export interface TransferSettings {
  ftpUsername?: string;
  /** Clear text for the client; `type7` keeps the form typed so running-config shows it back. */
  ftpPassword?: { clear: string; type7?: string };
  ftpPassive: boolean;
  tftpBlocksize?: number;
  /** `ip http client username|password`: HTTP(S) basic credentials when the URL has none. */
  httpUsername?: string;
  httpPassword?: string;
  lastHost?: string;
}

/** Kept under the copy feature's state key: the settings are configured by its commands. */
export function transferSettings(r: Router): TransferSettings {
  return r.featureState<TransferSettings>('copy', () => ({ ftpPassive: true }));
}

/**
 * Knobs IOS has no command for, set by tests and the lab (not saved in any configuration,
 * kept across reloads): how long a silent server or name server is waited for, and how the
 * `!` run is drawn.
 */
export interface TransferTuning {
  /** Seconds without progress before a transfer fails; undefined: each client's default. */
  timeoutSec?: number;
  /** Per query to one name server. */
  dnsTimeoutMs: number;
  /** Bytes per `!` mark. */
  bytesPerMark: number;
  /** Marks per line before the run wraps. */
  marksPerLine: number;
}

const DEFAULT_TUNING: TransferTuning = { dnsTimeoutMs: 2000, bytesPerMark: 64 * 1024, marksPerLine: 70 };
const tunings = new WeakMap<Router, Partial<TransferTuning>>();

export function tuneTransfers(r: Router, t: Partial<TransferTuning>): void {
  tunings.set(r, { ...tunings.get(r), ...t });
  // Every lookup the router makes waits as long (an unknown word in EXEC is a lookup too).
  if (t.dnsTimeoutMs !== undefined) r.dnsTimeoutMs = t.dnsTimeoutMs;
}

export function transferTuning(r: Router): TransferTuning {
  return { ...DEFAULT_TUNING, ...tunings.get(r) };
}

// ------------------------------------------------------------------ failures

/** A transfer that failed: `line` is IOS's whole message (`%Error opening … (Timed out)`). */
export class TransferFailure extends Error {
  constructor(
    readonly line: string,
    /** The transfer error behind it, when there was one (callers draw ` [timed out]`). */
    readonly transferError?: TransferError,
    /** A refused certificate's PKI syslog line (already emitted). */
    readonly syslogLine?: string,
  ) {
    super(line);
    this.name = 'TransferFailure';
  }
}

const VERB: Record<TransferPhase, string> = { open: 'opening', read: 'reading', write: 'writing' };

/** IOS's parenthesised text for each transfer failure (IOS_REFERENCE §4.4). */
export function failureReason(code: TransferErrorCode, scheme: NetScheme): string {
  switch (code) {
    case 'timeout':
      return 'Timed out';
    case 'not-found':
      return 'No such file or directory';
    case 'permission':
      return 'Permission denied';
    case 'login':
      return 'Incorrect Login/Password';
    case 'no-space':
      return 'No space left on device';
    case 'reset':
      // The errno text IOS uses for its other socket failures; no capture of this exact case exists.
      return 'Connection reset by peer';
    case 'refused':
      // IOS's TFTP keeps retransmitting whatever ICMP says, so the user sees a timeout; a TCP
      // connect is refused at once.
      return scheme === 'tftp' ? 'Timed out' : 'Connection refused';
    case 'aborted':
      // Ctrl-C / Ctrl-^ mid-transfer. No capture shows IOS's wording [INV]; this one says
      // plainly that the user stopped it, in the same `%Error <verb> <url> (...)` shape.
      return 'Aborted';
    case 'protocol':
      return 'Protocol error';
    case 'certificate':
      return CERTIFICATE_FAILED_REASON;
  }
}

/**
 * A transfer that could not open. A peer certificate the router's trust refuses is logged
 * as PKI logs it, and the failure carries that log line.
 */
function openFailure(r: Router, e: unknown, display: string, scheme: NetScheme): TransferFailure {
  if (e instanceof CertificateError) {
    const { mnemonic, text } = chainFailureLog(e.failure);
    const m = r.log.emit('PKI', 3, mnemonic, text);
    return new TransferFailure(failure(e, display, scheme, 'open').line, e, m.line);
  }
  return failure(e, display, scheme, 'open');
}

function failure(e: unknown, url: string, scheme: NetScheme, fallback: TransferPhase): TransferFailure {
  if (e instanceof TransferFailure) return e;
  if (e instanceof TransferError) {
    // A full server is a write failure whenever it is noticed (552 may come before any data).
    const verb = e.code === 'no-space' ? 'writing' : VERB[e.phase];
    return new TransferFailure(`%Error ${verb} ${url} (${failureReason(e.code, scheme)})`, e);
  }
  if (e instanceof StorageError) return new TransferFailure(`%Error copying ${url} (${e.reason})`);
  // Anything else is a client fault the user cannot act on: shown, never as a stack.
  return new TransferFailure(`%Error ${VERB[fallback]} ${url} (I/O error)`);
}

// ------------------------------------------------------------------ credentials, endpoints, names

/** S3.1: URL user, else `ip ftp username`, else anonymous; URL password, else `ip ftp password`, else `user@host.domain`. */
export function ftpCredentials(r: Router, url: NetUrl, sessionUser: string): { username: string; password: string } {
  const cfg = transferSettings(r);
  const sys = r.system;
  const generated = `${sessionUser}@${sys.hostname}${sys.domainName ? `.${sys.domainName}` : ''}`;
  return { username: url.user ?? cfg.ftpUsername ?? 'anonymous', password: url.password ?? cfg.ftpPassword?.clear ?? generated };
}

/** Where and how to reach one server for one URL: port, credentials, time-outs, trust. */
export function endpointFor(r: Router, url: NetUrl & { host: string }, address: string, path: string, signal: AbortSignal, sessionUser: string): TransferEndpoint {
  const cfg = transferSettings(r);
  const scheme = SCHEMES[url.scheme];
  const ep: TransferEndpoint = { host: address, port: r.env.servicePort(address, scheme.service), path, signal, timeoutSec: transferTuning(r).timeoutSec };
  if (scheme.tcp) ep.connectTimeoutSec = tcpSynwaitSec(r);
  if (scheme.credentials === 'ftp') Object.assign(ep, ftpCredentials(r, url, sessionUser), { passive: cfg.ftpPassive });
  if (url.scheme === 'tftp') {
    if (cfg.tftpBlocksize !== undefined) ep.blksize = cfg.tftpBlocksize;
    ep.localAddress = r.address;
  }
  if (scheme.credentials === 'http') {
    const user = url.user ?? cfg.httpUsername;
    if (user !== undefined) Object.assign(ep, { username: user, password: url.password ?? cfg.httpPassword ?? '' });
  }
  // The router's own trustpoints and clock: never the host's CA store or time.
  if (url.scheme === 'https') ep.tls = { anchors: trustAnchors(r), now: () => r.clock.now(), servername: url.host };
  return ep;
}

/** The server's address through the router's own resolver; `(Unknown host)` otherwise. */
export async function resolveServer(r: Router, host: string, url: string, out: (t: string) => void, signal: AbortSignal): Promise<string> {
  try {
    return await resolveHost(r, host, out, { signal, timeoutMs: transferTuning(r).dnsTimeoutMs });
  } catch (e) {
    // IOS_REFERENCE offers `(Socket error)` after a DNS failure or `(Unknown host)`; the lab
    // always says `(Unknown host)`: it names the actual problem whether the name server
    // answered NXDOMAIN, stayed silent, or none is configured.
    if (e instanceof UnknownHostError) throw new TransferFailure(`%Error opening ${url} (Unknown host)`);
    if (e instanceof ResolveAbortedError) throw new TransferFailure(`%Error opening ${url} (Aborted)`);
    throw e;
  }
}

/** An AbortController that also fires with `signal` (Ctrl-C), so the service can stop a transfer itself. */
function linkedAbort(signal: AbortSignal): AbortController {
  const ac = new AbortController();
  if (signal.aborted) ac.abort();
  else signal.addEventListener('abort', () => ac.abort(), { once: true });
  return ac;
}

/** Stops a download that was accepted but will not be read (no space, Ctrl-C). */
function dropDownload(dl: Download, ac: AbortController): void {
  ac.abort();
  const it = dl.body[Symbol.asyncIterator]();
  void it.return?.(undefined)?.catch(() => undefined);
}

// ------------------------------------------------------------------ download

export interface DownloadRequest {
  /** Host and path known (dialogs, if any, are the caller's). */
  url: NetUrl & { host: string; path: string };
  /** As shown in messages (credentials masked). */
  display: string;
  /** The server's address (resolveServer). */
  address: string;
  /** Where the file goes; `memory` keeps it (configuration text), up to `limit` bytes. */
  target: FsLocation | { memory: true; limit: number };
  /** The session user (the generated FTP password names it). */
  user: string;
  signal: AbortSignal;
  /** The server accepted; the space is reserved and data is about to flow. */
  onStart?(size: number | undefined): void;
  onBytes?(bytesSoFar: number): void;
  onEvent?(event: 'timeout' | 'out-of-order'): void;
}

export interface DownloadResult {
  bytes: number;
  /** The data, for a `memory` target. */
  data?: Buffer;
}

/** Downloads one file; throws a TransferFailure (nothing written) when anything goes wrong. */
export async function download(r: Router, req: DownloadRequest): Promise<DownloadResult> {
  const { url, display } = req;
  const client = r.env.transfer[url.scheme];
  if (!client) throw new TransferFailure(`%Error opening ${display} (Protocol not supported)`);
  const ac = linkedAbort(req.signal);
  let dl: Download;
  try {
    dl = await client.download({ ...endpointFor(r, url, req.address, url.path, ac.signal, req.user), onEvent: (e) => req.onEvent?.(e) });
  } catch (e) {
    throw openFailure(r, e, display, url.scheme);
  }

  // With the size announced (FTP SIZE, TFTP tsize, Content-Length) the space is reserved
  // before any data is taken: a file that cannot fit is refused with nothing transferred.
  let writer: FlashWriter | undefined;
  const held: Buffer[] = [];
  const memory = 'memory' in req.target ? req.target : undefined;
  if (!memory) {
    const target = req.target as FsLocation;
    try {
      writer = target.fs.createWriter(target.path, dl.size ?? 0);
    } catch (e) {
      dropDownload(dl, ac);
      if (e instanceof StorageError) {
        const noSpace = e.reason === target.fs.noSpaceReason;
        throw new TransferFailure(noSpace ? `%Error copying ${display} (${e.reason})` : `%Error opening ${target.fs.prefix}/${target.path} (${e.reason})`);
      }
      throw e;
    }
  } else if (dl.size !== undefined && dl.size > memory.limit) {
    dropDownload(dl, ac);
    throw new TransferFailure(`%Error copying ${display} (Not enough space on device)`);
  }

  req.onStart?.(dl.size);
  let n = 0;
  try {
    for await (const chunk of dl.body) {
      if (writer) await writer.write(chunk);
      else {
        if (n + chunk.length > memory!.limit) throw new StorageError('Not enough space on device');
        held.push(chunk);
      }
      n += chunk.length;
      req.onBytes?.(n);
    }
    // A client that ends its body quietly after an abort must not produce a file.
    if (req.signal.aborted) throw new TransferError('aborted', 'read');
    await writer?.commit();
  } catch (e) {
    ac.abort();
    await writer?.abort();
    throw failure(e, display, url.scheme, 'read');
  }
  return writer ? { bytes: n } : { bytes: n, data: Buffer.concat(held) };
}

// ------------------------------------------------------------------ upload

export interface UploadRequest {
  url: NetUrl & { host: string; path: string };
  display: string;
  address: string;
  size: number;
  /** The bytes; an error it throws reaches the caller unchanged (the caller's own message). */
  body: AsyncIterable<Buffer>;
  user: string;
  signal: AbortSignal;
  onBytes?(bytesSoFar: number): void;
  onEvent?(event: 'timeout' | 'out-of-order'): void;
}

/** Uploads one file; resolves once the server confirmed it, else throws a TransferFailure. */
export async function upload(r: Router, req: UploadRequest): Promise<void> {
  const { url, display } = req;
  const ac = linkedAbort(req.signal);
  let n = 0;
  const sourceErrors = new WeakSet<object>();
  const counted = (async function* () {
    const it = req.body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (e) {
        if (typeof e === 'object' && e !== null) sourceErrors.add(e);
        throw e;
      }
      if (next.done) return;
      n += next.value.length;
      req.onBytes?.(n);
      yield next.value;
    }
  })();
  try {
    const client = r.env.transfer[url.scheme];
    if (!client || !SCHEMES[url.scheme].upload) throw new TransferFailure(`%Error opening ${display} (Protocol not supported)`);
    // Once the server confirmed the file it is there: a Ctrl-C arriving after that changes nothing.
    await client.upload({ ...endpointFor(r, url, req.address, url.path, ac.signal, req.user), onEvent: (e) => req.onEvent?.(e) }, counted, req.size);
  } catch (e) {
    ac.abort();
    if (typeof e === 'object' && e !== null && sourceErrors.has(e)) throw e;
    throw failure(e, display, url.scheme, n > 0 ? 'write' : 'open');
  }
}

// ------------------------------------------------------------------ exchange (a form to a web server)

export interface ExchangeResult {
  status: number;
  text: string;
}

/** Largest answer an exchange reads (a locator answers a few lines). */
const EXCHANGE_LIMIT = 64 * 1024;

/**
 * Posts a form to an http(s) URL with the router's trust (the AUM's IDA locator query) and
 * returns the status and the text of the answer; a TransferFailure when no answer came.
 */
export async function exchange(
  r: Router,
  req: { url: NetUrl & { host: string; path: string }; display: string; address: string; form: Record<string, string>; user: string; signal: AbortSignal },
): Promise<ExchangeResult> {
  const { url, display } = req;
  const client = r.env.transfer[url.scheme];
  if (!client?.request) throw new TransferFailure(`%Error opening ${display} (Protocol not supported)`);
  const body = new URLSearchParams(req.form).toString();
  try {
    const res = await client.request(endpointFor(r, url, req.address, url.path, req.signal, req.user), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += c.length;
      if (n > EXCHANGE_LIMIT) throw new TransferError('protocol', 'read', 'answer too long');
      chunks.push(c);
    }
    return { status: res.status, text: Buffer.concat(chunks).toString('utf8') };
  } catch (e) {
    throw openFailure(r, e, display, url.scheme);
  }
}

// ------------------------------------------------------------------ head (the first bytes only)

/**
 * The announced size and the first `bytes` of a file, then the transfer is dropped: what a
 * caller needs to judge a file (an image header) before committing any space to it.
 */
export async function readHead(
  r: Router,
  req: { url: NetUrl & { host: string; path: string }; display: string; address: string; bytes: number; user: string; signal: AbortSignal },
): Promise<{ size?: number; head: Buffer }> {
  const { url, display } = req;
  const client = r.env.transfer[url.scheme];
  if (!client) throw new TransferFailure(`%Error opening ${display} (Protocol not supported)`);
  const ac = linkedAbort(req.signal);
  let dl: Download;
  try {
    dl = await client.download(endpointFor(r, url, req.address, url.path, ac.signal, req.user));
  } catch (e) {
    throw openFailure(r, e, display, url.scheme);
  }
  const held: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of dl.body) {
      held.push(c);
      n += c.length;
      if (n >= req.bytes) break;
    }
  } catch (e) {
    throw failure(e, display, url.scheme, 'read');
  } finally {
    dropDownload(dl, ac);
  }
  return { size: dl.size, head: Buffer.concat(held).subarray(0, req.bytes) };
}
