/** Runs the benchmarks named on the command line (default: all), one after another. */
const suites: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  lab: () => import('./lab.bench.ts'),
  tftp: () => import('./tftp.bench.ts'),
  ftp: () => import('./ftp.bench.ts'),
  signed: () => import('./signed.bench.ts'),
  runtimes: () => import('./runtimes.bench.ts'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(suites);
for (const name of names) {
  const load = suites[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const mod = await load();
  await mod.run();
}
process.exit(0);
