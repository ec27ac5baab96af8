/**
 * The fail policy's breaker and messages, pinned where the StrykerJS run of
 * packages/core/src/fail-policy.ts (issue 15 item 4, session 5) found them unchecked: the breaker's
 * state machine on an injected clock (with and without a transition callback), the cooldown's
 * error message, and the timeout error's text.
 */
import { createLimiter, type Decision, type Store, slidingLog } from '@tollgate/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Breaker } from '../../packages/core/src/fail-policy.js'

const config = { failures: 2, cooldownMs: 1000 }

describe('Breaker', () => {
  it('reports isOpen from the first opening through a failed probe until a good probe closes it, without a callback', () => {
    let now = 5_000
    const breaker = new Breaker(config, () => now)
    expect(breaker.isOpen).toBe(false)
    breaker.failure()
    expect(breaker.isOpen).toBe(false)
    breaker.failure()
    expect(breaker.isOpen).toBe(true)
    expect(breaker.admit()).toBe(false)
    now += 1000
    // Half-open: this call is the probe (no callback to tell; it must not throw).
    expect(breaker.admit()).toBe(true)
    expect(breaker.isOpen).toBe(true)
    expect(breaker.admit()).toBe(false)
    breaker.failure()
    expect(breaker.isOpen).toBe(true)
    expect(breaker.admit()).toBe(false)
    now += 1000
    expect(breaker.admit()).toBe(true)
    breaker.success()
    expect(breaker.isOpen).toBe(false)
    expect(breaker.admit()).toBe(true)
  })

  it('is never open when disabled (false), whatever fails', () => {
    const breaker = new Breaker(false, () => 0)
    for (let i = 0; i < 10; i++) breaker.failure()
    expect(breaker.isOpen).toBe(false)
    expect(breaker.admit()).toBe(true)
  })

  it('after a good probe closes it, needs `failures` new failures to open again', () => {
    let now = 0
    const states: string[] = []
    const breaker = new Breaker(
      { failures: 3, cooldownMs: 100 },
      () => now,
      (s) => states.push(s),
    )
    breaker.failure()
    breaker.failure()
    breaker.failure()
    now = 100
    expect(breaker.admit()).toBe(true)
    breaker.success()
    breaker.failure()
    breaker.failure()
    expect(breaker.isOpen).toBe(false)
    expect(breaker.admit()).toBe(true)
    breaker.failure()
    expect(breaker.isOpen).toBe(true)
    expect(states).toEqual(['open', 'half-open', 'closed', 'open'])
  })

  it('a late failure while open restarts the cooldown without a second open event; a failed probe reopens with one', () => {
    let now = 10_000
    const states: string[] = []
    const breaker = new Breaker(
      config,
      () => now,
      (s) => states.push(s),
    )
    breaker.failure()
    breaker.failure()
    expect(states).toEqual(['open'])
    // A call sent before the breaker opened fails late, 600 ms on: cooldown until 11_600.
    now = 10_600
    breaker.failure()
    expect(states).toEqual(['open'])
    now = 11_599
    expect(breaker.admit()).toBe(false)
    now = 11_600
    expect(breaker.admit()).toBe(true)
    breaker.failure()
    expect(states).toEqual(['open', 'half-open', 'open'])
    now = 12_599
    expect(breaker.admit()).toBe(false)
    now = 12_600
    expect(breaker.admit()).toBe(true)
  })
})

describe('fail policy messages', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('a negative breaker cooldown names failure.breaker.cooldownMs', () => {
    expect(() =>
      createLimiter({
        algorithm: slidingLog({ limit: 1, windowMs: 1000 }),
        failure: { breaker: { cooldownMs: -1 } },
      }),
    ).toThrow(/^tollgate: failure\.breaker\.cooldownMs must be a non-negative number, got -1$/)
  })

  it('a store that does not answer within timeoutMs gets ERR_TOLLGATE_STORE_TIMEOUT naming the option and its value', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const never = () => new Promise<never>(() => {})
    const store: Store = {
      decide: never as () => Promise<Decision>,
      peek: never as () => Promise<Decision>,
      refund: never,
      block: never,
      release: never,
      reset: never,
    }
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: slidingLog({ limit: 1, windowMs: 1000 }),
      store,
      failure: { timeoutMs: 250 },
      onStoreError: (error) => errors.push(error),
    })
    const decision = limiter.limit('k')
    await vi.advanceTimersByTimeAsync(250)
    expect(await decision).toMatchObject({ allowed: true, degraded: true })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      code: 'ERR_TOLLGATE_STORE_TIMEOUT',
      message: 'tollgate: store did not answer within failure.timeoutMs (250 ms)',
    })
  })
})
