import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

// Mutation runs (test/mutants/run-mutants.mjs, Stryker): the root config with the servers of
// test/mutants/global-setup-standalone.ts, one worker (2 cores), and without the tests where a
// mutant cannot be seen.
// (Spread, not mergeConfig: mergeConfig would append to globalSetup instead of replacing it.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    globalSetup: ['./test/mutants/global-setup-standalone.ts'],
    maxWorkers: 1,
    exclude: [
      '**/node_modules/**',
      '.stryker-tmp/**',
      // Tests whose code under test runs in another process or a built tarball, where no mutant
      // is visible, and the check that reruns other test files.
      'test/redis-concurrency.test.ts',
      'test/pack-smoke.test.ts',
      'test/examples.test.ts',
      'test/wall-clock.test.ts',
    ],
  },
})
