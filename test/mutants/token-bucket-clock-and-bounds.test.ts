/**
 * Exactness claims of the core README that no other test would notice breaking (issue 15):
 * X3 a clock that steps back refills nothing but never drains a token bucket, in both stores
 * (MemoryStore and RedisStore on the shared redis-server, injected clocks);
 * X4 a configuration whose integer arithmetic would leave 2^53 is a RangeError at construction.
 */
import { randomUUID } from 'node:crypto'
import {
  type Decision,
  MemoryStore,
  type Store,
  slidingWindow,
  TollgateRangeError,
  tokenBucket,
} from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

let client: Redis
let now = 0
const stores: Record<string, () => Store> = {
  MemoryStore: () => new MemoryStore({ clock: () => now }),
  RedisStore: () =>
    new RedisStore({ client, prefix: `t-mutants-tb-${randomUUID()}:`, clock: () => now }),
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

const tb = (allowed: boolean, remaining: number, resetMs: number, retryAfterMs: number) =>
  ({ allowed, limit: 10, remaining, resetMs, retryAfterMs }) satisfies Decision

describe.each(Object.keys(stores))('tokenBucket on %s', (name) => {
  it('keeps its balance when the clock steps back, and refills from the later time only', async () => {
    // X3: 10 tokens, 1 per second. 5 taken at t = 100 s leave 5; a clock stepped back 50 s
    // must find those 5 (an elapsed time of -50 s would drain 50 tokens' worth of units).
    const store = stores[name]!()
    const algorithm = tokenBucket({ capacity: 10, refillRate: 1 })
    now = 100_000
    expect(await store.decide('k', algorithm, 5)).toEqual(tb(true, 5, 5_000, 0))
    now = 50_000
    expect(await store.decide('k', algorithm, 5)).toEqual(tb(true, 0, 10_000, 0))
    // The step back granted nothing either: one token a second from the new time on.
    expect(await store.decide('k', algorithm, 1)).toEqual(tb(false, 0, 10_000, 1_000))
    now = 51_000
    expect(await store.decide('k', algorithm, 1)).toEqual(tb(true, 0, 10_000, 0))
  })
})

describe('configuration bounds of 2^53', () => {
  it('tokenBucket: capacity * refillIntervalMs above 2^53 - 1 is a coded RangeError naming both', () => {
    // X4: 2^26 tokens in units of 1/2^27 ms is 2^53 units, one past exact integer arithmetic.
    const build = () => tokenBucket({ capacity: 2 ** 26, refillRate: 1, refillIntervalMs: 2 ** 27 })
    expect(build).toThrow(TollgateRangeError)
    expect(build).toThrow(RangeError)
    expect(build).toThrow(
      /capacity \* refillIntervalMs must stay below 2\^53.*67108864 \* 134217728/,
    )
    expect(build).toThrow(expect.objectContaining({ code: 'ERR_TOLLGATE_INVALID_OPTION' }))
    // 2^53 - 1 = 441650591 * 20394401 exactly: the largest exact product is accepted.
    expect(
      tokenBucket({ capacity: 441_650_591, refillRate: 1, refillIntervalMs: 20_394_401 }),
    ).toMatchObject({ capacity: 441_650_591, refillIntervalMs: 20_394_401 })
  })

  it('slidingWindow: 2 * limit * windowMs above 2^53 - 1 is a coded RangeError', () => {
    const build = () => slidingWindow({ limit: 2 ** 26, windowMs: 2 ** 26 })
    expect(build).toThrow(TollgateRangeError)
    expect(build).toThrow(/2 \* limit \* windowMs must stay below 2\^53/)
    expect(slidingWindow({ limit: 2 ** 26, windowMs: 2 ** 26 - 1 })).toMatchObject({
      limit: 2 ** 26,
    })
  })
})
