/**
 * The node agent as plain JavaScript, so each agent process loads it instead of compiling
 * the TypeScript sources through tsx: measured on this project's 2-core machine, loading the
 * agent took 0.72 s of CPU bundled against 2.8 s through tsx, and a lab starts one agent per
 * node. Split into chunks: the agent imports only its node's kind (`lab/kinds/modules.ts`),
 * and each kind's code is a chunk of its own, so a router agent never loads the servers nor
 * a server agent the router. Built with esbuild (tsx's own compiler) once per lab process,
 * written under `<package>/.flashlab/agent/<content hash>/` (a temp folder, then rename, so
 * labs starting side by side share one); packages stay outside the bundle and resolve from
 * the package's node_modules. Each module's `import.meta.url` is its
 * source file's, as under tsx (platform profiles are found beside their module). The TFTP
 * server's session worker is bundled the same way into a file of its own, which the agent
 * bundle names (an esbuild `define` of FLASHLAB_TFTP_WORKER_BUNDLE).
 * Anything going wrong here means agents start through `bin/flashlab.mjs node` instead.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where esbuild places its output files by name (nothing is written there). */
const OUT = join(packageRoot, '.flashlab', 'agent', 'out');
let built: Promise<string | undefined> | undefined;

/** The bundle's path, or undefined when it cannot be built here (then agents run through tsx). */
export function agentBundle(log?: (line: string) => void): Promise<string | undefined> {
  built ??= build().catch((e: Error) => {
    log?.(`node agent bundle not built (${e.message.split('\n')[0]}); agents start through tsx`);
    return undefined;
  });
  return built;
}

async function build(): Promise<string> {
  // The TFTP server's session worker is a file of its own (a worker thread loads a file);
  // the agent bundle names it, so its TFTP server starts the bundled worker, not tsx.
  const worker = await buildWorker();
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    ...esbuildOptions({ FLASHLAB_TFTP_WORKER_BUNDLE: JSON.stringify(worker) }),
    entryPoints: { 'flashlab-agent': join(packageRoot, 'lab/runtime/agentMain.ts') },
    // Each kind's code (and what only it uses) becomes a chunk the agent imports on demand.
    splitting: true,
    outdir: OUT,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
  });
  const files = result.outputFiles.map((f) => ({ name: relative(OUT, f.path), contents: f.contents })).sort((a, b) => a.name.localeCompare(b.name));
  const hash = createHash('sha256');
  for (const f of files) hash.update(f.name).update('\0').update(f.contents);
  const dir = join(packageRoot, '.flashlab', 'agent', hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    // Written whole beside it, then renamed: a lab starting alongside sees all of it or none.
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const f of files) writeFileSync(join(tmp, f.name), f.contents);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw e;
    }
  }
  return join(dir, 'flashlab-agent.mjs');
}

/** The TFTP session worker as one file, named by its content hash; returns its path. */
async function buildWorker(): Promise<string> {
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({ ...esbuildOptions({}), entryPoints: [join(packageRoot, 'servers/tftp/sessionWorker.ts')] });
  const code = result.outputFiles[0]!.contents;
  const dir = join(packageRoot, '.flashlab', 'agent');
  const file = join(dir, `flashlab-tftp-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return file;
}

/** What both builds share: Node 20 ESM, packages left to node_modules, sources' own URLs. */
function esbuildOptions(define: Record<string, string>) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
    define,
    plugins: [
      {
        name: 'source-import-meta-url',
        setup(b: import('esbuild').PluginBuild) {
          b.onLoad({ filter: /\.ts$/ }, (args) => {
            const text = readFileSync(args.path, 'utf8');
            return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' as const };
          });
        },
      },
    ],
  } satisfies import('esbuild').BuildOptions;
}
