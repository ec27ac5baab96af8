import { randomUUID } from 'node:crypto'
import {
  type Algorithm,
  compound,
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { RedisStore, scriptCommandName, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { connectClient, type TestClient } from '../../../test/support/clients.js'

// The shared server: every key of this file lives under its own prefix.
const prefix = `t-redis-store-${randomUUID()}:`
/** Looks at Redis from outside; the stores run on `storeClient` (ioredis or node-redis). */
let client: Redis
let storeClient: TestClient
let now = 0
let store: RedisStore

/** Decision literal with the limit filled in, for readable expectations. */
const d = (
  limit: number,
  allowed: boolean,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
): Decision => ({ allowed, limit, remaining, resetMs, retryAfterMs })

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  storeClient = await connectClient(inject('redisUrl'))
  store = new RedisStore({ client: storeClient.client, prefix, clock: () => now })
})

afterAll(async () => {
  await storeClient.quit()
  await client.quit()
})

/** Runs `(now, key, cost)` steps through the store and returns its decisions. */
async function run(
  algorithm: Algorithm,
  key: string,
  steps: Array<[now: number, cost: number]>,
): Promise<Decision[]> {
  const got: Decision[] = []
  for (const [at, cost] of steps) {
    now = at
    got.push(await store.decide(key, algorithm, cost))
  }
  return got
}

describe('new RedisStore()', () => {
  it('throws a TypeError naming an unknown option', () => {
    expect(() => new RedisStore({ client, prefx: 'x:' } as never)).toThrow(TypeError)
    expect(() => new RedisStore({ client, prefx: 'x:' } as never)).toThrow(/"prefx"/)
  })

  it('throws a TypeError when the client is missing or not an ioredis client', () => {
    expect(() => new RedisStore({} as never)).toThrow(TypeError)
    expect(() => new RedisStore({} as never)).toThrow(/client/)
    expect(() => new RedisStore({ client: { get() {} } } as never)).toThrow(/client must be/)
    expect(() => new RedisStore(undefined as never)).toThrow(TypeError)
  })

  it('throws a TypeError for a prefix that is not a string or a clock that is not a function', () => {
    expect(() => new RedisStore({ client, prefix: 5 } as never)).toThrow(
      /prefix must be a string, got 5/,
    )
    expect(() => new RedisStore({ client, clock: 5 } as never)).toThrow(/clock must be a function/)
  })

  it('defines namespaced commands once and shares them between stores on one client', () => {
    const name = scriptCommandName('tokenBucket')
    expect(name).toMatch(/^tollgate_tokenBucket_[0-9a-f]{8}$/)
    new RedisStore({ client })
    const before = (client as unknown as Record<string, unknown>)[name]
    expect(typeof before).toBe('function')
    new RedisStore({ client })
    expect((client as unknown as Record<string, unknown>)[name]).toBe(before)
  })

  it('never overwrites a different command of the same name on the client', async () => {
    const other = new Redis(inject('redisUrl'), { lazyConnect: true })
    try {
      other.defineCommand(scriptCommandName('slidingLog'), { lua: 'return 1', numberOfKeys: 1 })
      expect(() => new RedisStore({ client: other })).toThrow(/already defines a command/)
      expect(await other.call('EVAL', 'return 1', '0')).toBe(1)
    } finally {
      other.disconnect()
    }
  })

  it('rejects, not throws, on a cost the algorithm can never admit or a non-integer clock', async () => {
    const algorithm = fixedWindow({ limit: 2, windowMs: 1000 })
    await expect(store.decide('bad-cost', algorithm, 3)).rejects.toThrow(RangeError)
    const badClock = new RedisStore({ client: storeClient.client, prefix, clock: () => 1.5 })
    await expect(badClock.decide('bad-clock', algorithm, 1)).rejects.toThrow(/clock must return/)
    const early = new RedisStore({ client: storeClient.client, prefix, clock: () => -5 })
    await expect(early.decide('early-clock', algorithm, 1)).rejects.toThrow(RangeError)
    await expect(early.decide('early-clock', algorithm, 1)).rejects.toThrow(
      'tollgate: clock must return epoch milliseconds >= 0, got -5',
    )
  })

  it("close() leaves the caller's client connected", async () => {
    const own = new RedisStore({ client: storeClient.client, prefix })
    await own.close()
    expect(await storeClient.ping()).toBe('PONG')
  })
})

