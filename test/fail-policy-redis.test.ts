/**
 * The fail policy against a real redis-server that is frozen (SIGSTOP), killed and restarted on
 * the same port: every decision comes back within timeoutMs (+ scheduling slack), the breaker
 * opens and closes again, limiting resumes after recovery, and nothing rejects unhandled.
 */
import { createLimiter, type Decision, type Limiter, slidingLog } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connectClient, type TestClient } from './support/clients.js'
import { lateRejectingStore, useFaultRedis } from './support/fault-redis.js'

const TIMEOUT_MS = 100
const COOLDOWN_MS = 200
// Event-loop and CI scheduling slack on top of timeoutMs; far below "hung".
const SLACK_MS = 150

const fault = useFaultRedis()
/** The stores run on `storeClient` (ioredis or node-redis). */
let storeClient: TestClient

beforeEach(async () => {
  storeClient = await connectClient(fault.server.url)
})

afterEach(() => {
  storeClient.disconnect()
})

async function timed(limiter: Limiter, key: string): Promise<{ d: Decision; ms: number }> {
  const started = performance.now()
  const d = await limiter.limit(key)
  return { d, ms: performance.now() - started }
}

async function untilHealthy(limiter: Limiter, key: string): Promise<Decision> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const d = await limiter.limit(key)
    if (d.degraded === undefined) return d
    if (Date.now() > deadline) throw new Error('limiter never recovered')
    await new Promise((r) => setTimeout(r, 25))
  }
}

function makeLimiter(mode: 'open' | 'local' | 'closed', errors: unknown[]) {
  return createLimiter({
    // A sliding log, not an epoch-aligned window: no window boundary can fall inside a test.
    algorithm: slidingLog({ limit: 3, windowMs: 60_000 }),
    store: new RedisStore({ client: storeClient.client, prefix: `fail-${mode}:` }),
    failure: { mode, timeoutMs: TIMEOUT_MS, breaker: { failures: 3, cooldownMs: COOLDOWN_MS } },
    onStoreError: (error) => errors.push(error),
    denyCache: false,
  })
}

