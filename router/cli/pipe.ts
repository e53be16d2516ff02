/**
 * Output modifiers after `|` (`show run | include hostname`), as IOS applies them to a
 * command's printed lines. Automation leans on these (`| i`, `| sec`, `| count`). Patterns
 * are IOS regular expressions, matched in linear time (iosRegex.ts says why).
 */
import { IosRegex, IosRegexError } from './iosRegex.ts';

/** What a filter needs of a pattern. */
interface LineTest {
  test(line: string): boolean;
}

export type OutputFilter = (lines: string[]) => string[];

const FILTERS: Record<string, (re: LineTest) => OutputFilter> = {
  include: (re) => (lines) => lines.filter((l) => re.test(l)),
  exclude: (re) => (lines) => lines.filter((l) => !re.test(l)),
  begin: (re) => (lines) => {
    const i = lines.findIndex((l) => re.test(l));
    return i < 0 ? [] : lines.slice(i);
  },
  // A section is a matching line plus the indented lines under it.
  section: (re) => (lines) => {
    const out: string[] = [];
    let inSection = false;
    for (const l of lines) {
      if (!/^\s/.test(l)) inSection = re.test(l);
      else if (!inSection && re.test(l)) out.push(l);
      if (inSection) out.push(l);
    }
    return out;
  },
  count: (re) => (lines) => [`Number of lines which match regexp = ${lines.filter((l) => re.test(l)).length}`],
};

export type PipeParse =
  | { kind: 'none' }
  | { kind: 'ok'; command: string; filter: OutputFilter }
  | { kind: 'invalid'; column: number }
  | { kind: 'incomplete' };

/** Splits `cmd | filter regex` (the first `|` preceded by a space). */
export function parsePipe(line: string): PipeParse {
  const m = /^(.*?\S)\s+\|(\s*)(\S*)(\s*)(.*)$/.exec(line);
  if (!m) return { kind: 'none' };
  const [, command, sp1, word, , rest] = m;
  const filterCol = command!.length + line.slice(command!.length).indexOf('|') + 1 + sp1!.length;
  if (!word) return { kind: 'incomplete' };
  const names = Object.keys(FILTERS).filter((n) => n.startsWith(word.toLowerCase()));
  if (names.length !== 1) return { kind: 'invalid', column: filterCol };
  const pattern = rest!.trim();
  if (!pattern && names[0] !== 'count') return { kind: 'incomplete' };
  let re: IosRegex;
  try {
    re = new IosRegex(pattern || '.*');
  } catch (e) {
    // The caret goes under the character that broke the pattern, as IOS marks a bad regexp.
    const offset = e instanceof IosRegexError ? Math.min(e.offset, pattern.length) : 0;
    return { kind: 'invalid', column: line.length - rest!.length + offset };
  }
  return { kind: 'ok', command: command!, filter: FILTERS[names[0]!]!(re) };
}
