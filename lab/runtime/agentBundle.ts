/**
 * The node agent as one JavaScript file, so each agent process loads plain JavaScript
 * instead of compiling the TypeScript sources through tsx: measured on this project's
 * 2-core machine, loading the agent took 0.72 s of CPU bundled against 2.8 s through tsx,
 * and a lab starts one agent per node. Built with esbuild (tsx's own compiler) once per
 * lab process, written under `<package>/.flashlab/agent/` by content hash (temp file, then
 * rename, so labs starting side by side share one file); packages stay outside the bundle
 * and resolve from the package's node_modules. Each module's `import.meta.url` is its
 * source file's, as under tsx (platform profiles are found beside their module). The TFTP
 * server's session worker is bundled the same way into a file of its own, which the agent
 * bundle names (an esbuild `define` of FLASHLAB_TFTP_WORKER_BUNDLE).
 * Anything going wrong here means agents start through `bin/flashlab.mjs node` instead.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
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
  const worker = await bundle('servers/tftp/sessionWorker.ts', 'flashlab-tftp-worker', {});
  return bundle('lab/runtime/agentMain.ts', 'flashlab-agent', { FLASHLAB_TFTP_WORKER_BUNDLE: JSON.stringify(worker) });
}

/** Bundles one entry point and writes it under a name by content hash; returns its path. */
async function bundle(entry: string, name: string, define: Record<string, string>): Promise<string> {
  const { build: esbuild } = await import('esbuild');
  const result = await esbuild({
    entryPoints: [join(packageRoot, entry)],
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
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, (args) => {
            const text = readFileSync(args.path, 'utf8');
            return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
          });
        },
      },
    ],
  });
  const code = result.outputFiles[0]!.contents;
  const dir = join(packageRoot, '.flashlab', 'agent');
  const file = join(dir, `${name}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return file;
}