describe('fail policy against a real Redis', () => {
  it('a frozen Redis: bounded latency, breaker opens, closes after thaw, limiting resumes', async () => {
    const errors: unknown[] = []
    const limiter = makeLimiter('open', errors)
    // Warm up (script load, connection) so the failures counted below are the freeze's only.
    expect((await untilHealthy(limiter, 'user')).degraded).toBeUndefined()
    errors.length = 0

    fault.server.freeze()
    try {
      const answers = []
      for (let i = 0; i < 8; i++) answers.push(await timed(limiter, 'user'))
      for (const { d, ms } of answers) {
        expect(d).toMatchObject({ allowed: true, degraded: true })
        expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
      }
      // Three timeouts opened the breaker; the other five were answered without a store call.
      expect(errors).toHaveLength(3)
      expect(answers.slice(3).every(({ ms }) => ms < 50)).toBe(true)
      expect((errors[0] as { code?: string }).code).toBe('ERR_TOLLGATE_STORE_TIMEOUT')
    } finally {
      fault.server.thaw()
    }

    const recovered = await untilHealthy(limiter, 'user')
    expect(recovered.degraded).toBeUndefined()
    // Limiting holds again: the limit of 3 is reached and the next request is denied by Redis.
    let denied: Decision | undefined
    for (let i = 0; i < 10 && !denied; i++) {
      const d = await limiter.limit('user')
      if (!d.allowed) denied = d
    }
    expect(denied).toMatchObject({ allowed: false, limit: 3 })
    expect(denied?.degraded).toBeUndefined()
  })

  it('a killed Redis restarted on the same port: degraded while down, exact again after', async () => {
    const errors: unknown[] = []
    const limiter = makeLimiter('closed', errors)
    expect((await untilHealthy(limiter, 'user')).allowed).toBe(true)
    errors.length = 0

    await fault.server.kill()
    try {
      const down = []
      for (let i = 0; i < 6; i++) down.push(await timed(limiter, 'user'))
      for (const { d, ms } of down) {
        expect(d).toMatchObject({ allowed: false, degraded: true, retryAfterMs: COOLDOWN_MS })
        expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
      }
      expect(errors.length).toBe(3)
    } finally {
      // Restarted whatever failed above, so one failure does not cascade into the next tests.
      await fault.server.restart()
    }

    // Wait for the store client to reconnect (node-redis backs off up to 2 s between attempts),
    // then healthy again (on another key: a call the limiter gave up on while Redis restarted may
    // still run once, from the client's offline queue), then a fresh key's first decision is exact.
    await storeClient.ping()
    await untilHealthy(limiter, 'probe')
    const first = await limiter.limit('fresh')
    // A sliding log's first admission: the quota is whole again W after it.
    expect(first).toEqual({
      allowed: true,
      limit: 3,
      remaining: 2,
      resetMs: 60_000,
      retryAfterMs: 0,
    })
    await limiter.limit('fresh')
    await limiter.limit('fresh')
    const fourth = await limiter.limit('fresh')
    expect(fourth.allowed).toBe(false)
    expect(fourth.degraded).toBeUndefined()
  })

  it("mode 'local' keeps limiting per process while Redis is down", async () => {
    const errors: unknown[] = []
    const limiter = makeLimiter('local', errors)
    await fault.server.kill()
    try {
      const answers = []
      for (let i = 0; i < 5; i++) answers.push(await timed(limiter, 'user'))
      expect(answers.map(({ d }) => d.allowed)).toEqual([true, true, true, false, false])
      expect(answers.every(({ d }) => d.degraded === true)).toBe(true)
      expect(answers.every(({ ms }) => ms < TIMEOUT_MS + SLACK_MS)).toBe(true)
      expect(answers[3]!.d.retryAfterMs).toBeGreaterThan(0)
    } finally {
      await fault.server.restart()
    }
    // As above: count once the client is back (node-redis backs off up to 2 s between attempts).
    await storeClient.ping()
    const back = await untilHealthy(limiter, 'other')
    expect(back.allowed).toBe(true)
  })

  it('leaves no unhandled rejection behind, even from commands that failed after their timeout', async () => {
    // Self-contained: the commands below time out in the limiter first and are rejected by
    // ioredis afterwards (its own commandTimeout, while Redis is frozen), each one counted.
    const seen: unknown[] = []
    const onLate = (reason: unknown) => seen.push(reason)
    process.on('unhandledRejection', onLate)
    const late = lateRejectingStore(fault.server.port, 'fail-late:', 3 * TIMEOUT_MS)
    const store = late.store
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: slidingLog({ limit: 3, windowMs: 60_000 }),
      store,
      failure: { mode: 'open', timeoutMs: TIMEOUT_MS, breaker: false },
      onStoreError: (error) => errors.push(error),
      denyCache: false,
    })
    try {
      expect((await untilHealthy(limiter, 'late')).degraded).toBeUndefined()
      // A probe of untilHealthy that timed out on a loaded machine reported its error: count
      // only the three below.
      errors.length = 0
      fault.server.freeze()
      try {
        const answers = await Promise.all([1, 2, 3].map(() => limiter.limit('late')))
        expect(answers.every((d) => d.allowed && d.degraded === true)).toBe(true)
        expect(errors).toHaveLength(3)
        expect(late.lateRejections()).toBe(0)
        // The three commands are still in flight; ioredis rejects them after the limiter answered.
        await expect.poll(() => late.lateRejections()).toBe(3)
      } finally {
        fault.server.thaw()
        late.disconnect()
      }
      // Rejections not handled by now would have been reported within a macrotask.
      await new Promise((r) => setImmediate(r))
      expect(seen).toEqual([])
      expect(fault.unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onLate)
    }
  })
})
