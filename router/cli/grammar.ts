/**
 * Command grammar: a tiny syntax language that feature modules use to declare commands,
 * compiled into one token tree per mode. The engine knows nothing of what the commands do.
 *
 * Syntax:  `show version`            keywords
 *          `hostname <name>`         a WORD parameter (any token without spaces)
 *          `banner <text:LINE>`      the rest of the line, raw
 *          `reload in <minutes:1-1440>` a number range
 *          `reload [reason <why:LINE>]`  optional part
 *          `file prompt {alert|noisy|quiet}` one of several alternatives
 */

export type ParamType = { kind: 'word' } | { kind: 'line' } | { kind: 'range'; min: number; max: number };

export type SyntaxToken =
  | { kind: 'keyword'; word: string }
  | { kind: 'param'; name: string; type: ParamType };

type SyntaxNode =
  | SyntaxToken
  | { kind: 'optional'; body: SyntaxNode[] }
  | { kind: 'choice'; options: SyntaxNode[][] };

export class GrammarError extends Error {}

function lex(syntax: string): string[] {
  const out: string[] = [];
  const re = /\s*(<[^>]+>|[[\]{}|]|[^\s[\]{}|<]+)/y;
  let m: RegExpExecArray | null;
  while ((m = re.exec(syntax))) out.push(m[1]!);
  if (out.join('').replace(/\s/g, '') !== syntax.replace(/\s/g, '')) throw new GrammarError(`cannot read syntax "${syntax}"`);
  return out;
}

function parseParam(text: string): SyntaxToken {
  const inner = text.slice(1, -1);
  const colon = inner.indexOf(':');
  const name = colon < 0 ? inner : inner.slice(0, colon);
  const type = colon < 0 ? 'WORD' : inner.slice(colon + 1);
  if (type === 'WORD') return { kind: 'param', name, type: { kind: 'word' } };
  if (type === 'LINE') return { kind: 'param', name, type: { kind: 'line' } };
  const range = /^(\d+)-(\d+)$/.exec(type);
  if (range) return { kind: 'param', name, type: { kind: 'range', min: Number(range[1]), max: Number(range[2]) } };
  throw new GrammarError(`unknown parameter type "${type}" in ${text}`);
}

function parseSequence(tokens: string[], pos: { i: number }, closers: string[]): SyntaxNode[] {
  const seq: SyntaxNode[] = [];
  while (pos.i < tokens.length && !closers.includes(tokens[pos.i]!)) {
    const t = tokens[pos.i++]!;
    if (t === '[') {
      const body = parseSequence(tokens, pos, [']']);
      if (tokens[pos.i++] !== ']') throw new GrammarError('missing ]');
      seq.push({ kind: 'optional', body });
    } else if (t === '{') {
      const options: SyntaxNode[][] = [];
      for (;;) {
        options.push(parseSequence(tokens, pos, ['|', '}']));
        const c = tokens[pos.i++];
        if (c === '}') break;
        if (c !== '|') throw new GrammarError('missing }');
      }
      seq.push({ kind: 'choice', options });
    } else if (t.startsWith('<')) {
      seq.push(parseParam(t));
    } else {
      seq.push({ kind: 'keyword', word: t.toLowerCase() });
    }
  }
  return seq;
}

/** Expands optional parts and alternatives into every plain token sequence they allow. */
function expand(seq: SyntaxNode[]): SyntaxToken[][] {
  let paths: SyntaxToken[][] = [[]];
  for (const node of seq) {
    if (node.kind === 'optional') {
      const inner = expand(node.body);
      paths = paths.flatMap((p) => [p, ...inner.map((q) => [...p, ...q])]);
    } else if (node.kind === 'choice') {
      const inner = node.options.flatMap(expand);
      paths = paths.flatMap((p) => inner.map((q) => [...p, ...q]));
    } else {
      paths = paths.map((p) => [...p, node]);
    }
  }
  return paths;
}

export function compileSyntax(syntax: string): SyntaxToken[][] {
  const tokens = lex(syntax);
  const pos = { i: 0 };
  const seq = parseSequence(tokens, pos, []);
  if (pos.i !== tokens.length) throw new GrammarError(`unbalanced brackets in "${syntax}"`);
  const paths = expand(seq);
  for (const p of paths) {
    const lineAt = p.findIndex((t) => t.kind === 'param' && t.type.kind === 'line');
    if (lineAt >= 0 && lineAt !== p.length - 1) throw new GrammarError(`LINE must be last in "${syntax}"`);
  }
  return paths;
}

/** One node of a mode's token tree. `handlers` are the commands that may end here. */
export class TreeNode<H> {
  readonly keywords = new Map<string, TreeNode<H>>();
  readonly params: { token: Extract<SyntaxToken, { kind: 'param' }>; node: TreeNode<H> }[] = [];
  handler?: H;
  help = '';
  /** Every command whose syntax passes through this node (for per-router visibility). */
  readonly through: H[] = [];

  insert(path: SyntaxToken[], handler: H, help: (t: SyntaxToken) => string | undefined, i = 0): void {
    if (!this.through.includes(handler)) this.through.push(handler);
    if (i === path.length) {
      this.handler = handler;
      return;
    }
    const t = path[i]!;
    let child: TreeNode<H> | undefined;
    if (t.kind === 'keyword') {
      child = this.keywords.get(t.word);
      if (!child) this.keywords.set(t.word, (child = new TreeNode<H>()));
    } else {
      child = this.params.find((p) => sameParam(p.token, t))?.node;
      if (!child) this.params.push({ token: t, node: (child = new TreeNode<H>()) });
    }
    const h = help(t);
    if (h && !child.help) child.help = h;
    child.insert(path, handler, help, i + 1);
  }
}

function sameParam(a: SyntaxToken, b: SyntaxToken): boolean {
  return a.kind === 'param' && b.kind === 'param' && a.name === b.name && JSON.stringify(a.type) === JSON.stringify(b.type);
}

export function paramLabel(t: Extract<SyntaxToken, { kind: 'param' }>): string {
  if (t.type.kind === 'line') return 'LINE';
  if (t.type.kind === 'range') return `<${t.type.min}-${t.type.max}>`;
  return 'WORD';
}
