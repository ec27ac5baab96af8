/**
 * RedisStore's operations beyond decide (docs/semantics.md, "peek, refund, block", "Compound",
 * "concurrency") against the shared redis-server, with an injected clock: the numbers worked out
 * by hand from docs/semantics.md, the state in Redis read back to show what was (not) written, and
 * each TTL read with PTTL right after the step that set it.
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
import { blockKey, memberKey, RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-redis-ops-${randomUUID()}:`
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

/** What Redis holds under `key` (type, value, TTL), to show an operation wrote nothing. */
async function snapshot(key: string): Promise<unknown> {
  const type = await client.type(key)
  const value =
    type === 'hash'
      ? await client.hgetall(key)
      : type === 'list'
        ? await client.lrange(key, 0, -1)
        : type === 'zset'
          ? await client.zrange(key, '0', '-1', 'WITHSCORES')
          : type === 'string'
            ? await client.get(key)
            : null
  return { type, value, ttl: (await client.pttl(key)) > 0 }
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
  store = new RedisStore({ client, prefix, clock: () => now })
})

afterAll(async () => {
  await client.quit()
})

describe('peek', () => {
  const algorithms: Algorithm[] = [
    fixedWindow({ limit: 5, windowMs: 10_000 }),
    slidingWindow({ limit: 5, windowMs: 10_000 }),
    slidingLog({ limit: 5, windowMs: 10_000 }),
    tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 2_000 }),
    concurrency({ limit: 5, leaseMs: 10_000 }),
    compound([
      fixedWindow({ limit: 3, windowMs: 5_000 }),
      slidingLog({ limit: 5, windowMs: 20_000 }),
    ]),
  ]

  it.each(algorithms.map((a) => [a.kind, a] as const))(
    'gives exactly the Decision decide gives next, and stores nothing (%s)',
    async (_kind, algorithm) => {
      const key = `peek-${algorithm.kind}`
      const keys =
        algorithm.kind === 'compound'
          ? algorithm.members.map((m, i) => memberKey(prefix, key, i, m.kind))
          : [stateKey(prefix, key, algorithm.kind)]
      let seed = 11
      const random = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
        // The high bits: an LCG's low bits repeat with a short period.
        return Math.floor(seed / 65_536) % n
      }
      now = 50_000_000
      let denied = 0
      for (let step = 0; step < 60; step++) {
        now += [0, 0, 7, 900, 4_000][random(5)]!
        const cost = 1 + random(3)
        const before = await Promise.all(keys.map(snapshot))
        const peeked = await store.peek(key, algorithm, cost)
        expect(await Promise.all(keys.map(snapshot))).toEqual(before)
        expect(peeked.lease).toBeUndefined()
        const decided = await store.decide(key, algorithm, cost)
        const { lease, ...withoutLease } = decided
        expect(peeked, `step ${step} at ${now}, cost ${cost}`).toEqual(withoutLease)
        if (!decided.allowed) denied++
        if (algorithm.kind === 'concurrency' && lease !== undefined && random(4) === 0) {
          await store.release(key, algorithm, lease)
        }
      }
      expect(denied).toBeGreaterThan(5)
      expect(denied).toBeLessThan(55)
    },
  )

  it('peeks an untouched key as a full quota, creating no key', async () => {
    now = 60_000_250
    const algorithm = fixedWindow({ limit: 4, windowMs: 1000 })
    expect(await store.peek('peek-empty', algorithm, 3)).toEqual(d(4, true, 1, 750, 0))
    expect(await client.exists(stateKey(prefix, 'peek-empty', 'fixedWindow'))).toBe(0)
  })
})

