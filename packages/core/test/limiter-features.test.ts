import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type Algorithm,
  type BreakerEvent,
  channels,
  concurrency,
  createLimiter,
  type Decision,
  type DecisionEvent,
  fixedWindow,
  MemoryStore,
  type RateAlgorithm,
  type Store,
  type StoreErrorEvent,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '../src/index.js'

/** A remote-like store (not a MemoryStore, so the deny cache is on) over a MemoryStore, counting calls. */
function wrapped(inner: MemoryStore, clock?: () => number) {
  const calls = { decide: 0, peek: 0, refund: 0, block: 0, release: 0 }
  const store: Store = {
    ...(clock === undefined ? {} : { clock }),
    decide: (key, algorithm, cost, options) => {
      calls.decide++
      return inner.decide(key, algorithm, cost, options)
    },
    peek: (key, algorithm, cost) => {
      calls.peek++
      return inner.peek(key, algorithm, cost)
    },
    refund: (key, algorithm, cost) => {
      calls.refund++
      return inner.refund(key, algorithm, cost)
    },
    block: (key, algorithm, durationMs) => {
      calls.block++
      return inner.block(key, algorithm, durationMs)
    },
    release: (key, algorithm, lease) => {
      calls.release++
      return inner.release(key, algorithm, lease)
    },
    reset: (key, algorithm) => inner.reset(key, algorithm),
  }
  return { store, calls }
}

/** A store whose every call answers `reply` (a bad one) from decide/peek, or fails. */
function replying(reply: () => unknown): Store {
  return {
    decide: reply as unknown as Store['decide'],
    peek: reply as unknown as Store['peek'],
    refund: () => Promise.reject(new Error('store down')),
    block: () => Promise.reject(new Error('store down')),
    release: () => Promise.reject(new Error('store down')),
    reset: () => Promise.resolve(),
  }
}

const fw2 = fixedWindow({ limit: 2, windowMs: 60_000 })

afterEach(() => {
  vi.useRealTimers()
})

describe('limiter.limit options', () => {
  it('regression: limit(key, null) rejects instead of throwing synchronously', async () => {
    const limiter = createLimiter({ algorithm: fw2 })
    let result: Promise<Decision> | undefined
    expect(() => {
      result = limiter.limit('k', null as never)
    }).not.toThrow()
    await expect(result).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_TOLLGATE_INVALID_OPTION',
    })
    await expect(limiter.limit('k', 5 as never)).rejects.toBeInstanceOf(TypeError)
    await expect(limiter.peek('k', null as never)).rejects.toBeInstanceOf(TypeError)
    await expect(limiter.refund('k', null as never)).rejects.toBeInstanceOf(TypeError)
  })

  it('takes a per-request limit that shares the key state (an upgrade keeps the count)', async () => {
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) })
    expect(await limiter.limit('k', { cost: 2 })).toMatchObject({
      allowed: true,
      remaining: 0,
      limit: 2,
    })
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, limit: 2 })
    expect(await limiter.limit('k', { limit: 5 })).toMatchObject({
      allowed: true,
      remaining: 2,
      limit: 5,
    })
    expect(await limiter.peek('k', { limit: 5, cost: 2 })).toMatchObject({
      allowed: true,
      remaining: 0,
    })
    expect(await limiter.limit('k', { limit: 1 })).toMatchObject({
      allowed: false,
      remaining: 0,
      limit: 1,
    })
  })

  it.each([
    ['0', 0, RangeError],
    ['-1', -1, RangeError],
    ['1.5', 1.5, RangeError],
    ['NaN', Number.NaN, RangeError],
    ['"5"', '5', TypeError],
    ['null', null, TypeError],
  ] as const)(
    'rejects a per-request limit of %s naming limit, counting nothing',
    async (what, limit, ctor) => {
      const limiter = createLimiter({ algorithm: fw2 })
      const error = await limiter.limit('k', { limit: limit as number }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ctor)
      expect((error as Error).message).toContain('limit')
      expect((error as Error).message).toContain(what)
      expect(await limiter.limit('k', { cost: 2 })).toMatchObject({ allowed: true })
    },
  )

  it('rejects a per-request limit on a compound limiter (TypeError)', async () => {
    const limiter = createLimiter({ algorithm: [fw2, slidingLog({ limit: 9, windowMs: 1000 })] })
    await expect(limiter.limit('k', { limit: 5 })).rejects.toBeInstanceOf(TypeError)
    await expect(limiter.peek('k', { limit: 5 })).rejects.toBeInstanceOf(TypeError)
  })

  it('rejects a bad blockDurationMs or mode', async () => {
    const limiter = createLimiter({ algorithm: fw2 })
    await expect(limiter.limit('k', { blockDurationMs: 0 })).rejects.toBeInstanceOf(RangeError)
    await expect(limiter.limit('k', { mode: 'audit' as never })).rejects.toBeInstanceOf(TypeError)
  })
})

