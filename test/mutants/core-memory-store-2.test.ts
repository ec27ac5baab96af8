/**
 * MemoryStore (packages/core/src/memory-store.ts, lines 425-1386: decideSlow, peekNow, refund,
 * block, release, reset, evaluate, commit, the compound path, and the slot bookkeeping) where the
 * StrykerJS run of issue 15 item 4 (session 6) found it unchecked.
 *
 * The first suite holds MemoryStore to RedisStore on random sequences of every operation
 * (decide with and without blockDurationMs and a per-request limit, peek, refund, block, release,
 * reset) for every algorithm kind and compounds: the Lua scripts are the second implementation of
 * docs/semantics.md (mutation-tested on their own by `pnpm mutation:lua`), so a MemoryStore that
 * computes any number differently shows up as a difference at some step.
 */
import { randomUUID } from 'node:crypto'
import {
  type Algorithm,
  algorithmLimit,
  compound,
  concurrency,
  type Decision,
  fixedWindow,
  MemoryStore,
  type RateAlgorithm,
  type Store,
  slidingLog,
  slidingWindow,
  tokenBucket,
  withLimit,
} from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { connectClient, type TestClient } from '../support/clients.js'

const filePrefix = `t-mut-memory-store-2-${randomUUID()}:`
let client: TestClient
let now = 0
const clock = () => now

