/**
 * The control API: HTTP + JSON on 127.0.0.1, on a port chosen at start. Its address, a
 * token and the lab's pid go to `<state>/control.json` (mode 0600), which is how the CLI
 * finds a running lab; every request must carry the token, so only whoever can read the
 * state folder drives the lab.
 *
 *   GET  /nodes                        NodeInfo[]
 *   GET  /login/:node                  { user, password } for a router's console
 *   POST /exec    { node, lines }      { output }  (privilege 15, no prompts: scripts)
 *   POST /transcript { node, lines, user?, answers?, yes? }  { text, refused, stoppedAt? }
 *   POST /faults  { node, faults }     { ok }
 *   GET  /clock                        { now }
 *   POST /clock/advance { ms }         { now }
 *   GET  /logs/:node                   server log entries
 *   POST /down                         { ok }, then the lab stops
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Lab } from '../Lab.ts';

export const CONTROL_FILE = 'control.json';
export const TOKEN_HEADER = 'x-flashlab-token';

export interface ControlInfo {
  pid: number;
  lab: string;
  url: string;
  token: string;
  stateDir: string;
  topology?: string;
  /** Which runtime runs the nodes (absent in files written before runtimes had names: embedded). */
  runtime?: string;
  startedAt: string;
}

export interface ControlServer {
  info: ControlInfo;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  if (!chunks.length) return {};
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'expected a JSON object');
  }
}

// ---- input checks: every field typed, finite and bounded; the reason goes back as a 400 ----

/** Node names as topologies allow them (a DNS label). */
const NODE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
/** Lines one /exec may carry, and the length of each (IOS's own line limit is lower). */
export const MAX_EXEC_LINES = 1000;
export const MAX_EXEC_LINE = 8192;
/** The furthest one /clock/advance may move the lab clock: ten years. */
export const MAX_ADVANCE_MS = 10 * 366 * 24 * 3600 * 1000;
/** Fault settings per request. */
const MAX_FAULT_KEYS = 64;

