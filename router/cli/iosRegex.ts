/**
 * IOS's regular expressions for output filters (`| include`, `| section`…), matched in time
 * linear in the line's length, whatever the pattern.
 *
 * Why not JavaScript's RegExp: it backtracks, so `(a+)+$` against forty `a`s and a `b` runs
 * for minutes on the lab's one event loop, stalling every router, server and session.
 * Refusing "dangerous" patterns would need a catastrophic-backtracking detector that is
 * never quite complete, and would refuse patterns IOS accepts. IOS's dialect has no
 * backreferences or lookaround, so every pattern is a true regular expression: this module
 * parses IOS's dialect (so a bad pattern gets IOS's caret at the right character) and
 * translates it to RE2 syntax, and re2js (a port of RE2, linear-time by construction)
 * matches it.
 *
 * The dialect (Cisco's "Regular Expressions" appendix): `.` `*` `+` `?` `^` `$` `[…]` `[^…]`
 * `|` `(…)`, `\` making the next character literal, and `_`, which matches a space, a comma,
 * a brace or a parenthesis, or the start or end of the line. `\d \w \s` (and `\D \W \S`) are
 * taken as their usual classes, as IOS XE's POSIX matcher does.
 */
import { RE2JS } from 're2js';

/** A pattern IOS would refuse, with the offset (in the pattern) of the offending character. */
export class IosRegexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const SHORTHANDS = new Set(['d', 'D', 'w', 'W', 's', 'S']);
/** One character as an RE2 literal, whatever it is. */
const lit = (ch: string): string => `\\x{${ch.codePointAt(0)!.toString(16)}}`;
/** `_`: a delimiter character, or either end of the line. */
const UNDERSCORE = `(?:^|$|[ ,{}()])`;

/** Recursive descent over the pattern, emitting RE2 syntax; depth is bounded by the pattern (at most a CLI line). */
class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): string {
    const n = this.alternation();
    if (this.i < this.src.length) throw new IosRegexError('unmatched )', this.i);
    return n;
  }

  private alternation(): string {
    const options = [this.concatenation()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.concatenation());
    }
    return options.length === 1 ? options[0]! : `(?:${options.join('|')})`;
  }

  private concatenation(): string {
    let out = '';
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      let atom = this.atom();
      while (this.i < this.src.length && '*+?'.includes(this.src[this.i]!)) {
        atom = `(?:${atom})${this.src[this.i]}`;
        this.i++;
      }
      out += atom;
    }
    return out;
  }

  private atom(): string {
    const at = this.i;
    const ch = this.src[this.i++]!;
    switch (ch) {
      case '(': {
        const inner = this.alternation();
        if (this.src[this.i] !== ')') throw new IosRegexError('unmatched (', at);
        this.i++;
        return `(?:${inner})`;
      }
      case '*':
      case '+':
      case '?':
        throw new IosRegexError('nothing to repeat', at);
      case '^':
        return '^';
      case '$':
        return '$';
      case '.':
        return '(?s:.)';
      case '_':
        return UNDERSCORE;
      case '[':
        return this.bracket(at);
      case '\\': {
        if (this.i >= this.src.length) throw new IosRegexError('trailing backslash', at);
        const e = this.src[this.i++]!;
        return SHORTHANDS.has(e) ? `\\${e}` : lit(e);
      }
      default:
        return lit(ch);
    }
  }

  /** `[abc]`, `[a-z0-9]`, `[^…]`; a `]` first is literal, as in POSIX. */
  private bracket(at: number): string {
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    let body = '';
    let first = true;
    for (;;) {
      if (this.i >= this.src.length) throw new IosRegexError('unmatched [', at);
      let ch = this.src[this.i++]!;
      if (ch === ']' && !first) break;
      first = false;
      if (ch === '\\' && this.i < this.src.length) {
        ch = this.src[this.i++]!;
        if (SHORTHANDS.has(ch)) {
          body += `\\${ch}`;
          continue;
        }
      }
      let range = lit(ch);
      if (this.src[this.i] === '-' && this.i + 1 < this.src.length && this.src[this.i + 1] !== ']') {
        let end = this.src[this.i + 1]!;
        this.i += 2;
        if (end === '\\' && this.i < this.src.length) end = this.src[this.i++]!;
        if (end.codePointAt(0)! < ch.codePointAt(0)!) throw new IosRegexError('invalid range', at);
        range += `-${lit(end)}`;
      }
      body += range;
    }
    return `[${negate ? '^' : ''}${body}]`;
  }
}

export class IosRegex {
  private readonly re: RE2JS;

  constructor(readonly source: string) {
    this.re = RE2JS.compile(new Parser(source).parse());
  }

  /** Does the pattern match anywhere in `line`? Linear in the line's length. */
  test(line: string): boolean {
    return this.re.test(line);
  }
}
