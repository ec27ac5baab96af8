import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

// Mutation runs (test/mutants/run-mutants.mjs, Stryker): the root config with one standalone
// redis-server and no Cluster, and one worker, so a run never fights other work for 2 cores.
// (Spread, not mergeConfig: mergeConfig would append to globalSetup instead of replacing it.)
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    globalSetup: ['./test/mutants/global-setup-standalone.ts'],
    maxWorkers: 1,
    exclude: ['**/node_modules/**', 'test/redis-cluster.test.ts', 'test/session-cluster.test.ts'],
  },
})
