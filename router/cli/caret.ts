/**
 * The caret error for a value the grammar accepted but the command cannot use (an interface
 * this router lacks, a `reload in` time out of range): IOS points at the word, as the
 * matcher does for an unknown keyword.
 */
import { CliError } from './CliSession.ts';
import { tokenize } from './matcher.ts';

export function invalidAtToken(ctx: { line: string; session: { prompt(): string } }, tokenIndex: number): CliError {
  const tokens = tokenize(ctx.line);
  const column = tokens[Math.min(tokenIndex, tokens.length - 1)]?.start ?? 0;
  return new CliError(`${' '.repeat(ctx.session.prompt().length + column)}^\n% Invalid input detected at '^' marker.\n`);
}
