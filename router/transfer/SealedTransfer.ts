/**
 * Transfer clients behind the lab seal: before a client opens a socket, the router's egress
 * policy is asked about the endpoint's address. A refused address behaves as a host that
 * never answers: the router waits the client's usual time-out on the lab clock (a scenario
 * moves the clock instead of waiting) and the copy prints IOS's `(Timed out)`.
 *
 * Why `Timed out` and not `No route to host`: a lab router has a default route like any
 * router on a management network, so a packet to an address nobody answers is simply
 * lost; IOS then reports the time-out (the line every capture of an unreachable TFTP/FTP
 * server shows, IOS_REFERENCE §4.4). The lab log names the address and the reason.
 */
import type { EgressPolicy } from '../net/Egress.ts';
import { type Download, TransferError, type TransferEndpoint, type TransferClient } from './types.ts';

export interface SealClock {
  after(ms: number, fn: () => void): () => void;
}

/** How long a refused endpoint is waited for when neither it nor its client says. */
const FALLBACK_TIMEOUT_SEC = 30;

/** Every client of the table sealed (schemes a router lacks stay absent). */
export function sealTransfers<T extends Partial<Record<string, TransferClient>>>(clients: T, policy: EgressPolicy, clock: SealClock): T {
  const sealed: Partial<Record<string, TransferClient>> = {};
  for (const [key, client] of Object.entries(clients)) if (client) sealed[key] = new SealedTransferClient(client, policy, clock);
  return sealed as T;
}

export class SealedTransferClient implements TransferClient {
  constructor(
    private readonly inner: TransferClient,
    private readonly policy: EgressPolicy,
    private readonly clock: SealClock,
  ) {}

  get scheme(): TransferClient['scheme'] {
    return this.inner.scheme;
  }

  get defaultTimeoutSec(): number | undefined {
    return this.inner.defaultTimeoutSec;
  }

  async download(from: TransferEndpoint): Promise<Download> {
    await this.admit(from);
    return this.inner.download(from);
  }

  async upload(to: TransferEndpoint, body: AsyncIterable<Buffer>, size: number): Promise<void> {
    await this.admit(to);
    return this.inner.upload(to, body, size);
  }

  /** Present when the inner client makes exchanges (HTTP/HTTPS): sealed like the rest. */
  get request(): TransferClient['request'] {
    const inner = this.inner;
    if (!inner.request) return undefined;
    return async (ep, req) => {
      await this.admit(ep);
      return inner.request!(ep, req);
    };
  }

  /** Resolves when the endpoint is inside the seal; else waits the time-out and rejects. */
  private admit(ep: TransferEndpoint): Promise<void> {
    const v = this.policy.verdict(ep.host, this.inner.scheme);
    if (v.allowed) return Promise.resolve();
    const waitMs = (ep.connectTimeoutSec ?? ep.timeoutSec ?? this.inner.defaultTimeoutSec ?? FALLBACK_TIMEOUT_SEC) * 1000;
    return new Promise<void>((_resolve, reject) => {
      const signal = ep.signal;
      if (signal?.aborted) return reject(new TransferError('aborted', 'open'));
      const onAbort = () => {
        cancel();
        reject(new TransferError('aborted', 'open'));
      };
      const cancel = this.clock.after(waitMs, () => {
        signal?.removeEventListener('abort', onAbort);
        reject(new TransferError('timeout', 'open', `${ep.host} is outside the lab: ${v.reason}`));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
