/**
 * Runs one scenario: starts a fresh lab from the scenario's topology (its own state folder,
 * so nothing leaks from one scenario into the next), runs the steps in order through real
 * SSH sessions and the lab's own handles (servers, clock, faults), stops at the first
 * failing step, and returns what happened with a transcript of every CLI exchange.
 */
import nodemailer from 'nodemailer';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parseSize } from '../../router/image/format.ts';
import { Lab } from '../Lab.ts';
import type { RouterStatus, RuntimeName, ServerFile } from '../runtime/types.ts';
import { relocate } from '../topology/load.ts';
import { LabCa } from '../ca/LabCa.ts';
import type { FtpSpec } from '../kinds/ftp.ts';
import { findKind, type LogView } from '../kinds/registry.ts';
import type { RouterSpec } from '../kinds/router.ts';
import { baseName, errorLines, parseBootvar, parseDir, parseFree, parseMd5, parseRunningImage, versionShown } from './ios.ts';
import {
  compilePattern,
  type ChangeBootVariableStep,
  type MailStep,
  type CliStep,
  type CopyToDeviceStep,
  type Expect,
  type ReloadStep,
  type RouterCheck,
  type Scenario,
  type ServerCheck,
  type Step,
  type VerifyRunningImageStep,
  type WaitStep,
} from './schema.ts';
import { SshCli, type Answer, type Exchange } from './ssh.ts';
import { fill, fillDeep, type RefResolver, type TemplateRef } from './template.ts';

export type StepStatus = 'passed' | 'failed' | 'skipped';

export interface StepResult {
  index: number;
  /** The step's name, or one made from what it does. */
  label: string;
  kind: Step['kind'];
  line?: number;
  status: StepStatus;
  /** Why it failed. */
  message?: string;
  ms: number;
  exchanges: Exchange[];
  /** Notes for the report (values read, what was compared). */
  notes: string[];
  /** What the lab's servers logged while the step ran, in order: the router ↔ server exchanges. */
  serverEvents?: { server: string; line: string }[];
}

export interface ScenarioResult {
  name: string;
  file: string;
  covers: string[];
  description?: string;
  status: 'passed' | 'failed' | 'error';
  /** Lab start or teardown trouble (status 'error'). */
  error?: string;
  steps: StepResult[];
  /** Wall time, lab start and stop included. */
  ms: number;
  startedAt: Date;
}

export type RunEvent =
  | { type: 'scenario-start'; scenario: Scenario }
  | { type: 'lab-ready'; scenario: Scenario; ms: number; stateDir: string }
  | { type: 'step-start'; scenario: Scenario; step: Step; label: string }
  | { type: 'step-end'; scenario: Scenario; result: StepResult }
  | { type: 'scenario-end'; result: ScenarioResult };

export interface RunOptions {
  /** Parent folder for per-scenario lab state (a fresh temporary folder inside it). */
  stateRoot?: string;
  /** Move the lab to this management subnet (tests run labs side by side). */
  subnet?: string;
  /** Keep each lab's state folder after the run (for post-mortems). */
  keepState?: boolean;
  wellKnownPorts?: boolean;
  /** Which runtime runs each scenario's lab (default embedded). */
  runtime?: RuntimeName;
  /** netns: the namespaces' subnet (default 10.213.0.0/24). */
  runtimeSubnet?: string;
  onEvent?: (e: RunEvent) => void;
}

class StepFailure extends Error {}

const fail = (message: string): never => {
  throw new StepFailure(message);
};

