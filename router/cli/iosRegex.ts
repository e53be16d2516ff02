/**
 * IOS's regular expressions for output filters (`| include`, `| section`…), matched in time
 * linear in the line's length, whatever the pattern.
 *
 * Why not JavaScript's RegExp: it backtracks, so `(a+)+$` against forty `a`s and a `b` runs
 * for minutes on the lab's one event loop, stalling every router, server and session.
 * Refusing "dangerous" patterns would need a catastrophic-backtracking detector that is
 * never quite complete (nested quantifiers, overlapping alternatives, `(a|a)*`…), and would
 * refuse patterns IOS accepts. IOS's dialect has no backreferences or lookaround, so every
 * pattern is a true regular expression: it compiles to a Thompson NFA, run as a lazily built
 * DFA (a cache of state sets, flushed when it grows past a bound). Each character costs one
 * table lookup once its transition is known, at worst one pass over the NFA's states.
 *
 * The dialect (Cisco's "Regular Expressions" appendix): `.` `*` `+` `?` `^` `$` `[…]` `[^…]`
 * `|` `(…)`, `\` making the next character literal, and `_`, which matches a space, a comma,
 * a brace or a parenthesis, or the start or end of the line. `\d \w \s` (and `\D \W \S`) are
 * taken as their usual classes, as IOS XE's POSIX matcher does.
 */

/** A pattern IOS would refuse, with the offset (in the pattern) of the offending character. */
export class IosRegexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

type CharTest = (c: number) => boolean;

type Node =
  | { t: 'char'; test: CharTest }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'empty' }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'rep'; node: Node; op: '*' | '+' | '?' };

const code = (s: string): number => s.charCodeAt(0);
const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: CharTest = (c) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff;
const SHORTHANDS: Record<string, CharTest> = {
  d: isDigit,
  D: (c) => !isDigit(c),
  w: isWord,
  W: (c) => !isWord(c),
  s: isSpace,
  S: (c) => !isSpace(c),
};
/** `_`'s characters besides the line's ends. */
const DELIMITERS = new Set([' ', ',', '{', '}', '(', ')'].map(code));

/** Recursive descent over the pattern; depth is bounded by the pattern (at most a CLI line). */
class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const n = this.alternation();
    if (this.i < this.src.length) throw new IosRegexError('unmatched )', this.i);
    return n;
  }

  private alternation(): Node {
    const options = [this.concatenation()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.concatenation());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  private concatenation(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      let atom = this.atom();
      while (this.i < this.src.length && '*+?'.includes(this.src[this.i]!)) {
        atom = { t: 'rep', node: atom, op: this.src[this.i] as '*' | '+' | '?' };
        this.i++;
      }
      items.push(atom);
    }
    if (items.length === 0) return { t: 'empty' };
    return items.length === 1 ? items[0]! : { t: 'cat', items };
  }

  private atom(): Node {
    const at = this.i;
    const ch = this.src[this.i++]!;
    switch (ch) {
      case '(': {
        const inner = this.alternation();
        if (this.src[this.i] !== ')') throw new IosRegexError('unmatched (', at);
        this.i++;
        return inner;
      }
      case '*':
      case '+':
      case '?':
        throw new IosRegexError('nothing to repeat', at);
      case '^':
        return { t: 'bol' };
      case '$':
        return { t: 'eol' };
      case '.':
        return { t: 'char', test: () => true };
      case '_':
        return { t: 'alt', options: [{ t: 'bol' }, { t: 'eol' }, { t: 'char', test: (c) => DELIMITERS.has(c) }] };
      case '[':
        return this.bracket(at);
      case '\\': {
        if (this.i >= this.src.length) throw new IosRegexError('trailing backslash', at);
        const e = this.src[this.i++]!;
        const shorthand = SHORTHANDS[e];
        if (shorthand) return { t: 'char', test: shorthand };
        const c = code(e);
        return { t: 'char', test: (x) => x === c };
      }
      default: {
        const c = code(ch);
        return { t: 'char', test: (x) => x === c };
      }
    }
  }

  /** `[abc]`, `[a-z0-9]`, `[^…]`; a `]` first is literal, as in POSIX. */
  private bracket(at: number): Node {
    let negate = false;
    if (this.src[this.i] === '^') {
      negate = true;
      this.i++;
    }
    const ranges: [number, number][] = [];
    const tests: CharTest[] = [];
    let first = true;
    for (;;) {
      if (this.i >= this.src.length) throw new IosRegexError('unmatched [', at);
      let ch = this.src[this.i++]!;
      if (ch === ']' && !first) break;
      first = false;
      if (ch === '\\' && this.i < this.src.length) {
        ch = this.src[this.i++]!;
        const shorthand = SHORTHANDS[ch];
        if (shorthand) {
          tests.push(shorthand);
          continue;
        }
      }
      let lo = code(ch);
      let hi = lo;
      if (this.src[this.i] === '-' && this.i + 1 < this.src.length && this.src[this.i + 1] !== ']') {
        let end = this.src[this.i + 1]!;
        this.i += 2;
        if (end === '\\' && this.i < this.src.length) end = this.src[this.i++]!;
        hi = code(end);
        if (hi < lo) throw new IosRegexError('invalid range', at);
      }
      ranges.push([lo, hi]);
    }
    const inClass = (c: number) => ranges.some(([lo, hi]) => c >= lo && c <= hi) || tests.some((t) => t(c));
    return { t: 'char', test: negate ? (c) => !inClass(c) : inClass };
  }
}

