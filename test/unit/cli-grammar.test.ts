import { describe, expect, it } from 'vitest';
import { CliEngine } from '../../router/cli/CliEngine.ts';
import { CliSession } from '../../router/cli/CliSession.ts';
import { compileSyntax } from '../../router/cli/grammar.ts';
import type { Feature } from '../../router/cli/types.ts';

type Calls = { name: string; args: Record<string, string | undefined>; has: string[] }[];

function engineWith(calls: Calls): CliEngine<null> {
  const rec = (name: string, keys: string[] = []) => (ctx: { args: Record<string, string | undefined>; has(k: string): boolean }) => {
    calls.push({ name, args: ctx.args, has: keys.filter((k) => ctx.has(k)) });
  };
  const f: Feature<null> = {
    name: 'test',
    modes: [{ id: 'config-line', prompt: '(config-line)#', parent: 'config' }],
    commands: [
      { mode: 'user', syntax: 'show version', help: { show: 'Show running system information', version: 'System hardware and software status' }, run: rec('show version') },
      { mode: 'exec', syntax: 'show running-config', help: { 'running-config': 'Current operating configuration' }, run: rec('show run') },
      { mode: 'exec', syntax: 'configure terminal', run: (ctx) => ctx.enterMode('config') },
      { mode: 'exec', syntax: 'copy running-config startup-config', run: rec('copy run start') },
      { mode: 'exec', syntax: 'copy <src> <dst>', run: rec('copy') },
      { mode: 'exec', syntax: 'connect <host>', run: rec('connect') },
      { mode: 'exec', syntax: 'reload in <when> [reason <why:LINE>]', run: rec('reload in') },
      { mode: 'config', syntax: 'logging buffered [<size:4096-65536>]', run: rec('logging') },
      { mode: 'config', syntax: 'file prompt [{alert|noisy|quiet}]', run: rec('file prompt', ['alert', 'noisy', 'quiet']) },
      { mode: 'config', syntax: 'line vty <a:0-15> <b:0-15>', run: (ctx) => ctx.enterMode('config-line') },
      { mode: 'config-line', syntax: 'login local', run: rec('login local') },
      { mode: 'config', syntax: 'hostname <name>', run: rec('hostname') },
      { mode: '@config', syntax: 'end', run: (ctx) => ctx.session.exitMode(true) },
    ],
  };
  return new CliEngine<null>([f]);
}

function session(engine: CliEngine<null>, privilege = 15) {
  let out = '';
  const s = new CliSession<null>(
    { engine, context: null, hostname: () => 'R1' },
    { user: 'u', lineName: 'vty0', privilege, interactive: false, out: (t) => (out += t) },
  );
  return {
    s,
    async run(line: string) {
      out = '';
      s.submit(line);
      await s.idle();
      return out;
    },
  };
}

describe('syntax compilation', () => {
  it('expands optional parts and alternatives', () => {
    const paths = compileSyntax('file prompt [{alert|quiet}]').map((p) => p.map((t) => (t.kind === 'keyword' ? t.word : `<${t.name}>`)).join(' '));
    expect(paths).toEqual(['file prompt', 'file prompt alert', 'file prompt quiet']);
  });
  it('refuses a LINE parameter that is not last', () => {
    expect(() => compileSyntax('banner <t:LINE> end')).toThrow(/LINE must be last/);
  });
});

describe('matching', () => {
  it('accepts unique abbreviations and prefers keywords over parameters', async () => {
    const calls: Calls = [];
    const { run } = session(engineWith(calls));
    await run('sh ver');
    await run('cop run start');
    await run('copy flash:a tftp:');
    expect(calls.map((c) => c.name)).toEqual(['show version', 'copy run start', 'copy']);
    expect(calls[2]!.args).toEqual({ src: 'flash:a', dst: 'tftp:' });
  });

  it('puts the caret under the first bad token, counted from the prompt', async () => {
    const { run } = session(engineWith([]));
    const out = await run('show versoin');
    const [caretLine, msg] = out.split('\n');
    expect(msg).toBe("% Invalid input detected at '^' marker.");
    // "R1#" is 3 wide, "show " 5 more: the caret stands at column 8.
    expect(caretLine!.indexOf('^')).toBe('R1#show '.length);
  });

  it('reports an ambiguous prefix with the whole line quoted', async () => {
    const { run } = session(engineWith([]));
    expect(await run('co x y')).toContain('% Ambiguous command:  "co x y"');
  });

  it('reports an incomplete command', async () => {
    const { run } = session(engineWith([]));
    expect(await run('show')).toContain('% Incomplete command.');
  });

  it('checks number ranges', async () => {
    const calls: Calls = [];
    const { run, s } = session(engineWith(calls));
    await run('conf t');
    expect(s.mode).toBe('config');
    expect(await run('logging buffered 100')).toContain('^');
    await run('logging buffered 8192');
    expect(calls.at(-1)!.args.size).toBe('8192');
  });

  it('takes the rest of the line for LINE parameters', async () => {
    const calls: Calls = [];
    const { run } = session(engineWith(calls));
    await run('reload in 10 reason planned  upgrade');
    expect(calls.at(-1)!.args).toEqual({ when: '10', why: 'planned  upgrade' });
  });

  it('hides privileged commands in user EXEC', async () => {
    const calls: Calls = [];
    const { run } = session(engineWith(calls), 1);
    expect(await run('copy a b')).toContain("% Invalid input detected at '^' marker.");
    await run('show version');
    expect(calls.map((c) => c.name)).toEqual(['show version']);
  });

  it('falls back from a sub-mode to global configuration', async () => {
    const calls: Calls = [];
    const { run, s } = session(engineWith(calls));
    await run('configure terminal');
    await run('line vty 0 4');
    expect(s.prompt()).toBe('R1(config-line)#');
    await run('login local');
    await run('hostname R2');
    expect(s.mode).toBe('config');
    expect(calls.map((c) => c.name)).toEqual(['login local', 'hostname']);
    await run('end');
    expect(s.mode).toBe('exec');
  });
});

