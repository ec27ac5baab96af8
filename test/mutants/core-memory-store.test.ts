/**
 * MemoryStore (packages/core/src/memory-store.ts, lines 1-424: the Store methods, decideNow and
 * its fast path) where the StrykerJS run of issue 15 item 4 (session 5) found it unchecked: the
 * option names in its errors, reset with and without an algorithm, close(), a fractional clock,
 * a block on a slot past the first, the fixed window's window identity when the clock steps back,
 * and that a denial counts as a use for the LRU eviction on every rate algorithm.
 */
import {
  type Algorithm,
  concurrency,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { afterEach, describe, expect, it, vi } from 'vitest'

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

afterEach(() => {
  vi.useRealTimers()
})

describe('MemoryStore', () => {
  it('names blockDurationMs, durationMs and the clock in its errors', async () => {
    const store = new MemoryStore({ clock: () => T })
    const max = 'a positive integer no larger than 31622400000, got 0'
    expect(await rejected(store.decide('k', fw, 1, { blockDurationMs: 0 }))).toBe(
      `tollgate: blockDurationMs must be ${max}`,
    )
    expect(await rejected(store.block('k', fw, 0))).toBe(`tollgate: durationMs must be ${max}`)
    const fractional = new MemoryStore({ clock: () => 1.5 })
    expect(await rejected(fractional.decide('k', fw, 1))).toBe(
      'tollgate: clock must return integer epoch milliseconds, got 1.5',
    )
  })

  it('refuses a clock before the epoch (time 0 marks "no block": a new key would read as blocked)', async () => {
    const early = new MemoryStore({ clock: () => -5 })
    const message = 'tollgate: clock must return epoch milliseconds >= 0, got -5'
    await expect(early.decide('k', fw, 1)).rejects.toThrow(RangeError)
    expect(await rejected(early.decide('k', fw, 1))).toBe(message)
    expect(await rejected(early.peek('k', fw, 1))).toBe(message)
    expect(await rejected(early.decide('k', concurrency({ limit: 1 }), 1))).toBe(message)
    // The epoch itself is a clock like any other.
    expect((await new MemoryStore({ clock: () => 0 }).decide('k', fw, 1)).allowed).toBe(true)
  })

  it('reset(key, algorithm) clears that kind only; reset(key) every kind; a bad algorithm rejects', async () => {
    const store = new MemoryStore({ clock: () => T })
    const log = slidingLog({ limit: 1, windowMs: 60_000 })
    await store.decide('k', fw, 1)
    await store.decide('k', log, 1)
    await store.reset('k', fw)
    expect((await store.decide('k', fw, 1)).allowed).toBe(true)
    expect((await store.decide('k', log, 1)).allowed).toBe(false)
    await store.reset('k')
    expect((await store.decide('k', fw, 1)).allowed).toBe(true)
    expect((await store.decide('k', log, 1)).allowed).toBe(true)
    await expect(store.reset('k', { kind: 'nope' } as unknown as Algorithm)).rejects.toThrow(
      TypeError,
    )
  })

  it('close() empties the store, stops its sweep timer, and the store starts afresh after it', async () => {
    vi.useFakeTimers({ now: T })
    const store = new MemoryStore()
    const before = vi.getTimerCount()
    await store.decide('a', fw, 1)
    await store.decide('b', fw, 1)
    expect(store.size).toBe(2)
    expect(vi.getTimerCount()).toBe(before + 1)
    await store.close()
    expect(store.size).toBe(0)
    expect(vi.getTimerCount()).toBe(before)
    expect(await store.decide('a', fw, 1)).toMatchObject({ allowed: true, remaining: 0 })
    expect((await store.decide('a', fw, 1)).allowed).toBe(false)
    expect((await store.decide('c', fw, 1)).allowed).toBe(true)
    await store.reset('a')
    expect((await store.decide('a', fw, 1)).allowed).toBe(true)
    expect(store.size).toBe(2)
    await store.close()
    // A sliding log's entries after close() are its own, not left from before.
    const log = slidingLog({ limit: 2, windowMs: 60_000 })
    expect(await store.decide('l', log, 1)).toMatchObject({ allowed: true, remaining: 1 })
    expect(await store.decide('l', log, 1)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await store.decide('l', log, 1)).toMatchObject({ allowed: false, retryAfterMs: 60_000 })
    await store.close()
  })

  it('a block on any slot holds, whatever the state of the slot before it', async () => {
    const store = new MemoryStore({ clock: () => T })
    // block() on fresh keys allocates slots 0 and 1 with a count of 0.
    await store.block('a', fw, 1000)
    await store.block('b', fw, 1000)
    expect(await store.decide('b', fw, 1)).toMatchObject({ allowed: false, retryAfterMs: 1000 })
  })

  it("a fixed window's count belongs to its window: a clock stepped back into the previous window starts at 0", async () => {
    let now = 61_000
    const store = new MemoryStore({ clock: () => now })
    expect((await store.decide('k', fw, 1)).allowed).toBe(true)
    expect((await store.decide('k', fw, 1)).allowed).toBe(false)
    now = 59_000
    expect(await store.decide('k', fw, 1)).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetMs: 1000,
      retryAfterMs: 0,
    })
  })

  it("a sliding window's state from a later window is neither current nor previous when the clock steps back", async () => {
    let now = 121_000
    const sw = slidingWindow({ limit: 1, windowMs: 60_000 })
    const store = new MemoryStore({ clock: () => now })
    expect((await store.decide('k', sw, 1)).allowed).toBe(true)
    now = 61_000
    expect(await store.decide('k', sw, 1)).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetMs: 119_000,
      retryAfterMs: 0,
    })
  })

  it.each([
    ['fixedWindow', fw],
    ['slidingWindow', slidingWindow({ limit: 1, windowMs: 60_000 })],
    ['slidingLog', slidingLog({ limit: 1, windowMs: 60_000 })],
    ['tokenBucket', tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: 60_000 })],
  ] as Array<[string, Algorithm]>)(
    '%s: a denial counts as a use, so the LRU key evicted when full is another',
    async (_, algorithm) => {
      const store = new MemoryStore({ maxKeys: 2, clock: () => T })
      await store.decide('a', algorithm, 1)
      await store.decide('b', algorithm, 1)
      expect((await store.decide('a', algorithm, 1)).allowed).toBe(false)
      // Full: c evicts the least recently used key, b (a was used by its denial).
      await store.decide('c', algorithm, 1)
      expect(store.size).toBe(2)
      expect((await store.decide('a', algorithm, 1)).allowed).toBe(false)
      expect((await store.decide('b', algorithm, 1)).allowed).toBe(true)
    },
  )
})
