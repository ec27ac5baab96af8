import { describe, expect, it } from 'vitest'
import { fixedWindow, MemoryStore, slidingLog, slidingWindow, tokenBucket } from '../src/index.js'
import { conformanceCases, runConformanceCase } from '../src/testing/index.js'

function clockedStore(options: { maxKeys?: number } = {}) {
  let now = 0
  const store = new MemoryStore({ ...options, clock: () => now })
  return {
    store,
    setNow: (ms: number) => {
      now = ms
    },
  }
}

describe('MemoryStore conformance', () => {
  for (const c of conformanceCases) {
    it(c.name, async () => {
      const { store, setNow } = clockedStore()
      const results = await runConformanceCase(store, setNow, c, 'conf:')
      for (const { step, got } of results) {
        const cost = 'cost' in step ? step.cost : undefined
        expect({ now: step.now, key: step.key, cost, ...got }).toEqual({
          now: step.now,
          key: step.key,
          cost,
          ...step.expect,
        })
      }
      await store.close()
    })
  }
})

describe('MemoryStore', () => {
  it('never reports degraded on a healthy decision (the field is absent, not false)', async () => {
    const store = new MemoryStore()
    const d = await store.decide('k', fixedWindow({ limit: 1, windowMs: 1000 }), 1)
    expect('degraded' in d).toBe(false)
    await store.close()
  })

  it('aligns fixed windows to multiples of windowMs on its clock', async () => {
    const { store, setNow } = clockedStore()
    setNow(12_345)
    const d = await store.decide('k', fixedWindow({ limit: 5, windowMs: 10_000 }), 1)
    expect(d.resetMs).toBe(20_000 - 12_345)
  })

  it('keeps a token bucket exact after a million admits at the refill rate', () => {
    const { store, setNow } = clockedStore()
    // 3 tokens per 1000 ms: one token every 333.33 ms, which a float balance cannot hold exactly.
    const algorithm = tokenBucket({ capacity: 10, refillRate: 3 })
    setNow(0)
    expect(store.decideNow('b', algorithm, 10).allowed).toBe(true)
    let admitted = 0
    let at = 0
    for (let k = 1; k <= 1_000_000; k++) {
      // The first millisecond at which the k-th token has been refilled.
      at = Math.ceil((k * 1000) / 3)
      setNow(at)
      if (store.decideNow('b', algorithm, 1).allowed) admitted++
    }
    expect(admitted).toBe(1_000_000)
    // Refilled 3 units per ms since 0, spent 1000 units per token: 3 * at - 1_000_000_000 left.
    const units = 3 * at - 1_000_000_000
    setNow(at)
    expect(store.decideNow('b', algorithm, 1)).toEqual({
      allowed: false,
      limit: 10,
      remaining: 0,
      resetMs: Math.ceil((10_000 - units) / 3),
      retryAfterMs: Math.ceil((1000 - units) / 3),
    })
  })

  it('reclaims an expired key as untouched state', async () => {
    const { store, setNow } = clockedStore()
    const algorithm = slidingLog({ limit: 1, windowMs: 100 })
    setNow(0)
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(true)
    setNow(99)
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(false)
    expect(store.size).toBe(1)
    setNow(100)
    expect(await store.decide('k', algorithm, 1)).toEqual({
      allowed: true,
      limit: 1,
      remaining: 0,
      resetMs: 100,
      retryAfterMs: 0,
    })
    // Reclaimed in place: the expired state gave its slot to the new one, no second entry.
    expect(store.size).toBe(1)
    // And an expired key gives its slot to another key before any live key is evicted.
    const full = clockedStore({ maxKeys: 2 })
    full.setNow(0)
    await full.store.decide('live', fixedWindow({ limit: 5, windowMs: 1_000_000 }), 1)
    await full.store.decide('expiring', algorithm, 1)
    full.setNow(100)
    await full.store.decide('new', algorithm, 1)
    expect(full.store.size).toBe(2)
    expect(
      (await full.store.decide('live', fixedWindow({ limit: 5, windowMs: 1_000_000 }), 1))
        .remaining,
    ).toBe(3)
    expect(full.store.size).toBe(2)
  })

  it('evicts expired keys first, then the least recently used, when maxKeys is reached', async () => {
    const { store, setNow } = clockedStore({ maxKeys: 3 })
    const long = fixedWindow({ limit: 1, windowMs: 1_000_000 })
    const short = fixedWindow({ limit: 1, windowMs: 10 })
    setNow(0)
    await store.decide('old', long, 1)
    await store.decide('expiring', short, 1)
    await store.decide('recent', long, 1)
    setNow(20) // 'expiring' is past its window end
    await store.decide('new1', long, 1)
    expect(store.size).toBe(3)
    // 'old' is still counted: it was not evicted, the expired key was.
    expect((await store.decide('old', long, 1)).allowed).toBe(false)
    // Full again, nothing expired: the least recently used ('recent') goes.
    await store.decide('new2', long, 1)
    expect(store.size).toBe(3)
    expect((await store.decide('recent', long, 1)).allowed).toBe(true)
    expect((await store.decide('new2', long, 1)).allowed).toBe(false)
  })

  it('counts 100,000 distinct keys exactly', async () => {
    const store = new MemoryStore()
    const algorithm = slidingWindow({ limit: 2, windowMs: 60_000 })
    let admitted = 0
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100_000; i++) {
        if (store.decideNow(`client-${i}`, algorithm, 1).allowed) admitted++
      }
    }
    expect(admitted).toBe(200_000)
    await store.close()
  })

  it('reset returns a key to its untouched state', async () => {
    const { store, setNow } = clockedStore()
    const algorithm = tokenBucket({ capacity: 2, refillRate: 1 })
    setNow(0)
    await store.decide('k', algorithm, 2)
    await store.reset('k', algorithm)
    expect((await store.decide('k', algorithm, 2)).allowed).toBe(true)
  })

  it('does not keep the process alive (its sweep timer is unref-ed)', async () => {
    const store = new MemoryStore()
    await store.decide('k', fixedWindow({ limit: 1, windowMs: 1000 }), 1)
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private timer to check unref
    const timer = (store as any).timer as NodeJS.Timeout
    expect(timer.hasRef()).toBe(false)
    await store.close()
  })
})