describe('refund', () => {
  it('fixedWindow: count = max(0, count - cost) in the current window; an old window is left', async () => {
    const a = fixedWindow({ limit: 3, windowMs: 1000 })
    now = 10_000
    expect(await store.decide('rf-fw', a, 2)).toEqual(d(3, true, 1, 1000, 0))
    now = 10_100
    await store.refund('rf-fw', a, 1)
    expect(await store.peek('rf-fw', a, 1)).toEqual(d(3, true, 1, 900, 0))
    now = 10_200
    // More than was counted: back to untouched, so the key goes at once.
    await store.refund('rf-fw', a, 3)
    expect(await client.exists(stateKey(prefix, 'rf-fw', 'fixedWindow'))).toBe(0)
    now = 10_300
    expect(await store.decide('rf-fw', a, 3)).toEqual(d(3, true, 0, 700, 0))
    now = 11_000
    await store.refund('rf-fw', a, 1) // the state is of the previous window: nothing to give back
    expect(await client.hgetall(stateKey(prefix, 'rf-fw', 'fixedWindow'))).toEqual({ '10': '3' })
    expect(await store.peek('rf-fw', a, 3)).toEqual(d(3, true, 0, 1000, 0))
  })

  it('slidingWindow: from curr first, then prev, after rolling to the current window', async () => {
    const a = slidingWindow({ limit: 10, windowMs: 1000 })
    now = 5000
    await store.decide('rf-sw', a, 6)
    now = 6000
    expect(await store.decide('rf-sw', a, 3)).toEqual(d(10, true, 1, 2000, 0))
    await store.refund('rf-sw', a, 5) // curr 3 -> 0, prev 6 -> 4
    expect(await client.get(stateKey(prefix, 'rf-sw', 'slidingWindow'))).toBe('6:0:4')
    expect(await store.peek('rf-sw', a, 1)).toEqual(d(10, true, 5, 2000, 0))
    await store.refund('rf-sw', a, 10)
    expect(await client.exists(stateKey(prefix, 'rf-sw', 'slidingWindow'))).toBe(0)
  })

  it('slidingLog: removes cost units from the newest entries first', async () => {
    const a = slidingLog({ limit: 3, windowMs: 1000 })
    const key = stateKey(prefix, 'rf-sl', 'slidingLog')
    for (const t of [1000, 1200, 1400]) {
      now = t
      expect((await store.decide('rf-sl', a, 1)).allowed).toBe(true)
    }
    now = 1500
    await store.refund('rf-sl', a, 2) // the entries of 1400 and 1200 go
    expect(await client.lrange(key, 0, -1)).toEqual(['1000:1:0:1000'])
    expect(await store.peek('rf-sl', a, 3)).toEqual(d(3, false, 2, 500, 500))
    expect(await store.decide('rf-sl', a, 2)).toEqual(d(3, true, 0, 1000, 0))
    now = 1600
    await store.refund('rf-sl', a, 1) // part of the newest entry (cost 2 at 1500)
    expect(await client.lrange(key, 0, -1)).toEqual(['1000:1:0:1000', '1500:2:0:1000'])
    await store.refund('rf-sl', a, 3)
    expect(await client.exists(key)).toBe(0)
  })

  it('tokenBucket: units = min(FULL, refilled + cost * I); a full bucket is deleted', async () => {
    const a = tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 1000 })
    now = 100_000
    expect(await store.decide('rf-tb', a, 5)).toEqual(d(5, true, 0, 5000, 0))
    now = 101_000
    await store.refund('rf-tb', a, 2) // 1 token refilled + 2 given back
    expect(await store.peek('rf-tb', a, 3)).toEqual(d(5, true, 0, 5000, 0))
    expect(await store.decide('rf-tb', a, 4)).toEqual(d(5, false, 3, 2000, 1000))
    await store.refund('rf-tb', a, 5)
    expect(await client.exists(stateKey(prefix, 'rf-tb', 'tokenBucket'))).toBe(0)
  })

  it('compound: every member gives back; concurrency: a TypeError (release instead)', async () => {
    const a = compound([
      fixedWindow({ limit: 2, windowMs: 1000 }),
      fixedWindow({ limit: 5, windowMs: 60_000 }),
    ])
    now = 120_000
    await store.decide('rf-c', a, 2)
    await store.refund('rf-c', a, 1)
    const got = await store.peek('rf-c', a, 1)
    expect(got.parts?.map((p) => p.remaining)).toEqual([0, 3])
    await expect(store.refund('rf-cc', concurrency({ limit: 2 }), 1)).rejects.toThrow(TypeError)
  })
})

