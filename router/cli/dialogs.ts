/**
 * Every question a command asks goes through one of these shapes, so prompts look the same
 * everywhere and a client (Netmiko, unicon, a scenario) can answer them by pattern.
 * The texts that several features share live here as data.
 */
export type Dialog =
  /** `<text>[confirm]`: Enter or y/yes confirms, anything else declines. */
  | { kind: 'confirm'; text: string; fileOp?: boolean }
  /**
   * `<text> [yes/no]: `: asks again until the answer is yes or no. `colon: false` is the
   * older flash-card dialog's `<text> [yes/no] ` (the seed's FTP upload question).
   */
  | { kind: 'yesno'; text: string; fileOp?: boolean; colon?: false }
  /** `<text> [<default>]? `: Enter takes the default. */
  | { kind: 'default'; text: string; default: string; fileOp?: boolean }
  /** `<text> [<default>]: ` or `<text>: `: a form field (extended ping); Enter takes the default. */
  | { kind: 'field'; text: string; default?: string }
  /** `Password: ` with no echo. */
  | { kind: 'secret'; text: string };

/** The text printed for a dialog (no trailing newline: the answer follows on the same line). */
export function dialogPrompt(d: Dialog): string {
  switch (d.kind) {
    case 'confirm':
      return `${d.text}[confirm]`;
    case 'yesno':
      return `${d.text} [yes/no]${d.colon === false ? ' ' : ': '}`;
    case 'default':
      return `${d.text} [${d.default}]? `;
    case 'field':
      return d.default === undefined ? `${d.text}: ` : `${d.text} [${d.default}]: `;
    case 'secret':
      return d.text;
  }
}

/** Interprets an answer; undefined means "ask again" (only yes/no re-asks). */
export function dialogAnswer(d: Dialog, raw: string): string | boolean | undefined {
  const a = raw.trim();
  switch (d.kind) {
    case 'confirm':
      return a === '' || /^y(es?)?$/i.test(a);
    case 'yesno':
      if (/^y(es?)?$/i.test(a)) return true;
      if (/^no?$/i.test(a)) return false;
      return undefined;
    case 'default':
      return a === '' ? d.default : a;
    case 'field':
      return a === '' ? (d.default ?? '') : a;
    case 'secret':
      return raw;
  }
}

/** The answer a question gets when nobody can answer (no input left, `file prompt quiet`). */
export function dialogDefault(d: Dialog): string | boolean {
  switch (d.kind) {
    case 'confirm':
      return true;
    case 'yesno':
      return false;
    case 'default':
      return d.default;
    case 'field':
      return d.default ?? '';
    case 'secret':
      return '';
  }
}

/** Shared dialogs (IOS_REFERENCE §4, §5). `fileOp` marks those `file prompt quiet` suppresses. */
export const Dialogs = {
  remoteHost: (def: string): Dialog => ({ kind: 'default', text: 'Address or name of remote host', default: def, fileOp: true }),
  sourceFilename: (def: string): Dialog => ({ kind: 'default', text: 'Source filename', default: def, fileOp: true }),
  destinationFilename: (def: string): Dialog => ({ kind: 'default', text: 'Destination filename', default: def, fileOp: true }),
  overwrite: (): Dialog => ({
    kind: 'confirm',
    text: '%Warning:There is a file already existing with this name \nDo you want to over write? ',
    fileOp: true,
  }),
  deleteFilename: (def: string): Dialog => ({ kind: 'default', text: 'Delete filename', default: def, fileOp: true }),
  deleteConfirm: (path: string): Dialog => ({ kind: 'confirm', text: `Delete ${path}? `, fileOp: true }),
  proceedWithReload: (): Dialog => ({ kind: 'confirm', text: 'Proceed with reload? ' }),
  saveModified: (): Dialog => ({ kind: 'yesno', text: 'System configuration has been modified. Save?' }),
  password: (): Dialog => ({ kind: 'secret', text: 'Password: ' }),
} as const;
