import { strykerConfig } from './base.mjs'

// The TypeScript of packages/redis/src (the Lua scripts have their own check, pnpm mutation:lua).
export default strykerConfig('redis', [
  'packages/redis/test/**/*.test.ts',
  'test/conformance.test.ts',
  'test/fail-policy-redis.test.ts',
  'test/redis-cluster.test.ts',
  'test/mutants/deny-cache-redis.test.ts',
  'test/mutants/redis-store-reply.test.ts',
  'test/mutants/sliding-log-ttl.test.ts',
  'test/mutants/token-bucket-clock-and-bounds.test.ts',
])
