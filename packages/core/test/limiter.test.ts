import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type Algorithm,
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  type Store,
  tokenBucket,
} from '../src/index.js'

/**
 * A Store whose health the test switches: it delegates to a real MemoryStore while healthy and
 * fails (rejects, throws, or never answers) on demand. It stands in for "a store that broke", not
 * for Redis; the Redis fault tests live in test/fail-policy-redis.test.ts.
 */
class SwitchableStore implements Store {
  mode: 'healthy' | 'reject' | 'throw' | 'hang' = 'healthy'
  calls = 0
  readonly inner: MemoryStore
  constructor(clock?: () => number) {
    this.inner = new MemoryStore(clock ? { clock } : {})
  }
  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    this.calls++
    if (this.mode === 'reject') return Promise.reject(new Error('connection refused'))
    if (this.mode === 'throw') throw new Error('sync failure')
    if (this.mode === 'hang') return new Promise(() => {})
    return this.inner.decide(key, algorithm, cost)
  }
  peek(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    return this.inner.peek(key, algorithm, cost)
  }
  refund(key: string, algorithm: Algorithm, cost: number): Promise<void> {
    return this.inner.refund(key, algorithm, cost)
  }
  block(key: string, algorithm: Algorithm, durationMs: number): Promise<void> {
    return this.inner.block(key, algorithm, durationMs)
  }
  release(key: string, algorithm: Algorithm, lease: string): Promise<void> {
    return this.inner.release(key, algorithm, lease)
  }
  reset(key: string, algorithm: Algorithm): Promise<void> {
    return this.inner.reset(key, algorithm)
  }
}

const algorithm = fixedWindow({ limit: 2, windowMs: 60_000 })

describe('createLimiter', () => {
  it('decides through its own MemoryStore by default', async () => {
    const limiter = createLimiter({ algorithm })
    expect((await limiter.limit('a')).allowed).toBe(true)
    expect((await limiter.limit('a')).allowed).toBe(true)
    const third = await limiter.limit('a')
    expect(third.allowed).toBe(false)
    expect(third.retryAfterMs).toBeGreaterThan(0)
    expect((await limiter.limit('b')).allowed).toBe(true)
  })

  it('prefixes keys with the algorithm signature when it shares a store', async () => {
    const store = new MemoryStore()
    const a = createLimiter({ algorithm, store })
    const b = createLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 1000 }), store })
    expect(a.prefix).toBe('fw:2:60000:')
    expect(b.prefix).toBe('fw:5:1000:')
    await a.limit('k')
    await a.limit('k')
    expect((await a.limit('k')).allowed).toBe(false)
    expect((await b.limit('k')).allowed).toBe(true)
  })

  it('reset returns the key to its untouched state', async () => {
    const limiter = createLimiter({ algorithm })
    await limiter.limit('a', { cost: 2 })
    await limiter.reset('a')
    expect(await limiter.limit('a', { cost: 2 })).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('does not mutate the options object', () => {
    const options = Object.freeze({ algorithm, failure: Object.freeze({ mode: 'local' as const }) })
    expect(() => createLimiter(options)).not.toThrow()
  })
})