/** One line that says what a step does, for progress and reports. */
export function stepLabel(step: Step): string {
  if (step.name) return step.name;
  const s = step.spec as Record<string, unknown>;
  switch (step.kind) {
    case 'cli': {
      const lines = step.spec.send;
      return `cli ${step.spec.node}: ${lines[0]}${lines.length > 1 ? ` (+${lines.length - 1})` : ''}`;
    }
    case 'check': {
      if ('server' in step.spec) {
        const c = step.spec;
        return `check ${c.server}: ${c.file ? `file ${c.file}` : c.login ? `login ${c.login.user ?? ''}`.trim() : c.event ? `${c.event.kind} ${c.event.contains ?? ''}`.trim() : c.mail ? `latest mail${c.mail.subject ? ` "${c.mail.subject}"` : ''}` : `${c.transfer?.kind} ${c.transfer?.file ?? ''}`.trim()}`;
      }
      const c = step.spec;
      const what = c.file ? `file ${c.file}` : c.free ? `free space on ${c.free}` : c.bootvar !== undefined ? 'boot variable' : c.reload ? 'pending reload' : 'running image';
      return `check ${c.node}: ${what}`;
    }
    case 'mail':
      return `mail ${step.spec.server}: ${step.spec.subject}`;
    case 'fault':
      return `fault ${step.spec.node}: ${step.spec.clear ? 'clear' : Object.entries(step.spec.set ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`;
    case 'clock':
      return `clock: advance ${formatMs(step.spec.advance)}`;
    case 'wait':
      return `wait ${step.spec.node}: ${step.spec.for}${step.spec.pattern ? ` /${step.spec.pattern}/` : ''}`;
    case 'copy_to_device':
      return `copy_to_device ${step.spec.node}: ${step.spec.protocol ?? 'tftp'}://${step.spec.server}/${step.spec.file} -> ${step.spec.destination ?? 'default file system'}`;
    case 'change_boot_variable':
      return `change_boot_variable ${step.spec.node}: ${step.spec.images.join(', ')}`;
    case 'verify_running_image':
      return `verify_running_image ${step.spec.node}: ${step.spec.image}`;
    default:
      return `${step.kind} ${String(s.node ?? '')}`.trim();
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${sec ? `${sec}s` : ''}` || '0s';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A syslog line as the runner keeps it (`wait for log` reads them in order). */
interface LogMessage {
  line: string;
}

/** What a running scenario holds: the lab, one SSH session per router, variables, cursors. */
class ScenarioRun {
  private readonly sessions = new Map<string, SshCli>();
  readonly vars: Map<string, string>;
  /** Every syslog message per router since the lab came up, and how far `wait for log` has read. */
  private readonly logs = new Map<string, { messages: LogMessage[]; cursor: number; off: () => void }>();
  /** The boot each router was last seen in (its boot time), for `wait for reload`. */
  private readonly seenBoot = new Map<string, string | undefined>();
  /** Exchanges of the step running now. */
  exchanges: Exchange[] = [];
  notes: string[] = [];

  private constructor(
    readonly lab: Lab,
    readonly scenario: Scenario,
  ) {
    this.vars = new Map(Object.entries(scenario.vars));
  }

  /** Follows every router's syslog from now on, and notes the boot each one is in. */
  static async open(lab: Lab, scenario: Scenario): Promise<ScenarioRun> {
    const run = new ScenarioRun(lab, scenario);
    for (const n of lab.topology.nodes) {
      if (n.kind !== 'router') continue;
      const h = lab.handle(n.name);
      const messages: LogMessage[] = [];
      const off = h.subscribe((e) => {
        if (e.type === 'syslog') messages.push({ line: e.line });
      });
      run.logs.set(n.name, { messages, cursor: 0, off });
      run.seenBoot.set(n.name, (await h.routerStatus()).bootedAt);
    }
    return run;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.close();
    for (const l of this.logs.values()) l.off();
  }

  // ---- references ---------------------------------------------------------------------

  routerSpec(name: string): RouterSpec {
    return this.lab.topology.nodes.find((n) => n.name === name && n.kind === 'router') as RouterSpec;
  }

  address(node: string): string {
    return this.lab.inspect().find((n) => n.name === node)?.address ?? this.lab.topology.nodes.find((n) => n.name === node)!.address;
  }

  /** A file under a server's root as the server's disk holds it (size, MD5), asked of the node. */
  async serverFile(server: string, file: string): Promise<ServerFile> {
    try {
      return await this.lab.handle(server).serverFile(file);
    } catch (e) {
      return fail((e as Error).message);
    }
  }

  routerStatus(node: string): Promise<RouterStatus> {
    return this.lab.handle(node).routerStatus();
  }

  readonly resolveRef: RefResolver = async (ref: TemplateRef) => {
    switch (ref.kind) {
      case 'var': {
        const v = this.vars.get(ref.name);
        if (v === undefined) fail(`variable "${ref.name}" has no value yet`);
        return v!;
      }
      case 'lab':
        if (ref.field === 'ca') return LabCa.open(join(this.lab.stateDir, 'ca'), this.lab.clock.now()).root.certPem.trim();
        return ref.field === 'domain' ? this.lab.topology.domain : this.lab.name;
      case 'node':
        return ref.field === 'address' ? this.address(ref.node) : `${ref.node}.${this.lab.topology.domain}`;
      case 'file': {
        const f = await this.serverFile(ref.server, ref.path);
        if (!f.exists) fail(`{{ ${ref.fn} ${ref.server}:${ref.path} }}: no such file on ${ref.server}`);
        return ref.fn === 'md5' ? f.md5! : String(f.size);
      }
      case 'bad':
        return fail(ref.message);
    }
  };

  fill(text: string): Promise<string> {
    return fill(text, this.resolveRef);
  }

  // ---- SSH sessions -------------------------------------------------------------------

  /** The router's SSH session, logged in and enabled; opened (again) when needed. */
  async cli(node: string): Promise<SshCli> {
    const existing = this.sessions.get(node);
    if (existing?.connected) return existing;
    const router = await this.routerStatus(node);
    if (router.state !== 'running' && router.state !== 'rommon') {
      fail(`${node} is ${router.state}: nothing answers on its vty lines (add a wait: { node: ${node}, for: reload } step after a reload)`);
    }
    const info = this.lab.inspect().find((n) => n.name === node);
    const port = info?.ports.ssh;
    if (!info || !port) return fail(`${node} has no SSH port (inspect shows ${JSON.stringify(info?.ports ?? {})})`);
    const login = this.lab.login(node);
    const s = new SshCli({
      node,
      host: info.address,
      port,
      user: login.user,
      password: login.password,
      enableSecret: this.routerSpec(node).enableSecret ?? 'cisco',
      onExchange: (e) => this.exchanges.push(e),
    });
    await s.connect();
    this.sessions.set(node, s);
    return s;
  }

  /** Sends one line; fails the step on a timeout or an unanswered question. */
  async send(node: string, line: string, o: { answers?: Answer[]; timeoutMs?: number; allowClose?: boolean; paste?: string } = {}): Promise<Exchange> {
    const s = await this.cli(node);
    const e = await s.send(line, { answers: o.answers, timeoutMs: o.timeoutMs, paste: o.paste });
    if (e.error) fail(`${node}: "${line}": ${e.error}`);
    if (e.closed && !o.allowClose) fail(`${node} closed the session after "${line}"`);
    return e;
  }

  /** A show command from privileged EXEC (leaves config mode first, as a person would). */
  async show(node: string, line: string, timeoutMs = 30_000): Promise<string> {
    const s = await this.cli(node);
    if (s.inConfigMode) await this.send(node, 'end');
    return (await this.send(node, line, { timeoutMs })).response;
  }

  // ---- logs and reloads ---------------------------------------------------------------

  async waitLog(node: string, pattern: RegExp, timeoutMs: number): Promise<LogMessage> {
    const log = this.logs.get(node)!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = log.cursor; i < log.messages.length; i++) {
        if (pattern.test(log.messages[i]!.line)) {
          log.cursor = i + 1;
          return log.messages[i]!;
        }
      }
      if (Date.now() >= deadline) {
        const recent = log.messages.slice(log.cursor).slice(-5).map((m) => m.line);
        return fail(`no syslog line matching /${pattern.source}/ on ${node} within ${formatMs(timeoutMs)}${recent.length ? `; last lines: ${recent.join(' | ')}` : ''}`);
      }
      await sleep(50);
    }
  }

  /** Waits until the router has booted again since it was last seen, in the wanted state. */
  async waitReload(node: string, want: 'running' | 'rommon', timeoutMs: number): Promise<RouterStatus> {
    const deadline = Date.now() + timeoutMs;
    const frozen = this.lab.topology.clock?.frozen === true;
    let r: RouterStatus;
    for (;;) {
      r = await this.routerStatus(node);
      const rebooted = r.bootedAt !== this.seenBoot.get(node);
      if (rebooted && (r.state === 'running' || r.state === 'rommon')) break;
      if (Date.now() >= deadline) {
        return fail(rebooted ? `${node} is still ${r.state}` : `${node} did not reload within ${formatMs(timeoutMs)} (state ${r.state})`);
      }
      // A frozen lab clock only moves when told: waiting for a boot means letting boot time pass.
      if (frozen && r.state === 'booting') {
        this.lab.clock.advance(1000);
        await this.lab.clockSettled();
      }
      await sleep(50);
    }
    this.seenBoot.set(node, r.bootedAt);
    this.sessions.get(node)?.close();
    this.sessions.delete(node);
    this.notes.push(`${node} came back ${r.state}${r.state === 'rommon' && r.bootFailure ? ` (${r.bootFailure})` : ''}`);
    if (r.state !== want) fail(`${node} came back in ${r.state}, expected ${want}${r.bootFailure ? ` (${r.bootFailure})` : ''}`);
    return r;
  }
}

// ---- expectations -------------------------------------------------------------------------

/** The last lines of an output, as evidence in a failure message. */
function excerpt(text: string, lines = 6): string {
  const all = text.trimEnd().split('\n');
  const errs = errorLines(text);
  const shown = errs.length ? errs.slice(-3) : all.slice(-lines);
  return shown.map((l) => `    | ${l}`).join('\n');
}

export function checkExpect(output: string, e: Expect): string[] {
  const problems: string[] = [];
  for (const c of e.contains ?? []) if (!output.includes(c)) problems.push(`expected the output to contain "${c}"`);
  for (const c of e.notContains ?? []) if (output.includes(c)) problems.push(`expected the output not to contain "${c}"`);
  for (const p of e.matches ?? []) if (!compilePattern(p).test(output)) problems.push(`expected the output to match /${p}/`);
  for (const p of e.notMatches ?? []) if (compilePattern(p).test(output)) problems.push(`expected the output not to match /${p}/`);
  return problems;
}

function sizeValue(v: string | number): number {
  return typeof v === 'number' ? v : parseSize(v);
}

// ---- step kinds ---------------------------------------------------------------------------

async function runCli(run: ScenarioRun, spec: CliStep): Promise<void> {
  const s = await fillDeep(spec, run.resolveRef);
  const timeoutMs = s.timeout ?? 30_000;
  let response = '';
  for (const [i, line] of s.send.entries()) {
    const last = i === s.send.length - 1;
    const e = await run.send(s.node, line, { answers: s.answers, timeoutMs, allowClose: last, paste: s.paste });
    // What the router printed unasked since the last exchange (banners, syslog) is part of
    // what the user saw during this step.
    response += (response ? '\n' : '') + (e.before ? `${e.before}\n` : '') + e.response;
  }
  if (s.expect) {
    const problems = checkExpect(response, s.expect);
    if (problems.length) fail(`${problems.join('; ')}\nactual output (last lines):\n${excerpt(response)}`);
  }
  for (const [name, pattern] of Object.entries(s.remember ?? {})) {
    const m = compilePattern(pattern).exec(response);
    if (!m) fail(`remember ${name}: /${pattern}/ matched nothing in the output`);
    run.vars.set(name, m![1] ?? m![0]);
    run.notes.push(`${name} = ${m![1] ?? m![0]}`);
  }
}

async function routerFile(run: ScenarioRun, node: string, file: string): Promise<{ size: number } | undefined> {
  const out = await run.show(node, `dir ${file}`);
  if (/%Error|No such file/i.test(out)) return undefined;
  const base = baseName(file);
  const entry = parseDir(out).find((e) => e.name === base && !e.isDir && !e.deleted);
  return entry ? { size: entry.size } : undefined;
}

async function routerMd5(run: ScenarioRun, node: string, file: string): Promise<string> {
  const out = await run.show(node, `verify /md5 ${file}`, 120_000);
  const md5 = parseMd5(out);
  if (!md5) fail(`verify /md5 ${file} printed no MD5:\n${excerpt(out)}`);
  return md5!;
}

async function runRouterCheck(run: ScenarioRun, raw: RouterCheck): Promise<void> {
  const c = await fillDeep(raw, run.resolveRef);
  const node = c.node;
  if (c.file !== undefined) {
    const f = await routerFile(run, node, c.file);
    const wantExists = c.exists ?? true;
    if (!wantExists) {
      if (f) fail(`${c.file} exists on ${node} (${f.size} bytes), expected it absent`);
      run.notes.push(`${c.file} is absent`);
      return;
    }
    if (!f) return fail(`${c.file} not found on ${node}`);
    run.notes.push(`${c.file}: ${f.size} bytes`);
    if (c.size !== undefined && f.size !== sizeValue(c.size)) fail(`${c.file} is ${f.size} bytes, expected ${sizeValue(c.size)}`);
    if (c.md5 !== undefined) {
      const md5 = await routerMd5(run, node, c.file);
      run.notes.push(`verify /md5 ${c.file} = ${md5}`);
      if (md5 !== c.md5.toLowerCase()) fail(`MD5 of ${c.file} is ${md5}, expected ${c.md5.toLowerCase()}`);
    }
    return;
  }
  if (c.free !== undefined) {
    const out = await run.show(node, `dir ${c.free}`);
    const free = parseFree(out);
    if (free === undefined) return fail(`no free-space figure in "dir ${c.free}":\n${excerpt(out)}`);
    run.notes.push(`${c.free} free: ${free} bytes`);
    if (c.remember) run.vars.set(c.remember, String(free));
    if (c.atLeast !== undefined && free < sizeValue(c.atLeast)) fail(`${c.free} has ${free} bytes free, expected at least ${sizeValue(c.atLeast)}`);
    if (c.atMost !== undefined && free > sizeValue(c.atMost)) fail(`${c.free} has ${free} bytes free, expected at most ${sizeValue(c.atMost)}`);
    if (c.equals !== undefined && free !== sizeValue(c.equals)) fail(`${c.free} has ${free} bytes free, expected exactly ${sizeValue(c.equals)}`);
    return;
  }
  if (c.bootvar !== undefined) {
    const out = await run.show(node, 'show bootvar');
    const entries = parseBootvar(out);
    if (!entries) return fail(`no "BOOT variable =" line in show bootvar:\n${excerpt(out)}`);
    const want = typeof c.bootvar === 'string' ? [c.bootvar] : c.bootvar;
    run.notes.push(`BOOT variable = ${entries.join(';')}`);
    if (JSON.stringify(entries) !== JSON.stringify(want)) fail(`BOOT variable is [${entries.join(', ')}], expected [${want.join(', ')}]`);
    return;
  }
  if (c.reload !== undefined) {
    const out = await run.show(node, 'show reload');
    const pending = !/No reload is scheduled/i.test(out);
    run.notes.push(out.trim().split('\n')[0] ?? '');
    if (pending !== c.reload.pending) fail(c.reload.pending ? `no reload is pending on ${node}` : `a reload is pending on ${node}: ${out.trim()}`);
    const problems = checkExpect(out, { contains: c.reload.contains });
    if (problems.length) fail(`${problems.join('; ')}\n${excerpt(out)}`);
    return;
  }
  // running image and/or version
  const out = await run.show(node, 'show version');
  const image = parseRunningImage(out);
  run.notes.push(`System image file is "${image ?? '?'}"`);
  if (c.runningImage !== undefined && image !== c.runningImage) fail(`${node} runs "${image ?? '(none)'}", expected "${c.runningImage}"`);
  if (c.version !== undefined && !versionShown(out, c.version)) fail(`show version does not show Version ${c.version}:\n${excerpt(out.split('\n').slice(0, 3).join('\n'))}`);
}

/** A server log entry as one line: `login user=lab password=… outcome=ok`. */
export function logLine(e: unknown): string {
  if (typeof e !== 'object' || e === null) return String(e);
  return Object.entries(e as Record<string, unknown>)
    .filter(([k]) => k !== 'time')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** How long each server's log is now (entries after this mark belong to the next step). */
async function serverLogMarks(lab: Lab): Promise<Map<string, number>> {
  const marks = new Map<string, number>();
  const servers = lab.inspect().filter((n) => n.kind !== 'router');
  const lengths = await Promise.all(servers.map(async (n) => (await lab.logs(n.name)).length));
  servers.forEach((n, i) => marks.set(n.name, lengths[i]!));
  return marks;
}

async function serverEventsSince(lab: Lab, marks: Map<string, number>): Promise<{ server: string; line: string }[]> {
  const events: { server: string; line: string; time: number }[] = [];
  for (const [server, from] of marks) {
    const entries = (await lab.logs(server)) as Record<string, unknown>[];
    // A capped log may have dropped old entries: then take what is there.
    for (const e of entries.slice(Math.min(from, entries.length))) {
      const t = e.time instanceof Date ? e.time.getTime() : typeof e.time === 'string' ? Date.parse(e.time) : 0;
      events.push({ server, line: logLine(e), time: t });
    }
  }
  return events.sort((a, b) => a.time - b.time).map(({ server, line }) => ({ server, line }));
}

async function serverLogRaw(run: ScenarioRun, server: string): Promise<Record<string, unknown>[]> {
  return (await run.lab.logs(server)) as Record<string, unknown>[];
}

/** A server's log as its kind reads it (logins, transfers, its own events). */
async function serverLog(run: ScenarioRun, server: string): Promise<LogView[]> {
  const kind = run.lab.topology.nodes.find((n) => n.name === server)?.kind ?? '';
  const view = findKind(kind)?.logView;
  if (!view) return [];
  return ((await run.lab.logs(server)) as Record<string, unknown>[]).flatMap((e) => view(e));
}

async function runServerCheck(run: ScenarioRun, raw: ServerCheck): Promise<void> {
  const c = await fillDeep(raw, run.resolveRef);
  if (c.file !== undefined) {
    const f = await run.serverFile(c.server, c.file);
    if (c.exists === false) {
      if (f.exists) fail(`${c.file} exists on ${c.server}, expected it absent`);
      run.notes.push(`${c.server}:${c.file} is absent`);
      return;
    }
    if (!f.exists) return fail(`${c.file} not found on ${c.server}`);
    const size = f.size!;
    const md5 = f.md5!;
    run.notes.push(`${c.server}:${c.file}: ${size} bytes, md5 ${md5}`);
    if (c.size !== undefined && size !== sizeValue(c.size)) fail(`${c.server}:${c.file} is ${size} bytes, expected ${sizeValue(c.size)}`);
    if (c.md5 !== undefined && md5 !== c.md5.toLowerCase()) fail(`MD5 of ${c.server}:${c.file} is ${md5}, expected ${c.md5.toLowerCase()}`);
    return;
  }
  const log = await serverLog(run, c.server);
  if (c.login) {
    const want = c.login;
    const logins = log.filter((e) => e.kind === 'login');
    const hit = logins.find(
      (e) => (want.user === undefined || e.user === want.user) && (want.password === undefined || e.password === want.password) && (want.outcome === undefined || e.outcome === want.outcome),
    );
    const seen = logins.map((e) => `${e.user}/${e.password} (${e.outcome})`).join(', ') || 'none';
    // The log lines behind the verdict, for the report.
    for (const e of (await serverLogRaw(run, c.server)).filter((x) => /login/.test(String(x.kind)))) run.notes.push(`${c.server} log: ${logLine(e)}`);
    const what = `login${want.user ? ` as ${want.user}` : ''}${want.password !== undefined ? ` with password "${want.password}"` : ''}${want.outcome ? ` (${want.outcome})` : ''}`;
    if (want.seen === false) {
      if (hit) fail(`${c.server} recorded a ${what}, expected none; logins seen: ${seen}`);
    } else if (!hit) fail(`${c.server} recorded no ${what}; logins seen: ${seen}`);
    run.notes.push(`${c.server} logins: ${seen}`);
    return;
  }
  if (c.mail) return checkLatestMail(run, c.server, c.mail);
  if (c.event) {
    const want = c.event;
    const events = log.filter((e) => e.kind === want.kind);
    const hit = events.find((e) => (want.contains === undefined || (e.text ?? '').includes(want.contains)) && (want.outcome === undefined || e.outcome === want.outcome));
    const seen = events.map((e) => `${e.text ?? e.kind} (${e.outcome})`).join(', ') || 'none';
    const what = `${want.kind} event${want.contains ? ` containing "${want.contains}"` : ''}${want.outcome ? ` (${want.outcome})` : ''}`;
    if (want.seen === false) {
      if (hit) fail(`${c.server} recorded a ${what}, expected none; seen: ${seen}`);
    } else if (!hit) fail(`${c.server} recorded no ${what}; seen: ${seen}`);
    run.notes.push(`${c.server} ${want.kind} events: ${seen}`);
    return;
  }
  const t = c.transfer!;
  const transfers = log.filter((e) => e.kind === t.kind);
  const hit = transfers.find((e) => (t.file === undefined || e.file === t.file || e.file?.endsWith(`/${t.file}`) || posix.basename(e.file ?? '') === t.file) && (t.outcome === undefined || e.outcome === t.outcome));
  const seen = transfers.map((e) => `${e.file} (${e.outcome})`).join(', ') || 'none';
  const what = `${t.kind}${t.file ? ` of ${t.file}` : ''}${t.outcome ? ` (${t.outcome})` : ''}`;
  for (const e of (await serverLogRaw(run, c.server)).filter((x) => 'request' in x || x.kind === 'download' || x.kind === 'upload')) run.notes.push(`${c.server} log: ${logLine(e)}`);
  if (t.seen === false) {
    if (hit) fail(`${c.server} recorded a ${what}, expected none; ${t.kind}s seen: ${seen}`);
  } else if (!hit) fail(`${c.server} recorded no ${what}; ${t.kind}s seen: ${seen}`);
  run.notes.push(`${c.server} ${t.kind}s: ${seen}`);
}

/** A node's service port as it really listens (`smtp`, `api`). */
function nodePort(run: ScenarioRun, node: string, service: string): number {
  const port = run.lab.inspect().find((n) => n.name === node)?.ports[service];
  if (!port) fail(`${node} has no ${service} port (is it an smtp node, and running?)`);
  return port!;
}

/** Sends one message to an SMTP sink over a real socket, as a status mail would arrive. */
async function runMail(run: ScenarioRun, raw: MailStep): Promise<void> {
  const s = await fillDeep(raw, run.resolveRef);
  const transport = nodemailer.createTransport({ host: run.address(s.server), port: nodePort(run, s.server, 'smtp'), secure: false, ignoreTLS: true });
  try {
    const info = await transport.sendMail({ from: s.from, to: s.to, subject: s.subject, text: s.text });
    run.notes.push(`${s.server}: ${info.response}`);
    if (s.outcome === 'refused') fail(`${s.server} accepted the message, expected it refused: ${info.response}`);
  } catch (e) {
    if (s.outcome !== 'refused') fail(`${s.server} refused the message: ${(e as Error).message}`);
    run.notes.push(`${s.server} refused: ${(e as Error).message}`);
  } finally {
    transport.close();
  }
}

/** The newest message, read through the sink's Mailpit API as any Mailpit client would. */
async function checkLatestMail(run: ScenarioRun, server: string, want: NonNullable<ServerCheck['mail']>): Promise<void> {
  const url = `http://${run.address(server)}:${nodePort(run, server, 'api')}/api/v1/message/latest`;
  const res = await fetch(url);
  if (res.status === 404) return fail(`${server} holds no message (GET /api/v1/message/latest: 404)`);
  if (!res.ok) return fail(`GET ${url}: ${res.status} ${await res.text()}`);
  const m = (await res.json()) as { Subject: string; From: { Address: string }; To: { Address: string }[]; Text: string };
  run.notes.push(`latest: "${m.Subject}" from ${m.From.Address} to ${m.To.map((t) => t.Address).join(', ')}`);
  if (want.subject !== undefined && m.Subject !== want.subject) fail(`latest message's subject is "${m.Subject}", expected "${want.subject}"`);
  if (want.from !== undefined && m.From.Address !== want.from) fail(`latest message is from ${m.From.Address}, expected ${want.from}`);
  if (want.to !== undefined && !m.To.some((t) => t.Address === want.to)) fail(`latest message is to ${m.To.map((t) => t.Address).join(', ')}, expected ${want.to}`);
  if (want.contains !== undefined && !m.Text.includes(want.contains)) fail(`latest message's text lacks "${want.contains}":\n${excerpt(m.Text)}`);
}

async function runWait(run: ScenarioRun, s: WaitStep): Promise<void> {
  if (s.for === 'log') {
    if (!s.pattern) fail('wait for log needs a pattern');
    const m = await run.waitLog(s.node, compilePattern(await run.fill(s.pattern!)), s.timeout ?? 30_000);
    run.notes.push(m.line);
    return;
  }
  await run.waitReload(s.node, s.state ?? 'running', s.timeout ?? 120_000);
}

/** pyATS copy_to_device: copy from a server, then (by default) `verify /md5` against the server's file. */
async function runCopyToDevice(run: ScenarioRun, raw: CopyToDeviceStep): Promise<void> {
  const s = await fillDeep(raw, run.resolveRef);
  const proto = s.protocol ?? 'tftp';
  const serverSpec = run.lab.topology.nodes.find((n) => n.name === s.server)!;
  let userinfo = '';
  let home = '.';
  if (proto === 'ftp' && s.user !== undefined) {
    // Without a user the URL carries no credentials: the router picks them (S3.1).
    const ftp = serverSpec as FtpSpec;
    userinfo = `${s.user}${s.password !== undefined ? `:${s.password}` : ''}@`;
    home = ftp.accounts.find((a) => a.user === s.user)?.home ?? (ftp.anonymous ? ftp.anonymous.home : '.');
  }
  const destination = s.destination ?? `${(await run.routerStatus(s.node)).defaultFs}:`;
  const file = s.file.replace(/^\/+/, '');
  const url = `${proto}://${userinfo}${run.address(s.server)}/${file}`;
  const e = await run.send(s.node, `copy ${url} ${destination}`, { timeoutMs: s.timeout ?? 180_000 });
  const problems = checkExpect(e.response, { contains: ['[OK -'], matches: ['bytes copied in'] });
  if (problems.length) fail(`copy failed: ${problems.join('; ')}\n${excerpt(e.response)}`);
  if (s.verify === false) return;
  const dest = /:$/.test(destination) ? `${destination}${posix.basename(file)}` : destination;
  const source = await run.serverFile(s.server, posix.join(home, file));
  if (!source.exists) fail(`${s.server} no longer holds ${posix.join(home, file)}`);
  const want = source.md5!;
  const got = await routerMd5(run, s.node, dest);
  run.notes.push(`verify /md5 ${dest} = ${got}; ${s.server}:${file} = ${want}`);
  if (got !== want) fail(`MD5 of ${dest} is ${got}, but ${s.server}'s ${file} is ${want}`);
}

/** pyATS change_boot_variable: boot system, write memory, then show bootvar names exactly these. */
async function runChangeBoot(run: ScenarioRun, raw: ChangeBootVariableStep): Promise<void> {
  const s = await fillDeep(raw, run.resolveRef);
  const cli = await run.cli(s.node);
  if (!cli.inConfigMode) await run.send(s.node, 'configure terminal');
  for (const line of ['no boot system', ...s.images.map((i) => `boot system ${i}`)]) {
    const e = await run.send(s.node, line);
    if (errorLines(e.response).length) fail(`"${line}" was refused:\n${excerpt(e.response)}`);
  }
  await run.send(s.node, 'end');
  if (s.save !== false) {
    const e = await run.send(s.node, 'write memory', { timeoutMs: 60_000 });
    if (!e.response.includes('[OK]')) fail(`write memory did not end in [OK]:\n${excerpt(e.response)}`);
  }
  const entries = parseBootvar(await run.show(s.node, 'show bootvar'));
  run.notes.push(`BOOT variable = ${(entries ?? []).join(';')}`);
  if (JSON.stringify(entries) !== JSON.stringify(s.images)) fail(`BOOT variable is [${(entries ?? []).join(', ')}], expected [${s.images.join(', ')}]`);
}

/** pyATS reload: reload, the session drops, wait for the router, log in again. */
async function runReload(run: ScenarioRun, s: ReloadStep): Promise<void> {
  const cli = await run.cli(s.node);
  if (cli.inConfigMode) await run.send(s.node, 'end');
  const e = await run.send(s.node, 'reload', {
    answers: [{ prompt: 'Save\\?', send: s.save ? 'yes' : 'no' }],
    timeoutMs: 60_000,
    allowClose: true,
  });
  if (!e.closed) fail(`the router did not reload:\n${excerpt(e.response)}`);
  await run.waitReload(s.node, 'running', s.timeout ?? 120_000);
  await run.cli(s.node);
}

async function runVerifyImage(run: ScenarioRun, raw: VerifyRunningImageStep): Promise<void> {
  const s = await fillDeep(raw, run.resolveRef);
  const image = parseRunningImage(await run.show(s.node, 'show version'));
  run.notes.push(`System image file is "${image ?? '?'}"`);
  const same = s.image.includes(':') ? image === s.image : image !== undefined && baseName(image) === s.image;
  if (!same) fail(`${s.node} runs "${image ?? '(none)'}", expected "${s.image}"`);
}

/** Byte counts and rates may be written as sizes (`stall-after-bytes: 2MB`), as in topologies. */
export function faultValues(set: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(set)) {
    const sized = /bytes|rate-?limit/i.test(k) && typeof v === 'string';
    out[k] = sized ? parseSize(v as string) : v;
  }
  return out;
}

