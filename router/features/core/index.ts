/**
 * Mode movement and terminal settings: enable/disable, configure terminal, end/exit/do,
 * terminal length/width, show privilege, show history.
 */
import { ALL_CONFIG_MODES } from '../../cli/CliEngine.ts';
import { CliError } from '../../cli/CliSession.ts';
import { Dialogs } from '../../cli/dialogs.ts';
import type { Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';

export const coreFeature: Feature<Router> = {
  name: 'core',
  commands: [
    {
      mode: 'user',
      syntax: 'enable [<level:0-15>]',
      help: { enable: 'Turn on privileged commands', level: 'Enable level' },
      async run(ctx) {
        const r = ctx.router;
        const level = Number(ctx.args.level ?? 15);
        // IOS asks for the secret only to raise the level: at 15, `enable` does nothing.
        if (level <= ctx.session.privilege) {
          if (level < ctx.session.privilege) ctx.session.setPrivilege(level);
          return;
        }
        if (!r.system.enableSecret) throw new CliError('% No password set');
        // Three tries, then IOS gives up with "% Bad secrets".
        for (let i = 0; i < 3; i++) {
          const pw = await ctx.ask(Dialogs.password());
          if (typeof pw === 'string' && r.checkEnableSecret(pw)) {
            ctx.session.setPrivilege(level);
            return;
          }
        }
        ctx.print('% Bad secrets\n');
      },
    },
    {
      mode: 'user',
      syntax: 'disable',
      help: { disable: 'Turn off privileged commands' },
      run(ctx) {
        ctx.session.setPrivilege(1);
      },
    },
    {
      mode: 'user',
      syntax: '{exit|logout|quit}',
      help: { exit: 'Exit from the EXEC', logout: 'Exit from the EXEC', quit: 'Exit from the EXEC' },
      run(ctx) {
        ctx.session.close();
      },
    },
    {
      mode: 'exec',
      syntax: 'configure [terminal]',
      help: { configure: 'Enter configuration mode', terminal: 'Configure from the terminal' },
      run(ctx) {
        ctx.print('Enter configuration commands, one per line.  End with CNTL/Z.');
        ctx.enterMode('config');
      },
    },
    {
      mode: ALL_CONFIG_MODES,
      syntax: 'end',
      help: { end: 'Exit from configure mode' },
      run(ctx) {
        ctx.session.exitMode(true);
      },
    },
    {
      mode: ALL_CONFIG_MODES,
      syntax: 'exit',
      help: { exit: 'Exit from configure mode' },
      run(ctx) {
        ctx.session.exitMode(false);
      },
    },
    {
      mode: ALL_CONFIG_MODES,
      syntax: 'do <command:LINE>',
      help: { do: 'To run exec commands in config mode', command: 'Exec Command' },
      async run(ctx) {
        // Runs the EXEC command in a throw-away frame: the session stays in its config mode.
        const s = ctx.session;
        const saved = s.mode;
        const data = s.modeData;
        s.enterMode('exec');
        try {
          await s.run(ctx.args.command!);
        } finally {
          s.enterMode('config');
          if (saved !== 'config') s.enterMode(saved, data);
        }
      },
    },
    {
      mode: 'user',
      syntax: 'terminal length <lines:0-512>',
      help: { terminal: 'Set terminal line parameters', length: 'Set number of lines on a screen', lines: 'Number of lines on screen (0 for no pausing)' },
      run(ctx) {
        ctx.session.terminal.length = Number(ctx.args.lines);
      },
    },
    {
      mode: 'user',
      syntax: 'terminal width <chars:0-512>',
      help: { width: 'Set width of the display terminal', chars: 'Number of characters on a screen line' },
      run(ctx) {
        ctx.session.terminal.width = Number(ctx.args.chars);
      },
    },
    {
      mode: 'user',
      syntax: 'terminal no monitor',
      run(ctx) {
        ctx.session.terminal.monitor = false;
      },
    },
    {
      mode: 'user',
      syntax: 'terminal monitor',
      help: { monitor: 'Copy debug output to the current terminal line' },
      run(ctx) {
        ctx.session.terminal.monitor = true;
      },
    },
    {
      mode: 'user',
      syntax: 'show privilege',
      help: { show: 'Show running system information', privilege: 'Show current privilege level' },
      run(ctx) {
        ctx.print(`Current privilege level is ${ctx.session.privilege}`);
      },
    },
    {
      mode: 'user',
      syntax: 'show history',
      help: { history: 'Display the session command history' },
      run(ctx) {
        // The line being run is already in the history, as on IOS.
        ctx.print(ctx.session.history.map((h) => `  ${h}`).join('\n'));
      },
    },
  ],
};