// ------------------------------------------------------------------ NFA

const enum Op {
  Char,
  Split,
  Jmp,
  Bol,
  Eol,
  Match,
}

interface Program {
  op: Op[];
  /** Char: the test; others unused. */
  test: (CharTest | undefined)[];
  /** Jmp/Split: first target; Char/Bol/Eol go to pc + 1. */
  x: number[];
  /** Split: second target. */
  y: number[];
}

/** Thompson's construction, emitted as a program (one instruction per node or less). */
function compile(root: Node): Program {
  const p: Program = { op: [], test: [], x: [], y: [] };
  const emit = (op: Op, test?: CharTest): number => {
    p.op.push(op);
    p.test.push(test);
    p.x.push(-1);
    p.y.push(-1);
    return p.op.length - 1;
  };
  const gen = (n: Node): void => {
    switch (n.t) {
      case 'char':
        emit(Op.Char, n.test);
        return;
      case 'bol':
        emit(Op.Bol);
        return;
      case 'eol':
        emit(Op.Eol);
        return;
      case 'empty':
        return;
      case 'cat':
        for (const item of n.items) gen(item);
        return;
      case 'alt': {
        const jumps: number[] = [];
        for (let k = 0; k < n.options.length; k++) {
          if (k < n.options.length - 1) {
            const split = emit(Op.Split);
            p.x[split] = split + 1;
            gen(n.options[k]!);
            jumps.push(emit(Op.Jmp));
            p.y[split] = p.op.length;
          } else gen(n.options[k]!);
        }
        for (const j of jumps) p.x[j] = p.op.length;
        return;
      }
      case 'rep': {
        if (n.op === '+') {
          const start = p.op.length;
          gen(n.node);
          const split = emit(Op.Split);
          p.x[split] = start;
          p.y[split] = p.op.length;
          return;
        }
        const split = emit(Op.Split);
        p.x[split] = split + 1;
        gen(n.node);
        if (n.op === '*') {
          const back = emit(Op.Jmp);
          p.x[back] = split;
        }
        p.y[split] = p.op.length;
        return;
      }
    }
  };
  gen(root);
  emit(Op.Match);
  return p;
}

// ------------------------------------------------------------------ lazy DFA

interface DState {
  /** The Char instructions the threads wait at, in program order. */
  chars: number[];
  /** Eol instructions reached: they pass only at the end of the line. */
  eols: number[];
  matched: boolean;
  /** Next state per character code below 256 (-1: not computed yet); others in `wide`. */
  next: Int32Array;
  wide?: Map<number, number>;
  /** Whether the line may end here and match (undefined: not computed yet). */
  acceptsAtEnd?: boolean;
}

