import { strykerConfig } from './base.mjs'

// The TypeScript of packages/redis/src (the Lua scripts have their own check, pnpm mutation:lua).
// Not test/fail-policy-redis.test.ts: it kills and freezes redis-server, and under a loaded machine
// its restart step failed the initial test run (it pins core's fail policy, not this package);
// nor test/mutants/deny-cache-redis.test.ts (core's deny cache; its command count failed an
// initial run here). On a loaded machine the 20 s tests of redis-store-own-server.test.ts can
// still time out in the initial run: run it on a quiet one.
export default strykerConfig('redis', [
  'packages/redis/test/**/*.test.ts',
  'test/conformance.test.ts',
  'test/redis-cluster.test.ts',
  'test/mutants/redis-store-reply.test.ts',
  'test/mutants/sliding-log-ttl.test.ts',
  'test/mutants/token-bucket-clock-and-bounds.test.ts',
])
