import type { Dialog } from './dialogs.ts';
import type { CliSession } from './CliSession.ts';

/** A CLI mode: its prompt suffix and the mode `exit` returns to. */
export interface ModeDef {
  id: string;
  /** Printed after the host name: `>`, `#`, `(config)#`, `(config-line)#`. */
  prompt: string;
  /** Where `exit` goes, and where a command unknown in this sub-mode is tried next. */
  parent?: string;
  /** The prompt stands alone (no host name); `{n}` counts the lines typed (ROMmon's `rommon 1 >`). */
  standalone?: boolean;
}

export interface CommandContext<C> {
  /** The line as typed (abbreviations kept, for the audit trail). */
  readonly line: string;
  /** Parameter values by name. */
  readonly args: Record<string, string | undefined>;
  /** Whether a keyword (in full) was part of the matched path. */
  has(keyword: string): boolean;
  /** The line began with `no`. */
  readonly negated: boolean;
  readonly router: C;
  readonly session: CliSession<C>;
  /** Aborted by Ctrl-C / Ctrl-^ while the command runs. */
  readonly signal: AbortSignal;
  /** Output lines (paged with --More-- when the terminal asks for it). */
  print(text: string): void;
  /** Raw output with no newline added and no paging: progress marks. */
  write(text: string): void;
  ask(d: Dialog): Promise<string | boolean>;
  confirm(d: Dialog): Promise<boolean>;
  enterMode(mode: string, data?: unknown): void;
}

export interface CommandDef<C> {
  mode: string | string[];
  syntax: string;
  /** `?` help for keywords and parameters, by keyword or parameter name. */
  help?: Record<string, string>;
  run(ctx: CommandContext<C>): void | Promise<void>;
  /** Whether this router offers the command (the engine is shared by every platform). */
  when?(router: C): boolean;
}

/** A running-config section a feature contributes; `order` places it as IOS orders it. */
export interface ConfigSection {
  order: number;
  lines: string[];
}

/** One IOS feature: its modes, commands and running-config lines. */
export interface Feature<C> {
  readonly name: string;
  readonly modes?: ModeDef[];
  readonly commands: CommandDef<C>[];
  runningConfig?(router: C): ConfigSection[];
}
