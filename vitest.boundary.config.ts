import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

/**
 * test/wall-clock.test.ts runs the adapter test files with this config: every test starts with
 * the wall clock a few ms before a minute boundary (test/support/near-window-boundary.setup.ts),
 * once for each offset below, since how far a test gets before the boundary decides which
 * assertion a wall-clock window breaks.
 */
const OFFSETS_MS = [2, 8, 15]

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    globalSetup: ['./test/mutants/global-setup-standalone.ts'],
    maxWorkers: 1,
    projects: OFFSETS_MS.map((ms) => ({
      extends: true,
      test: {
        name: `${ms}ms-before-a-minute`,
        setupFiles: ['./test/support/near-window-boundary.setup.ts'],
        env: { TOLLGATE_BEFORE_BOUNDARY_MS: String(ms) },
      },
    })),
  },
})