describe('RedisStore fixedWindow', () => {
  const algorithm = fixedWindow({ limit: 3, windowMs: 1000 })

  it('admits up to the limit per epoch-aligned window, then denies until its end', async () => {
    expect(
      await run(algorithm, 'fw', [
        [10_000, 1],
        [10_250, 2],
        [10_500, 1],
        [10_999, 3],
        [11_000, 3],
        [11_400, 1],
      ]),
    ).toEqual([
      d(3, true, 2, 1000, 0),
      d(3, true, 0, 750, 0),
      d(3, false, 0, 500, 500),
      d(3, false, 0, 1, 1),
      d(3, true, 0, 1000, 0),
      d(3, false, 0, 600, 600),
    ])
  })
})

describe('RedisStore slidingWindow', () => {
  const algorithm = slidingWindow({ limit: 10, windowMs: 1000 })

  it('weighs the previous window and takes the in-window retry branch', async () => {
    expect(
      await run(algorithm, 'sw-a', [
        [5000, 6],
        [6250, 5],
        [6500, 3],
        [6666, 3],
        [6667, 3],
      ]),
    ).toEqual([
      d(10, true, 4, 2000, 0),
      // prev = 6 weighs 750/1000: used 4500 + 5000
      d(10, true, 0, 1750, 0),
      // used 6*500 + 5*1000 = 8000; free = 2 -> W - floor(2000/6) - e = 1000 - 333 - 500
      d(10, false, 2, 1500, 167),
      d(10, false, 2, 1334, 1),
      d(10, true, 0, 1333, 0),
    ])
  })

  it('takes the next-window retry branch when this window can never make room', async () => {
    expect(
      await run(algorithm, 'sw-b', [
        [5000, 6],
        [6250, 5],
        [6500, 6],
        [7199, 6],
        [7200, 6],
      ]),
    ).toEqual([
      d(10, true, 4, 2000, 0),
      d(10, true, 0, 1750, 0),
      // free = -1 -> (start + W - now) + W - floor((10 - 6) * 1000 / 5) = 500 + 200
      d(10, false, 2, 1500, 700),
      // in window 7: prev = 5, e = 199: used = 5 * 801 = 4005
      d(10, false, 5, 801, 1),
      d(10, true, 0, 1800, 0),
    ])
  })
})

describe('RedisStore slidingLog', () => {
  const algorithm = slidingLog({ limit: 3, windowMs: 1000 })

  it('drops entries older than the window and walks the log for the retry', async () => {
    expect(
      await run(algorithm, 'sl', [
        [1000, 1],
        [1200, 1],
        [1400, 1],
        [1500, 2],
        [2000, 1],
        [2199, 1],
        [2200, 1],
        [9000, 3],
      ]),
    ).toEqual([
      d(3, true, 2, 1000, 0),
      d(3, true, 1, 1000, 0),
      d(3, true, 0, 1000, 0),
      // 1000 and 1200 must both leave before 2 more fit
      d(3, false, 0, 900, 700),
      // 1000 left at 2000
      d(3, true, 0, 1000, 0),
      d(3, false, 0, 801, 1),
      d(3, true, 0, 1000, 0),
      d(3, true, 0, 1000, 0),
    ])
  })
})

