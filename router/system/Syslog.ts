/**
 * The router's syslog: the `logging buffered` buffer behind `show logging`, and the live
 * copy every interactive session sees (as a vty with `terminal monitor` would).
 */
import type { Router } from '../Router.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export interface LogMessage {
  time: Date;
  facility: string;
  severity: number;
  mnemonic: string;
  text: string;
  line: string;
}

export class Syslog {
  readonly buffer: LogMessage[] = [];
  private readonly max = 2000;
  private listeners: ((m: LogMessage) => void)[] = [];

  constructor(private readonly router: Router) {}

  /** Local time in the configured time zone, as a Date whose UTC fields read as local. */
  private local(d: Date): Date {
    return new Date(d.getTime() + this.router.system.timezone.offsetMinutes * 60_000);
  }

  /** `*Mar  1 00:01:02.345` — the service-timestamps prefix (leading `*`: clock not NTP-synced). */
  formatStamp(d: Date): string {
    const l = this.local(d);
    return `*${MONTHS[l.getUTCMonth()]} ${String(l.getUTCDate()).padStart(2, ' ')} ${pad(l.getUTCHours())}:${pad(l.getUTCMinutes())}:${pad(l.getUTCSeconds())}.${pad(l.getUTCMilliseconds(), 3)}`;
  }

  /** `19:30:00 UTC Wed Jun 5 1996`, the form reload and show version use. */
  formatLongTime(d: Date): string {
    const l = this.local(d);
    return `${pad(l.getUTCHours())}:${pad(l.getUTCMinutes())}:${pad(l.getUTCSeconds())} ${this.router.system.timezone.name} ${DAYS[l.getUTCDay()]} ${MONTHS[l.getUTCMonth()]} ${l.getUTCDate()} ${l.getUTCFullYear()}`;
  }

  emit(facility: string, severity: number, mnemonic: string, text: string): LogMessage {
    return this.publish(facility, severity, mnemonic, text, `%${facility}-${severity}-${mnemonic}: ${text}`);
  }

  /** A debug message (`*Nov 25 10:00:00.000: SW_AUTH: …`): severity 7, no %FAC-SEV-MNEMONIC. */
  debug(tag: string, text: string): LogMessage {
    return this.publish(tag, 7, 'DEBUG', text, `${tag}: ${text}`);
  }

  private publish(facility: string, severity: number, mnemonic: string, text: string, body: string): LogMessage {
    const time = this.router.clock.now();
    const line = this.router.system.serviceTimestamps ? `${this.formatStamp(time)}: ${body}` : body;
    const m: LogMessage = { time, facility, severity, mnemonic, text, line };
    this.buffer.push(m);
    if (this.buffer.length > this.max) this.buffer.shift();
    // A vty sees log lines only after `terminal monitor`, as on IOS; the console always does.
    for (const s of this.router.sessions) {
      if (s.interactive && !s.isClosed && (s.terminal.monitor || s.lineName === 'console')) s.notify(line);
    }
    for (const l of this.listeners) l(m);
    return m;
  }

  /** Lab hook: scenarios wait for a log line. */
  onMessage(fn: (m: LogMessage) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((x) => x !== fn));
  }

  /** Messages from replaying startup-config are not news to anyone. */
  clearConsoleMessages(): void {
    this.buffer.length = 0;
  }
}
