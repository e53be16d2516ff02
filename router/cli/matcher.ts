/**
 * Matches a typed line against a mode's token tree the way IOS does: keywords may be
 * abbreviated to any unique prefix, a keyword beats a parameter, and a failure is reported
 * at the token where the line went wrong (for the `^` caret).
 */
import { paramLabel, type SyntaxToken, TreeNode } from './grammar.ts';

export interface InputToken {
  text: string;
  start: number;
}

export function tokenize(line: string): InputToken[] {
  const out: InputToken[] = [];
  const re = /\S+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push({ text: m[0], start: m.index });
  return out;
}

export type MatchResult<H> =
  | { kind: 'ok'; handler: H; args: Record<string, string>; keywords: Set<string> }
  | { kind: 'invalid'; column: number }
  | { kind: 'incomplete' }
  | { kind: 'ambiguous' };

type Failure = { result: MatchResult<never>; depth: number };

function acceptsParam(t: Extract<SyntaxToken, { kind: 'param' }>, text: string): boolean {
  if (t.type.kind === 'range') {
    if (!/^\d+$/.test(text)) return false;
    const n = Number(text);
    return n >= t.type.min && n <= t.type.max;
  }
  return true;
}

/** Which commands this router offers (a platform without `slot0:` has no `show slot0:`). */
export type Visible<H> = (h: H) => boolean;
const everything = () => true;

/** Is any command through `node` offered here? */
function shown<H>(node: TreeNode<H>, visible: Visible<H>): boolean {
  return node.through.some(visible);
}

/** Keywords of `node` that `text` selects: the exact word if there is one, else all with that prefix. */
export function keywordCandidates<H>(node: TreeNode<H>, text: string, visible: Visible<H> = everything): string[] {
  const lower = text.toLowerCase();
  const exact = node.keywords.get(lower);
  if (exact && shown(exact, visible)) return [lower];
  return [...node.keywords.entries()].filter(([k, child]) => k.startsWith(lower) && shown(child, visible)).map(([k]) => k);
}

export function match<H>(root: TreeNode<H>, line: string, visible: Visible<H> = everything): MatchResult<H> {
  const tokens = tokenize(line);
  if (tokens.length === 0) return { kind: 'incomplete' };
  let best: Failure | undefined;
  const fail = (result: MatchResult<never>, depth: number) => {
    // Report the failure that got furthest into the line; at equal depth an incomplete
    // or ambiguous verdict says more than "invalid".
    if (!best || depth > best.depth || (depth === best.depth && best.result.kind === 'invalid' && result.kind !== 'invalid')) {
      best = { result, depth };
    }
  };

  const walk = (node: TreeNode<H>, i: number, args: Record<string, string>, kws: Set<string>): MatchResult<H> | undefined => {
    if (i === tokens.length) {
      if (node.handler !== undefined && visible(node.handler)) return { kind: 'ok', handler: node.handler, args, keywords: kws };
      fail({ kind: 'incomplete' }, i);
      return undefined;
    }
    const tok = tokens[i]!;
    const cands = keywordCandidates(node, tok.text, visible);
    if (cands.length > 1) {
      fail({ kind: 'ambiguous' }, i);
      return undefined;
    }
    if (cands.length === 1) {
      const kw = cands[0]!;
      const r = walk(node.keywords.get(kw)!, i + 1, args, new Set([...kws, kw]));
      if (r) return r;
    }
    for (const p of node.params) {
      if (!shown(p.node, visible)) continue;
      if (p.token.type.kind === 'line') {
        const rest = line.slice(tok.start).trimEnd();
        if (p.node.handler !== undefined && visible(p.node.handler)) {
          return { kind: 'ok', handler: p.node.handler, args: { ...args, [p.token.name]: rest }, keywords: kws };
        }
        continue;
      }
      if (!acceptsParam(p.token, tok.text)) continue;
      const r = walk(p.node, i + 1, { ...args, [p.token.name]: tok.text }, kws);
      if (r) return r;
    }
    fail({ kind: 'invalid', column: tok.start }, i);
    return undefined;
  };

  return walk(root, 0, {}, new Set()) ?? best!.result;
}

export interface HelpEntry {
  word: string;
  help: string;
}

/**
 * What may come next after `line` (IOS `?`). With a trailing space: every option of the next
 * token plus `<cr>` when the command may end here. Without: the keywords completing the
 * partial last token. Returns undefined when the line already went wrong (column given).
 */
export function helpAt<H>(
  root: TreeNode<H>,
  line: string,
  visible: Visible<H> = everything,
): { entries: HelpEntry[]; partial: boolean } | { invalidAt: number } {
  const tokens = tokenize(line);
  const partial = tokens.length > 0 && !/\s$/.test(line);
  const complete = partial ? tokens.slice(0, -1) : tokens;
  let nodes: TreeNode<H>[] = [root];
  for (const tok of complete) {
    const next: TreeNode<H>[] = [];
    for (const node of nodes) {
      const cands = keywordCandidates(node, tok.text, visible);
      if (cands.length === 1) next.push(node.keywords.get(cands[0]!)!);
      for (const p of node.params) {
        if (!shown(p.node, visible)) continue;
        if (p.token.type.kind === 'line') next.push(p.node);
        else if (acceptsParam(p.token, tok.text)) next.push(p.node);
      }
    }
    if (next.length === 0) return { invalidAt: tok.start };
    nodes = next;
  }
  const entries: HelpEntry[] = [];
  const seen = new Set<string>();
  const add = (word: string, help: string) => {
    if (!seen.has(word)) {
      seen.add(word);
      entries.push({ word, help });
    }
  };
  if (partial) {
    const last = tokens[tokens.length - 1]!.text.toLowerCase();
    for (const node of nodes) for (const [k, child] of node.keywords) if (k.startsWith(last) && shown(child, visible)) add(k, child.help);
    if (entries.length === 0) return { invalidAt: tokens[tokens.length - 1]!.start };
    entries.sort((a, b) => a.word.localeCompare(b.word));
    return { entries, partial };
  }
  const kws: HelpEntry[] = [];
  for (const node of nodes) for (const [k, child] of node.keywords) if (shown(child, visible)) kws.push({ word: k, help: child.help });
  kws.sort((a, b) => a.word.localeCompare(b.word));
  for (const e of kws) add(e.word, e.help);
  for (const node of nodes) for (const p of node.params) if (shown(p.node, visible)) add(paramLabel(p.token), p.node.help);
  if (nodes.some((n) => n.handler !== undefined && visible(n.handler))) add('<cr>', '');
  return { entries, partial };
}

/** Tab completion: the line with its last token completed, when exactly one keyword fits. */
export function completeAt<H>(root: TreeNode<H>, line: string, visible: Visible<H> = everything): string | undefined {
  if (/\s$/.test(line) || line.trim() === '') return undefined;
  const h = helpAt(root, line, visible);
  if ('invalidAt' in h || h.entries.length !== 1) return undefined;
  const tokens = tokenize(line);
  const last = tokens[tokens.length - 1]!;
  return line.slice(0, last.start) + h.entries[0]!.word + ' ';
}
