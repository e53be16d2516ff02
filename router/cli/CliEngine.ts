/**
 * The shared, feature-blind CLI engine: features register commands, the engine builds one
 * token tree per mode and answers matching, help and completion questions.
 */
import { compileSyntax, GrammarError, TreeNode } from './grammar.ts';
import { completeAt, helpAt, match, type MatchResult, type Visible } from './matcher.ts';
import type { CommandDef, Feature, ModeDef } from './types.ts';

/** User EXEC commands are also available in privileged EXEC. */
const INHERITS: Record<string, string[]> = { exec: ['user'] };

/** Commands registered for this pseudo-mode exist in every configuration mode (end, exit, do). */
export const ALL_CONFIG_MODES = '@config';

export const BASE_MODES: ModeDef[] = [
  { id: 'user', prompt: '>' },
  { id: 'exec', prompt: '#' },
  { id: 'config', prompt: '(config)#', parent: 'exec' },
];

export class CliEngine<C> {
  private readonly modes = new Map<string, ModeDef>();
  private readonly trees = new Map<string, TreeNode<CommandDef<C>>>();
  private readonly features: Feature<C>[] = [];

  constructor(features: Feature<C>[] = []) {
    for (const m of BASE_MODES) this.modes.set(m.id, m);
    for (const f of features) this.register(f);
  }

  register(feature: Feature<C>): void {
    this.features.push(feature);
    this.merged.clear();
    for (const m of feature.modes ?? []) this.modes.set(m.id, m);
    for (const cmd of feature.commands) this.add(cmd, feature.name);
  }

  get allFeatures(): readonly Feature<C>[] {
    return this.features;
  }

  mode(id: string): ModeDef {
    const m = this.modes.get(id);
    if (!m) throw new Error(`unknown CLI mode ${id}`);
    return m;
  }

  private add(cmd: CommandDef<C>, featureName: string): void {
    let paths;
    try {
      paths = compileSyntax(cmd.syntax);
    } catch (e) {
      throw new GrammarError(`feature ${featureName}: ${(e as Error).message}`);
    }
    const help = (t: { kind: string; word?: string; name?: string }) =>
      cmd.help?.[t.kind === 'keyword' ? t.word! : t.name!] ?? undefined;
    for (const mode of Array.isArray(cmd.mode) ? cmd.mode : [cmd.mode]) {
      let tree = this.trees.get(mode);
      if (!tree) this.trees.set(mode, (tree = new TreeNode()));
      for (const p of paths) tree.insert(p, cmd, help);
    }
  }

  /** The tree a mode sees, inherited modes merged in (built lazily, cached). */
  private readonly merged = new Map<string, TreeNode<CommandDef<C>>>();
  private tree(mode: string): TreeNode<CommandDef<C>> {
    const cached = this.merged.get(mode);
    if (cached) return cached;
    const own = this.trees.get(mode) ?? new TreeNode();
    const extra = [...(INHERITS[mode] ?? []), ...(this.modes.get(mode)?.parent ? [ALL_CONFIG_MODES] : [])];
    if (extra.length === 0) return own;
    // Merging re-inserts every command of the inherited modes under the same tree.
    const tree = new TreeNode<CommandDef<C>>();
    for (const m of [...extra, mode]) {
      for (const f of this.features) {
        for (const cmd of f.commands) {
          const modes = Array.isArray(cmd.mode) ? cmd.mode : [cmd.mode];
          if (!modes.includes(m)) continue;
          const help = (t: { kind: string; word?: string; name?: string }) =>
            cmd.help?.[t.kind === 'keyword' ? t.word! : t.name!] ?? undefined;
          for (const p of compileSyntax(cmd.syntax)) tree.insert(p, cmd, help);
        }
      }
    }
    this.merged.set(mode, tree);
    return tree;
  }

  /** Commands whose `when` says no for this router are as absent as unknown ones. */
  private visible(context: C): Visible<CommandDef<C>> {
    return (cmd) => !cmd.when || cmd.when(context);
  }

  match(mode: string, line: string, context?: C): MatchResult<CommandDef<C>> {
    return match(this.tree(mode), line, context === undefined ? undefined : this.visible(context));
  }

  help(mode: string, line: string, context?: C) {
    return helpAt(this.tree(mode), line, context === undefined ? undefined : this.visible(context));
  }

  complete(mode: string, line: string, context?: C): string | undefined {
    return completeAt(this.tree(mode), line, context === undefined ? undefined : this.visible(context));
  }

  /** Running-config sections of every feature, in IOS order. */
  runningConfig(router: C): string[] {
    const sections = this.features.flatMap((f) => f.runningConfig?.(router) ?? []);
    sections.sort((a, b) => a.order - b.order);
    // Sections end with `!`; two in a row collapse into one, as IOS prints them.
    return sections.flatMap((s) => s.lines).filter((l, i, all) => !(l === '!' && all[i - 1] === '!'));
  }
}