async function runStep(run: ScenarioRun, step: Step): Promise<void> {
  switch (step.kind) {
    case 'cli':
      return runCli(run, step.spec);
    case 'check':
      return 'server' in step.spec ? runServerCheck(run, step.spec) : runRouterCheck(run, step.spec);
    case 'mail':
      return runMail(run, step.spec);
    case 'fault': {
      const set = step.spec.clear ? {} : faultValues(await fillDeep(step.spec.set ?? {}, run.resolveRef));
      await run.lab.setFaults(step.spec.node, set);
      run.notes.push(step.spec.clear ? `${step.spec.node}: every fault switched off` : `${step.spec.node}: switched on ${Object.entries(set).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')}`);
      return;
    }
    case 'clock':
      run.lab.clock.advance(step.spec.advance);
      await run.lab.clockSettled();
      run.notes.push(`lab clock now ${run.lab.clock.now().toISOString()}`);
      // Let what fired (a scheduled reload) reach the sockets before the next step looks.
      await sleep(50);
      return;
    case 'wait':
      return runWait(run, step.spec);
    case 'copy_to_device':
      return runCopyToDevice(run, step.spec);
    case 'change_boot_variable':
      return runChangeBoot(run, step.spec);
    case 'reload':
      return runReload(run, step.spec);
    case 'verify_running_image':
      return runVerifyImage(run, step.spec);
  }
}