describe('limiter.peek / refund / block / release / reset', () => {
  it('peek consumes nothing; refund gives back; block denies; reset lifts it', async () => {
    let now = 1_000_000
    const limiter = createLimiter({ algorithm: fw2, store: new MemoryStore({ clock: () => now }) })
    expect(await limiter.peek('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 })
    expect(await limiter.limit('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 })
    expect(await limiter.limit('k')).toMatchObject({ allowed: false })
    await limiter.refund('k', { cost: 1 })
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, remaining: 0 })
    await limiter.reset('k')
    await limiter.block('k', 5000)
    now += 1000
    expect(await limiter.limit('k')).toMatchObject({
      allowed: false,
      remaining: 0,
      retryAfterMs: 4000,
    })
    await limiter.reset('k')
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, remaining: 1 })
  })

  it('blockDurationMs in limit(): the denial blocks in the same call', async () => {
    let now = 0
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 1, windowMs: 1000 }),
      store: new MemoryStore({ clock: () => now }),
    })
    expect((await limiter.limit('k', { blockDurationMs: 10_000 })).allowed).toBe(true)
    expect(await limiter.limit('k', { blockDurationMs: 10_000 })).toMatchObject({
      allowed: false,
      retryAfterMs: 10_000,
    })
    now = 5000
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfterMs: 5000 })
  })

  it('release frees a concurrency slot; refund of a concurrency limiter is a TypeError', async () => {
    const limiter = createLimiter({ algorithm: concurrency({ limit: 1 }) })
    const d = await limiter.limit('u')
    expect(d.lease).toEqual(expect.any(String))
    expect((await limiter.limit('u')).allowed).toBe(false)
    await limiter.release('u', d.lease!)
    await limiter.release('u', d.lease!)
    expect((await limiter.limit('u')).allowed).toBe(true)
    await expect(limiter.refund('u')).rejects.toBeInstanceOf(TypeError)
    await expect(createLimiter({ algorithm: fw2 }).release('u', 'x')).rejects.toBeInstanceOf(
      TypeError,
    )
  })

  it('refund, block and release never reject because of the store: onStoreError hears each once', async () => {
    const errors: unknown[] = []
    const down = replying(() => Promise.reject(new Error('store down')))
    for (const algorithm of [fw2, concurrency({ limit: 2 })] as Algorithm[]) {
      errors.length = 0
      const limiter = createLimiter({ algorithm, store: down, onStoreError: (e) => errors.push(e) })
      if (algorithm.kind === 'concurrency') await limiter.release('k', 'lease-1')
      else await limiter.refund('k')
      await limiter.block('k', 1000)
      expect(errors).toHaveLength(2)
    }
  })

  it('refund, block and release that hang resolve after timeoutMs, reported once', async () => {
    vi.useFakeTimers()
    const errors: unknown[] = []
    const hang: Store = {
      ...replying(() => new Promise(() => {})),
      refund: () => new Promise(() => {}),
      block: () => new Promise(() => {}),
    }
    const limiter = createLimiter({
      algorithm: fw2,
      store: hang,
      failure: { timeoutMs: 50 },
      onStoreError: (e) => errors.push(e),
    })
    const done = Promise.all([limiter.refund('k'), limiter.block('k', 100)])
    await vi.advanceTimersByTimeAsync(60)
    await done
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'ERR_TOLLGATE_STORE_TIMEOUT',
      'ERR_TOLLGATE_STORE_TIMEOUT',
    ])
  })

  it('the fail policy answers peek as it answers limit', async () => {
    const down = replying(() => Promise.reject(new Error('store down')))
    const open = createLimiter({ algorithm: fw2, store: down })
    expect(await open.peek('k')).toMatchObject({ allowed: true, degraded: true })
    const closed = createLimiter({ algorithm: fw2, store: down, failure: { mode: 'closed' } })
    expect(await closed.peek('k')).toMatchObject({ allowed: false, degraded: true })
    const local = createLimiter({ algorithm: fw2, store: down, failure: { mode: 'local' } })
    await local.limit('k', { cost: 2 })
    expect(await local.peek('k')).toMatchObject({ allowed: false, degraded: true })
  })
})

