import { afterAll, beforeAll, inject } from 'vitest'

/**
 * Mutation runs only (vitest.mutation.config.ts). StrykerJS's vitest runner counts a mutant hit
 * while no test is running (a `beforeAll`/`afterAll`, where most test files create and close their
 * stores and servers) as "static": such a mutant then reruns every test file with a full module
 * reload. Nearly every mutant of an options parser or a constructor is hit that way, so each one
 * cost the whole suite (20-30 s) instead of the files that reach it.
 *
 * Here the hits of a file's hooks are given to every test of that file instead, so such a mutant
 * runs that file's tests (all of them: nothing a hook sets up goes unobserved). Hits at import
 * time (module top level) stay static. Stryker sets `currentTestId` in its own beforeEach and
 * clears it in its afterEach; a setter on its namespace object turns "cleared" into this file's
 * hook id, and the file's last afterAll merges that id's hits into the tests the file ran.
 */
const ns = (globalThis as Record<string, unknown>).__stryker__ as
  | {
      currentTestId?: string
      mutantCoverage?: {
        static: Record<string, number>
        perTest: Record<string, Record<string, number>>
      }
    }
  | undefined

// `mode` is provided by Stryker's runner: 'dry-run' is the run that measures coverage.
if (ns !== undefined && (inject as (key: string) => unknown)('mode') === 'dry-run') {
  const HOOKS = `${import.meta.url}#hooks`
  const tests = new Set<string>()
  let current: string | undefined
  let inFile = false
  Object.defineProperty(ns, 'currentTestId', {
    configurable: true,
    get: () => current ?? (inFile ? HOOKS : undefined),
    set: (id: string | undefined) => {
      current = id
      if (id !== undefined) tests.add(id)
    },
  })
  // The first beforeAll of the file (setup files' hooks come before the test file's own).
  beforeAll(() => {
    inFile = true
  })
  // With sequence.hooks 'stack' (vitest's default) this runs after the test file's own afterAll
  // hooks and before Stryker's, which hands ns.mutantCoverage to the report.
  afterAll(() => {
    inFile = false
    const perTest = ns.mutantCoverage?.perTest
    const hooks = perTest?.[HOOKS]
    if (perTest === undefined || hooks === undefined) return
    delete perTest[HOOKS]
    for (const id of tests) {
      const hits = perTest[id] ?? {}
      perTest[id] = hits
      for (const [mutant, n] of Object.entries(hooks)) hits[mutant] = (hits[mutant] ?? 0) + n
    }
    // A file whose tests all failed to start keeps the hits static (every test reruns them).
    if (tests.size === 0) {
      const statics = ns.mutantCoverage?.static ?? {}
      for (const [mutant, n] of Object.entries(hooks)) statics[mutant] = (statics[mutant] ?? 0) + n
    }
  })
}
