/**
 * The generic half of the shared debug facility (router/system/Debug.ts): `show debugging`,
 * `undebug all`, `no debug all`. Each feature owns its own `debug <area> <flag>` commands.
 */
import type { Router, RouterFeature } from '../../Router.ts';
import type { CommandContext } from '../../cli/types.ts';

function allOff(ctx: CommandContext<Router>): void {
  ctx.router.debug.disableAll();
  ctx.print('All possible debugging has been turned off');
}

export const debugFeature: RouterFeature = {
  name: 'debug',
  commands: [
    {
      mode: 'exec',
      syntax: 'show debugging',
      help: { debugging: 'State of each debugging option' },
      run(ctx) {
        const lines = ctx.router.debug.show();
        if (lines.length) ctx.print(lines.join('\n'));
      },
    },
    { mode: 'exec', syntax: 'undebug all', help: { undebug: 'Disable debugging functions (see also \'debug\')', all: 'Disable all debugging' }, run: allOff },
    { mode: 'exec', syntax: 'no debug all', help: { all: 'Disable all debugging' }, run: allOff },
  ],
};
