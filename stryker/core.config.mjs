import { HTTP_TESTS, strykerConfig } from './base.mjs'

// Core's own tests, the conformance table on both stores, the mutant tests that pin core
// behaviour, the cross-checks of the HTTP helpers, and the adapters' HTTP tests (the pipeline
// and headers of core/http run there). One file at a time is practical:
// `nice -n 19 pnpm mutation core -- --mutate packages/core/src/fail-policy.ts`.
export default strykerConfig('core', [
  'packages/core/test/**/*.test.ts',
  'test/conformance.test.ts',
  'test/cross-check/*.test.ts',
  'test/mutants/core-*.test.ts',
  'test/mutants/fail-policy-options.test.ts',
  'test/mutants/limiter-fail-policy.test.ts',
  'test/mutants/deny-cache-redis.test.ts',
  'test/mutants/token-bucket-clock-and-bounds.test.ts',
  ...HTTP_TESTS,
])
