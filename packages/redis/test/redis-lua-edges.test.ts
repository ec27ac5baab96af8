/**
 * Edges of the Lua scripts that the decide/peek/refund tables pass by (found by `pnpm
 * mutation:lua`): an untouched state seen through a block or as a compound part, and what a
 * refund back to untouched leaves in Redis. Against the shared redis-server, injected clock, the
 * numbers worked out from docs/semantics.md.
 */
import { randomUUID } from 'node:crypto'
import {
  type Algorithm,
  compound,
  concurrency,
  type Decision,
  fixedWindow,
  slidingLog,
  slidingWindow,
  tokenBucket,
  withLimit,
} from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-redis-edges-${randomUUID()}:`
const W = 60_000
/** An injected instant on a window boundary (for W = 60 s and 1 s). */
const T = 1000 * W
let client: Redis
let now = 0
let store: RedisStore

const d = (
  limit: number,
  allowed: boolean,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
): Decision => ({ allowed, limit, remaining, resetMs, retryAfterMs })

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
  store = new RedisStore({ client, prefix, clock: () => now })
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

describe('a blocked key whose state is untouched', () => {
  // resetMs = max(resetMs of the state, blockedUntil - now), and an untouched state's resetMs is
  // 0: the answer is the block's rest, not the window's end or a lease's length.
  const cases: Array<[string, Algorithm]> = [
    ['fixedWindow', fixedWindow({ limit: 3, windowMs: W })],
    ['slidingWindow', slidingWindow({ limit: 3, windowMs: W })],
    ['slidingLog', slidingLog({ limit: 3, windowMs: W })],
    ['tokenBucket', tokenBucket({ capacity: 3, refillRate: 1, refillIntervalMs: W })],
    ['concurrency', concurrency({ limit: 3, leaseMs: W })],
  ]
  it.each(cases)('%s: answers resetMs = retryAfterMs = the rest of the block', async (_, a) => {
    const key = `blocked-untouched-${randomUUID()}`
    now = T + 5000
    await store.block(key, a, 1000)
    now = T + 5400
    expect(await store.peek(key, a, 1)).toEqual(d(3, false, 0, 600, 600))
    expect(await store.decide(key, a, 1)).toEqual(d(3, false, 0, 600, 600))
    expect(await client.exists(stateKey(prefix, key, a.kind))).toBe(0)
  })
})

describe('a denied compound with a member whose state is untouched', () => {
  it('shows that member as admitting with its untouched numbers: remaining = limit, resetMs = 0', async () => {
    const perSecond = fixedWindow({ limit: 5, windowMs: 1000 })
    const perMinute = fixedWindow({ limit: 1, windowMs: W })
    const a = compound([perSecond, perMinute])
    const key = `compound-untouched-${randomUUID()}`
    now = T
    expect((await store.decide(key, a, 1)).allowed).toBe(true)
    // The per-second window of T is over; the per-minute one is full until T + W.
    now = T + 1500
    const got = await store.decide(key, a, 1)
    expect(got.allowed).toBe(false)
    expect(got.parts).toEqual([d(5, true, 5, 0, 0), d(1, false, 0, W - 1500, W - 1500)])
  })
})

describe('fixedWindow refund on Redis', () => {
  const a = fixedWindow({ limit: 5, windowMs: W })

  it('a refund of the whole count deletes the key; a smaller one keeps the rest', async () => {
    const key = `fw-refund-${randomUUID()}`
    const redisKey = stateKey(prefix, key, 'fixedWindow')
    now = T + 1000
    await store.decide(key, a, 3)
    await store.refund(key, a, 1)
    expect(await client.hgetall(redisKey)).toEqual({ '1000': '2' })
    // count 2, refund 2: untouched again, nothing is left in Redis.
    await store.refund(key, a, 2)
    expect(await client.exists(redisKey)).toBe(0)
    expect(await store.peek(key, a, 5)).toEqual(d(5, true, 0, W - 1000, 0))
  })
})

describe('a batch of decisions for different limiters (one script call)', () => {
  it('decides each op with its own limit and window, even when only one of them differs', async () => {
    const key = `batch-params-${randomUUID()}`
    const five = fixedWindow({ limit: 5, windowMs: W })
    const ten = fixedWindow({ limit: 10, windowMs: W })
    const tenLong = fixedWindow({ limit: 10, windowMs: 2 * W })
    now = T + 1000
    // Issued in one turn: one EVALSHA of the fixed-window script with four ops; from one op to
    // the next the params differ in the limit only, then in the window only, then in both.
    const got = await Promise.all([
      store.decide(`${key}-a`, five, 1),
      store.decide(`${key}-b`, ten, 1),
      store.decide(`${key}-c`, tenLong, 1),
      store.decide(`${key}-d`, five, 1),
    ])
    expect(got).toEqual([
      d(5, true, 4, W - 1000, 0),
      d(10, true, 9, W - 1000, 0),
      d(10, true, 9, 2 * W - 1000, 0),
      d(5, true, 4, W - 1000, 0),
    ])
  })

  it('gives each concurrency admission of one batch its own lease', async () => {
    const key = `batch-leases-${randomUUID()}`
    const a = concurrency({ limit: 5, leaseMs: W })
    now = T
    const got = await Promise.all([1, 2, 3].map(() => store.decide(key, a, 1)))
    expect(got.map((x) => x.remaining)).toEqual([4, 3, 2])
    const leases = got.map((x) => x.lease)
    expect(new Set(leases).size).toBe(3)
    expect(await client.zcard(stateKey(prefix, key, 'concurrency'))).toBe(3)
    // Each lease releases its own slot.
    await Promise.all(leases.map((lease) => store.release(key, a, lease!)))
    expect(await client.exists(stateKey(prefix, key, 'concurrency'))).toBe(0)
  })
})

describe('tokenBucket state read at its fullAt', () => {
  it('is a missing state: a full bucket under the capacity of the next call, even a larger one', async () => {
    const key = `tb-full-at-${randomUUID()}`
    const a = tokenBucket({ capacity: 2, refillRate: 1, refillIntervalMs: 1000 })
    now = T
    expect(await store.decide(key, a, 1)).toEqual(d(2, true, 1, 1000, 0))
    // At T + 1000 the bucket is full again under capacity 2 (its fullAt): from then on it is a
    // missing state, so a call with capacity 5 finds 5 tokens, not the 2 it refilled to.
    now = T + 1000
    expect(await store.decide(key, withLimit(a, 5), 5)).toEqual(d(5, true, 0, 5000, 0))
  })
})
