/**
 * AAA and the SSH server settings real configurations carry: `aaa new-model`, local login
 * authentication and exec authorization (which decides the privilege a vty login starts at:
 * `Router.loginPrivilege`), `ip ssh version/time-out/authentication-retries`, `show ip ssh`.
 * The lab's only method list is the local user database, as on most lab routers.
 */
import { CliError } from '../../cli/CliSession.ts';
import type { ConfigSection, Feature } from '../../cli/types.ts';
import type { Router } from '../../Router.ts';
import { ConfigOrder } from '../configOrder.ts';

const aaaOnly = (r: Router, what: string) => {
  if (!r.system.aaa.newModel) throw new CliError(`% ${what} requires "aaa new-model"`);
};

export const aaaFeature: Feature<Router> = {
  name: 'aaa',
  commands: [
    {
      mode: 'config',
      syntax: 'aaa new-model',
      help: { aaa: 'Authentication, Authorization and Accounting.', 'new-model': 'Enable NEW access control commands and functions.(Disables OLD commands.)' },
      run(ctx) {
        ctx.router.system.aaa.newModel = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no aaa new-model',
      run(ctx) {
        ctx.router.system.aaa = { newModel: false, loginLocal: false, execLocal: false };
      },
    },
    {
      mode: 'config',
      syntax: 'aaa authentication login default local',
      help: { authentication: 'Authentication configurations parameters.', login: 'Set authentication lists for logins.', default: 'The default authentication list.', local: 'Use local username authentication.' },
      run(ctx) {
        aaaOnly(ctx.router, 'aaa authentication');
        ctx.router.system.aaa.loginLocal = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no aaa authentication login default [local]',
      run(ctx) {
        ctx.router.system.aaa.loginLocal = false;
      },
    },
    {
      mode: 'config',
      syntax: 'aaa authorization exec default local',
      help: { authorization: 'Authorization configurations parameters.', exec: 'For starting an exec (shell).', local: 'Use local database.' },
      run(ctx) {
        aaaOnly(ctx.router, 'aaa authorization');
        ctx.router.system.aaa.execLocal = true;
      },
    },
    {
      mode: 'config',
      syntax: 'no aaa authorization exec default [local]',
      run(ctx) {
        ctx.router.system.aaa.execLocal = false;
      },
    },
    // IOS adds this line with aaa new-model; accepted so saved configurations replay.
    { mode: 'config', syntax: 'aaa session-id {common|unique}', run() {} },
    {
      mode: 'config',
      syntax: 'ip ssh version <v:1-2>',
      help: { ssh: 'Configure ssh options', version: 'Specify protocol version to be supported', v: 'Protocol version' },
      run(ctx) {
        // The lab's SSH server speaks version 2 only; `version 1` would lock every client out.
        if (ctx.args.v === '1') throw new CliError('% SSH version 1 is not supported by this image');
        ctx.router.system.ssh.version = 2;
      },
    },
    {
      mode: 'config',
      syntax: 'no ip ssh version',
      run(ctx) {
        ctx.router.system.ssh.version = undefined;
      },
    },
    {
      mode: 'config',
      syntax: 'ip ssh time-out <sec:1-120>',
      help: { 'time-out': 'Specify SSH time-out interval', sec: 'SSH time-out interval (secs)' },
      run(ctx) {
        ctx.router.system.ssh.timeoutSec = Number(ctx.args.sec);
      },
    },
    {
      mode: 'config',
      syntax: 'no ip ssh time-out',
      run(ctx) {
        ctx.router.system.ssh.timeoutSec = 120;
      },
    },
    {
      mode: 'config',
      syntax: 'ip ssh authentication-retries <n:0-5>',
      help: { 'authentication-retries': 'Specify number of authentication retries', n: 'Number of authentication retries' },
      run(ctx) {
        ctx.router.system.ssh.retries = Number(ctx.args.n);
      },
    },
    {
      mode: 'config',
      syntax: 'no ip ssh authentication-retries',
      run(ctx) {
        ctx.router.system.ssh.retries = 3;
      },
    },
    {
      mode: 'user',
      syntax: 'show ip ssh',
      help: { ssh: 'Information on SSH' },
      run(ctx) {
        const s = ctx.router.system.ssh;
        ctx.print(`SSH Enabled - version ${s.version === 2 ? '2.0' : '1.99'}`);
        ctx.print('Authentication methods:publickey,keyboard-interactive,password');
        ctx.print(`Authentication timeout: ${s.timeoutSec} secs; Authentication retries: ${s.retries}`);
      },
    },
  ],
  runningConfig(r) {
    const out: ConfigSection[] = [];
    const a = r.system.aaa;
    if (a.newModel) {
      const lines = ['!', 'aaa new-model', '!', '!'];
      if (a.loginLocal) lines.push('aaa authentication login default local');
      if (a.execLocal) lines.push('aaa authorization exec default local');
      lines.push('!', 'aaa session-id common', '!');
      out.push({ order: ConfigOrder.aaa, lines });
    }
    const s = r.system.ssh;
    const ssh: string[] = [];
    if (s.timeoutSec !== 120) ssh.push(`ip ssh time-out ${s.timeoutSec}`);
    if (s.retries !== 3) ssh.push(`ip ssh authentication-retries ${s.retries}`);
    if (s.version === 2) ssh.push('ip ssh version 2');
    if (ssh.length) out.push({ order: ConfigOrder.ipSsh, lines: [...ssh, '!'] });
    return out;
  },
};