describe('store replies are validated (issue 14 item 1)', () => {
  it.each([
    ['null', () => Promise.resolve(null)],
    ['undefined', () => Promise.resolve(undefined)],
    ['42', () => Promise.resolve(42)],
    ['{}', () => Promise.resolve({})],
    [
      'NaN numbers',
      () =>
        Promise.resolve({
          allowed: true,
          limit: 3,
          remaining: Number.NaN,
          resetMs: 0,
          retryAfterMs: 0,
        }),
    ],
    [
      'a non-promise Decision',
      () => ({ allowed: true, limit: 3, remaining: 2, resetMs: 0, retryAfterMs: 0 }),
    ],
    ['a non-promise null', () => null],
    [
      'a throw',
      () => {
        throw new Error('sync failure')
      },
    ],
  ])(
    'regression: a store answering %s is a store failure the fail policy answers, reported once, no late timeout',
    async (_what, reply) => {
      vi.useFakeTimers()
      const errors: unknown[] = []
      for (const mode of ['open', 'closed'] as const) {
        errors.length = 0
        const limiter = createLimiter({
          algorithm: fw2,
          store: replying(reply),
          failure: { mode, timeoutMs: 50 },
          onStoreError: (e) => errors.push(e),
        })
        const d = await limiter.limit('k')
        expect(d).toMatchObject({ allowed: mode === 'open', degraded: true })
        expect(Number.isInteger(d.retryAfterMs)).toBe(true)
        const p = await limiter.peek('k')
        expect(p).toMatchObject({ allowed: mode === 'open', degraded: true })
        await vi.advanceTimersByTimeAsync(500)
        expect(errors).toHaveLength(2)
      }
      expect(errors.every((e) => e instanceof Error)).toBe(true)
    },
  )

  it('names ERR_TOLLGATE_STORE_REPLY for a reply that is not a Decision', async () => {
    const errors: Array<{ code?: string }> = []
    const limiter = createLimiter({
      algorithm: fw2,
      store: replying(() => Promise.resolve(null)),
      onStoreError: (e) => errors.push(e as { code?: string }),
    })
    await limiter.limit('k')
    expect(errors[0]?.code).toBe('ERR_TOLLGATE_STORE_REPLY')
  })

  it('an admitted concurrency decision without a lease is a bad reply', async () => {
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: concurrency({ limit: 2 }),
      store: replying(() =>
        Promise.resolve({
          allowed: true,
          limit: 2,
          remaining: 1,
          resetMs: 60_000,
          retryAfterMs: 0,
        }),
      ),
      onStoreError: (e) => errors.push(e),
    })
    expect(await limiter.limit('k')).toMatchObject({ degraded: true })
    expect(errors).toHaveLength(1)
    // A peek acquires nothing, so the same answer without a lease is a good peek.
    expect(await limiter.peek('k')).toEqual({
      allowed: true,
      limit: 2,
      remaining: 1,
      resetMs: 60_000,
      retryAfterMs: 0,
    })
    expect(errors).toHaveLength(1)
  })

  it('a concurrency peek through a remote-like store answers without a lease', async () => {
    const { store } = wrapped(new MemoryStore())
    const limiter = createLimiter({ algorithm: concurrency({ limit: 2 }), store })
    const d = await limiter.peek('k')
    expect(d).toMatchObject({ allowed: true, remaining: 1 })
    expect('degraded' in d).toBe(false)
  })
})

