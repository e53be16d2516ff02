/**
 * The `flashlab` command. `up` runs the lab in a detached background process that serves
 * the control API; every other lab command talks to that API.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { ImageMakeOptions } from '../signing/imageCommands.ts';
import { ControlClient, damagedMessage, findLab, labStatus, labStatuses, lockHolder, pidAlive } from '../control/client.ts';
import { CONTROL_FILE } from '../control/server.ts';
import { labHome, labStateDir } from '../home.ts';
import type { Lab } from '../Lab.ts';
import type { NodeInfo } from '../runtime/types.ts';
import type { Topology } from '../topology/schema.ts';
import { flashlabVersion } from '../version.ts';
import { runtimeName } from '../runtime/index.ts';
import { hasNetnsRecord } from '../runtime/netnsRecord.ts';
import { hasContainerRecord } from '../runtime/container/record.ts';
// The lab, the router, the doctor and the topology loader are imported where a command needs
// them: `flashlab exec` talks to a running lab and should start in a fraction of a second.

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(here, '../../bin/flashlab.mjs');

/** How long `up` waits for the background lab to report ready. */
const UP_TIMEOUT_MS = 180_000;

class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

// ---- output -------------------------------------------------------------------------------

function portsText(p: Record<string, number>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}/${v}`)
    .join(' ');
}

/** A table in containerlab's style. */
export function nodeTable(lab: string, nodes: NodeInfo[], runtime?: string): string {
  const head = ['#', 'Name', 'Kind', 'Platform', 'State', 'Address', 'Ports'];
  const rows = nodes.map((n, i) => [String(i + 1), n.name, n.kind, n.detail?.platform ?? '', n.state, n.address, portsText(n.ports)]);
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = `+${width.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const fmt = (r: string[]) => `| ${r.map((x, c) => x.padEnd(width[c]!)).join(' | ')} |`;
  return [`lab ${lab}${runtime ? ` (runtime ${runtime})` : ''}`, line, fmt(head), line, ...rows.map(fmt), line].join('\n');
}

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

// ---- up / down ----------------------------------------------------------------------------

interface UpOptions {
  foreground?: boolean;
  /** Every address of the topology moved into this mgmt subnet. */
  subnet?: string;
  reset?: boolean;
  highPorts?: boolean;
  state?: string;
  child?: boolean;
  /** Which runtime runs the nodes (default embedded). */
  runtime?: string;
  /** container: the image each node runs. */
  image?: string;
}

function home(cmd: Command): string {
  return labHome(cmd.optsWithGlobals<{ home?: string }>().home);
}

async function upForeground(topoPath: string, o: UpOptions, homeDir: string): Promise<void> {
  const child = o.child && typeof process.send === 'function';
  const log = (l: string) => console.error(`flashlab: ${l}`);
  let lab: Lab;
  const { Lab } = await import('../Lab.ts');
  const { startControlServer } = await import('../control/server.ts');
  try {
    const runtime = runtimeName(o.runtime);
    // netns: --subnet is the namespaces' subnet; the topology keeps its own addresses' offsets.
    const namespaced = runtime !== 'embedded';
    const topology = o.subnet && !namespaced ? await relocatedTopology(topoPath, o.subnet) : topoPath;
    lab = await Lab.start(topology, {
      home: homeDir,
      stateDir: o.state,
      reset: o.reset,
      wellKnownPorts: !o.highPorts,
      runtime,
      runtimeSubnet: namespaced ? o.subnet : undefined,
      runtimeImage: o.image,
      log,
    });
  } catch (e) {
    if (child) process.send!({ type: 'error', message: (e as Error).message });
    throw e;
  }
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await control.close().catch(() => {});
    await lab.stop().catch((e: Error) => log(`stop: ${e.message}`));
    process.exit(0);
  };
  const control = await startControlServer(lab, { onDown: shutdown });
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  if (child) {
    process.send!({ type: 'ready', lab: lab.name, runtime: lab.runtime, nodes: lab.inspect(), stateDir: lab.stateDir, warnings: lab.warnings });
    process.disconnect?.();
  } else {
    out(nodeTable(lab.name, lab.inspect(), lab.runtime));
    printWarnings(lab.warnings);
    out(`ready: lab ${lab.name} (state ${lab.stateDir}); Ctrl-C or "flashlab down" stops it`);
  }
}

