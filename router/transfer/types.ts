/**
 * The router's view of a file-transfer protocol. The copy feature talks only to this
 * interface, so a unit test can swap in a fake while scenarios use the real clients
 * (TFTP: servers/tftp, FTP: basic-ftp, HTTP and HTTPS: ./HttpTransferClient.ts).
 */
import type { X509Certificate } from 'node:crypto';
import type { ChainFailure } from './verifyChain.ts';

/** Why a transfer failed. The copy feature maps each code to IOS's own text. */
export type TransferErrorCode =
  | 'timeout' // server silent, or stalled mid-transfer
  | 'not-found' // remote file missing (download) or not creatable (TFTP upload)
  | 'permission' // server refused access (read-only account, TFTP write policy)
  | 'login' // FTP login refused
  | 'no-space' // the server is full / quota exceeded (FTP 552)
  | 'reset' // connection reset or closed midway
  | 'refused' // connection refused (nothing listening)
  | 'aborted' // the caller aborted (Ctrl-C / Ctrl-^)
  | 'certificate' // the server's certificate failed validation (CertificateError says why)
  | 'protocol'; // malformed or unexpected answer

export type TransferPhase = 'open' | 'read' | 'write';

export class TransferError extends Error {
  constructor(
    readonly code: TransferErrorCode,
    readonly phase: TransferPhase,
    message?: string,
  ) {
    super(message ?? `${code} during ${phase}`);
    this.name = 'TransferError';
  }
}

/** The server's certificate was refused: nothing was requested, nothing transferred. */
export class CertificateError extends TransferError {
  constructor(readonly failure: ChainFailure) {
    super('certificate', 'open', `certificate validation failed: ${failure.reason}`);
    this.name = 'CertificateError';
  }
}

/** What an HTTPS client trusts: the router's own anchors and clock, never the host's. */
export interface TlsTrust {
  anchors: X509Certificate[];
  /** The router's clock (`clock set` moves it). */
  now(): Date;
  /** The host name as typed (SNI and the name the certificate must carry). */
  servername: string;
}

export interface TransferEndpoint {
  /** An IP address (names are resolved by the caller, which prints IOS's `Translating` line). */
  host: string;
  port: number;
  /** Path as given in the URL, without the leading slash (FTP: relative to the user's home). */
  path: string;
  username?: string;
  password?: string;
  /** Aborts the transfer; the promise then rejects with code 'aborted'. */
  signal?: AbortSignal;
  /** Called as bytes move, for the `!` progress marks. */
  onProgress?: (bytesSoFar: number) => void;
  /** TFTP: a timeout or an out-of-order block on the way (IOS prints `.` and `O` among the marks). */
  onEvent?: (event: 'timeout' | 'out-of-order') => void;
  /**
   * TFTP: the router's own address, which its datagrams come from (as IOS sources them from
   * its interface). Without it every embedded router would send from 127.0.0.1, one client
   * to the server's per-client limit.
   */
  localAddress?: string;
  /** TFTP block size (`ip tftp blocksize`), 512 when not set. */
  blksize?: number;
  /** FTP passive mode (`ip ftp passive`, default on). */
  passive?: boolean;
  /** Seconds without progress before the transfer fails with 'timeout'. */
  timeoutSec?: number;
  /** HTTPS: whom to trust. Required for https; a client never falls back to the host's CA store. */
  tls?: TlsTrust;
  /** TCP schemes: seconds a connection attempt waits (`ip tcp synwait-time`). */
  connectTimeoutSec?: number;
}

export interface Download {
  /** Size announced by the server before the data (FTP SIZE, TFTP tsize), when known. */
  size?: number;
  /** The file's bytes; iteration throws a TransferError when the transfer fails midway. */
  body: AsyncIterable<Buffer>;
}

/** One request/answer exchange (an HTTP form POST: the AUM's IDA locator query). */
export interface ExchangeRequest {
  method: 'GET' | 'POST' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface ExchangeResponse {
  status: number;
  size?: number;
  body: AsyncIterable<Buffer>;
}

export interface TransferClient {
  readonly scheme: 'tftp' | 'ftp' | 'http' | 'https';
  /** Seconds without progress before 'timeout' when the endpoint does not say. */
  readonly defaultTimeoutSec?: number;
  /** Resolves once the server accepted the request (size known if the protocol said it). */
  download(from: TransferEndpoint): Promise<Download>;
  /** Sends `body` (exactly `size` bytes) to the server; resolves when the server confirmed it. */
  upload(to: TransferEndpoint, body: AsyncIterable<Buffer>, size: number): Promise<void>;
  /** HTTP(S) only: one request whose answer the caller judges (status and body). */
  request?(ep: TransferEndpoint, req: ExchangeRequest): Promise<ExchangeResponse>;
}