describe('upper bounds (issue 14 item 7)', () => {
  it.each([
    ['failure.timeoutMs', { timeoutMs: 2 ** 31 }],
    ['failure.timeoutMs', { timeoutMs: 1e300 }],
    ['failure.breaker.cooldownMs', { breaker: { cooldownMs: 1e300 } }],
    ['failure.breaker.cooldownMs', { breaker: { cooldownMs: 2 ** 31 } }],
    ['failure.breaker.failures', { breaker: { failures: 1e12 } }],
  ])(
    'regression: %s above its maximum is a RangeError naming it and the maximum',
    (name, failure) => {
      let error: unknown
      try {
        createLimiter({ algorithm: fw2, failure })
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(RangeError)
      expect((error as Error).message).toContain(name)
      expect((error as Error).message).toMatch(/no larger than \d+/)
    },
  )

  it('accepts the maxima themselves', () => {
    expect(() =>
      createLimiter({
        algorithm: fw2,
        failure: { timeoutMs: 2 ** 31 - 1, breaker: { cooldownMs: 2 ** 31 - 1 } },
      }),
    ).not.toThrow()
  })

  it('block() durations are bounded too', async () => {
    const limiter = createLimiter({ algorithm: fw2 })
    await expect(limiter.block('k', 1e300)).rejects.toBeInstanceOf(RangeError)
    await expect(limiter.block('k', 0)).rejects.toBeInstanceOf(RangeError)
  })
})

describe('events on node:diagnostics_channel', () => {
  function listen<T>(name: string): { messages: T[]; stop: () => void } {
    const messages: T[] = []
    const fn = (m: unknown) => messages.push(m as T)
    subscribe(name, fn)
    return { messages, stop: () => unsubscribe(name, fn) }
  }

  it('exports the channel names', () => {
    expect(channels).toEqual({
      decision: 'tollgate:decision',
      storeError: 'tollgate:store-error',
      breaker: 'tollgate:breaker',
    })
  })

  it('publishes every limit() decision with the name, the unprefixed key and the mode', async () => {
    const { messages, stop } = listen<DecisionEvent>(channels.decision)
    try {
      const named = createLimiter({ algorithm: fw2, name: 'login', store: new MemoryStore() })
      const unnamed = createLimiter({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) })
      const d1 = await named.limit('alice')
      const d2 = await unnamed.limit('bob', { mode: 'shadow' })
      await named.peek('alice')
      expect(messages).toEqual([
        { name: 'login', key: 'alice', decision: d1, mode: 'enforce' },
        { name: '100-in-60s', key: 'bob', decision: d2, mode: 'shadow' },
      ])
    } finally {
      stop()
    }
  })

  it('publishes decisions of a remote store, cached denials and degraded answers too', async () => {
    const { messages, stop } = listen<DecisionEvent>(channels.decision)
    try {
      const { store } = wrapped(new MemoryStore())
      const limiter = createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store,
      })
      await limiter.limit('k')
      await limiter.limit('k')
      await limiter.limit('k') // from the deny cache
      const down = createLimiter({
        algorithm: fw2,
        store: replying(() => Promise.reject(new Error('down'))),
      })
      await down.limit('k')
      expect(messages.map((m) => [m.decision.allowed, m.decision.degraded ?? false])).toEqual([
        [true, false],
        [false, false],
        [false, false],
        [true, true],
      ])
    } finally {
      stop()
    }
  })

  it('publishes store errors and breaker transitions (open, half-open, closed)', async () => {
    const errors = listen<StoreErrorEvent>(channels.storeError)
    const breaker = listen<BreakerEvent>(channels.breaker)
    try {
      let failing = true
      const inner = new MemoryStore()
      const flaky: Store = {
        ...wrapped(inner).store,
        decide: (k, a, c) => (failing ? Promise.reject(new Error('down')) : inner.decide(k, a, c)),
      }
      const limiter = createLimiter({
        algorithm: fw2,
        name: 'api',
        store: flaky,
        failure: { breaker: { failures: 2, cooldownMs: 0 } },
      })
      await limiter.limit('k')
      await limiter.limit('k')
      expect(breaker.messages).toEqual([{ name: 'api', state: 'open' }])
      failing = false
      await limiter.limit('k')
      expect(breaker.messages).toEqual([
        { name: 'api', state: 'open' },
        { name: 'api', state: 'half-open' },
        { name: 'api', state: 'closed' },
      ])
      expect(errors.messages.map((m) => [m.name, m.key, (m.error as Error).message])).toEqual([
        ['api', 'k', 'down'],
        ['api', 'k', 'down'],
      ])
    } finally {
      errors.stop()
      breaker.stop()
    }
  })
})

