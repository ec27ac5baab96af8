import { relative } from 'node:path'
import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'
import base from './vitest.config.js'

/**
 * Failed files first (the file that killed the last mutant likely kills the next), then the
 * shortest first: a mutant run stops at its first failing test (Stryker's bail), so the cheap
 * files should get the first chance to kill it. Vitest's default runs the longest first.
 */
class FastFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache
    const state = (f: TestSpecification) =>
      cache.getFileTestResults(`${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`)
    return [...files].sort((a, b) => {
      const sa = state(a)
      const sb = state(b)
      if (Boolean(sa?.failed) !== Boolean(sb?.failed)) return sa?.failed ? -1 : 1
      return (sa?.duration ?? 0) - (sb?.duration ?? 0)
    })
  }
}

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
    // TOLLGATE_MUTATION_TEST_TIMEOUT (ms): the instrumented code of memory-store.ts's hot path
    // (hashKey, touch, the key index) makes "a million admits" run past the usual 20 s.
    testTimeout: Number(process.env.TOLLGATE_MUTATION_TEST_TIMEOUT ?? base.test?.testTimeout),
    // Under Stryker (which sets STRYKER_MUTATOR_WORKER in its test runner processes) the test
    // files of one mutant share a worker and its module cache: each file otherwise imports
    // express, fastify and both Redis clients anew, 1-2 s of the few seconds a mutant costs.
    // Every test file passes this way too (the dry run checks it before each run).
    isolate: process.env.STRYKER_MUTATOR_WORKER === undefined,
    sequence: { ...base.test?.sequence, sequencer: FastFirstSequencer },
    // Stryker only (it is a no-op elsewhere): hook-time coverage goes to the file's tests.
    setupFiles: [...[base.test?.setupFiles ?? []].flat(), './stryker/hook-coverage.setup.ts'],
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
