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
import { memberKey, RedisStore, stateKey } from '@tollgate/redis'
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

describe('a denied compound leaves every member as it was (docs/semantics.md, "Compound")', () => {
  // A compound of fixed windows counts each member at once and takes the counts back when one
  // does not fit; the other kinds read first. Either way Redis holds what it held before.
  const snapshot = async (key: string) =>
    Promise.all(
      [0, 1].map(async (i) => {
        const redisKey = memberKey(prefix, key, i, 'fixedWindow')
        return { hash: await client.hgetall(redisKey), ttl: await client.pttl(redisKey) }
      }),
    )

  it('a member the denial would have created stays absent', async () => {
    const a = compound([
      fixedWindow({ limit: 5, windowMs: W }),
      fixedWindow({ limit: 1, windowMs: 10 * W }),
    ])
    const key = `c-undo-new-${randomUUID()}`
    now = T
    expect((await store.decide(key, a, 1)).allowed).toBe(true)
    // The first member's next window: its field is new; the second member is full.
    now = T + W
    await client.del(memberKey(prefix, key, 0, 'fixedWindow'))
    const got = await store.decide(key, a, 1)
    expect(got.allowed).toBe(false)
    expect(got.parts).toEqual([d(5, true, 5, 0, 0), d(1, false, 0, 9 * W, 9 * W)])
    expect(await client.exists(memberKey(prefix, key, 0, 'fixedWindow'))).toBe(0)
    expect(await client.hgetall(memberKey(prefix, key, 1, 'fixedWindow'))).toEqual({ '100': '1' })
  })

  it("a member's count and TTL, and another window's field still in its hash, stay as they were", async () => {
    const a = compound([
      fixedWindow({ limit: 5, windowMs: W }),
      fixedWindow({ limit: 2, windowMs: 10 * W }),
    ])
    const key = `c-undo-kept-${randomUUID()}`
    now = T
    await store.decide(key, a, 1)
    now = T + 1000
    await store.decide(key, a, 1)
    // The second member is full: the first member's count of 2 is untouched by the denial.
    const before = await snapshot(key)
    const denied = await store.decide(key, a, 2)
    expect(denied.allowed).toBe(false)
    expect(denied.parts).toEqual([
      d(5, true, 3, W - 1000, 0),
      d(2, false, 0, 10 * W - 1000, 10 * W - 1000),
    ])
    const after = await snapshot(key)
    expect(after.map((x) => x.hash)).toEqual(before.map((x) => x.hash))
    for (const [i, x] of after.entries()) {
      expect(x.ttl).toBeLessThanOrEqual(before[i]!.ttl)
      expect(x.ttl).toBeGreaterThan(before[i]!.ttl - 5000)
    }
    // The first member's next window, its key still holding the old window's field (Redis
    // expires it on its own clock): the denial deletes the new field only.
    now = T + W
    expect((await store.decide(key, a, 1)).allowed).toBe(false)
    expect(await client.hgetall(memberKey(prefix, key, 0, 'fixedWindow'))).toEqual({ '1000': '2' })
  })

  it('a first member that does not fit counts nothing in the later ones', async () => {
    const a = compound([
      fixedWindow({ limit: 1, windowMs: W }),
      fixedWindow({ limit: 5, windowMs: 10 * W }),
    ])
    const key = `c-undo-first-${randomUUID()}`
    now = T
    await store.decide(key, a, 1)
    const got = await Promise.all([store.decide(key, a, 1), store.decide(key, a, 1)])
    expect(got.map((x) => x.allowed)).toEqual([false, false])
    expect(got[1]!.parts).toEqual([d(1, false, 0, W, W), d(5, true, 4, 10 * W, 0)])
    expect(await client.hgetall(memberKey(prefix, key, 1, 'fixedWindow'))).toEqual({ '100': '1' })
  })

  it('ops of one batch on one key see each other: an admission, then a denial that undoes its own count only', async () => {
    const a = compound([
      fixedWindow({ limit: 5, windowMs: W }),
      fixedWindow({ limit: 2, windowMs: 10 * W }),
    ])
    const key = `c-batch-${randomUUID()}`
    now = T
    const got = await Promise.all([1, 1, 1].map((cost) => store.decide(key, a, cost)))
    expect(got.map((x) => x.parts?.map((p) => [p.allowed, p.remaining]))).toEqual([
      [
        [true, 4],
        [true, 1],
      ],
      [
        [true, 3],
        [true, 0],
      ],
      [
        [true, 3],
        [false, 0],
      ],
    ])
    expect(await client.hgetall(memberKey(prefix, key, 0, 'fixedWindow'))).toEqual({ '1000': '2' })
  })

  it.each<[string, Algorithm]>([
    [
      'slidingWindow + fixedWindow',
      compound([slidingWindow({ limit: 5, windowMs: W }), fixedWindow({ limit: 1, windowMs: W })]),
    ],
    [
      'fixedWindow + tokenBucket',
      compound([
        fixedWindow({ limit: 5, windowMs: W }),
        tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: W }),
      ]),
    ],
    [
      'slidingLog + fixedWindow',
      compound([slidingLog({ limit: 5, windowMs: W }), fixedWindow({ limit: 1, windowMs: W })]),
    ],
  ])(
    '%s: the members of other kinds are read first, and written only when all admit',
    async (_, a) => {
      const key = `c-mixed-${randomUUID()}`
      now = T
      const first = await store.decide(key, a, 1)
      expect(first.allowed).toBe(true)
      expect(first.parts?.map((p) => p.remaining)).toEqual([4, 0])
      now = T + 10
      const second = await store.decide(key, a, 1)
      expect(second.allowed).toBe(false)
      // The first member still shows its one admission.
      expect(second.parts?.[0]).toMatchObject({ allowed: true, remaining: 4 })
      expect((await store.peek(key, a, 1)).parts?.[0]).toMatchObject({
        allowed: true,
        remaining: 4,
      })
    },
  )
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