describe('block', () => {
  it('denies every decision and peek until it ends, leaving the state untouched; a longer block wins', async () => {
    const a = fixedWindow({ limit: 3, windowMs: 1000 })
    const state = stateKey(prefix, 'bk', 'fixedWindow')
    now = 20_000
    await store.decide('bk', a, 1)
    now = 20_100
    await store.block('bk', a, 5000)
    const blockTtl = await client.pttl(blockKey(prefix, 'bk', 'fixedWindow'))
    expect(blockTtl).toBeLessThanOrEqual(5000)
    expect(blockTtl).toBeGreaterThan(4000)
    now = 20_200
    // The state alone would admit (r = 0): retryAfterMs is the block's rest.
    expect(await store.decide('bk', a, 1)).toEqual(d(3, false, 0, 4900, 4900))
    expect(await client.hgetall(state)).toEqual({ '20': '1' })
    now = 20_300
    await store.block('bk', a, 1000) // shorter: ignored
    now = 24_000
    expect(await store.peek('bk', a, 1)).toEqual(d(3, false, 0, 1100, 1100))
    await store.block('bk', a, 10_000) // longer: until 34 000
    now = 24_500
    expect(await store.decide('bk', a, 1)).toEqual(d(3, false, 0, 9500, 9500))
    await store.reset('bk', a)
    expect(await client.exists(blockKey(prefix, 'bk', 'fixedWindow'))).toBe(0)
    expect(await store.decide('bk', a, 1)).toEqual(d(3, true, 2, 500, 0))
  })

  it("answers retryAfterMs = max(the block's rest, the state's own wait)", async () => {
    const a = slidingLog({ limit: 1, windowMs: 10_000 })
    now = 200_000
    await store.decide('bk-long', a, 1)
    await store.block('bk-long', a, 2000)
    now = 201_000
    expect(await store.decide('bk-long', a, 1)).toEqual(d(1, false, 0, 9000, 9000))
  })

  it('blockDurationMs: a denial blocks the key in the same call; a blocked answer does not extend it', async () => {
    const a = slidingLog({ limit: 2, windowMs: 10_000 })
    now = 30_000
    await store.decide('bd', a, 1)
    await store.decide('bd', a, 1)
    now = 31_000
    // Own wait 9000 ms, block 60 000 ms.
    expect(await store.decide('bd', a, 1, { blockDurationMs: 60_000 })).toEqual(
      d(2, false, 0, 60_000, 60_000),
    )
    const ttl = await client.pttl(blockKey(prefix, 'bd', 'slidingLog'))
    expect(ttl).toBeLessThanOrEqual(60_000)
    expect(ttl).toBeGreaterThan(59_000)
    expect(await client.get(blockKey(prefix, 'bd', 'slidingLog'))).toBe('91000')
    now = 45_000 // the log is empty again, the block is not over
    expect(await store.decide('bd', a, 1, { blockDurationMs: 100_000 })).toEqual(
      d(2, false, 0, 46_000, 46_000),
    )
    expect(await client.get(blockKey(prefix, 'bd', 'slidingLog'))).toBe('91000')
    now = 91_000
    expect(await store.decide('bd', a, 1)).toEqual(d(2, true, 1, 10_000, 0))
  })

  it('rejects a duration that is not a positive integer of ms, naming it', async () => {
    const a = fixedWindow({ limit: 1, windowMs: 1000 })
    await expect(store.block('bk-bad', a, 0)).rejects.toThrow(/durationMs must be a positive/)
    await expect(store.decide('bk-bad', a, 1, { blockDurationMs: 1.5 })).rejects.toThrow(
      /blockDurationMs must be a positive integer, got 1.5/,
    )
  })
})

describe('per-request limits', () => {
  it('shares one state across limits; a downgrade below what was used leaves remaining 0', async () => {
    const a = fixedWindow({ limit: 10, windowMs: 60_000 })
    now = 600_000
    expect(await store.decide('pl', a, 4)).toEqual(d(10, true, 6, 60_000, 0))
    expect(await store.decide('pl', withLimit(a, 20), 1)).toEqual(d(20, true, 15, 60_000, 0))
    expect(await store.decide('pl', withLimit(a, 3), 1)).toEqual(d(3, false, 0, 60_000, 60_000))
    expect(await store.peek('pl', a, 1)).toEqual(d(10, true, 4, 60_000, 0))
  })

  it('tokenBucket: the capacity of the call decides; a missing state is a full bucket of it', async () => {
    const a = tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 1000 })
    now = 700_000
    expect(await store.decide('pl-tb', withLimit(a, 10), 8)).toEqual(d(10, true, 2, 8000, 0))
    // The stored 2 tokens under capacity 5: 3 refill before it is full.
    expect(await store.peek('pl-tb', a, 1)).toEqual(d(5, true, 1, 4000, 0))
    expect(await store.decide('pl-tb', withLimit(a, 2), 2)).toEqual(d(2, true, 0, 2000, 0))
  })
})

