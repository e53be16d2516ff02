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

/** The control record of the lab in `stateDir`, if that lab's process is alive. */
export function readControl(stateDir: string): ControlInfo | undefined {
  const file = join(stateDir, CONTROL_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ControlInfo;
    return pidAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Every running lab under `home`. */
export function runningLabs(home: string): ControlInfo[] {
  if (!existsSync(home)) return [];
  return readdirSync(home, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readControl(join(home, d.name)) ?? []);
}

/** The one lab meant: by name, or the only one running. */
export function findLab(home: string, name?: string): ControlInfo {
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