describe('fail policy', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("mode 'open' admits, marked degraded, when the store rejects", async () => {
    const store = new SwitchableStore()
    const errors: unknown[] = []
    const limiter = createLimiter({ algorithm, store, onStoreError: (e) => errors.push(e) })
    store.mode = 'reject'
    const d = await limiter.limit('k')
    expect(d).toMatchObject({ allowed: true, degraded: true })
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('connection refused')
  })

  it('treats a synchronous throw like a rejection', async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({ algorithm, store })
    store.mode = 'throw'
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
  })

  it('answers within timeoutMs when the store hangs, and reports a coded timeout error', async () => {
    const store = new SwitchableStore()
    const errors: Array<{ code?: string }> = []
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { timeoutMs: 50 },
      onStoreError: (e) => errors.push(e as { code?: string }),
    })
    store.mode = 'hang'
    let answered: Decision | undefined
    void limiter.limit('k').then((d) => {
      answered = d
    })
    await vi.advanceTimersByTimeAsync(49)
    expect(answered).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(answered).toMatchObject({ allowed: true, degraded: true })
    expect(errors[0]?.code).toBe('ERR_TOLLGATE_STORE_TIMEOUT')
  })

  it("mode 'closed' denies, marked degraded, with the breaker cooldown as retryAfterMs", async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { mode: 'closed', breaker: { failures: 3, cooldownMs: 2500 } },
    })
    store.mode = 'reject'
    expect(await limiter.limit('k')).toMatchObject({
      allowed: false,
      degraded: true,
      retryAfterMs: 2500,
    })
    const noBreaker = createLimiter({
      algorithm,
      store,
      failure: { mode: 'closed', breaker: false },
    })
    expect((await noBreaker.limit('k')).retryAfterMs).toBe(1000)
  })

  it("mode 'local' keeps limiting per process from an in-process store", async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({ algorithm, store, failure: { mode: 'local', breaker: false } })
    store.mode = 'reject'
    const answers = [await limiter.limit('k'), await limiter.limit('k'), await limiter.limit('k')]
    expect(answers.map((d) => d.allowed)).toEqual([true, true, false])
    expect(answers.every((d) => d.degraded === true)).toBe(true)
    expect(answers[2]!.retryAfterMs).toBeGreaterThan(0)
  })

  it('opens the breaker after `failures` consecutive failures and stops calling the store', async () => {
    const store = new SwitchableStore()
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { breaker: { failures: 3, cooldownMs: 1000 } },
      onStoreError: (e) => errors.push(e),
    })
    store.mode = 'reject'
    for (let i = 0; i < 3; i++) await limiter.limit('k')
    expect(store.calls).toBe(3)
    for (let i = 0; i < 10; i++) {
      expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
    }
    expect(store.calls).toBe(3)
    expect(errors).toHaveLength(3)
  })

  it('probes once after the cooldown: a failed probe reopens, a good one closes', async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { breaker: { failures: 2, cooldownMs: 1000 } },
    })
    store.mode = 'reject'
    await limiter.limit('k')
    await limiter.limit('k')
    expect(store.calls).toBe(2)
    vi.advanceTimersByTime(1000)
    await limiter.limit('k') // the probe fails: open again for another cooldown
    expect(store.calls).toBe(3)
    await limiter.limit('k')
    expect(store.calls).toBe(3)
    vi.advanceTimersByTime(1000)
    store.mode = 'healthy'
    const probe = await limiter.limit('k')
    expect(probe.degraded).toBeUndefined()
    expect(probe.allowed).toBe(true)
    expect(store.calls).toBe(4)
    await limiter.limit('k')
    expect(store.calls).toBe(5)
  })

  it('lets only one probe through while it is in flight', async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { timeoutMs: 100, breaker: { failures: 1, cooldownMs: 500 } },
    })
    store.mode = 'reject'
    await limiter.limit('k')
    vi.advanceTimersByTime(500)
    store.mode = 'hang'
    const probe = limiter.limit('k')
    const others = await Promise.all([limiter.limit('k'), limiter.limit('k')])
    expect(others.every((d) => d.degraded === true)).toBe(true)
    expect(store.calls).toBe(2)
    await vi.advanceTimersByTimeAsync(100)
    expect((await probe).degraded).toBe(true)
  })

  it('a throwing onStoreError does not break the degraded answer', async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({
      algorithm,
      store,
      onStoreError: () => {
        throw new Error('logger down')
      },
    })
    store.mode = 'reject'
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
  })

  it('healthy decisions carry no degraded field at all', async () => {
    const store = new SwitchableStore()
    const limiter = createLimiter({ algorithm, store })
    const d = await limiter.limit('k')
    expect(Object.hasOwn(d, 'degraded')).toBe(false)
  })
})

describe('deny cache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 5_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('answers a denied key locally until its retry time, then asks the store again', async () => {
    const store = new SwitchableStore(() => Date.now())
    const limiter = createLimiter({ algorithm: tokenBucket({ capacity: 1, refillRate: 1 }), store })
    expect((await limiter.limit('k')).allowed).toBe(true)
    const denied = await limiter.limit('k')
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 1000 })
    expect(store.calls).toBe(2)
    vi.advanceTimersByTime(400)
    expect(await limiter.limit('k')).toMatchObject({
      allowed: false,
      remaining: 0,
      retryAfterMs: 600,
    })
    expect(store.calls).toBe(2)
    vi.advanceTimersByTime(600)
    expect((await limiter.limit('k')).allowed).toBe(true)
    expect(store.calls).toBe(3)
  })

  it('is cleared by reset()', async () => {
    const store = new SwitchableStore(() => Date.now())
    const limiter = createLimiter({ algorithm, store })
    await limiter.limit('k', { cost: 2 })
    expect((await limiter.limit('k')).allowed).toBe(false)
    await limiter.reset('k')
    expect((await limiter.limit('k')).allowed).toBe(true)
  })

  it('can be turned off', async () => {
    const store = new SwitchableStore(() => Date.now())
    const limiter = createLimiter({ algorithm, store, denyCache: false })
    await limiter.limit('k', { cost: 2 })
    await limiter.limit('k')
    await limiter.limit('k')
    expect(store.calls).toBe(3)
  })
})

describe('deny cache with a store clock', () => {
  it('times its entries with the clock a store exposes, so moving that clock admits at once', async () => {
    let now = 1_000_000
    const inner = new MemoryStore({ clock: () => now })
    // A remote-like store (not a MemoryStore, so the cache is on) that decides on an injected clock.
    const store: Store & { clock: () => number } = {
      clock: () => now,
      decide: (key, algorithm, cost) => inner.decide(key, algorithm, cost),
      peek: (key, algorithm, cost) => inner.peek(key, algorithm, cost),
      refund: (key, algorithm, cost) => inner.refund(key, algorithm, cost),
      block: (key, algorithm, durationMs) => inner.block(key, algorithm, durationMs),
      release: (key, algorithm, lease) => inner.release(key, algorithm, lease),
      reset: (key, algorithm) => inner.reset(key, algorithm),
    }
    const limiter = createLimiter({ algorithm: tokenBucket({ capacity: 1, refillRate: 1 }), store })
    expect((await limiter.limit('k')).allowed).toBe(true)
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfterMs: 1000 })
    now += 999
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfterMs: 1 })
    now += 1
    expect((await limiter.limit('k')).allowed).toBe(true)
  })
})
