/**
 * The deny cache on a real RedisStore, with Redis's own count of script calls as the witness
 * (INFO commandstats on a redis-server of this file's own): a cached denial costs no store call,
 * and every claim of the core README's "Local deny cache" section fails here when it stops being
 * true (issue 15: X2 cost ignored, X7 store clock hidden, X8 unbounded).
 */
import { createLimiter, type Decision, fixedWindow, slidingWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../support/redis-server.js'

let server: RedisServer
let client: Redis
let now = 0
const W = 60_000

beforeAll(async () => {
  // CONFIG RESETSTAT needs a Redis nobody else uses.
  server = await startRedisServer()
  client = new Redis(server.url)
})

afterAll(async () => {
  client?.disconnect()
  await server?.stop()
})

beforeEach(async () => {
  await client.flushall()
  // 10 windows after the epoch plus 1 s: the window ends 59 s later on the injected clock.
  now = 10 * W + 1_000
})

/** Script calls Redis has executed since the last reset (EVALSHA, or EVAL on a cold cache). */
async function scriptCalls(): Promise<number> {
  const info = await client.info('commandstats')
  let calls = 0
  for (const match of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) {
    calls += Number(match[2])
  }
  return calls
}

/** Runs `fn` and returns its result with the number of script calls Redis saw meanwhile. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number }> {
  await client.config('RESETSTAT')
  const value = await fn()
  return { value, calls: await scriptCalls() }
}

function makeLimiter(limit: number) {
  const store = new RedisStore({ client, prefix: 'deny:', clock: () => now })
  return createLimiter({ algorithm: fixedWindow({ limit, windowMs: W }), store })
}

const decision = (
  allowed: boolean,
  limit: number,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
): Decision => ({ allowed, limit, remaining, resetMs, retryAfterMs })

describe('deny cache on a real RedisStore', () => {
  it('answers a repeated denial of the same cost without a script call', async () => {
    const limiter = makeLimiter(1)
    expect((await counted(() => limiter.limit('k'))).calls).toBe(1)
    const first = await counted(() => limiter.limit('k'))
    expect(first).toEqual({ value: decision(false, 1, 0, 59_000, 59_000), calls: 1 })
    now += 500
    const cached = await counted(() => limiter.limit('k'))
    expect(cached).toEqual({ value: decision(false, 1, 0, 58_500, 58_500), calls: 0 })
  })

  it('asks the store for a smaller cost than the one it cached a denial for', async () => {
    // X2: a cost-2 denial says nothing about cost 1; answering it from the cache would deny a
    // request Redis admits.
    const limiter = makeLimiter(5)
    expect((await limiter.limit('k', { cost: 4 })).remaining).toBe(1)
    const denied = await counted(() => limiter.limit('k', { cost: 2 }))
    expect(denied).toEqual({ value: decision(false, 5, 1, 59_000, 59_000), calls: 1 })
    // The same cost again is the cache's to answer...
    expect((await counted(() => limiter.limit('k', { cost: 2 }))).calls).toBe(0)
    // ...a smaller one is Redis's, and Redis admits it.
    const smaller = await counted(() => limiter.limit('k', { cost: 1 }))
    expect(smaller).toEqual({ value: decision(true, 5, 0, 59_000, 0), calls: 1 })
  })

  it('keeps a cached denial through a peek at another limit that Redis admits', async () => {
    // Only the limiter's own admission changes the state a denial was computed from; a peek
    // consumes nothing, so the next limit() is still the cache's to answer.
    const limiter = makeLimiter(2)
    await limiter.limit('peeked')
    await limiter.limit('peeked')
    expect((await counted(() => limiter.limit('peeked'))).value.allowed).toBe(false)
    const wider = await counted(() => limiter.peek('peeked', { limit: 5 }))
    expect(wider).toMatchObject({ value: { allowed: true, limit: 5, remaining: 2 }, calls: 1 })
    const again = await counted(() => limiter.limit('peeked'))
    expect(again).toMatchObject({ value: { allowed: false, remaining: 0 }, calls: 0 })
  })

  it("times cached denials with the RedisStore's injected clock", async () => {
    // X7: RedisStore exposes its clock; a deny cache timed with Date.now would keep denying for
    // 59 s of real time after the injected clock has entered the next window.
    const limiter = makeLimiter(1)
    await limiter.limit('k')
    expect((await limiter.limit('k')).allowed).toBe(false)
    now += 58_999
    expect(await counted(() => limiter.limit('k'))).toEqual({
      value: decision(false, 1, 0, 1, 1),
      calls: 0,
    })
    now += 1 // the window's end on the store's clock
    const next = await counted(() => limiter.limit('k'))
    expect(next).toEqual({ value: decision(true, 1, 0, W, 0), calls: 1 })
  })

  it('holds at most 100,000 keys, dropping the oldest denial first', {
    timeout: 120_000,
  }, async () => {
    // X8: the README bounds the cache at 100,000 keys. Deny 100,001 keys (each admitted once
    // by a second limiter sharing the state, then denied through the one under test): the
    // first denial must have been dropped, the second still cached.
    const MAX = 100_000
    const store = new RedisStore({ client, prefix: 'deny:', clock: () => now })
    const algorithm = fixedWindow({ limit: 1, windowMs: W })
    // A generous timeout: 2,000 calls in flight on a busy machine must not turn into degraded answers.
    const failure = { timeoutMs: 10_000 }
    const filler = createLimiter({ algorithm, store, prefix: 'p:', denyCache: false, failure })
    const limiter = createLimiter({ algorithm, store, prefix: 'p:', failure })
    const CHUNK = 2_000
    for (let start = 0; start <= MAX; start += CHUNK) {
      const keys: string[] = []
      for (let k = start; k < Math.min(start + CHUNK, MAX + 1); k++) keys.push(`key-${k}`)
      await Promise.all(keys.map((key) => filler.limit(key)))
      const answers = await Promise.all(keys.map((key) => limiter.limit(key)))
      expect(answers.every((a) => !a.allowed && a.degraded === undefined)).toBe(true)
    }
    // (key-1 first: re-caching key-0 evicts the then oldest entry, key-1.)
    const second = await counted(() => limiter.limit('key-1'))
    expect(second).toEqual({ value: decision(false, 1, 0, 59_000, 59_000), calls: 0 })
    const oldest = await counted(() => limiter.limit('key-0'))
    expect(oldest).toEqual({ value: decision(false, 1, 0, 59_000, 59_000), calls: 1 })
  })
})

describe('deny cache of compound limits on a real RedisStore', () => {
  const perSecond = fixedWindow({ limit: 2, windowMs: 1_000 })
  const perDay = fixedWindow({ limit: 1_000, windowMs: 86_400_000 })

  /** The limiter under test and one on the same keys that never caches, as the witness. */
  function pair(algorithm: Parameters<typeof createLimiter>[0]['algorithm']) {
    const store = new RedisStore({ client, prefix: 'deny:', clock: () => now })
    return {
      limiter: createLimiter({ algorithm, store, prefix: 'c:' }),
      truth: createLimiter({ algorithm, store, prefix: 'c:', denyCache: false }),
    }
  }

  it('answers a repeated compound denial without a script call, every part aged exactly', async () => {
    const { limiter, truth } = pair([perSecond, perDay])
    await limiter.limit('k')
    await limiter.limit('k')
    const first = await counted(() => limiter.limit('k'))
    expect(first.calls).toBe(1)
    expect(first.value.allowed).toBe(false)
    // The daily member would admit: it shows allowed, its unchanged count, no wait.
    expect(first.value.parts?.map((p) => [p.allowed, p.retryAfterMs])).toEqual([
      [false, 1_000],
      [true, 0],
    ])
    now += 300
    const cached = await counted(() => limiter.limit('k'))
    expect(cached.calls).toBe(0)
    // A denial consumes nothing, so asking Redis (peek: nothing stored) gives the same numbers.
    expect(cached.value).toEqual(await truth.peek('k'))
    expect(cached.value.retryAfterMs).toBe(700)
  })

  it('asks Redis again once the denying part’s wait is over (the compound admits then)', async () => {
    const { limiter } = pair([perSecond, perDay])
    await limiter.limit('k')
    await limiter.limit('k')
    await limiter.limit('k')
    now += 1_000
    const after = await counted(() => limiter.limit('k'))
    expect(after.calls).toBe(1)
    expect(after.value.allowed).toBe(true)
    expect(after.value.parts?.[1]?.remaining).toBe(1_000 - 3)
  })

  it('asks Redis every time while a sliding member would admit (its remaining may grow any ms)', async () => {
    const { limiter, truth } = pair([perSecond, slidingWindow({ limit: 1_000, windowMs: 60_000 })])
    await limiter.limit('k')
    await limiter.limit('k')
    expect((await counted(() => limiter.limit('k'))).calls).toBe(1)
    now += 300
    const again = await counted(() => limiter.limit('k'))
    expect(again.calls).toBe(1)
    expect(again.value).toEqual(await truth.peek('k'))
  })

  it('asks Redis for a cost-2 compound denial each time (only cost 1 is cached)', async () => {
    const { limiter } = pair([perSecond, perDay])
    await limiter.limit('k')
    expect((await counted(() => limiter.limit('k', { cost: 2 }))).value.allowed).toBe(false)
    expect((await counted(() => limiter.limit('k', { cost: 2 }))).calls).toBe(1)
  })
})
