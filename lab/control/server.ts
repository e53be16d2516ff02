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
import { writeFileSync, rmSync } from 'node:fs';
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

function str(b: Record<string, unknown>, key: string): string {
  const v = b[key];
  if (typeof v !== 'string' || !v) throw new HttpError(400, `"${key}" must be a non-empty string`);
  return v;
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
    const nodeArg = (prefix: string) => decodeURIComponent(p.slice(prefix.length));
    if (m === 'GET' && p === '/nodes') return lab.inspect();
    if (m === 'GET' && p === '/health') return { lab: lab.name, pid: process.pid };
    if (m === 'GET' && p.startsWith('/login/')) return lab.login(nodeArg('/login/'));
    if (m === 'GET' && p.startsWith('/logs/')) return lab.logs(nodeArg('/logs/'));
    if (m === 'GET' && p === '/clock') return { now: lab.clock.now().toISOString() };
    if (m === 'POST' && p === '/exec') {
      const b = await body(req);
      const lines = typeof b.lines === 'string' ? [b.lines] : b.lines;
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) throw new HttpError(400, '"lines" must be a list of strings');
      return { output: await lab.exec(str(b, 'node'), lines as string[]) };
    }
    if (m === 'POST' && p === '/transcript') {
      const b = await body(req);
      const lines = b.lines;
      if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) throw new HttpError(400, '"lines" must be a list of strings');
      const answers = b.answers ?? [];
      if (!Array.isArray(answers) || !answers.every((l) => typeof l === 'string')) throw new HttpError(400, '"answers" must be a list of strings');
      if (b.user !== undefined && typeof b.user !== 'string') throw new HttpError(400, '"user" must be a string');
      try {
        return await lab.transcript(str(b, 'node'), lines as string[], { user: b.user as string | undefined, answers: answers as string[], yes: b.yes === true });
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
    }
    if (m === 'POST' && p === '/faults') {
      const b = await body(req);
      const faults = b.faults ?? {};
      if (typeof faults !== 'object' || faults === null || Array.isArray(faults)) throw new HttpError(400, '"faults" must be an object');
      lab.setFaults(str(b, 'node'), faults as Record<string, unknown>);
      return { ok: true };
    }
    if (m === 'POST' && p === '/clock/advance') {
      const b = await body(req);
      if (typeof b.ms !== 'number' || !(b.ms >= 0)) throw new HttpError(400, '"ms" must be a number >= 0');
      lab.clock.advance(b.ms);
      return { now: lab.clock.now().toISOString() };
    }
    if (m === 'POST' && p === '/down') {
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
    startedAt: new Date().toISOString(),
  };
  writeFileSync(file, JSON.stringify(info, null, 2), { mode: 0o600 });
  return {
    info,
    close: async () => {
      rmSync(file, { force: true });
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