describe('deny cache never changes a number (issue 14 item 9)', () => {
  it('regression: a fixedWindow cost-4 denial answers the store remaining after smaller admissions', async () => {
    let now = 1_000_000
    const clock = () => now
    const { store } = wrapped(new MemoryStore({ clock }), clock)
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), store })
    expect(await limiter.limit('k', { cost: 4 })).toMatchObject({ allowed: true, remaining: 1 })
    expect(await limiter.limit('k', { cost: 4 })).toMatchObject({ allowed: false, remaining: 1 })
    expect(await limiter.limit('k', { cost: 1 })).toMatchObject({ allowed: true, remaining: 0 })
    now += 10
    // Before: answered from the cache with the stale remaining 1.
    expect(await limiter.limit('k', { cost: 4 })).toMatchObject({ allowed: false, remaining: 0 })
  })

  it('regression: a slidingLog denial answers the right retryAfterMs after a smaller admission', async () => {
    let now = 1_000_000
    const clock = () => now
    const inner = new MemoryStore({ clock })
    const { store } = wrapped(inner, clock)
    const algorithm = slidingLog({ limit: 3, windowMs: 1000 })
    const limiter = createLimiter({ algorithm, store })
    const truth = createLimiter({ algorithm, store: new MemoryStore({ clock }) })
    const both = async (cost: number) => {
      const [a, b] = [await limiter.limit('k', { cost }), await truth.limit('k', { cost })]
      expect(a).toEqual(b)
      return a
    }
    await both(2)
    now += 100
    await both(2)
    now += 337
    await both(1)
    now += 100
    expect((await both(2)).allowed).toBe(false)
  })

  it('drops its entry on this limiter’s refund and block', async () => {
    let now = 1_000_000
    const clock = () => now
    const { store, calls } = wrapped(new MemoryStore({ clock }), clock)
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store })
    await limiter.limit('k')
    await limiter.limit('k')
    expect(calls.decide).toBe(2)
    await limiter.limit('k')
    expect(calls.decide).toBe(2)
    await limiter.refund('k')
    expect((await limiter.limit('k')).allowed).toBe(true)
    await limiter.block('k', 120_000)
    now += 1
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfterMs: 119_999 })
  })

  // [name, algorithm, per-request limits in the mix]. A token bucket's limiter stops caching once
  // it sends per-request limits (its reset can then drop early), so it also runs without them.
  // Compounds take no per-request limit; their cost-1 denials are cached (limiter.ts, exactFor).
  const algorithms: Array<[string, Algorithm | readonly RateAlgorithm[], boolean]> = [
    ['fixedWindow', fixedWindow({ limit: 6, windowMs: 1000 }), true],
    ['slidingWindow', slidingWindow({ limit: 6, windowMs: 1000 }), true],
    ['slidingLog', slidingLog({ limit: 6, windowMs: 1000 }), true],
    ['tokenBucket', tokenBucket({ capacity: 6, refillRate: 3 }), true],
    ['tokenBucket without per-request limits', tokenBucket({ capacity: 6, refillRate: 3 }), false],
    [
      'compound of two fixed windows',
      [fixedWindow({ limit: 6, windowMs: 1000 }), fixedWindow({ limit: 9, windowMs: 3000 })],
      false,
    ],
    [
      'compound slidingWindow + fixedWindow',
      [slidingWindow({ limit: 6, windowMs: 1000 }), fixedWindow({ limit: 8, windowMs: 2500 })],
      false,
    ],
    [
      'compound fixedWindow + tokenBucket + slidingLog',
      [
        fixedWindow({ limit: 7, windowMs: 700 }),
        tokenBucket({ capacity: 6, refillRate: 3 }),
        slidingLog({ limit: 8, windowMs: 1500 }),
      ],
      false,
    ],
  ]

  const step = fc.record({
    dt: fc.integer({ min: 0, max: 120 }),
    key: fc.constantFrom('a', 'b', 'c'),
    cost: fc.integer({ min: 1, max: 6 }),
    limit: fc.constantFrom(undefined, undefined, undefined, 3, 9),
    op: fc.constantFrom(
      'limit',
      'limit',
      'limit',
      'limit',
      'limit',
      'limit',
      'lockout',
      'peek',
      'refund',
      'block',
    ),
  })

  it.each(algorithms)(
    'limit() with the deny cache equals a MemoryStore limiter over 10,000 seeded steps (%s, mixed costs)',
    async (_kind, algorithm, perRequestLimits) => {
      // fc.sample with a fixed seed: the same 10,000 steps every run; a mismatch names its step.
      const steps = fc.sample(step, { seed: 20_261_201, numRuns: 10_000 })
      let now = 1_700_000_000_000
      const clock = () => now
      const { store, calls } = wrapped(new MemoryStore({ clock }), clock)
      const cached = createLimiter({ algorithm, store, prefix: 'p:' })
      const plain = createLimiter({ algorithm, store: new MemoryStore({ clock }), prefix: 'p:' })
      let limits = 0
      for (const [index, drawn] of steps.entries()) {
        const s = perRequestLimits ? drawn : { ...drawn, limit: undefined }
        now += s.dt
        const cost = 1 + ((s.cost - 1) % (s.limit ?? 6))
        const options = s.limit === undefined ? { cost } : { cost, limit: s.limit }
        if (s.op === 'limit' || s.op === 'peek' || s.op === 'lockout') {
          limits++
          // 'lockout': the adapters' blockDurationMs, a block shorter or longer than the denial.
          const lockout = { ...options, blockDurationMs: 20 + 7 * s.dt }
          const [a, b] =
            s.op === 'limit'
              ? [await cached.limit(s.key, options), await plain.limit(s.key, options)]
              : s.op === 'lockout'
                ? [await cached.limit(s.key, lockout), await plain.limit(s.key, lockout)]
                : [await cached.peek(s.key, options), await plain.peek(s.key, options)]
          if (JSON.stringify(a) !== JSON.stringify(b)) {
            const before = steps.slice(Math.max(0, index - 8), index)
            expect({ index, before, step: s, got: a }).toEqual({ index, before, step: s, got: b })
          }
        } else if (s.op === 'refund') {
          await cached.refund(s.key, { cost: Math.min(cost, 6) })
          await plain.refund(s.key, { cost: Math.min(cost, 6) })
        } else if (s.dt % 5 === 0) {
          await cached.block(s.key, 10 + 3 * s.dt)
          await plain.block(s.key, 10 + 3 * s.dt)
        }
      }
      // The cache answered a good share of the calls, so the comparison is not vacuous.
      if (
        perRequestLimits &&
        !Array.isArray(algorithm) &&
        (algorithm as Algorithm).kind === 'tokenBucket'
      )
        return
      expect(calls.decide + calls.peek).toBeLessThan(limits)
    },
    60_000,
  )
})

