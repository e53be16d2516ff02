/** The CLI's side of the control API: find a running lab by its control.json, call it. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeInfo } from '../runtime/types.ts';
import { CONTROL_FILE, TOKEN_HEADER, type ControlInfo } from './server.ts';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A detached lab that exited stays a zombie until its adoptive parent reaps it: not alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): signal 0 is all there is
  }
}

/**
 * What a state folder says about its lab: running (control file and live process), stopped
 * (no live process), or damaged: a live lab process (from `lab.lock`) whose control file
 * is unreadable, so nothing can talk to it. Every command reads this one answer, so `up`,
 * `inspect` and `down` agree; `down --force` ends a damaged lab.
 */
export type LabStatus =
  | { state: 'running'; info: ControlInfo }
  | { state: 'stopped' }
  | { state: 'damaged'; stateDir: string; pid: number; problem: string };

export function labStatus(stateDir: string): LabStatus {
  const file = join(stateDir, CONTROL_FILE);
  const lockPid = lockHolder(stateDir);
  let problem: string;
  // No control file: stopped, or a lab a program started in-process (no control API to reach).
  if (!existsSync(file)) return { state: 'stopped' };
  {
    const parsed = parseControl(readFileSafe(file));
    if (typeof parsed !== 'string') {
      if (pidAlive(parsed.pid)) return { state: 'running', info: parsed };
      if (lockPid === undefined) return { state: 'stopped' };
      problem = `its control file ${file} names pid ${parsed.pid}, which is gone`;
    } else {
      if (lockPid === undefined) return { state: 'stopped' };
      problem = `its control file ${file} is unreadable (${parsed})`;
    }
  }
  return { state: 'damaged', stateDir, pid: lockPid, problem };
}

/** What `down --force` and every refusal print for a damaged lab. */
export function damagedMessage(s: { stateDir: string; pid: number; problem: string }): string {
  return `the lab in ${s.stateDir} runs (pid ${s.pid}) but ${s.problem}; "flashlab down --force" stops it`;
}

/** The live process named in `<state>/lab.lock`, if any. */
export function lockHolder(stateDir: string): number | undefined {
  const text = readFileSafe(join(stateDir, 'lab.lock'));
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid) ? pid : undefined;
}

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A control record, or why the text is not one (every field typed: a truncated write is caught). */
export function parseControl(text: string | undefined): ControlInfo | string {
  if (text === undefined) return 'cannot be read';
  let v: Partial<ControlInfo>;
  try {
    v = JSON.parse(text) as Partial<ControlInfo>;
  } catch (e) {
    return `not valid JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null) return 'not a JSON object';
  if (!Number.isSafeInteger(v.pid) || (v.pid ?? 0) <= 0) return '"pid" is not a process id';
  for (const k of ['lab', 'url', 'token', 'stateDir'] as const) if (typeof v[k] !== 'string' || !v[k]) return `"${k}" is missing`;
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(v.url!)) return '"url" is not a loopback control address';
  return v as ControlInfo;
}

/** The control record of the lab in `stateDir`, if that lab's process is alive. */
export function readControl(stateDir: string): ControlInfo | undefined {
  const s = labStatus(stateDir);
  return s.state === 'running' ? s.info : undefined;
}

/** The status of every lab state folder under `home` that is not stopped. */
export function labStatuses(home: string): (LabStatus & { folder: string })[] {
  if (!existsSync(home)) return [];
  return readdirSync(home, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const s = labStatus(join(home, d.name));
      return s.state === 'stopped' ? [] : [{ ...s, folder: d.name }];
    });
}

/** Every running lab under `home`. */
export function runningLabs(home: string): ControlInfo[] {
  return labStatuses(home).flatMap((s) => (s.state === 'running' ? [s.info] : []));
}

/**
 * The one lab meant: by name, or the only one running. A damaged lab (alive, control file
 * unreadable) is an error naming it, never "no lab is running".
 */
export function findLab(home: string, name?: string): ControlInfo {
  const damaged = labStatuses(home).flatMap((s) => (s.state === 'damaged' && (!name || s.folder === name) ? [s] : []));
  if (damaged.length && (name || runningLabs(home).length === 0)) throw new Error(damagedMessage(damaged[0]!));
  const labs = runningLabs(home);
  if (name) {
    const l = labs.find((x) => x.lab === name);
    if (!l) throw new Error(`no running lab "${name}" under ${home}${labs.length ? `; running: ${labs.map((x) => x.lab).join(', ')}` : ''}`);
    return l;
  }
  if (labs.length === 0) throw new Error(`no lab is running under ${home} (start one with "flashlab up")`);
  if (labs.length > 1) throw new Error(`several labs are running (${labs.map((x) => x.lab).join(', ')}): pick one with --lab`);
  return labs[0]!;
}

export class ControlClient {
  constructor(readonly info: ControlInfo) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.info.url}${path}`, {
      method,
      headers: { [TOKEN_HEADER]: this.info.token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const v = (await res.json().catch(() => ({}))) as { error?: string };
    if (!res.ok) throw new Error(v.error ?? `control API answered ${res.status}`);
    return v as T;
  }

  nodes(): Promise<NodeInfo[]> {
    return this.call('GET', '/nodes');
  }

  async exec(node: string, lines: string[]): Promise<string> {
    return (await this.call<{ output: string }>('POST', '/exec', { node, lines })).output;
  }

  /** A terminal transcript as a topology user (see `POST /transcript`). */
  transcript(node: string, lines: string[], o: { user?: string; answers?: string[]; yes?: boolean } = {}): Promise<{ text: string; refused: boolean; stoppedAt?: string }> {
    return this.call('POST', '/transcript', { node, lines, ...o });
  }

  async setFaults(node: string, faults: Record<string, unknown>): Promise<void> {
    await this.call('POST', '/faults', { node, faults });
  }

  async now(): Promise<string> {
    return (await this.call<{ now: string }>('GET', '/clock')).now;
  }

  async advanceClock(ms: number): Promise<string> {
    return (await this.call<{ now: string }>('POST', '/clock/advance', { ms })).now;
  }

  logs(node: string): Promise<unknown[]> {
    return this.call('GET', `/logs/${encodeURIComponent(node)}`);
  }

  login(node: string): Promise<{ user: string; password: string }> {
    return this.call('GET', `/login/${encodeURIComponent(node)}`);
  }

  /** Asks the lab to stop and waits until its process is gone. */
  async down(timeoutMs = 30_000): Promise<void> {
    await this.call('POST', '/down');
    const deadline = Date.now() + timeoutMs;
    while (pidAlive(this.info.pid)) {
      if (Date.now() > deadline) throw new Error(`lab ${this.info.lab} (pid ${this.info.pid}) did not stop within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
