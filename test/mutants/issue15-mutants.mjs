/**
 * The eleven mutants of issue 15 that survived the suite, as regexes over the source, each with
 * the test file written to kill it. `pnpm mutation:issue15` applies them one at a time and fails
 * if one survives (or no longer applies because the code moved: then update its pattern here).
 */

const DENY = 'test/mutants/deny-cache-redis.test.ts'
const FAIL = 'test/mutants/limiter-fail-policy.test.ts'
const TB = 'test/mutants/token-bucket-clock-and-bounds.test.ts'

/** @type {import('./run-mutants.mjs').Mutant[]} */
export const issue15Mutants = [
  {
    id: 'X1 breaker keeps counting failures across a success',
    file: 'packages/core/src/fail-policy.ts',
    find: /(success\(\): void \{\s*)this\.consecutive = 0/,
    replace: '$1',
    tests: [FAIL],
  },
  {
    id: 'X2 deny cache ignores the cost',
    file: 'packages/core/src/limiter.ts',
    find: /(now < \w+\.until) && \w+\.cost === cost/,
    replace: '$1',
    tests: [DENY],
  },
  {
    id: 'X3a MemoryStore: a clock stepping back drains the token bucket',
    file: 'packages/core/src/memory-store.ts',
    find: /Math\.max\(0, (now - st\[base \+ 2\]!)\)/,
    replace: '($1)',
    tests: [TB],
  },
  {
    id: 'X3b RedisStore: a clock stepping back drains the token bucket',
    file: 'packages/redis/src/scripts/include/token-bucket.lua',
    file_note: 'every refill guard: a negative elapsed time then subtracts units',
    find: /\belapsed > 0\b/g,
    replace: 'elapsed ~= 0',
    tests: [TB],
  },
  {
    id: 'X4 no RangeError for the 2^53 configuration check',
    file: 'packages/core/src/options.ts',
    find: /if \(a \* b > Number\.MAX_SAFE_INTEGER\)/,
    replace: 'if (false)',
    tests: [TB],
  },
  {
    id: 'X5 destroyUser deletes with a plain DEL',
    // The compare of compare-and-delete, skipped: the script deletes whatever is stored now.
    file: 'packages/session/src/scripts/index-compare.session.lua',
    find: /elseif redis\.call\('GET', KEYS\[i\]\) == ARGV\[3 \* i - 3\] then/,
    replace: 'elseif true then',
    tests: ['test/mutants/session-destroy-user-race.test.ts'],
  },
  {
    id: "X6 Fastify limiter runs after the route's own hooks",
    file: 'packages/fastify/src/index.ts',
    find: /hooks\.splice\([^;\n]*, 0, hook\)/,
    replace: 'hooks.push(hook)',
    tests: ['test/mutants/fastify-hook-order.test.ts'],
  },
  {
    id: 'X7 RedisStore hides its clock from the deny cache',
    file: 'packages/redis/src/redis-store.ts',
    find: /this\.clock = clock\b/,
    replace: 'this.clock = undefined',
    tests: [DENY],
  },
  {
    id: 'X8 deny cache unbounded',
    file: 'packages/core/src/limiter.ts',
    find: /if \(denied\.size >= DENY_CACHE_MAX\)/,
    replace: 'if (false)',
    tests: [DENY],
  },
  {
    id: "X9 reset() leaves the 'local' fail-mode state",
    file: 'packages/core/src/limiter.ts',
    find: /this\.localStore\?\.reset\(storeKey\)/,
    replace: 'void 0',
    tests: [FAIL],
  },
  {
    id: 'X10 ERR_TOLLGATE_STORE_REPLY never raised',
    file: 'packages/redis/src/redis-store.ts',
    find: /throw new TollgateError\(\s*'ERR_TOLLGATE_STORE_REPLY',[^;]*?\)\n/,
    replace: 'return { allowed: true, limit, remaining: limit, resetMs: 0, retryAfterMs: 0 }\n',
    tests: ['test/mutants/redis-store-reply.test.ts'],
  },
  {
    id: "X11 a sliding-log denial re-extends the key's TTL",
    file: 'packages/redis/src/scripts/sliding-log.lua',
    // Before the script's last `return { 0, ...` (the denial's reply).
    find: /\n(return \{ 0,)(?![\s\S]*\nreturn \{ 0,)/,
    replace: "\nredis.call('PEXPIRE', KEYS[1], ARGV[2])\n$1",
    tests: ['test/mutants/sliding-log-ttl.test.ts'],
  },
]