beforeAll(async () => {
  client = await connectClient(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

describe('MemoryStore and RedisStore agree on random sequences of every operation', () => {
  const SEED = 20_261_201
  // Redis expires keys on its own clock even when the store's clock is injected: every time,
  // window, lease and block here is a multiple of U, and refillRate <= 5, so every TTL a script
  // sets is >= U / 5 = 1 s, far more than the real time between two steps (as in
  // test/conformance.test.ts). Multiples of U still land exactly on window ends and expiries.
  const U = 5000
  const windowed = fc.record({
    limit: fc.integer({ min: 1, max: 8 }),
    windowMs: fc.integer({ min: 1, max: 8 }).map((w) => w * U),
  })
  const bucket = fc.record({
    capacity: fc.integer({ min: 1, max: 8 }),
    refillRate: fc.integer({ min: 1, max: 5 }),
    refillIntervalMs: fc.integer({ min: 1, max: 4 }).map((i) => i * U),
  })
  const rate: fc.Arbitrary<RateAlgorithm> = fc.oneof(
    windowed.map(fixedWindow),
    windowed.map(slidingWindow),
    windowed.map(slidingLog),
    bucket.map(tokenBucket),
  )
  const lease = fc.record({
    limit: fc.integer({ min: 1, max: 8 }),
    leaseMs: fc.integer({ min: 1, max: 8 }).map((m) => m * U),
  })
  const algorithms: Array<[string, fc.Arbitrary<Algorithm>]> = [
    ['fixedWindow', windowed.map(fixedWindow)],
    ['slidingWindow', windowed.map(slidingWindow)],
    ['slidingLog', windowed.map(slidingLog)],
    ['tokenBucket', bucket.map(tokenBucket)],
    ['concurrency', lease.map(concurrency)],
    ['a compound', fc.array(rate, { minLength: 2, maxLength: 3 }).map(compound)],
  ]
  const step = fc.record({
    dt: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 4 },
      { arbitrary: fc.integer({ min: 4, max: 30 }), weight: 1 },
    ),
    key: fc.constantFrom('a', 'b'),
    op: fc.oneof(
      { arbitrary: fc.constant('decide' as const), weight: 8 },
      { arbitrary: fc.constant('decideBlocking' as const), weight: 1 },
      { arbitrary: fc.constant('decideLimit' as const), weight: 1 },
      { arbitrary: fc.constant('peek' as const), weight: 2 },
      { arbitrary: fc.constant('refund' as const), weight: 3 },
      { arbitrary: fc.constant('block' as const), weight: 1 },
      { arbitrary: fc.constant('release' as const), weight: 3 },
      { arbitrary: fc.constant('reset' as const), weight: 1 },
    ),
    cost: fc.integer({ min: 1, max: 8 }),
    n: fc.integer({ min: 1, max: 6 }),
  })
  const steps = fc.array(step, { minLength: 40, maxLength: 70 })
  const start = fc.integer({ min: 320_000_000, max: 380_000_000 })
  let run = 0

  /** A lease is a store's own id: compared as "a lease", and kept to release it later. */
  const shown = (d: Decision) => JSON.stringify(d.lease === undefined ? d : { ...d, lease: '*' })

  it.each(algorithms)(
    'gives equal decisions and leaves equal state after every step on %s (seeded)',
    async (_kind, algorithmArb) => {
      let denied = 0
      let admitted = 0
      let blocked = 0
      await fc.assert(
        fc.asyncProperty(algorithmArb, start, steps, async (algorithm, startUnits, sequence) => {
          const isCompound = algorithm.kind === 'compound'
          const isConcurrency = algorithm.kind === 'concurrency'
          const limit = isCompound
            ? Math.min(...algorithm.members.map(algorithmLimit))
            : algorithmLimit(algorithm)
          const memory = new MemoryStore({ clock })
          const redis = new RedisStore({
            client: client.client,
            prefix: `${filePrefix}${run++}:`,
            clock,
          })
          const leases: Array<{ key: string; memory: string; redis: string }> = []
          now = startUnits * U
          try {
            for (const [index, s] of sequence.entries()) {
              now += s.dt * U
              const cost = 1 + ((s.cost - 1) % limit)
              const at = `step ${index} (${s.op}, now ${now}, key ${s.key}, cost ${cost})`
              const both = async (call: (store: Store) => Promise<Decision>): Promise<void> => {
                const m = await call(memory)
                const r = await call(redis)
                if (shown(m) !== shown(r)) {
                  throw new Error(`${at}: memory ${shown(m)} vs redis ${shown(r)}`)
                }
                if (m.allowed) admitted++
                else denied++
                if (!m.allowed && m.remaining === 0 && m.retryAfterMs > 0) blocked++
                if (m.lease !== undefined && r.lease !== undefined) {
                  leases.push({ key: s.key, memory: m.lease, redis: r.lease })
                }
              }
              switch (s.op) {
                case 'decide':
                  await both((store) => store.decide(s.key, algorithm, cost))
                  break
                case 'decideBlocking':
                  await both((store) =>
                    store.decide(s.key, algorithm, cost, { blockDurationMs: s.n * U }),
                  )
                  break
                case 'decideLimit': {
                  const a = isCompound ? algorithm : withLimit(algorithm, s.n)
                  await both((store) => store.decide(s.key, a, Math.min(cost, s.n)))
                  break
                }
                case 'peek':
                  await both((store) => store.peek(s.key, algorithm, cost))
                  break
                case 'refund':
                  if (isConcurrency) break
                  await memory.refund(s.key, algorithm, cost)
                  await redis.refund(s.key, algorithm, cost)
                  break
                case 'block':
                  await memory.block(s.key, algorithm, s.n * U)
                  await redis.block(s.key, algorithm, s.n * U)
                  break
                case 'release': {
                  if (!isConcurrency || leases.length === 0) break
                  const held = leases[s.n % leases.length]!
                  // A lease released twice, or on the other key: each a no-op in both stores.
                  const key = s.cost === 1 ? (held.key === 'a' ? 'b' : 'a') : held.key
                  await memory.release(key, algorithm, held.memory)
                  await redis.release(key, algorithm, held.redis)
                  break
                }
                case 'reset':
                  await memory.reset(s.key, algorithm)
                  await redis.reset(s.key, algorithm)
                  break
              }
              // The state each store is left with, seen from both keys at the smallest cost
              // and the request's own.
              for (const key of ['a', 'b']) {
                for (const c of [1, cost]) {
                  const m = await memory.peek(key, algorithm, c)
                  const r = await redis.peek(key, algorithm, c)
                  if (shown(m) !== shown(r)) {
                    throw new Error(
                      `after ${at}, peek ${key} cost ${c}: memory ${shown(m)} vs redis ${shown(r)}`,
                    )
                  }
                }
              }
            }
          } finally {
            await memory.close()
          }
        }),
        { seed: SEED, numRuns: 12 },
      )
      // The sequences reach admissions, denials and blocked answers.
      expect(admitted).toBeGreaterThan(50)
      expect(denied).toBeGreaterThan(50)
      expect(blocked).toBeGreaterThan(5)
    },
  )
})

const fw = fixedWindow({ limit: 1, windowMs: 60_000 })
const T = 6_000_000

async function rejected(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('did not reject')
}

describe('MemoryStore release, refund and the general path', () => {
  it('release frees nothing for a lease of another store, a padded or altered id, or the bare prefix', async () => {
    const algorithm = concurrency({ limit: 1, leaseMs: 60_000 })
    const store = new MemoryStore({ clock: () => T })
    const other = new MemoryStore({ clock: () => T })
    const mine = (await store.decide('k', algorithm, 1)).lease!
    const theirs = (await other.decide('k', algorithm, 1)).lease!
    // Both are the first lease of their store: the same counter, a different random prefix.
    expect(mine.endsWith('.0')).toBe(true)
    expect(theirs.endsWith('.0')).toBe(true)
    expect(theirs).not.toBe(mine)
    const prefix = mine.slice(0, -1)
    for (const lease of [theirs, `${prefix}00`, `${prefix}0 `, `${prefix}+0`, prefix, '']) {
      await store.release('k', algorithm, lease)
      expect(await store.peek('k', algorithm, 1)).toMatchObject({ allowed: false, remaining: 0 })
    }
    await store.release('k', algorithm, mine)
    expect(await store.peek('k', algorithm, 1)).toMatchObject({ allowed: true, resetMs: 60_000 })
  })

  it('names the operation and the value in the TypeErrors of refund, release and a lease', async () => {
    const store = new MemoryStore({ clock: () => T })
    const c = concurrency({ limit: 1 })
    expect(await rejected(store.refund('k', c, 1))).toBe(
      'tollgate: refund is not for a concurrency algorithm: release the lease instead',
    )
    expect(await rejected(store.release('k', fw, 'x'))).toBe(
      'tollgate: release is only for a concurrency algorithm, got fixedWindow',
    )
    expect(await rejected(store.release('k', c, 7 as unknown as string))).toBe(
      'tollgate: lease must be a string, got 7',
    )
  })

  it('peek, refund, block, release and reset reject a clock that is not integer milliseconds', async () => {
    const store = new MemoryStore({ clock: () => 1.5 })
    const message = 'tollgate: clock must return integer epoch milliseconds, got 1.5'
    const c = concurrency({ limit: 1 })
    expect(await rejected(store.peek('k', fw, 1))).toBe(message)
    expect(await rejected(store.refund('k', fw, 1))).toBe(message)
    expect(await rejected(store.block('k', fw, 1000))).toBe(message)
    // release reads the clock only once it has found the lease's key.
    let now = T
    const held = new MemoryStore({ clock: () => now })
    const lease = (await held.decide('k', c, 1)).lease!
    now = 1.5
    expect(await rejected(held.release('k', c, lease))).toBe(message)
    // A lease on a key the store holds nothing for is a no-op that needs no clock.
    await expect(held.release('other', c, lease)).resolves.toBeUndefined()
  })

  it('releasing an expired lease, or on a key that holds only a block, is a no-op', async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    const c = concurrency({ limit: 1, leaseMs: 1000 })
    const lease = (await store.decide('k', c, 1)).lease!
    await store.block('blocked', c, 5000)
    await expect(store.release('blocked', c, lease)).resolves.toBeUndefined()
    expect(await store.peek('blocked', c, 1)).toMatchObject({ allowed: false, retryAfterMs: 5000 })
    now = T + 1000
    await expect(store.release('k', c, lease)).resolves.toBeUndefined()
    expect(await store.decide('k', c, 1)).toMatchObject({ allowed: true, resetMs: 1000 })
  })

  it('a rate decision after an ended block carries no lease key', async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    await store.block('k', fw, 1000)
    now = T + 1000
    const d = await store.decide('k', fw, 1)
    expect(d).toEqual({ allowed: true, limit: 1, remaining: 0, resetMs: 59_000, retryAfterMs: 0 })
    expect('lease' in d).toBe(false)
  })

  it('peek, refund, block, release and reset find the state of a long (hashed) key', async () => {
    const long = 'k'.repeat(200)
    const store = new MemoryStore({ clock: () => T })
    const two = fixedWindow({ limit: 2, windowMs: 60_000 })
    await store.decide(long, two, 2)
    expect(await store.peek(long, two, 1)).toMatchObject({ allowed: false, remaining: 0 })
    await store.refund(long, two, 1)
    expect(await store.peek(long, two, 1)).toMatchObject({ allowed: true, remaining: 0 })
    await store.block(long, two, 5000)
    expect(await store.decide(long, two, 1)).toMatchObject({ allowed: false, retryAfterMs: 5000 })
    await store.reset(long, two)
    expect(await store.decide(long, two, 1)).toMatchObject({ allowed: true, remaining: 1 })
    expect(store.size).toBe(1)
    const c = concurrency({ limit: 1 })
    const lease = (await store.decide(long, c, 1)).lease!
    expect(await store.peek(long, c, 1)).toMatchObject({ allowed: false })
    await store.release(long, c, lease)
    expect(await store.peek(long, c, 1)).toMatchObject({ allowed: true, remaining: 0 })
    expect(store.size).toBe(1)
  })

  it.each([
    ['a concurrency denial', concurrency({ limit: 1 }), undefined],
    ['a blocked answer', fw, 'blocked'],
    ['a concurrency denial that sets a block', concurrency({ limit: 1 }), 'blockDurationMs'],
  ] as Array<[string, Algorithm, string | undefined]>)(
    '%s counts as a use, so the LRU key evicted when full is another',
    async (_, algorithm, how) => {
      const store = new MemoryStore({ maxKeys: 2, clock: () => T })
      await store.decide('a', algorithm, 1)
      await store.decide('b', algorithm, 1)
      if (how === 'blocked') await store.block('a', algorithm, 1000)
      const options = how === 'blockDurationMs' ? { blockDurationMs: 1000 } : undefined
      expect((await store.decide('a', algorithm, 1, options)).allowed).toBe(false)
      // Full: c evicts the least recently used key, b (a was used by its denial).
      await store.decide('c', algorithm, 1)
      expect(store.size).toBe(2)
      expect((await store.decide('a', algorithm, 1)).allowed).toBe(false)
      expect((await store.decide('b', algorithm, 1)).allowed).toBe(true)
    },
  )
})

