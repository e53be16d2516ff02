/** The SMTP sink and its Mailpit-compatible API as one lab service (started and stopped together). */
import { MailpitApi } from './MailpitApi.ts';
import { SmtpSink, type SmtpFaults, type SmtpLogEntry, type SmtpSinkOptions } from './SmtpSink.ts';

export interface SmtpServiceOptions extends SmtpSinkOptions {
  /** Port of the HTTP API (0 = ephemeral). */
  apiPort: number;
}

export class SmtpService {
  readonly sink: SmtpSink;
  readonly api: MailpitApi;

  constructor(opts: SmtpServiceOptions) {
    this.sink = new SmtpSink(opts);
    this.api = new MailpitApi(this.sink, { address: opts.address, port: opts.apiPort });
  }

  get port(): number {
    return this.sink.port;
  }

  get apiPort(): number {
    return this.api.port;
  }

  get log(): SmtpLogEntry[] {
    return this.sink.log;
  }

  setFaults(f: SmtpFaults): void {
    this.sink.setFaults(f);
  }

  async start(): Promise<void> {
    await this.sink.start();
    try {
      await this.api.start();
    } catch (e) {
      await this.sink.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.api.stop(), this.sink.stop()]);
  }
}