function onlyKeys(b: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(b).filter((k) => !allowed.includes(k));
  if (extra.length) throw new HttpError(400, `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k.slice(0, 40)}"`).join(', ')} (expected ${allowed.map((k) => `"${k}"`).join(', ')})`);
}

function nodeName(v: unknown, what = '"node"'): string {
  if (typeof v !== 'string' || !v) throw new HttpError(400, `${what} must be a node name (a non-empty string)`);
  if (!NODE_NAME.test(v)) throw new HttpError(400, `${what} is not a node name: letters, digits and dashes, starting with a letter, at most 63`);
  return v;
}

function execLines(v: unknown): string[] {
  const lines = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) throw new HttpError(400, '"lines" must be a string or a list of strings');
  if (lines.length === 0) throw new HttpError(400, '"lines" is empty');
  if (lines.length > MAX_EXEC_LINES) throw new HttpError(400, `"lines" holds ${lines.length} lines; at most ${MAX_EXEC_LINES}`);
  const long = lines.findIndex((l) => l.length > MAX_EXEC_LINE);
  if (long >= 0) throw new HttpError(400, `"lines"[${long}] is ${lines[long]!.length} characters long; at most ${MAX_EXEC_LINE}`);
  return lines as string[];
}

function faultSettings(v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, '"faults" must be an object');
  const entries = Object.entries(v);
  if (entries.length > MAX_FAULT_KEYS) throw new HttpError(400, `"faults" has ${entries.length} settings; at most ${MAX_FAULT_KEYS}`);
  for (const [k, x] of entries) {
    const ok =
      typeof x === 'boolean' ||
      (typeof x === 'number' && Number.isFinite(x)) ||
      (typeof x === 'string' && x.length <= 1024) ||
      (Array.isArray(x) && x.length <= 256 && x.every((e) => typeof e === 'string' && e.length <= 255));
    if (!ok) throw new HttpError(400, `"faults"."${k.slice(0, 40)}" must be a boolean, a finite number, a string or a list of names`);
  }
  return v as Record<string, unknown>;
}

function advanceMs(v: unknown, now: number): number {
  if (typeof v !== 'number') throw new HttpError(400, '"ms" must be a number of milliseconds');
  if (!Number.isFinite(v)) throw new HttpError(400, '"ms" must be finite');
  if (!Number.isInteger(v)) throw new HttpError(400, '"ms" must be a whole number of milliseconds');
  if (v < 0) throw new HttpError(400, '"ms" must be >= 0: the lab clock only moves forward');
  if (v > MAX_ADVANCE_MS) throw new HttpError(400, `"ms" must be at most ${MAX_ADVANCE_MS} (ten years)`);
  if (!Number.isFinite(new Date(now + v).getTime())) throw new HttpError(400, '"ms" would move the clock past the last representable date');
  return v;
}

/** A node name from the URL path (`/logs/r1`): decoded and checked like a body field. */
function pathNode(encoded: string): string {
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, 'the node name in the path is not valid percent-encoding');
  }
  return nodeName(name, 'the node in the path');
}

/**
 * Writes control.json whole and private: a temp file made 0600 (chmod too, since a mode
 * given to open applies only to a new file and the umask may narrow it), then renamed over
 * the old one, so a reader never sees half a record and an old 0644 file never survives.
 */
export function writeControlFile(file: string, info: ControlInfo): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/**
 * Serves `lab` until `/down` (then calls `onDown`, which stops the lab and usually the
 * process) or `close()`.
 */
export async function startControlServer(lab: Lab, opts: { onDown: () => void | Promise<void> }): Promise<ControlServer> {
  const token = randomBytes(16).toString('hex');
  const file = join(lab.stateDir, CONTROL_FILE);

  const route = async (req: IncomingMessage): Promise<unknown> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const m = req.method ?? 'GET';
    const nodeArg = (prefix: string) => pathNode(p.slice(prefix.length));
    if (m === 'GET' && p === '/nodes') return lab.inspect();
    if (m === 'GET' && p === '/health') return { lab: lab.name, pid: process.pid, runtime: lab.runtime };
    if (m === 'GET' && p.startsWith('/login/')) return lab.login(nodeArg('/login/'));
    if (m === 'GET' && p.startsWith('/logs/')) return lab.logs(nodeArg('/logs/'));
    if (m === 'GET' && p === '/clock') return { now: lab.clock.now().toISOString() };
    if (m === 'POST' && p === '/exec') {
      const b = await body(req);
      onlyKeys(b, ['node', 'lines']);
      const node = nodeName(b.node);
      return { output: await lab.exec(node, execLines(b.lines)) };
    }
    if (m === 'POST' && p === '/transcript') {
      const b = await body(req);
      onlyKeys(b, ['node', 'lines', 'user', 'answers', 'yes']);
      const node = nodeName(b.node);
      const lines = execLines(b.lines);
      const answers = b.answers ?? [];
      if (!Array.isArray(answers) || !answers.every((l) => typeof l === 'string' && l.length <= MAX_EXEC_LINE)) throw new HttpError(400, '"answers" must be a list of strings');
      if (b.user !== undefined && typeof b.user !== 'string') throw new HttpError(400, '"user" must be a string');
      if (b.yes !== undefined && typeof b.yes !== 'boolean') throw new HttpError(400, '"yes" must be true or false');
      try {
        return await lab.transcript(node, lines, { user: b.user as string | undefined, answers: answers as string[], yes: b.yes === true });
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
    }
    if (m === 'POST' && p === '/faults') {
      const b = await body(req);
      onlyKeys(b, ['node', 'faults']);
      const node = nodeName(b.node);
      await lab.setFaults(node, faultSettings(b.faults));
      return { ok: true };
    }
    if (m === 'POST' && p === '/clock/advance') {
      const b = await body(req);
      onlyKeys(b, ['ms']);
      lab.clock.advance(advanceMs(b.ms, lab.clock.now().getTime()));
      await lab.clockSettled();
      return { now: lab.clock.now().toISOString() };
    }
    if (m === 'POST' && p === '/down') {
      onlyKeys(await body(req), []);
      // Answer first, then stop: the caller waits for the pid to go, not for this reply.
      setImmediate(() => void opts.onDown());
      return { ok: true };
    }
    throw new HttpError(404, `no route ${m} ${p}`);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.headers[TOKEN_HEADER] !== token) return reply(401, { error: 'missing or wrong control token' });
    route(req).then(
      (v) => reply(200, v ?? {}),
      (e: Error) => reply(e instanceof HttpError ? e.status : 400, { error: e.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const info: ControlInfo = {
    pid: process.pid,
    lab: lab.name,
    url: `http://127.0.0.1:${port}`,
    token,
    stateDir: lab.stateDir,
    topology: lab.topology.file,
    runtime: lab.runtime,
    startedAt: new Date().toISOString(),
  };
  writeControlFile(file, info);
  return {
    info,
    close: async () => {
      rmSync(file, { force: true });
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