describe('RedisStore slidingLog with a long log', () => {
  it('agrees with MemoryStore when the retry walk and the expiry scan cross several reads', async () => {
    // Large costs against a log of many small entries: the denial walk reads past the first
    // LRANGE chunk, and a jump in time drops many entries at once.
    const algorithm = slidingLog({ limit: 200, windowMs: 100_000 })
    const memory = new MemoryStore({ clock: () => now })
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed % n
    }
    now = 50_000_000
    let denied = 0
    for (let k = 0; k < 1500; k++) {
      now += [0, 1, 7, 300, 20_000][random(5)]!
      const cost = random(4) === 0 ? 1 + random(120) : 1
      const fromMemory = await memory.decide('long', algorithm, cost)
      const fromRedis = await store.decide('long', algorithm, cost)
      expect(fromRedis, `step ${k} at ${now}, cost ${cost}`).toEqual(fromMemory)
      if (!fromRedis.allowed) denied++
    }
    expect(denied).toBeGreaterThan(100)
    await memory.close()
  })

  it('answers with the array form when a packed reply would pass 2^53', async () => {
    // (W + 1) * (L + 1) >= 2^53: the script cannot pack the admission into one integer.
    const algorithm = fixedWindow({ limit: 2 ** 50, windowMs: 100 })
    now = 1_000_050
    expect(await store.decide('huge', algorithm, 2 ** 40)).toEqual(
      d(2 ** 50, true, 2 ** 50 - 2 ** 40, 50, 0),
    )
    // So does a compound's part, beside a packed one.
    const both = compound([algorithm, fixedWindow({ limit: 2 ** 41, windowMs: 1000 })])
    expect((await store.decide('huge', both, 2 ** 40)).parts).toEqual([
      d(2 ** 50, true, 2 ** 50 - 2 ** 40, 50, 0),
      d(2 ** 41, true, 2 ** 40, 950, 0),
    ])
  })

  it('decodes packed replies exactly when the quotient is close to an integer', async () => {
    // A large capacity: the packed value is one step below a multiple of (C + 1), where a float
    // division may round the quotient up.
    const algorithm = tokenBucket({ capacity: 999_999_937, refillRate: 1, refillIntervalMs: 7 })
    now = 5_000_000
    expect(await store.decide('near', algorithm, 1)).toEqual(
      d(999_999_937, true, 999_999_936, 7, 0),
    )
  })
})

describe('RedisStore tokenBucket', () => {
  const algorithm = tokenBucket({ capacity: 5, refillRate: 2, refillIntervalMs: 1000 })

  it('spends a burst, refills 2 tokens per second exactly, and reports when full again', async () => {
    const t = 1_000_000
    expect(
      await run(algorithm, 'tb', [
        [t, 5],
        [t + 100, 1],
        [t + 500, 1],
        [t + 3000, 1],
        [t + 3000, 4],
        [t + 3001, 1],
      ]),
    ).toEqual([
      d(5, true, 0, 2500, 0),
      // 200 of 1000 units needed: 800 more at 2 units/ms
      d(5, false, 0, 2400, 400),
      d(5, true, 0, 2500, 0),
      d(5, true, 4, 500, 0),
      d(5, true, 0, 2500, 0),
      d(5, false, 0, 2499, 499),
    ])
  })

  it('stays exact over a long run at exactly the refill rate', async () => {
    // 7 tokens per 3000 ms is 7/3000 token per ms, not a finite binary fraction: floats would drift.
    const algorithm = tokenBucket({ capacity: 7, refillRate: 7, refillIntervalMs: 3000 })
    const base = 9_000_000
    for (let k = 0; k < 300; k++) {
      if (k > 0) {
        now = base + k * 3000 - 1
        expect(await store.decide('tb-steady', algorithm, 7)).toEqual(d(7, false, 6, 1, 1))
      }
      now = base + k * 3000
      expect(await store.decide('tb-steady', algorithm, 7)).toEqual(d(7, true, 0, 3000, 0))
    }
  })
})