describe('MemoryStore state read by peek, a blocked key and compound members', () => {
  it("a fixed window's count belongs to its window when the clock steps back: peek and a compound member", async () => {
    let now = 61_000
    const store = new MemoryStore({ clock: () => now })
    const both = compound([fw, fixedWindow({ limit: 5, windowMs: 1_000_000 })])
    expect((await store.decide('k', fw, 1)).allowed).toBe(true)
    expect((await store.decide('k', both, 1)).allowed).toBe(true)
    now = 59_000
    expect(await store.peek('k', fw, 1)).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetMs: 1000,
      retryAfterMs: 0,
    })
    expect(await store.decide('k', both, 1)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it("a sliding window's state from a later window is neither current nor previous for peek when the clock steps back", async () => {
    let now = 121_000
    const sw = slidingWindow({ limit: 1, windowMs: 60_000 })
    const store = new MemoryStore({ clock: () => now })
    expect((await store.decide('k', sw, 1)).allowed).toBe(true)
    now = 61_000
    expect(await store.peek('k', sw, 1)).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetMs: 119_000,
      retryAfterMs: 0,
    })
  })

  it('a token bucket without state is full for peek, whatever another slot holds (clock near 0)', async () => {
    let now = 0
    const store = new MemoryStore({ clock: () => now })
    // Slot 0: a count of 1 expiring at 1000, numbers a bucket must not read as its own.
    await store.decide('first', fixedWindow({ limit: 5, windowMs: 1000 }), 1)
    const bucket = tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1000 })
    now = 1
    expect(await store.peek('k', bucket, 1)).toEqual({
      allowed: true,
      limit: 10,
      remaining: 9,
      resetMs: 1000,
      retryAfterMs: 0,
    })
  })

  it("a sliding log that stops mattering at this very ms is dropped before a blocked key's admission", async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    const log = slidingLog({ limit: 3, windowMs: 1000 })
    await store.decide('k', log, 1)
    now = T + 1
    // Two distinct milliseconds: the entries live in a list beside the slot.
    await store.decide('k', log, 1)
    await store.block('k', log, 500)
    // The newest entry's t + W: the state is untouched again, and the ended block sends this
    // decision down the general path.
    now = T + 1001
    expect(await store.decide('k', log, 1)).toEqual({
      allowed: true,
      limit: 3,
      remaining: 2,
      resetMs: 1000,
      retryAfterMs: 0,
    })
    expect(await store.decide('k', log, 1)).toEqual({
      allowed: true,
      limit: 3,
      remaining: 1,
      resetMs: 1000,
      retryAfterMs: 0,
    })
  })

  it("a compound member with an empty sliding log shows resetMs 0 in a denied compound's parts", async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    const log = slidingLog({ limit: 5, windowMs: 1000 })
    const both = compound([fixedWindow({ limit: 1, windowMs: 60_000 }), log])
    expect((await store.decide('k', both, 1)).allowed).toBe(true)
    now = T + 1000
    const d = await store.decide('k', both, 1)
    expect(d.allowed).toBe(false)
    expect(d.parts![1]).toEqual({
      allowed: true,
      limit: 5,
      remaining: 5,
      resetMs: 0,
      retryAfterMs: 0,
    })
  })
})