/** The topology file with its mgmt subnet and fixed addresses moved (`up --subnet`), checked. */
async function relocatedTopology(topoPath: string, subnet: string): Promise<Topology> {
  const { relocate, resolveTopology } = await import('../topology/load.ts');
  const moved = relocate(parseYaml(readFileSync(topoPath, 'utf8')) as Record<string, unknown>, subnet);
  // A subnet outside 127/8, or too small for the nodes, fails here with the key named.
  return resolveTopology(moved, { file: topoPath });
}

/** Start-up problems, before `ready`: damaged state, ports another process holds. */
function printWarnings(warnings: readonly string[] | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`warning: ${w}\n`);
}

/** Old logs kept beside `lab.log` (`lab.log.1` is the newest). */
const KEPT_LOGS = 3;
/** A log past this size is rotated at the next `up` even without `--reset`. */
const ROTATE_BYTES = 8 * 1024 * 1024;

/** `lab.log` -> `lab.log.1` -> … -> `lab.log.3` (the oldest goes). */
export function rotateLog(logFile: string): void {
  for (let i = KEPT_LOGS - 1; i >= 1; i--) {
    if (existsSync(`${logFile}.${i}`)) renameSync(`${logFile}.${i}`, `${logFile}.${i + 1}`);
  }
  if (existsSync(logFile)) renameSync(logFile, `${logFile}.1`);
}