describe('compound', () => {
  const perSecond = fixedWindow({ limit: 2, windowMs: 1000 })
  const perDay = fixedWindow({ limit: 5, windowMs: 86_400_000 })
  const a = compound([perSecond, perDay])
  const day = 86_400_000

  it('admits only when every member admits, and a denial consumes nothing in any member', async () => {
    now = 10 * day + 500
    expect(await store.decide('cp', a, 1)).toEqual({
      ...d(2, true, 1, day - 500, 0),
      parts: [d(2, true, 1, 500, 0), d(5, true, 4, day - 500, 0)],
    })
    await store.decide('cp', a, 1)
    // The per-second member denies; the daily one would admit and shows its unchanged state.
    expect(await store.decide('cp', a, 1)).toEqual({
      ...d(2, false, 0, day - 500, 500),
      parts: [d(2, false, 0, 500, 500), d(5, true, 3, day - 500, 0)],
    })
    const dayIndex = String(Math.floor(now / day))
    expect(await client.hget(memberKey(prefix, 'cp', 1, 'fixedWindow'), dayIndex)).toBe('2')
    // Each member keeps its own state by position: the fixedWindow used alone is another key.
    expect(await client.exists(stateKey(prefix, 'cp', 'fixedWindow'))).toBe(0)
    now += 1000
    expect((await store.decide('cp', a, 1)).parts?.map((p) => p.remaining)).toEqual([1, 2])
  })

  it('is blocked as a whole: each part answers by the block rule from its own state', async () => {
    now = 20 * day + 100
    await store.decide('cp-bk', a, 1)
    await store.block('cp-bk', a, 3000)
    expect(await store.decide('cp-bk', a, 1)).toEqual({
      ...d(2, false, 0, day - 100, 3000),
      parts: [d(2, false, 0, 3000, 3000), d(5, false, 0, day - 100, 3000)],
    })
    await store.reset('cp-bk', a)
    for (const k of [
      memberKey(prefix, 'cp-bk', 0, 'fixedWindow'),
      memberKey(prefix, 'cp-bk', 1, 'fixedWindow'),
      blockKey(prefix, 'cp-bk', 'compound'),
    ]) {
      expect(await client.exists(k)).toBe(0)
    }
  })

  it('blockDurationMs blocks the whole compound on a denial', async () => {
    now = 30 * day + 100
    await store.decide('cp-bd', a, 2)
    const denied = await store.decide('cp-bd', a, 1, { blockDurationMs: 10_000 })
    expect(denied).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 10_000 })
    now += 1000 // a new second: the per-second member alone would admit
    expect(await store.decide('cp-bd', a, 1)).toMatchObject({ allowed: false, retryAfterMs: 9000 })
  })
})