describe('RedisStore with the Redis TIME clock', () => {
  it('decides every algorithm from the server clock', async () => {
    const timeStore = new RedisStore({ client: storeClient.client, prefix })
    const [sec, usec] = await client.time()
    const serverNow = Number(sec) * 1000 + Math.floor(Number(usec) / 1000)
    const W = 3_600_000
    const fw = await timeStore.decide('time-fw', fixedWindow({ limit: 5, windowMs: W }), 2)
    expect(fw.allowed).toBe(true)
    expect(fw.remaining).toBe(3)
    const expectedReset = W - (serverNow % W)
    expect(Math.abs(fw.resetMs - expectedReset)).toBeLessThanOrEqual(1000)

    const sw = await timeStore.decide('time-sw', slidingWindow({ limit: 5, windowMs: W }), 5)
    expect(sw).toMatchObject({ allowed: true, remaining: 0 })
    expect(
      await timeStore.decide('time-sw', slidingWindow({ limit: 5, windowMs: W }), 1),
    ).toMatchObject({ allowed: false })

    const sl = await timeStore.decide('time-sl', slidingLog({ limit: 2, windowMs: W }), 2)
    expect(sl).toEqual(d(2, true, 0, W, 0))
    const slDenied = await timeStore.decide('time-sl', slidingLog({ limit: 2, windowMs: W }), 1)
    expect(slDenied.allowed).toBe(false)
    expect(slDenied.retryAfterMs).toBeGreaterThan(W - 1000)
    expect(slDenied.retryAfterMs).toBeLessThanOrEqual(W)

    const tb = await timeStore.decide(
      'time-tb',
      tokenBucket({ capacity: 4, refillRate: 1, refillIntervalMs: W }),
      4,
    )
    expect(tb).toEqual(d(4, true, 0, 4 * W, 0))
  })
})

describe('RedisStore keys and expiry', () => {
  const pttl = (key: string, algorithm: Algorithm) =>
    client.pttl(stateKey(prefix, key, algorithm.kind))

  it('names keys <prefix>{<key>}:<suffix> with the user key as the hash tag', () => {
    expect(stateKey('tollgate:', 'fixedWindow:100:60000:1.2.3.4', 'fixedWindow')).toBe(
      'tollgate:{fixedWindow:100:60000:1.2.3.4}:fw',
    )
    expect(stateKey('p:', 'k', 'slidingWindow')).toBe('p:{k}:sw')
    expect(stateKey('p:', 'k', 'slidingLog')).toBe('p:{k}:sl')
    expect(stateKey('p:', 'k', 'tokenBucket')).toBe('p:{k}:tb')
  })

  it('expires a fixed window key at the window end', async () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
    await run(algorithm, 'ttl-fw', [[600_000 + 15_000, 1]])
    const ttl = await pttl('ttl-fw', algorithm)
    expect(ttl).toBeLessThanOrEqual(45_000)
    expect(ttl).toBeGreaterThan(45_000 - 200)
  })

  it('expires a sliding window key at start + 2W', async () => {
    const algorithm = slidingWindow({ limit: 5, windowMs: 60_000 })
    await run(algorithm, 'ttl-sw', [[600_000 + 15_000, 1]])
    const ttl = await pttl('ttl-sw', algorithm)
    expect(ttl).toBeLessThanOrEqual(105_000)
    expect(ttl).toBeGreaterThan(105_000 - 200)
  })

  it('expires a sliding log key at t_newest + W, and a denial does not extend it', async () => {
    const algorithm = slidingLog({ limit: 2, windowMs: 60_000 })
    await run(algorithm, 'ttl-sl', [
      [1_000_000, 1],
      [1_030_000, 1],
    ])
    const first = await pttl('ttl-sl', algorithm)
    expect(first).toBeLessThanOrEqual(60_000)
    expect(first).toBeGreaterThan(60_000 - 200)
    // The injected clock moves on 20 s: a denial must leave the TTL where the admission put it.
    const [denied] = await run(algorithm, 'ttl-sl', [[1_050_000, 1]])
    expect(denied?.allowed).toBe(false)
    expect(await pttl('ttl-sl', algorithm)).toBeLessThanOrEqual(first)
  })

  it('expires a token bucket key when the bucket is full again, and a denial does not extend it', async () => {
    const algorithm = tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1000 })
    const [first] = await run(algorithm, 'ttl-tb', [[2_000_000, 7]])
    expect(first?.resetMs).toBe(7000)
    const ttl = await pttl('ttl-tb', algorithm)
    expect(ttl).toBeLessThanOrEqual(7000)
    expect(ttl).toBeGreaterThan(7000 - 200)
    const [denied] = await run(algorithm, 'ttl-tb', [[2_000_500, 4]])
    expect(denied).toEqual(d(10, false, 3, 6500, 500))
    expect(await pttl('ttl-tb', algorithm)).toBeLessThanOrEqual(ttl)
  })

  it("keeps a fixed window key's TTL when a request is denied", async () => {
    const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
    await run(algorithm, 'ttl-deny', [[60_000, 1]])
    const before = await pttl('ttl-deny', algorithm)
    expect(before).toBeGreaterThan(60_000 - 200)
    const [denied] = await run(algorithm, 'ttl-deny', [[60_001, 1]])
    expect(denied).toEqual(d(1, false, 0, 59_999, 59_999))
    expect(await pttl('ttl-deny', algorithm)).toBeLessThanOrEqual(before)
  })

  it("stores a limiter's key as <prefix>{<limiter prefix><key>}:<suffix>", async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }),
      store: new RedisStore({ client: storeClient.client, prefix }),
    })
    expect((await limiter.limit('1.2.3.4')).allowed).toBe(true)
    expect(await client.exists(`${prefix}{fw:100:60000:1.2.3.4}:fw`)).toBe(1)
    await limiter.reset('1.2.3.4')
    expect(await client.exists(`${prefix}{fw:100:60000:1.2.3.4}:fw`)).toBe(0)
  })

  it('reset() returns every algorithm to the untouched state', async () => {
    const algorithms: Algorithm[] = [
      fixedWindow({ limit: 2, windowMs: 60_000 }),
      slidingWindow({ limit: 2, windowMs: 60_000 }),
      slidingLog({ limit: 2, windowMs: 60_000 }),
      tokenBucket({ capacity: 2, refillRate: 1 }),
    ]
    for (const algorithm of algorithms) {
      now = 3_000_000
      await store.decide('reset-me', algorithm, 2)
      expect((await store.decide('reset-me', algorithm, 1)).allowed).toBe(false)
      await store.reset('reset-me', algorithm)
      expect(await client.exists(stateKey(prefix, 'reset-me', algorithm.kind))).toBe(0)
      expect(await store.decide('reset-me', algorithm, 1)).toMatchObject({
        allowed: true,
        remaining: 1,
      })
    }
  })
})

