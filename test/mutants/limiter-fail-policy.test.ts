/**
 * The limiter's fail policy around a store that fails on demand (issue 15: X1 the breaker counts
 * consecutive failures only, X9 reset() also clears mode 'local''s in-process state). No Redis is
 * involved in what these pin: the store below stands for any store that fails some calls.
 */
import {
  type Algorithm,
  createLimiter,
  type Decision,
  MemoryStore,
  type Store,
  slidingLog,
} from '@tollgate/core'
import { describe, expect, it } from 'vitest'

/** A store that answers from a MemoryStore, or rejects while `failing` is set; counts calls. */
class FlakyStore implements Store {
  failing = false
  decideCalls = 0
  now = 10 * 60_000
  /** The store's injected clock, as MemoryStore({ clock }) and RedisStore({ clock }) expose it. */
  readonly clock = () => this.now
  readonly inner = new MemoryStore({ clock: this.clock })

  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    this.decideCalls++
    if (this.failing) return Promise.reject(new Error('store down'))
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

// A sliding log: no epoch-aligned window boundary can fall inside a test on the wall clock.
const algorithm = slidingLog({ limit: 1, windowMs: 60_000 })

describe('breaker', () => {
  it('counts consecutive failures only: a success in between starts the count again', async () => {
    // X1: with failures: 3, fail-fail-succeed-fail-fail is never three in a row, so the store is
    // still called for every request (a long cooldown: an open breaker would stay open).
    const store = new FlakyStore()
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: slidingLog({ limit: 100, windowMs: 60_000 }),
      store,
      failure: { breaker: { failures: 3, cooldownMs: 3_600_000 } },
      onStoreError: (error) => errors.push(error),
    })
    const outcomes: Array<'ok' | 'failed'> = ['failed', 'failed', 'ok', 'failed', 'failed', 'ok']
    for (const outcome of outcomes) {
      store.failing = outcome === 'failed'
      const d = await limiter.limit('k')
      expect(d.degraded).toBe(outcome === 'failed' ? true : undefined)
    }
    expect(store.decideCalls).toBe(outcomes.length)
    expect(errors).toHaveLength(4)
  })

  it('opens after that many consecutive failures and then answers without the store', async () => {
    const store = new FlakyStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { breaker: { failures: 3, cooldownMs: 3_600_000 } },
    })
    store.failing = true
    for (let i = 0; i < 5; i++) expect((await limiter.limit('k')).degraded).toBe(true)
    expect(store.decideCalls).toBe(3)
  })
})

describe('breaker cooldown', () => {
  it("runs on the store's injected clock: one probe exactly cooldownMs later, none before", async () => {
    const store = new FlakyStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { breaker: { failures: 2, cooldownMs: 1_500 } },
    })
    store.failing = true
    await limiter.limit('k')
    await limiter.limit('k')
    expect(store.decideCalls).toBe(2) // open now
    store.failing = false
    store.now += 1_499
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
    expect(store.decideCalls).toBe(2)
    store.now += 1
    // The probe reaches the healthy store, and closes the breaker.
    expect((await limiter.limit('k')).degraded).toBeUndefined()
    expect((await limiter.limit('other')).degraded).toBeUndefined()
    expect(store.decideCalls).toBe(4)
  })
})

describe("mode 'local'", () => {
  it("reset() also returns the key to its untouched state in the limiter's local store", async () => {
    // X9: while the shared store fails, 'local' limits per process; reset(key) must lift that
    // local count too (the shared store's reset still works here), or the user stays denied.
    const store = new FlakyStore()
    const limiter = createLimiter({
      algorithm,
      store,
      failure: { mode: 'local', breaker: false },
    })
    store.failing = true
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, degraded: true })
    await limiter.reset('k')
    expect(await limiter.limit('k')).toMatchObject({
      allowed: true,
      remaining: 0,
      degraded: true,
    })
    // Another key's local state is its own.
    expect(await limiter.limit('other')).toMatchObject({ allowed: true, degraded: true })
  })
})