describe('concurrency', () => {
  const a = concurrency({ limit: 3, leaseMs: 10_000 })
  const key = stateKey(prefix, 'cc', 'concurrency')

  it('holds at most limit units in flight, with unique leases, idempotent release and expiry', async () => {
    const leases: string[] = []
    for (const [t, remaining] of [
      [1_000_000, 2],
      [1_001_000, 1],
      [1_002_000, 0],
    ] as const) {
      now = t
      const got = await store.decide('cc', a, 1)
      expect(got).toMatchObject(d(3, true, remaining, 10_000, 0))
      expect(typeof got.lease).toBe('string')
      leases.push(got.lease!)
    }
    expect(new Set(leases).size).toBe(3)
    now = 1_003_000
    // The oldest lease (expiring at 1 010 000) makes room first.
    const denied = await store.decide('cc', a, 1)
    expect(denied).toEqual(d(3, false, 0, 9000, 7000))
    expect(await store.peek('cc', a, 1)).toEqual(denied)
    await store.release('cc', a, leases[1]!)
    await store.release('cc', a, leases[1]!) // idempotent
    now = 1_004_000
    const fourth = await store.decide('cc', a, 1)
    expect(fourth).toMatchObject(d(3, true, 0, 10_000, 0))
    now = 1_010_000 // the first lease expired without a release
    expect(await store.peek('cc', a, 1)).toEqual(d(3, true, 0, 10_000, 0))
    await store.release('cc', a, leases[2]!)
    await store.release('cc', a, fourth.lease!)
    // Only the expired lease is left: the key goes with it.
    expect(await client.exists(key)).toBe(0)
  })

  it('counts a lease by its cost; a denied decision has no lease', async () => {
    now = 2_000_000
    const big = await store.decide('cc-cost', a, 2)
    expect(big).toMatchObject(d(3, true, 1, 10_000, 0))
    const denied = await store.decide('cc-cost', a, 2)
    expect(denied).toEqual(d(3, false, 1, 10_000, 10_000))
    expect(denied.lease).toBeUndefined()
    await store.release('cc-cost', a, big.lease!)
    expect((await store.decide('cc-cost', a, 3)).allowed).toBe(true)
  })

  it('rejects release for another algorithm, and a lease that is not a string', async () => {
    await expect(store.release('x', fixedWindow({ limit: 1, windowMs: 1 }), 'l')).rejects.toThrow(
      TypeError,
    )
    await expect(store.release('x', a, 5 as never)).rejects.toThrow(/lease must be/)
  })
})

describe('TTLs, read with PTTL right after each step (a clock that is real time)', () => {
  // The injected clock is Date.now() itself, so a TTL set from the op's now and read at once is
  // the exact expected value minus the real time since the op was issued.
  let real: RedisStore
  beforeAll(() => {
    real = new RedisStore({ client, prefix, clock: () => Date.now() })
  })
  async function expectTtl(redisKey: string, expected: number, issuedAt: number): Promise<void> {
    const ttl = await client.pttl(redisKey)
    const elapsed = Date.now() - issuedAt
    expect(ttl, redisKey).toBeLessThanOrEqual(expected)
    expect(ttl, redisKey).toBeGreaterThanOrEqual(expected - elapsed - 1)
  }
  const cases: Array<[string, Algorithm, (d: Decision) => number]> = [
    // fixed window: its end; sliding window: start + 2W (= resetMs with curr > 0); sliding log:
    // t_newest + W; token bucket: full again; concurrency: the last lease.
    ['fixedWindow', fixedWindow({ limit: 5, windowMs: 60_000 }), (x) => x.resetMs],
    ['slidingWindow', slidingWindow({ limit: 5, windowMs: 60_000 }), (x) => x.resetMs],
    ['slidingLog', slidingLog({ limit: 5, windowMs: 60_000 }), () => 60_000],
    [
      'tokenBucket',
      tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 7_000 }),
      (x) => x.resetMs,
    ],
    ['concurrency', concurrency({ limit: 5, leaseMs: 30_000 }), (x) => x.resetMs],
  ]

  it.each(cases)(
    '%s: every admission sets the TTL its state needs',
    async (kind, algorithm, expected) => {
      const key = `ttl-${kind}-${randomUUID()}`
      const redisKey = stateKey(prefix, key, algorithm.kind)
      for (let k = 0; k < 4; k++) {
        const issuedAt = Date.now()
        const got = await real.decide(key, algorithm, 1)
        expect(got.allowed).toBe(true)
        await expectTtl(redisKey, expected(got), issuedAt)
      }
    },
  )

  it('a block key lives exactly as long as the block; a refund to untouched deletes the state', async () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
    const key = `ttl-block-${randomUUID()}`
    const issuedAt = Date.now()
    await real.block(key, algorithm, 45_000)
    await expectTtl(blockKey(prefix, key, 'fixedWindow'), 45_000, issuedAt)
    const c = concurrency({ limit: 2, leaseMs: 20_000 })
    const first = await real.decide(key, c, 1)
    const second = await real.decide(key, c, 1)
    // Releasing the later lease shortens the key's life to the earlier one.
    await real.release(key, c, second.lease!)
    const ttl = await client.pttl(stateKey(prefix, key, 'concurrency'))
    expect(ttl).toBeLessThanOrEqual(first.resetMs)
    expect(ttl).toBeGreaterThan(first.resetMs - 1000)
  })
})