describe('MemoryStore slots: what is freed, reclaimed and evicted', () => {
  it('after a sweep at maxKeys it still reclaims the next key to expire before evicting a live one', async () => {
    let now = T
    const store = new MemoryStore({ maxKeys: 2, clock: () => now })
    const second = fixedWindow({ limit: 1, windowMs: 1000 })
    const tenSeconds = fixedWindow({ limit: 1, windowMs: 10_000 })
    const long = fixedWindow({ limit: 1, windowMs: 100_000 })
    await store.decide('a', second, 1) // ends at T + 1000
    await store.decide('b', tenSeconds, 1) // ends at T + 10_000
    now = T + 1000
    // Full: the sweep reclaims a, and its lower bound becomes b's end.
    await store.decide('c', long, 1) // ends at T + 100_000
    expect(store.size).toBe(2)
    // b is now the most recently used, c the least: only the sweep spares c.
    expect((await store.decide('b', tenSeconds, 1)).allowed).toBe(false)
    now = T + 10_000
    await store.decide('d', second, 1)
    expect(store.size).toBe(2)
    expect((await store.decide('c', long, 1)).allowed).toBe(false)
  })

  it('a block ending first is what the store reclaims at maxKeys, before the LRU key', async () => {
    let now = T
    const store = new MemoryStore({ maxKeys: 2, clock: () => now })
    const long = fixedWindow({ limit: 1, windowMs: 100_000 })
    await store.decide('b', long, 1)
    // a holds only a block (no state), ending at T + 1000; b is the least recently used.
    await store.block('a', long, 1000)
    now = T + 1000
    await store.decide('c', long, 1)
    expect(store.size).toBe(2)
    expect((await store.decide('b', long, 1)).allowed).toBe(false)
    expect((await store.decide('a', long, 1)).allowed).toBe(true)
  })

  it('the sweep timer reclaims expired keys every minute on the store clock', async () => {
    vi.useFakeTimers({ now: T })
    try {
      let now = T
      const store = new MemoryStore({ clock: () => now })
      await store.decide('a', fixedWindow({ limit: 1, windowMs: 1000 }), 1)
      await store.decide('b', fixedWindow({ limit: 1, windowMs: 1_000_000 }), 1)
      await store.block('c', fw, 30_000)
      expect(store.size).toBe(3)
      now = T + 59_999
      vi.advanceTimersByTime(59_999)
      expect(store.size).toBe(3)
      vi.advanceTimersByTime(1)
      expect(store.size).toBe(1)
      await store.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it.each([
    ['fixedWindow', fixedWindow({ limit: 3, windowMs: 60_000 })],
    ['slidingWindow', slidingWindow({ limit: 3, windowMs: 60_000 })],
    ['slidingLog', slidingLog({ limit: 3, windowMs: 60_000 })],
    ['tokenBucket', tokenBucket({ capacity: 3, refillRate: 1, refillIntervalMs: 60_000 })],
  ] as Array<[string, RateAlgorithm]>)(
    '%s: a refund that gives back everything frees the slot, unless a block is live',
    async (_, algorithm) => {
      let now = T
      const store = new MemoryStore({ clock: () => now })
      await store.decide('k', algorithm, 1)
      now = T + 1
      await store.decide('k', algorithm, 2)
      await store.refund('k', algorithm, 1)
      expect(store.size).toBe(1)
      await store.refund('k', algorithm, 2)
      expect(store.size).toBe(0)
      await store.decide('k', algorithm, 2)
      await store.block('k', algorithm, 1000)
      await store.refund('k', algorithm, 2)
      expect(store.size).toBe(1)
      expect(await store.peek('k', algorithm, 1)).toMatchObject({
        allowed: false,
        retryAfterMs: 1000,
      })
      now = T + 1001
      expect(await store.decide('k', algorithm, 3)).toMatchObject({ allowed: true, remaining: 0 })
    },
  )

  it('a compound takes one slot per member, reset and a full refund free them all', async () => {
    const both = compound([
      fixedWindow({ limit: 2, windowMs: 60_000 }),
      slidingLog({ limit: 2, windowMs: 60_000 }),
    ])
    const store = new MemoryStore({ clock: () => T })
    await store.decide('k', both, 1)
    expect(store.size).toBe(2)
    await store.refund('k', both, 1)
    expect(store.size).toBe(0)
    await store.block('k', both, 1000)
    expect(store.size).toBe(2)
    await store.reset('k', both)
    expect(store.size).toBe(0)
    expect(await store.decide('k', both, 2)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('a compound denial counts as a use of every member, so the LRU key evicted when full is another', async () => {
    const both = compound([
      fixedWindow({ limit: 1, windowMs: 60_000 }),
      fixedWindow({ limit: 5, windowMs: 600_000 }),
    ])
    const store = new MemoryStore({ maxKeys: 4, clock: () => T })
    await store.decide('a', both, 1)
    await store.decide('b', both, 1)
    expect((await store.decide('a', both, 1)).allowed).toBe(false)
    // Full: c's two members evict the two least recently used slots, b's.
    await store.decide('c', both, 1)
    expect(store.size).toBe(4)
    expect(await store.decide('a', both, 1)).toMatchObject({ allowed: false, remaining: 0 })
    expect((await store.decide('b', both, 1)).allowed).toBe(true)
  })
})

describe('MemoryStore long-lived state: commit and refund over many entries and leases', () => {
  it('a sliding log stays exact over thousands of entries as its list is compacted (against a plain model)', async () => {
    const L = 50
    const W = 200
    const log = slidingLog({ limit: L, windowMs: W })
    let now = T
    const store = new MemoryStore({ clock: () => now })
    // The model: docs/semantics.md, slidingLog and refund, on a plain array of [t, cost].
    let entries: Array<[number, number]> = []
    const live = () => {
      entries = entries.filter(([t]) => t > now - W)
      return entries.reduce((sum, [, c]) => sum + c, 0)
    }
    const expected = (cost: number): Decision => {
      const used = live()
      const newest = entries.length > 0 ? entries[entries.length - 1]![0] : 0
      if (used + cost <= L) {
        return { allowed: true, limit: L, remaining: L - used - cost, resetMs: W, retryAfterMs: 0 }
      }
      let left = used
      let retryAfterMs = 0
      for (const [t, c] of entries) {
        left -= c
        if (left + cost <= L) {
          retryAfterMs = t + W - now
          break
        }
      }
      return {
        allowed: false,
        limit: L,
        remaining: L - used,
        resetMs: newest + W - now,
        retryAfterMs,
      }
    }
    // A fixed-seed LCG: the same sequence every run.
    let seed = 12_345
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed % n
    }
    for (let i = 0; i < 4000; i++) {
      now += next(3)
      const cost = 1 + next(3)
      if (next(10) === 0) {
        await store.refund('k', log, cost)
        live()
        let left = cost
        while (left > 0 && entries.length > 0) {
          const last = entries[entries.length - 1]!
          const c = Math.min(left, last[1])
          last[1] -= c
          left -= c
          if (last[1] === 0) entries.pop()
        }
        continue
      }
      const want = expected(cost)
      expect(await store.peek('k', log, cost)).toEqual(want)
      const got = await store.decide('k', log, cost)
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        throw new Error(
          `step ${i} at ${now}, cost ${cost}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`,
        )
      }
      if (want.allowed) {
        const last = entries[entries.length - 1]
        if (last !== undefined && last[0] === now) last[1] += cost
        else entries.push([now, cost])
      }
    }
    expect(store.size).toBe(1)
  })

  it('a lease taken after the clock stepped back is kept in expiry order', async () => {
    let now = T + 500
    const store = new MemoryStore({ clock: () => now })
    const c = concurrency({ limit: 3, leaseMs: 1000 })
    await store.decide('k', c, 1) // ends at T + 1500
    now = T
    await store.decide('k', c, 1) // ends at T + 1000, before the first
    await store.decide('k', c, 1) // ends at T + 1000
    // Full: the first lease to end is at T + 1000; the state lasts until T + 1500.
    expect(await store.decide('k', c, 1)).toEqual({
      allowed: false,
      limit: 3,
      remaining: 0,
      resetMs: 1500,
      retryAfterMs: 1000,
    })
    now = T + 1000
    expect(await store.decide('k', c, 2)).toMatchObject({
      allowed: true,
      remaining: 0,
      resetMs: 1000,
    })
  })

  it("a compound whose first member's new slot evicts the second member's writes the second afresh", async () => {
    let now = T
    const store = new MemoryStore({ maxKeys: 2, clock: () => now })
    const second = fixedWindow({ limit: 1, windowMs: 1000 })
    const both = compound([second, fixedWindow({ limit: 5, windowMs: 1_000_000 })])
    const other = fixedWindow({ limit: 1, windowMs: 1_000_000 })
    await store.decide('k', both, 1)
    now = T + 1000
    await store.decide('k', both, 1)
    // The first member's count goes back to 0 and frees its slot; the second keeps a count of 1.
    await store.refund('k', both, 1)
    expect(store.size).toBe(1)
    await store.decide('x', other, 1)
    // Full, the second member's slot the least recently used: allocating the first member's
    // slot evicts it, so the second member needs a slot of its own again (evicting x).
    expect(await store.decide('k', both, 1)).toMatchObject({ allowed: true, remaining: 0 })
    expect(store.size).toBe(2)
    expect(await store.decide('k', both, 1)).toMatchObject({ allowed: false, retryAfterMs: 1000 })
    expect((await store.decide('x', other, 1)).allowed).toBe(true)
  })

  it("a compound's sliding-log member that stops mattering at this very ms starts afresh", async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    const both = compound([
      slidingLog({ limit: 3, windowMs: 1000 }),
      fixedWindow({ limit: 10, windowMs: 1_000_000 }),
    ])
    await store.decide('k', both, 1)
    now = T + 1
    await store.decide('k', both, 1)
    now = T + 1001
    expect((await store.decide('k', both, 1)).parts![0]).toMatchObject({
      remaining: 2,
      resetMs: 1000,
    })
    expect((await store.decide('k', both, 1)).parts![0]).toMatchObject({
      remaining: 1,
      resetMs: 1000,
    })
    expect(await store.peek('k', both, 1)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('a refund of a single sliding-log entry frees the slot', async () => {
    const store = new MemoryStore({ clock: () => T })
    const log = slidingLog({ limit: 3, windowMs: 1000 })
    await store.decide('k', log, 2)
    await store.refund('k', log, 1)
    expect(store.size).toBe(1)
    expect(await store.peek('k', log, 2)).toMatchObject({ allowed: true, remaining: 0 })
    await store.refund('k', log, 1)
    expect(store.size).toBe(0)
  })
})

describe('MemoryStore refund of a state that is not there', () => {
  it('a refund on a key that holds only a block gives nothing back (token bucket, clock near 0)', async () => {
    let now = 0
    const store = new MemoryStore({ clock: () => now })
    const bucket = tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1000 })
    await store.block('k', bucket, 1000)
    await store.refund('k', bucket, 1)
    now = 1000
    expect(await store.decide('k', bucket, 1)).toEqual({
      allowed: true,
      limit: 10,
      remaining: 9,
      resetMs: 1000,
      retryAfterMs: 0,
    })
  })

  it('a fixed-window refund after the clock stepped back into an earlier window gives nothing back', async () => {
    let now = 61_000
    const store = new MemoryStore({ clock: () => now })
    const two = fixedWindow({ limit: 2, windowMs: 60_000 })
    await store.decide('k', two, 1)
    now = 59_000
    await store.refund('k', two, 1)
    now = 61_000
    expect(await store.decide('k', two, 1)).toMatchObject({ allowed: true, remaining: 0 })
  })
})

describe('MemoryStore writes through the general path (a compound, a blocked key)', () => {
  it('a compound token-bucket member written at clock 0 starts from a full bucket', async () => {
    const store = new MemoryStore({ clock: () => 0 })
    const both = compound([
      tokenBucket({ capacity: 3, refillRate: 1, refillIntervalMs: 1000 }),
      fixedWindow({ limit: 10, windowMs: 60_000 }),
    ])
    expect((await store.decide('k', both, 1)).parts![0]).toMatchObject({ remaining: 2 })
    expect((await store.decide('k', both, 1)).parts![0]).toMatchObject({ remaining: 1 })
  })

  it('compound members written after the clock stepped back count from their own window only', async () => {
    let now = 121_000
    const store = new MemoryStore({ clock: () => now })
    const both = compound([
      fixedWindow({ limit: 3, windowMs: 60_000 }),
      slidingWindow({ limit: 3, windowMs: 60_000 }),
    ])
    await store.decide('k', both, 1)
    now = 61_000
    await store.decide('k', both, 1)
    const d = await store.peek('k', both, 1)
    expect(d.parts![0]).toMatchObject({ allowed: true, remaining: 1 })
    expect(d.parts![1]).toMatchObject({ allowed: true, remaining: 1 })
  })

  it('a compound peek is not a use: the LRU key evicted when full is still the oldest', async () => {
    const both = compound([
      fixedWindow({ limit: 1, windowMs: 60_000 }),
      fixedWindow({ limit: 5, windowMs: 600_000 }),
    ])
    const store = new MemoryStore({ maxKeys: 4, clock: () => T })
    await store.decide('a', both, 1)
    await store.decide('b', both, 1)
    expect((await store.peek('a', both, 1)).allowed).toBe(false)
    // Full: c's two members evict the two least recently used slots, a's.
    await store.decide('c', both, 1)
    expect((await store.decide('b', both, 1)).allowed).toBe(false)
    expect((await store.decide('a', both, 1)).allowed).toBe(true)
  })

  it("a sliding-window refund leaves the neighbouring slot's state alone", async () => {
    let now = T
    const store = new MemoryStore({ clock: () => now })
    // Refills a token every 1,000 s: a minute later the bucket still misses 5 tokens.
    const bucket = tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1_000_000 })
    const sw = slidingWindow({ limit: 5, windowMs: 60_000 })
    await store.decide('a', bucket, 5) // slot 0: the bucket's balance and when it was written
    await store.decide('b', sw, 3) // slot 1
    await store.refund('b', sw, 1) // curr stays > 0
    now = T + 60_000
    await store.refund('b', sw, 1) // only prev is left: stored as the previous window's state
    expect(await store.peek('a', bucket, 1)).toMatchObject({ remaining: 4 })
    now = T
    const fresh = new MemoryStore({ clock: () => now })
    await fresh.decide('a', bucket, 5)
    await fresh.decide('b', sw, 3)
    await fresh.refund('b', sw, 1)
    expect(await fresh.peek('a', bucket, 1)).toMatchObject({ remaining: 4 })
    now = T + 60_000
    await fresh.refund('b', sw, 1)
    expect(await fresh.peek('b', sw, 1)).toMatchObject({ allowed: true, remaining: 3 })
  })

  it("a refund that empties a blocked key's state leaves another key's block alone", async () => {
    const store = new MemoryStore({ clock: () => T })
    await store.block('a', fw, 5000) // slot 0
    await store.decide('b', fw, 1) // slot 1
    await store.block('b', fw, 5000)
    await store.refund('b', fw, 1)
    expect(await store.peek('a', fw, 1)).toMatchObject({ allowed: false, retryAfterMs: 5000 })
    expect(await store.peek('b', fw, 1)).toMatchObject({ allowed: false, retryAfterMs: 5000 })
  })

  it('a block ending late does not hide an earlier expiry from the sweep at maxKeys', async () => {
    let now = T
    const store = new MemoryStore({ maxKeys: 2, clock: () => now })
    const long = fixedWindow({ limit: 1, windowMs: 1_000_000 })
    await store.decide('b', long, 1)
    await store.decide('a', fixedWindow({ limit: 1, windowMs: 1000 }), 1) // ends at T + 1000
    await store.block('b', long, 2_000_000) // b stays the least recently used
    now = T + 1000
    await store.decide('c', long, 1)
    expect(store.size).toBe(2)
    expect(await store.decide('b', long, 1)).toMatchObject({
      allowed: false,
      retryAfterMs: 1_999_000,
    })
  })
})

describe('MemoryStore LRU list around a denied compound', () => {
  it('a denied compound whose member holds no state keeps the LRU order of every other key', async () => {
    const maxKeys = 3
    const store = new MemoryStore({ maxKeys, clock: () => T })
    const five = fixedWindow({ limit: 5, windowMs: 600_000 })
    const both = compound([five, fixedWindow({ limit: 1, windowMs: 600_000 })])
    // The LRU order of a plain model, most recently used first. "x" stands for the slot of x's
    // second member: the only one of x's two slots the steps below leave.
    const model: string[] = []
    const used = (key: string) => {
      if (model.includes(key)) model.splice(model.indexOf(key), 1)
      model.unshift(key)
      if (model.length > maxKeys) model.pop()
    }
    const use = async (key: string) => {
      expect((await store.decide(key, five, 1)).allowed).toBe(true)
      used(key)
    }
    // peek is not a use: it reads which keys still hold their count.
    const held = async () => {
      const keys: string[] = []
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
        if ((await store.peek(key, five, 1)).remaining < 4) keys.push(key)
      }
      if (!(await store.peek('x', both, 1)).parts![1]!.allowed) keys.push('x')
      return keys.sort()
    }
    // x's first member's slot is the older of the two, so it is the one evicted by b.
    expect((await store.decide('x', both, 1)).allowed).toBe(true)
    await use('a')
    await use('b')
    // The model so far: x's two slots, a, then b, which evicted x's first member.
    model.splice(0, model.length, 'b', 'a', 'x')
    expect(await held()).toEqual(['a', 'b', 'x'])
    // Denied by the second member; the first holds no state (and is given none).
    expect((await store.decide('x', both, 1)).allowed).toBe(false)
    used('x')
    expect(store.size).toBe(3)
    // Every use and every eviction that follows matches the model.
    for (const key of ['c', 'd', 'b', 'e', 'd', 'f', 'a', 'e']) {
      await use(key)
      expect(await held()).toEqual([...model].sort())
      expect(store.size).toBe(3)
    }
  })
})
