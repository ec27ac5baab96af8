/**
 * Shared StrykerJS configuration (one config per package, so each gets its own score and report).
 * Tests run through vitest.mutation.config.ts: the root suite on one standalone redis-server,
 * without the Cluster, pack and multi-process tests (a mutant in a child process or a built
 * tarball is invisible to Stryker's per-test coverage). Run with `pnpm mutation [package...]`.
 */
export function strykerConfig(pkg, extra = {}) {
  return {
    packageManager: 'pnpm',
    testRunner: 'vitest',
    plugins: ['@stryker-mutator/vitest-runner'],
    vitest: { configFile: 'vitest.mutation.config.ts' },
    mutate: [`packages/${pkg}/src/**/*.ts`, `!packages/${pkg}/src/**/*.d.ts`],
    coverageAnalysis: 'perTest',
    // 2 cores shared with redis-server: more sandboxes only fight over them.
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
