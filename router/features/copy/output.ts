/**
 * What a network copy prints while it runs: the `!` progress marks and the closing lines.
 * Everything goes out raw (no pager), in order, as a real terminal shows a running copy.
 */

export class Progress {
  private marks = 0;
  /** Something is on the current line (the `Loading ...:` prefix or marks). */
  private open = false;

  constructor(
    private readonly out: (text: string) => void,
    /** Bytes per `!`. */
    private readonly unit: number,
    /** Marks per line before IOS wraps the run. */
    private readonly perLine: number,
  ) {}

  /** Text that the marks continue on the same line (`Loading f from h (via X): `). */
  prefix(text: string): void {
    this.out(text);
    this.open = true;
  }

  /** Bytes moved so far: one mark per full unit. */
  update(bytes: number): void {
    const want = Math.floor(bytes / this.unit);
    while (this.marks < want) this.mark();
  }

  /** The transfer is complete: the last, partial unit gets its mark too (a tiny file shows one). */
  finish(bytes: number): void {
    const want = Math.ceil(bytes / this.unit);
    while (this.marks < want) this.mark();
  }

  /** Ends the current line, if one is open, so the next message starts on its own line. */
  endLine(): void {
    if (this.open) this.out('\n');
    this.open = false;
  }

  /** A TFTP timeout (`.`) or out-of-order block (`O`) among the marks; it takes a column, not bytes. */
  event(kind: 'timeout' | 'out-of-order'): void {
    this.put(kind === 'timeout' ? '.' : 'O');
  }

  /** The transfer stalled for good: IOS closes the run of marks with ` [timed out]`. */
  timedOut(): void {
    this.out(' [timed out]');
    this.open = true;
  }

  private mark(): void {
    this.put('!');
    this.marks++;
  }

  private column = 0;
  private put(ch: string): void {
    if (this.column > 0 && this.column % this.perLine === 0) this.out('\n');
    this.out(ch);
    this.column++;
    this.open = true;
  }
}

/** `N bytes copied in S.sss secs (R bytes/sec)`: seconds with 3 decimals, rate an integer. */
export function copiedLine(bytes: number, seconds: number): string {
  // A loopback copy can finish within a millisecond; IOS never prints a zero time.
  const secs = Math.max(seconds, 0.001);
  return `${bytes} bytes copied in ${secs.toFixed(3)} secs (${Math.round(bytes / secs)} bytes/sec)`;
}

/** `00:00:23` for the seed's `Flash device copy took 00:00:23 [hh:mm:ss]`. */
export function hhmmss(seconds: number): string {
  const s = Math.floor(seconds);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}
