import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

// `pnpm soak` and `pnpm failover` (test/soak/): long runs against their own redis-servers,
// outside `pnpm test`. One file at a time, each its own servers; GC exposed so samples are stable.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/soak/*.soak.ts'],
    globalSetup: [],
    maxWorkers: 1,
    fileParallelism: false,
    execArgv: ['--expose-gc'],
    testTimeout: 30 * 60_000,
  },
})
