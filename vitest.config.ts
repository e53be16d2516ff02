import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'router/**/*.test.ts', 'servers/**/*.test.ts', 'lab/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests bind real sockets on loopback; files run in parallel workers but each picks its own addresses.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