describe('help and completion', () => {
  it('lists the next keywords with help and <cr>', () => {
    const { s } = session(engineWith([]));
    const help = s.help('show ');
    expect(help).toContain('  running-config  Current operating configuration');
    expect(help).toContain('  version         System hardware and software status');
    const partial = s.help('co');
    expect(partial.trim()).toBe('configure  connect  copy');
  });
  it('offers <cr> where a command may end', () => {
    const { s } = session(engineWith([]));
    expect(s.help('show version ')).toContain('<cr>');
  });
  it('completes a unique prefix and leaves an ambiguous one alone', () => {
    const { s } = session(engineWith([]));
    expect(s.complete('sh')).toBe('show ');
    expect(s.complete('show ver')).toBe('show version ');
    expect(s.complete('co')).toBeUndefined();
  });
});

describe('output modifiers', () => {
  it('filters printed lines with include, exclude, begin, section and count', async () => {
    const f: Feature<null> = {
      name: 'pipe',
      commands: [
        {
          mode: 'exec',
          syntax: 'show lines',
          run: (ctx) => ctx.print('hostname R1\ninterface Gi0\n ip address 1.1.1.1\ninterface Gi1\n shutdown\nend'),
        },
      ],
    };
    const s = session(new CliEngine<null>([f]));
    const run = async (l: string) => (await s.run(l)).replace(/R1#$/, '');
    expect(await run('show lines | i host')).toBe('hostname R1\n');
    expect(await run('show lines | exclude ^\\s')).toBe('hostname R1\ninterface Gi0\ninterface Gi1\nend\n');
    expect(await run('show lines | begin Gi1')).toBe('interface Gi1\n shutdown\nend\n');
    expect(await run('show lines | section Gi0')).toBe('interface Gi0\n ip address 1.1.1.1\n');
    expect(await run('show lines | count interface')).toBe('Number of lines which match regexp = 2\n');
    const bad = await run('show lines | frobnicate x');
    expect(bad.split('\n')[0]!.indexOf('^')).toBe('R1#show lines | '.length);
  });
});

describe('per-router visibility', () => {
  it('hides a command whose when() says no: absent from help, completion and matching', async () => {
    type Ctx = { hasSlot: boolean };
    const f: Feature<Ctx> = {
      name: 'vis',
      commands: [
        { mode: 'exec', syntax: 'show slot0:', help: { 'slot0:': 'PCMCIA slot0' }, when: (c) => c.hasSlot, run: (ctx) => ctx.print('slot0 here') },
        { mode: 'exec', syntax: 'show version', help: { version: 'System hardware and software status' }, run: (ctx) => ctx.print('v') },
      ],
    };
    const engine = new CliEngine<Ctx>([f]);
    const mk = (hasSlot: boolean) => {
      let out = '';
      const s = new CliSession<Ctx>({ engine, context: { hasSlot }, hostname: () => 'R1' }, { user: 'u', lineName: 'vty0', privilege: 15, interactive: false, out: (t) => (out += t) });
      return { s, run: async (l: string) => ((out = ''), s.submit(l), await s.idle(), out) };
    };
    const isr = mk(false);
    expect(isr.s.help('show ')).not.toContain('slot0:');
    expect(isr.s.complete('show sl')).toBeUndefined();
    expect(await isr.run('show slot0:')).toContain("% Invalid input detected at '^' marker.");
    const c3900 = mk(true);
    expect(c3900.s.help('show ')).toContain('  slot0:   PCMCIA slot0');
    expect(c3900.s.complete('show sl')).toBe('show slot0: ');
    expect(await c3900.run('show slot0:')).toContain('slot0 here');
  });
});