/** Beyond this many cached states the cache starts over (memory stays bounded). */
const MAX_STATES = 2000;

export class IosRegex {
  private readonly prog: Program;
  private states: DState[] = [];
  private byKey = new Map<string, number>();
  /** Visit marks for closures: a generation counter instead of clearing an array. */
  private readonly mark: Uint32Array;
  private generation = 0;
  /** The state at position 0, the only place `^` passes (kept apart from the cache). */
  private readonly first: DState;

  constructor(readonly source: string) {
    this.prog = compile(new Parser(source).parse());
    this.mark = new Uint32Array(this.prog.op.length);
    this.first = this.closure([], true, false, true);
  }

  /** Does the pattern match anywhere in `line`? Linear in the line's length. */
  test(line: string): boolean {
    const first = this.first;
    if (first.matched) return true;
    if (line.length === 0) return (first.acceptsAtEnd ??= this.endAccepts(first, true));
    let st = first;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      let n = c < 256 ? st.next[c]! : (st.wide?.get(c) ?? -1);
      if (n < 0) n = this.step(st, c);
      st = this.states[n]!;
      if (st.matched) return true;
    }
    const last = st;
    if (last.matched) return true;
    last.acceptsAtEnd ??= this.endAccepts(last, false);
    return last.acceptsAtEnd;
  }

  /** Starts the cache over; the links out of the first state pointed into it. */
  private flush(): void {
    this.states = [];
    this.byKey = new Map();
    this.first.next.fill(-1);
    this.first.wide = undefined;
  }

  /** The state after reading `c` in `from`, cached on `from` when `from` is cached. */
  private step(from: DState, c: number): number {
    const targets: number[] = [];
    for (const pc of from.chars) if (this.prog.test[pc]!(c)) targets.push(pc + 1);
    const id = this.intern(this.closure(targets, false, false, true));
    if (c < 256) from.next[c] = id;
    else (from.wide ??= new Map()).set(c, id);
    return id;
  }

  private intern(s: DState): number {
    const key = `${s.matched ? 'M' : ''}${s.chars.join(',')}|${s.eols.join(',')}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    // A flush in the middle of a line is safe: `from` keeps working, only its links are lost.
    if (this.states.length > MAX_STATES) this.flush();
    this.states.push(s);
    this.byKey.set(key, this.states.length - 1);
    return this.states.length - 1;
  }

  /** Whether a line ending in state `s` matches: its `$`s pass now (and `^` at position 0). */
  private endAccepts(s: DState, atStart: boolean): boolean {
    const end = this.closure(s.eols.map((pc) => pc + 1), atStart, true, false);
    return end.matched;
  }

  /**
   * The states reachable without reading a character from `pcs` (and from the program's
   * start when `withStart`: the search is unanchored, a match may begin anywhere).
   */
  private closure(pcs: number[], atStart: boolean, atEnd: boolean, withStart: boolean): DState {
    const { op, x, y } = this.prog;
    if (++this.generation === 0xffffffff) {
      this.mark.fill(0);
      this.generation = 1;
    }
    const gen = this.generation;
    const chars: number[] = [];
    const eols: number[] = [];
    let matched = false;
    const stack = withStart ? [...pcs, 0] : [...pcs];
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (this.mark[pc] === gen) continue;
      this.mark[pc] = gen;
      switch (op[pc]) {
        case Op.Char:
          chars.push(pc);
          break;
        case Op.Match:
          matched = true;
          break;
        case Op.Jmp:
          stack.push(x[pc]!);
          break;
        case Op.Split:
          stack.push(y[pc]!, x[pc]!);
          break;
        case Op.Bol:
          if (atStart) stack.push(pc + 1);
          break;
        case Op.Eol:
          if (atEnd) stack.push(pc + 1);
          else eols.push(pc);
          break;
      }
    }
    chars.sort((a, b) => a - b);
    eols.sort((a, b) => a - b);
    return { chars, eols, matched, next: new Int32Array(256).fill(-1) };
  }
}
