/** Where lab state lives: light on purpose, so `flashlab exec` need not load the whole lab. */
import { join, resolve } from 'node:path';

export function labHome(home?: string): string {
  return resolve(home ?? process.env.FLASHLAB_HOME ?? '.flashlab');
}

export function labStateDir(name: string, opts: { stateDir?: string; home?: string } = {}): string {
  return opts.stateDir ? resolve(opts.stateDir) : join(labHome(opts.home), name);
}