describe('RedisStore with unusual keys', () => {
  const keys = [
    'has spaces  and\ttabs',
    'a{b}c',
    '{braces}',
    '}starts-closed',
    'unbalanced{',
    '{}',
    'ключ-🔑-鍵',
    'x'.repeat(1024),
  ]
  const algorithms: Algorithm[] = [
    fixedWindow({ limit: 2, windowMs: 60_000 }),
    slidingWindow({ limit: 2, windowMs: 60_000 }),
    slidingLog({ limit: 2, windowMs: 60_000 }),
    tokenBucket({ capacity: 2, refillRate: 1, refillIntervalMs: 60_000 }),
  ]

  it.each(keys.map((k) => [k.length > 40 ? `${k.slice(0, 8)}... (${k.length} chars)` : k, k]))(
    'keeps separate exact state for %j',
    async (_label, key) => {
      for (const algorithm of algorithms) {
        now = 4_000_000
        expect(await store.decide(key, algorithm, 1)).toMatchObject({ allowed: true, remaining: 1 })
        expect(await store.decide(key, algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 })
        expect(await store.decide(key, algorithm, 1)).toMatchObject({ allowed: false })
        // The state lives under exactly the documented key, byte for byte.
        expect(await client.exists(stateKey(prefix, key, algorithm.kind))).toBe(1)
        await store.reset(key, algorithm)
        expect(await client.exists(stateKey(prefix, key, algorithm.kind))).toBe(0)
      }
    },
  )

  it('does not mix up keys that differ only after a closing brace', async () => {
    const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
    now = 4_000_000
    expect((await store.decide('a}1', algorithm, 1)).allowed).toBe(true)
    expect((await store.decide('a}2', algorithm, 1)).allowed).toBe(true)
    expect((await store.decide('a}1', algorithm, 1)).allowed).toBe(false)
  })
})
