/**
 * Shared StrykerJS configuration (one config per package, so each gets its own score, report and
 * incremental file). Tests run through vitest.mutation.config.ts (one standalone redis-server and
 * the Cluster, without the multi-process and tarball tests, where a mutant is invisible), limited
 * to `testFiles`: the package's own tests and the root tests that exercise it, so the dry run and
 * each mutant run only those. Run with `nice -n 19 pnpm mutation [package...]`.
 *
 * Incremental: the result of every mutant is kept in stryker/incremental/<package>.json
 * (committed), so a rerun tests only mutants whose code or covering tests changed since.
 */
export function strykerConfig(pkg, testFiles, extra = {}) {
  return {
    packageManager: 'pnpm',
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.mutation.config.ts' },
    mutate: [`packages/${pkg}/src/**/*.ts`, `!packages/${pkg}/src/**/*.d.ts`],
    testFiles,
    coverageAnalysis: 'perTest',
    incremental: true,
    incrementalFile: `stryker/incremental/${pkg}.json`,
    // 2 cores shared with redis-server and other work: one test runner.
    concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
    timeoutMS: 20_000,
    reporters: ['clear-text', 'progress', 'json', 'html'],
    jsonReporter: { fileName: `reports/mutation/${pkg}.json` },
    htmlReporter: { fileName: `reports/mutation/${pkg}.html` },
    tempDirName: `.stryker-tmp/${pkg}`,
    cleanTempDir: true,
    ignorePatterns: ['reports', '.stryker-tmp', 'bench/results', 'packages/*/dist'],
    // The goal of issue 15: 85% killed per package.
    thresholds: { high: 90, low: 85, break: null },
    ...extra,
  }
}

/** Root tests of the HTTP adapters (both adapters run in each). */
export const HTTP_TESTS = [
  'test/http-e2e.test.ts',
  'test/http-fail-policy.test.ts',
  'test/http-features-redis.test.ts',
  'test/proxy-trust.test.ts',
]