async function up(topologyArg: string | undefined, o: UpOptions, cmd: Command): Promise<void> {
  const homeDir = home(cmd);
  const { DEFAULT_TOPOLOGY, loadTopology } = await import('../topology/load.ts');
  const topoPath = resolve(topologyArg ?? DEFAULT_TOPOLOGY);
  const topo = loadTopology(topoPath); // fails here, in the user's terminal, on a bad file
  let runtime: string;
  try {
    runtime = runtimeName(o.runtime);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  if (o.image !== undefined && runtime !== 'container') throw new CliError(`--image names the image of --runtime container's nodes; this lab's runtime is ${runtime}`, 2);
  if (o.subnet && runtime === 'embedded') await relocatedTopology(topoPath, o.subnet);
  const stateDir = labStateDir(topo.name, { home: homeDir, stateDir: o.state });
  const status = labStatus(stateDir);
  if (status.state === 'running') throw new CliError(`lab ${topo.name} is already running (pid ${status.info.pid}); "flashlab down" first`);
  if (status.state === 'damaged') throw new CliError(damagedMessage(status));
  if (o.foreground || o.child) return upForeground(topoPath, { ...o, state: stateDir }, homeDir);

  mkdirSync(stateDir, { recursive: true });
  const logFile = join(stateDir, 'lab.log');
  // A reset starts a new log; the old one stays as lab.log.1 (the lab writing to it may have had errors worth reading).
  if (o.reset || (existsSync(logFile) && statSync(logFile).size > ROTATE_BYTES)) rotateLog(logFile);
  const fd = openSync(logFile, 'a');
  const args = [BIN, '--home', homeDir, 'up', topoPath, '--child', '--state', stateDir];
  if (o.reset) args.push('--reset');
  if (o.highPorts) args.push('--high-ports');
  if (o.subnet) args.push('--subnet', o.subnet);
  args.push('--runtime', runtime);
  if (o.image) args.push('--image', o.image);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd, 'ipc'], env: process.env });
  closeSync(fd);
  // Progress while the nodes start: the count now, a dot a second on a terminal, the time at the end.
  const t0 = Date.now();
  process.stdout.write(`starting lab ${topo.name}: ${topo.nodes.length} nodes (${topo.nodes.map((n) => n.name).join(', ')})`);
  const dots = process.stdout.isTTY ? setInterval(() => process.stdout.write('.'), 1000) : undefined;
  const msg = await new Promise<{ type: string; message?: string; nodes?: NodeInfo[]; lab?: string; runtime?: string; warnings?: string[] }>((done, fail) => {
    const t = setTimeout(() => fail(new CliError(`lab did not report ready within ${UP_TIMEOUT_MS / 1000} s; see ${logFile}`)), UP_TIMEOUT_MS);
    child.once('message', (m) => {
      clearTimeout(t);
      done(m as { type: string });
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      done({ type: 'error', message: `lab process exited (code ${code}) before it was ready; see ${logFile}` });
    });
  });
  if (dots) clearInterval(dots);
  process.stdout.write(` ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  child.removeAllListeners('exit');
  if (child.connected) child.disconnect();
  child.unref();
  if (msg.type !== 'ready') throw new CliError(msg.message ?? 'lab failed to start');
  out(nodeTable(msg.lab!, msg.nodes!, msg.runtime));
  printWarnings(msg.warnings);
  out(`ready: lab ${msg.lab} (pid ${child.pid}, state ${stateDir})`);
}

async function down(o: { lab?: string; force?: boolean }, cmd: Command): Promise<void> {
  if (o.force) return downForce(home(cmd), o.lab);
  const statuses = labStatuses(home(cmd)).filter((s) => !o.lab || s.folder === o.lab || (s.state === 'running' && s.info.lab === o.lab));
  const damaged = statuses.find((s) => s.state === 'damaged');
  if (damaged && damaged.state === 'damaged') throw new CliError(damagedMessage(damaged));
  let info;
  try {
    info = findLab(home(cmd), o.lab);
  } catch (e) {
    // Nothing to stop is not a failure: `down` is idempotent.
    out((e as Error).message);
    return;
  }
  await new ControlClient(info).down();
  out(`lab ${info.lab} stopped`);
}

/**
 * `down --force`: for a lab whose control file is damaged or whose API does not answer.
 * Ends the lab's process (the pid in its lock or control file, and only if that process
 * is a flashlab lab on this state folder), then removes the control and lock files.
 */
async function downForce(homeDir: string, name: string | undefined): Promise<void> {
  const folders = name ? [name] : listLabFolders(homeDir);
  let acted = false;
  for (const folder of folders) {
    const stateDir = labStateDir(folder, { home: homeDir });
    const s = labStatus(stateDir);
    const pid = s.state === 'running' ? s.info.pid : s.state === 'damaged' ? s.pid : lockHolder(stateDir);
    const stale = [CONTROL_FILE, 'lab.lock'].filter((f) => existsSync(join(stateDir, f)));
    const made = hasNetnsRecord(stateDir);
    const contained = hasContainerRecord(stateDir);
    if (pid === undefined && stale.length === 0 && !made && !contained) continue;
    acted = true;
    if (pid !== undefined) {
      if (!isLabProcess(pid, stateDir)) throw new CliError(`pid ${pid} named in ${stateDir} is not a flashlab lab on that folder; not touching it (remove ${stale.join(' and ')} by hand if the lab is gone)`);
      await endProcess(pid);
      out(`lab ${folder}: process ${pid} ended`);
    }
    for (const f of stale) rmSync(join(stateDir, f), { force: true });
    if (stale.length) out(`lab ${folder}: removed ${stale.join(', ')}`);
    // What a netns lab made (namespaces, veths, its bridge, agents) outlives a killed lab process.
    if (made) {
      const { removeNetnsLeftovers } = await import('../runtime/netns.ts');
      for (const line of await removeNetnsLeftovers(stateDir)) out(`lab ${folder}: ${line}`);
    }
    // And what a container lab made (containers, its network and volume) outlives it on the engine.
    if (contained) {
      const { removeContainerLeftovers } = await import('../runtime/container/ContainerRuntime.ts');
      try {
        for (const line of await removeContainerLeftovers(stateDir)) out(`lab ${folder}: ${line}`);
      } catch (e) {
        throw new CliError(`lab ${folder}: ${(e as Error).message}`);
      }
    }
  }
  if (!acted) out(`no lab to stop under ${homeDir}`);
}

function listLabFolders(homeDir: string): string[] {
  if (!existsSync(homeDir)) return [];
  return readdirSync(homeDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
}

/** Is `pid` a flashlab process serving `stateDir`? (A recycled pid must never be killed.) */
function isLabProcess(pid: number, stateDir: string): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const isFlashlab = args.some((a) => /flashlab/.test(a));
  const state = args.indexOf('--state');
  return isFlashlab && (state < 0 || resolve(args[state + 1] ?? '') === resolve(stateDir));
}

/** SIGTERM (the lab stops cleanly), then SIGKILL if it is still there after 10 s. */
async function endProcess(pid: number): Promise<void> {
  const gone = async (ms: number) => {
    const until = Date.now() + ms;
    while (pidAlive(pid)) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await gone(10_000)) return;
  process.kill(pid, 'SIGKILL');
  if (!(await gone(5_000))) throw new CliError(`lab process ${pid} did not end`);
}

async function doctor(o: { lab?: string; state?: string; repair?: boolean }, cmd: Command): Promise<void> {
  const homeDir = home(cmd);
  const { DEFAULT_TOPOLOGY, loadTopology } = await import('../topology/load.ts');
  const name = o.lab ?? (o.state ? undefined : loadTopology(DEFAULT_TOPOLOGY).name);
  const stateDir = labStateDir(name ?? '', { home: homeDir, stateDir: o.state });
  if (!existsSync(stateDir)) throw new CliError(`no lab state in ${stateDir}`);
  const s = labStatus(stateDir);
  if (s.state === 'running') throw new CliError(`lab ${s.info.lab} is running (pid ${s.info.pid}): "flashlab down" first, then run doctor`);
  if (s.state === 'damaged') throw new CliError(damagedMessage(s));
  const { examineLab, formatReport } = await import('../state/doctor.ts');
  const report = await examineLab(stateDir, { repair: o.repair });
  out(formatReport(report, o.repair === true));
  if (report.findings.some((f) => !f.repaired)) process.exitCode = 1;
}

// ---- inspect / exec / console -------------------------------------------------------------

async function inspect(o: { lab?: string; json?: boolean }, cmd: Command): Promise<void> {
  const info = findLab(home(cmd), o.lab);
  const nodes = await new ControlClient(info).nodes();
  out(o.json ? JSON.stringify(nodes, null, 2) : nodeTable(info.lab, nodes, info.runtime ?? 'embedded'));
}

/**
 * `flashlab exec`: a terminal transcript (prompt, the line, its output), as a topology user.
 * Exit 1 when IOS refused a line; a question is answered only by --answer or --yes, else the
 * transcript stops there with exit 3.
 */
async function exec(node: string, commands: string[], o: { lab?: string; user?: string; yes?: boolean; answer?: string[] }, cmd: Command): Promise<void> {
  const client = new ControlClient(findLab(home(cmd), o.lab));
  const r = await client.transcript(node, commands, { user: o.user, yes: o.yes, answers: o.answer ?? [] });
  process.stdout.write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
  if (r.stoppedAt !== undefined) {
    throw new CliError(`stopped at the question "${r.stoppedAt.trim()}": answer it with --answer <text> (repeatable, in order) or --yes (defaults, yes to yes/no)`, 3);
  }
  if (r.refused) process.exitCode = 1;
}

/** `key=value` words to a faults object: numbers and booleans as such, sizes stay text for the schema. */
export function parseSettings(words: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const m = /^([a-zA-Z][\w-]*)=(.*)$/.exec(w);
    if (!m) throw new CliError(`expected key=value, got "${w}" (e.g. drop-every-n=5 stall-after-bytes=2MB refuse-all=true)`, 2);
    const v = m[2]!;
    out[m[1]!] = v === 'true' ? true : v === 'false' ? false : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v.includes(',') ? v.split(',') : v;
  }
  return out;
}

async function fault(node: string, settings: string[], o: { lab?: string; clear?: boolean }, cmd: Command): Promise<void> {
  const client = new ControlClient(findLab(home(cmd), o.lab));
  if (!o.clear && settings.length === 0) throw new CliError('give settings (key=value …) or --clear', 2);
  const faults = o.clear ? {} : parseSettings(settings);
  await client.setFaults(node, faults);
  out(o.clear ? `${node}: faults cleared` : `${node}: ${JSON.stringify(faults)}`);
}

async function clock(action: string | undefined, duration: string | undefined, o: { lab?: string }, cmd: Command): Promise<void> {
  const client = new ControlClient(findLab(home(cmd), o.lab));
  if (action === undefined) return out(await client.now());
  if (action !== 'advance' || !duration) throw new CliError('usage: flashlab clock [advance <duration>]  (e.g. 2h25m, 90s)', 2);
  const { parseDuration } = await import('../scenario/schema.ts');
  let ms: number;
  try {
    ms = parseDuration(duration);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  out(`lab clock now ${await client.advanceClock(ms)}`);
}

async function logs(node: string, o: { lab?: string; json?: boolean }, cmd: Command): Promise<void> {
  const entries = await new ControlClient(findLab(home(cmd), o.lab)).logs(node);
  if (o.json) return out(JSON.stringify(entries, null, 2));
  for (const e of entries) out(typeof e === 'string' ? e : Object.entries(e as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' '));
}

async function consoleCmd(node: string, o: { lab?: string; user?: string; password?: string }, cmd: Command): Promise<void> {
  const client = new ControlClient(findLab(home(cmd), o.lab));
  const n = (await client.nodes()).find((x) => x.name === node);
  if (!n) throw new CliError(`no node "${node}" in lab ${client.info.lab}`);
  if (!n.ports.ssh) throw new CliError(`node "${node}" has no console (it is a ${n.kind} node)`);
  const login = o.user ? { user: o.user, password: o.password ?? '' } : await client.login(node);
  const { default: ssh2 } = await import('ssh2');
  const conn = new ssh2.Client();
  const stdin = process.stdin;
  const tty = stdin.isTTY && process.stdout.isTTY;
  await new Promise<void>((done, fail) => {
    conn.once('error', (e) => fail(new CliError(`console to ${node}: ${e.message}`)));
    conn.once('ready', () => {
      const window = { term: process.env.TERM ?? 'xterm', rows: process.stdout.rows ?? 24, cols: process.stdout.columns ?? 80 };
      conn.shell(tty ? window : false, (err, stream) => {
        if (err) return fail(new CliError(`console to ${node}: ${err.message}`));
        const onResize = () => stream.setWindow(process.stdout.rows ?? 24, process.stdout.columns ?? 80, 0, 0);
        if (tty) {
          stdin.setRawMode(true);
          process.stdout.on('resize', onResize);
        }
        stdin.pipe(stream);
        stream.pipe(process.stdout);
        stream.stderr.pipe(process.stderr);
        stream.once('close', () => {
          if (tty) {
            stdin.setRawMode(false);
            process.stdout.off('resize', onResize);
          }
          stdin.unpipe(stream);
          stdin.pause();
          conn.end();
          done();
        });
      });
    });
    conn.connect({
      host: n.address,
      port: n.ports.ssh,
      username: login.user,
      password: login.password,
      tryKeyboard: true,
      // The lab's host key is made per lab: nothing to pin it to.
      hostVerifier: () => true,
      readyTimeout: 10_000,
    });
    conn.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => login.password)));
  });
}

// ---- ca / mail ----------------------------------------------------------------------------

/** The running lab's state folder, else the one `up` would use for this topology. */
async function stateFor(topologyArg: string | undefined, o: { lab?: string }, cmd: Command): Promise<string> {
  if (!topologyArg) {
    try {
      return findLab(home(cmd), o.lab).stateDir;
    } catch {
      // no lab running: the default topology's state folder
    }
  }
  const { DEFAULT_TOPOLOGY, loadTopology } = await import('../topology/load.ts');
  const topo = loadTopology(topologyArg ?? DEFAULT_TOPOLOGY);
  return labStateDir(topo.name, { home: home(cmd) });
}

async function ca(topologyArg: string | undefined, o: { lab?: string; pem?: boolean }, cmd: Command): Promise<void> {
  const { LabCa, fingerprints } = await import('../ca/LabCa.ts');
  const lab = LabCa.open(join(await stateFor(topologyArg, o, cmd), 'ca'), new Date());
  const pem = lab.root.certPem.trim();
  if (o.pem) return out(pem);
  const f = fingerprints(pem);
  out(`${pem}\n\n  Fingerprint MD5: ${f.md5}\n Fingerprint SHA1: ${f.sha1}\n\nPaste the certificate after "crypto pki authenticate <trustpoint>" (end with a blank line or "quit").`);
}

async function mail(id: string | undefined, o: { lab?: string; json?: boolean }, cmd: Command): Promise<void> {
  const nodes = await new ControlClient(findLab(home(cmd), o.lab)).nodes();
  const smtp = nodes.find((n) => n.kind === 'smtp' && n.ports.api);
  if (!smtp) throw new CliError('this lab has no running smtp node');
  const base = `http://${smtp.address}:${smtp.ports.api}/api/v1`;
  const res = await fetch(id ? `${base}/message/${encodeURIComponent(id)}` : `${base}/messages?limit=500`);
  if (!res.ok) throw new CliError(`${smtp.name}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as Record<string, unknown>;
  if (o.json) return out(JSON.stringify(body, null, 2));
  const addr = (a: { Name: string; Address: string }) => (a.Name ? `${a.Name} <${a.Address}>` : a.Address);
  if (id) {
    const m = body as { From: { Name: string; Address: string }; To: { Name: string; Address: string }[]; Subject: string; Date: string; Text: string };
    return out(`From: ${addr(m.From)}\nTo: ${m.To.map(addr).join(', ')}\nDate: ${m.Date}\nSubject: ${m.Subject}\n\n${m.Text}`);
  }
  const list = body as { total: number; messages: { ID: string; Created: string; From: { Name: string; Address: string }; To: { Name: string; Address: string }[]; Subject: string }[] };
  if (!list.messages.length) return out(`${smtp.name}: no messages`);
  for (const m of list.messages) out(`${m.ID}  ${m.Created}  ${addr(m.From)} -> ${m.To.map(addr).join(', ')}  ${m.Subject}`);
  out(`${list.total} message${list.total === 1 ? '' : 's'}`);
}

// ---- schema / image / run -----------------------------------------------------------------

async function schema(which: string | undefined): Promise<void> {
  const kind = which ?? 'topology';
  if (kind === 'topology') {
    const { topologyJsonSchema } = await import('../topology/jsonschema.ts');
    return out(JSON.stringify(topologyJsonSchema(), null, 2));
  }
  if (kind === 'scenario') {
    const path = resolve(here, '../scenario/schema.ts');
    if (!existsSync(path)) throw new CliError('scenario schema not available: lab/scenario/schema.ts is missing');
    const mod = (await import(pathToFileURL(path).href)) as { scenarioJsonSchema?: () => unknown };
    if (typeof mod.scenarioJsonSchema !== 'function') throw new CliError('lab/scenario/schema.ts exports no scenarioJsonSchema()');
    return out(JSON.stringify(mod.scenarioJsonSchema(), null, 2));
  }
  throw new CliError(`unknown schema "${kind}"; use topology or scenario`, 2);
}

async function imageMake(file: string, o: ImageMakeOptions & { lab?: string; state?: string }, cmd: Command): Promise<void> {
  const { makeImageCommand } = await import('../signing/imageCommands.ts');
  const stateDir = labStateDir(o.lab ?? 'default', { home: home(cmd), stateDir: o.state });
  try {
    out(await makeImageCommand(file, o, stateDir));
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
}

async function imageExport(file: string, dir: string): Promise<void> {
  const { exportImageCommand } = await import('../signing/imageCommands.ts');
  try {
    out(await exportImageCommand(file, dir));
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
}

async function run(paths: string[], options: Record<string, unknown>, cmd: Command): Promise<void> {
  const path = resolve(here, '../scenario/cli.ts');
  if (!existsSync(path)) throw new CliError('the scenario runner is not available yet (lab/scenario/cli.ts is missing)');
  const mod = (await import(pathToFileURL(path).href)) as { runCommand?: (paths: string[], options: Record<string, unknown>) => Promise<number | void> };
  if (typeof mod.runCommand !== 'function') throw new CliError('lab/scenario/cli.ts exports no runCommand(paths, options)');
  // Commander parsed the options (so --help lists them); the runner takes `stateDir`.
  const { state, ...rest } = options;
  const code = await mod.runCommand(paths, { ...rest, ...(state !== undefined ? { stateDir: state } : {}), home: home(cmd), args: cmd.args });
  if (typeof code === 'number') process.exitCode = code;
}

async function compose(topologyArg: string | undefined, o: { output?: string; subnet?: string; image?: string; prepareState?: string }): Promise<void> {
  const { DEFAULT_TOPOLOGY, loadTopology } = await import('../topology/load.ts');
  const { composeFile, prepareComposeState } = await import('../runtime/container/compose.ts');
  const topo = loadTopology(resolve(topologyArg ?? DEFAULT_TOPOLOGY));
  if (o.prepareState) {
    if (!o.subnet) throw new CliError('--prepare-state needs --subnet (the lab network of the compose file)', 2);
    const l = await prepareComposeState(topo, resolve(o.prepareState), o.subnet, (line) => out(line));
    return out(`prepared ${o.prepareState} for ${l.nodes.length} nodes on ${l.network.subnet}`);
  }
  const target = o.output && o.output !== '-' ? resolve(o.output) : undefined;
  let text: string;
  try {
    text = composeFile(topo, { outDir: target ? dirname(target) : process.cwd(), subnet: o.subnet, image: o.image });
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  if (!target) return void process.stdout.write(text);
  // Written beside and renamed: an interrupted write never leaves half a compose file.
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, target);
  out(`wrote ${target}: ${topo.nodes.length} services (${topo.nodes.map((n) => n.name).join(', ')})`);
}

/** After a lab process exited without `down`: its container runtime's engine objects go. */
async function containerCleanup(lab: string, stateDir: string): Promise<void> {
  const { removeContainerLeftovers } = await import('../runtime/container/ContainerRuntime.ts');
  for (const line of await removeContainerLeftovers(resolve(stateDir), undefined, lab)) out(`lab ${lab}: ${line}`);
}

// ---- node agent ---------------------------------------------------------------------------

async function nodeAgent(o: { config: string }): Promise<void> {
  const { runAgent } = await import('../runtime/agent.ts');
  await runAgent(resolve(o.config));
}

// ---- program ------------------------------------------------------------------------------

/** Platform ids for help texts: the profile files' names, read without loading the profiles. */
function platformNames(): string[] {
  return readdirSync(resolve(here, '../../router/platforms'))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => f.replace(/\.yml$/, ''))
    .sort();
}


export function program(): Command {
  const p = new Command('flashlab')
    .description('An emulated lab of virtual Cisco IOS XE routers with FTP, TFTP and DNS servers, on loopback.')
    .version(flashlabVersion(), '-V, --version', 'print the flashlab version')
    // Program options only before the command: `image make --version 16.12.4` is the image's.
    .enablePositionalOptions()
    .option('--home <dir>', 'where lab state lives (default $FLASHLAB_HOME or ./.flashlab)')
    .showHelpAfterError();

  p.command('up')
    .description('start a lab in the background; prints the nodes and "ready" once every node is healthy')
    .argument('[topology]', 'topology file (default: the bundled default lab)')
    .option('--foreground', 'keep the lab in this terminal (Ctrl-C stops it)')
    .option('--reset', 'wipe the lab state first (fresh flash and server roots)')
    .option('--high-ports', 'skip the well-known ports 21/22/23/53/69 even when they could be bound')
    .option('--subnet <cidr>', 'move every address of the topology into this loopback subnet (e.g. 127.88.0.0/24)')
    .option('--state <dir>', 'state folder (default <home>/<lab name>)')
    .addOption(new Option('--runtime <runtime>', 'what runs the nodes: embedded (this process, loopback), netns (a process and a network namespace per node; root), container').choices(['embedded', 'netns', 'container']).default('embedded'))
    .option('--image <ref>', 'container: the image each node runs (default $FLASHLAB_IMAGE, else localhost/flashlab:latest)')
    .addOption(new Option('--child').hideHelp())
    .action(up);

  p.command('node')
    .description('the node agent: runs one router or server of a lab and serves the node protocol (started by the netns and container runtimes)')
    .requiredOption('--config <file>', "the node's configuration, written by the lab")
    .action(nodeAgent);

  p.command('container-cleanup', { hidden: true })
    .description("remove a container lab's engine objects (started by a lab process as it exits without down)")
    .argument('<lab>')
    .argument('<state>')
    .action(containerCleanup);

  p.command('down')
    .description('stop the running lab')
    .option('--lab <name>', 'which lab, when several run')
    .option('--force', 'end the lab process even if its control file is damaged or its API does not answer')
    .action(down);

  p.command('doctor')
    .description("check a stopped lab's state (flash metadata, store, control files); --repair fixes what can be fixed")
    .option('--lab <name>', 'which lab (default: the default lab)')
    .option('--state <dir>', 'state folder (default <home>/<lab name>)')
    .option('--repair', 'remove temporaries and orphans, drop files whose content is lost, set damaged metadata aside')
    .action(doctor);

  p.command('inspect')
    .description('list the nodes: name, kind, state, address, ports')
    .option('--json', 'machine-readable output')
    .option('--lab <name>', 'which lab, when several run')
    .action(inspect);

  p.command('exec')
    .description("run IOS commands on a router as a terminal transcript, one argument per line: flashlab exec r1 'show version'")
    .argument('<node>')
    .argument('<command...>')
    .option('--user <name>', 'log in as this topology user (default: the first)')
    .option('--answer <text>', 'answer the next question with this text (repeat for several, in order)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--yes', 'answer any other question as Enter would: confirm, the default, yes')
    .option('--lab <name>', 'which lab, when several run')
    .addHelpText('after', '\nExit status: 0 all lines accepted, 1 a line was refused (% error), 3 stopped at an unanswered question.')
    .action(exec);

  p.command('console')
    .description("an interactive session on a router's vty (SSH with a pty)")
    .argument('<node>')
    .option('--user <name>', 'login (default: the topology user)')
    .option('--password <password>')
    .option('--lab <name>', 'which lab, when several run')
    .action(consoleCmd);

  p.command('fault')
    .description('switch server faults: flashlab fault tftp drop-every-n=5 | stall-after-bytes=2MB | refuse-all=true; --clear')
    .argument('<node>')
    .argument('[settings...]', 'key=value, as a topology writes faults')
    .option('--clear', 'switch every fault off')
    .option('--lab <name>', 'which lab, when several run')
    .action(fault);

  p.command('clock')
    .description('show the lab clock, or move it: flashlab clock advance 2h25m (scheduled reloads fire on the way)')
    .argument('[action]')
    .argument('[duration]')
    .option('--lab <name>', 'which lab, when several run')
    .action(clock);

  p.command('logs')
    .description("a server's log (logins with the password sent, transfers, queries), or a router's console and logging buffer")
    .argument('<node>')
    .option('--json', 'machine-readable output')
    .option('--lab <name>', 'which lab, when several run')
    .action(logs);

  p.command('ca')
    .description("print the lab CA's root certificate (for crypto pki authenticate) and its fingerprints")
    .argument('[topology]', 'topology file (default: the running lab, else the default lab)')
    .option('--pem', 'the certificate only')
    .option('--lab <name>', 'which lab, when several run')
    .action(ca);

  p.command('mail')
    .description("messages in the lab's SMTP sink (newest first), or one message")
    .argument('[id]', 'a message ID, or latest')
    .option('--json', 'Mailpit API JSON')
    .option('--lab <name>', 'which lab, when several run')
    .action(mail);

  p.command('compose')
    .description('write a compose file with one service per node (container runtime layout); - or no --output: stdout')
    .argument('[topology]', 'topology file (default: the bundled default lab)')
    .option('-o, --output <file>', 'where to write it (e.g. docker-compose.yml)')
    .option('--subnet <cidr>', "the lab network's subnet on the container engine (default 10.214.0.0 with the topology's prefix)")
    .option('--image <name>', 'the flashlab image', 'localhost/flashlab:latest')
    .addOption(new Option('--prepare-state <dir>', "the compose file's prepare service: shared state and agent configurations").hideHelp())
    .action(compose);

  p.command('schema').description('print a JSON Schema: topology (default) or scenario').argument('[which]').action(schema);

  const image = p.command('image').description('stand-in router images');
  image
    .command('make')
    .description('create a stand-in image file')
    .argument('<file>')
    .requiredOption('--platform <platform>', `router platform (${platformNames().join(', ')}) or an image tag`)
    .requiredOption('--version <version>', 'software version, e.g. 16.12.4')
    .option('--feature-set <set>', 'feature set', 'universalk9')
    .option('--size <size>', 'file size, e.g. 100M', '16M')
    .addOption(new Option('--kind <kind>', 'image kind').choices(['system', 'rommon', 'revocation']).default('system'))
    .option('--sign <key>', 'signing key: production:A, production:B, special:A, rollover or none (default: rollover for a revocation image, else production:A)')
    .option('--tamper', 'flip one byte after signing: the image no longer verifies')
    .option('--bundle <keys...>', 'keys the image brings for key storage (production:B in a revocation image, special:B)')
    .option('--lab <name>', "whose signing keys (the lab's state folder)", 'default')
    .option('--state <dir>', 'the lab state folder holding the signing keys')
    .action(imageMake);
  image
    .command('export')
    .description('write signed.bin, sig.bin and signer.pem for an independent check with openssl')
    .argument('<file>')
    .argument('<dir>')
    .action(imageExport);

  p.command('run')
    .description('run scenarios (default: the bundled ones); exit 0 all passed, 1 one failed, 2 a file is invalid')
    .argument('[paths...]', 'scenario files or folders (default: scenarios/)')
    .option('--reports <dir>', 'where junit.xml and report.md go', 'reports')
    .option('--topology <file>', 'topology for scenarios that name none (default: the bundled one)')
    .option('--subnet <cidr>', 'run every lab in this loopback subnet')
    .option('--state <dir>', 'parent folder of the per-scenario lab state (default: the temp folder)')
    .option('--keep-state', "keep each scenario's lab state after the run")
    .option('--runtime <runtime>', 'what runs each lab: embedded (default), netns (root), container')
    .option('--image <ref>', 'container: the image each node runs (default $FLASHLAB_IMAGE, else localhost/flashlab:latest)')
    .option('--check', 'only validate the files')
    .allowUnknownOption()
    .action(run);

  return p;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    // A topology error is already file:line: key; anything else gets the command's name.
    const msg = (e as Error).name === 'TopologyError' ? (e as Error).message : `flashlab: ${(e as Error).message}`;
    process.stderr.write(`${msg}\n`);
    process.exitCode = e instanceof CliError ? e.code : 1;
  }
}