/** Runs one scenario on a lab of its own. Never throws: trouble ends up in the result. */
/** A scenario whose lab never became usable: every step is listed as skipped. */
function skipEveryStep(result: ScenarioResult, scenario: Scenario): void {
  for (const step of scenario.steps) result.steps.push({ index: step.index, label: stepLabel(step), kind: step.kind, line: step.line, status: 'skipped', ms: 0, exchanges: [], notes: [] });
}

export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioResult> {
  const emit = opts.onEvent ?? (() => {});
  const startedAt = new Date();
  const t0 = Date.now();
  const result: ScenarioResult = {
    name: scenario.name,
    file: scenario.file,
    covers: scenario.covers,
    description: scenario.description,
    status: 'passed',
    steps: [],
    ms: 0,
    startedAt,
  };
  emit({ type: 'scenario-start', scenario });
  const root = opts.stateRoot ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const stateDir = mkdtempSync(join(root, 'flashlab-scenario-'));
  let lab: Lab | undefined;
  let run: ScenarioRun | undefined;
  // Ctrl-C mid-run: the lab dies with the process, but its temporary state must not linger.
  const onSignal = (sig: NodeJS.Signals) => {
    if (!opts.keepState) rmSync(stateDir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const topology = opts.subnet ? relocate(scenario.topology, opts.subnet) : scenario.topology;
    try {
      lab = await Lab.start(topology, { stateDir, reset: true, wellKnownPorts: opts.wellKnownPorts, runtime: opts.runtime, runtimeSubnet: opts.runtimeSubnet });
    } catch (e) {
      result.status = 'error';
      result.error = `lab did not start: ${(e as Error).message}`;
      skipEveryStep(result, scenario);
      return result;
    }
    emit({ type: 'lab-ready', scenario, ms: Date.now() - t0, stateDir });
    try {
      run = await ScenarioRun.open(lab, scenario);
    } catch (e) {
      result.status = 'error';
      result.error = `lab did not answer: ${(e as Error).message}`;
      skipEveryStep(result, scenario);
      return result;
    }
    let failed = false;
    for (const step of scenario.steps) {
      const label = stepLabel(step);
      const r: StepResult = { index: step.index, label, kind: step.kind, line: step.line, status: 'skipped', ms: 0, exchanges: [], notes: [] };
      result.steps.push(r);
      if (failed) {
        emit({ type: 'step-end', scenario, result: r });
        continue;
      }
      emit({ type: 'step-start', scenario, step, label });
      run.exchanges = r.exchanges;
      run.notes = r.notes;
      const s0 = Date.now();
      let logMarks = new Map<string, number>();
      try {
        logMarks = await serverLogMarks(lab);
        await runStep(run, step);
        r.status = 'passed';
      } catch (e) {
        r.status = 'failed';
        r.message = e instanceof StepFailure ? e.message : `${(e as Error).message ?? String(e)}`;
        failed = true;
        result.status = 'failed';
      }
      r.ms = Date.now() - s0;
      r.serverEvents = await serverEventsSince(lab, logMarks).catch(() => []);
      emit({ type: 'step-end', scenario, result: r });
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await run?.close();
    try {
      await lab?.stop();
    } catch (e) {
      if (result.status === 'passed') {
        result.status = 'error';
        result.error = `lab did not stop cleanly: ${(e as Error).message}`;
      }
    }
    if (!opts.keepState) rmSync(stateDir, { recursive: true, force: true });
    result.ms = Date.now() - t0;
    emit({ type: 'scenario-end', result });
  }
  return result;
}