describe('compound limits through the limiter (issue 11 item 1)', () => {
  it('a client held at 10 per second keeps its daily quota; stacked limiters drain it', async () => {
    let now = 86_400_000 * 20_000
    const clock = () => now
    const perSecond = slidingWindow({ limit: 10, windowMs: 1000 })
    const perDay = fixedWindow({ limit: 1000, windowMs: 86_400_000 })
    const store = new MemoryStore({ clock })
    const compound = createLimiter({ algorithm: [perSecond, perDay], store, prefix: 'c:' })
    // Stacked: the daily limiter counts every request before the per-second one denies it.
    const day = createLimiter({ algorithm: perDay, store, prefix: 'd:' })
    const second = createLimiter({ algorithm: perSecond, store, prefix: 's:' })
    let compoundAdmitted = 0
    let stackedAdmitted = 0
    // 100 requests a second for 20 seconds: 10 a second can pass.
    for (let s = 0; s < 20; s++) {
      for (let r = 0; r < 100; r++) {
        now = 86_400_000 * 20_000 + s * 1000 + r * 10
        if ((await compound.limit('client')).allowed) compoundAdmitted++
        const daily = await day.limit('client')
        if (daily.allowed && (await second.limit('client')).allowed) stackedAdmitted++
      }
    }
    const compoundLeft = await compound.peek('client')
    const dayLeft = await day.peek('client')
    // Each member's remaining, as parts: the daily member counted only what was admitted.
    expect(compoundLeft.parts?.[1]?.remaining).toBe(
      1000 - compoundAdmitted - (compoundLeft.allowed ? 1 : 0),
    )
    expect(compoundAdmitted).toBeLessThanOrEqual(20 * 10 + 10)
    // The stacked daily limiter counted every request: its quota is gone.
    expect(dayLeft.allowed).toBe(false)
    expect(stackedAdmitted).toBeLessThan(compoundAdmitted)
  })

  it('answers parts in member order and the limit of the part with the fewest remaining', async () => {
    const limiter = createLimiter({
      algorithm: [
        fixedWindow({ limit: 5, windowMs: 60_000 }),
        slidingLog({ limit: 2, windowMs: 60_000 }),
      ],
    })
    const d = await limiter.limit('k')
    expect(d.parts?.map((p) => p.limit)).toEqual([5, 2])
    expect(d).toMatchObject({ allowed: true, limit: 2, remaining: 1 })
  })
})

describe('concurrency with the fail policy', () => {
  it('a degraded (open) admission carries no lease; release of an unknown lease is a no-op', async () => {
    const limiter = createLimiter({
      algorithm: concurrency({ limit: 1 }),
      store: replying(() => Promise.reject(new Error('down'))),
      onStoreError: () => {},
    })
    const d = await limiter.limit('k')
    expect(d).toMatchObject({ allowed: true, degraded: true })
    expect('lease' in d).toBe(false)
  })

  it("mode 'local' hands out local leases that release frees", async () => {
    const limiter = createLimiter({
      algorithm: concurrency({ limit: 1 }),
      store: replying(() => Promise.reject(new Error('down'))),
      failure: { mode: 'local', breaker: false },
      onStoreError: () => {},
    })
    const d = await limiter.limit('k')
    expect(d).toMatchObject({ allowed: true, degraded: true, lease: expect.any(String) })
    expect((await limiter.limit('k')).allowed).toBe(false)
    await limiter.release('k', d.lease!)
    expect((await limiter.limit('k')).allowed).toBe(true)
  })
})
