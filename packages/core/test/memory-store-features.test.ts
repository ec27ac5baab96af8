import { describe, expect, it } from 'vitest'
import {
  compound,
  concurrency,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '../src/index.js'
import { MAX_STORED_KEY_BYTES } from '../src/memory-store.js'
import { allConformanceCases, runConformanceCase } from '../src/testing/index.js'

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

describe('MemoryStore conformance (the whole table, extended cases included)', () => {
  for (const c of allConformanceCases) {
    it(`${c.feature ?? 'decide'}: ${c.name}`, async () => {
      const { store, setNow } = clockedStore()
      const results = await runConformanceCase(store, setNow, c, 'conf:')
      results.forEach(({ step, got }, index) => {
        // The step number and op in both sides, so a mismatch names the step.
        expect({ index, op: step.op ?? 'decide', now: step.now, got }).toEqual({
          index,
          op: step.op ?? 'decide',
          now: step.now,
          got: step.expect,
        })
      })
      await store.close()
    })
  }
})

describe('MemoryStore state per algorithm kind', () => {
  it('regression: a fixedWindow and a slidingWindow on one key no longer read each other (kept apart per kind)', async () => {
    const { store, setNow } = clockedStore()
    setNow(1000)
    const fw = fixedWindow({ limit: 2, windowMs: 1000 })
    const sw = slidingWindow({ limit: 2, windowMs: 1000 })
    expect((await store.decide('k', fw, 2)).allowed).toBe(true)
    // Before, the fixed window's state (expiring at 2000 = start + W) read as the sliding
    // window's previous window: 2 used, so this was denied.
    expect(await store.decide('k', sw, 2)).toEqual({
      allowed: true,
      limit: 2,
      remaining: 0,
      resetMs: 2000,
      retryAfterMs: 0,
    })
    expect(store.size).toBe(2)
  })

  it('keeps two compound members of one kind apart by position', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const c = compound([
      fixedWindow({ limit: 1, windowMs: 1000 }),
      fixedWindow({ limit: 5, windowMs: 10_000 }),
    ])
    const first = await store.decide('k', c, 1)
    expect(first.parts?.map((p) => p.remaining)).toEqual([0, 4])
    setNow(1000)
    const second = await store.decide('k', c, 1)
    expect(second.parts?.map((p) => p.remaining)).toEqual([0, 3])
  })
})

describe('MemoryStore peek', () => {
  it('stores nothing for a new key and touches no state', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = slidingLog({ limit: 2, windowMs: 1000 })
    for (let i = 0; i < 5; i++) await store.peek('k', algorithm, 1)
    expect(store.size).toBe(0)
    expect((await store.decide('k', algorithm, 2)).allowed).toBe(true)
  })

  it('carries no lease for concurrency', async () => {
    const store = new MemoryStore()
    const d = await store.peek('k', concurrency({ limit: 1 }), 1)
    expect(d.allowed).toBe(true)
    expect('lease' in d).toBe(false)
  })
})

describe('MemoryStore concurrency', () => {
  it('gives every admission a distinct lease and frees exactly the released one', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = concurrency({ limit: 100, leaseMs: 60_000 })
    const leases = new Set<string>()
    for (let i = 0; i < 100; i++) {
      const d = await store.decide('k', algorithm, 1)
      expect(d.allowed).toBe(true)
      leases.add(d.lease!)
    }
    expect(leases.size).toBe(100)
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(false)
    const [one] = leases
    await store.release('k', algorithm, one!)
    await store.release('k', algorithm, one!)
    await store.release('k', algorithm, 'not-a-lease')
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(true)
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(false)
  })

  it('drops the key with its last lease', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = concurrency({ limit: 1, leaseMs: 100 })
    const d = await store.decide('k', algorithm, 1)
    await store.release('k', algorithm, d.lease!)
    expect(store.size).toBe(0)
  })

  it('rejects refund for concurrency and release for other kinds (TypeError)', async () => {
    const store = new MemoryStore()
    await expect(store.refund('k', concurrency({ limit: 1 }), 1)).rejects.toBeInstanceOf(TypeError)
    await expect(
      store.release('k', fixedWindow({ limit: 1, windowMs: 1000 }), 'x'),
    ).rejects.toBeInstanceOf(TypeError)
  })
})

describe('MemoryStore bad input (issue 14 items 5 and 8)', () => {
  const fw = fixedWindow({ limit: 10, windowMs: 1000 })

  it.each([
    ['-5', -5, RangeError],
    ['0', 0, RangeError],
    ['1.5', 1.5, RangeError],
    ['NaN', Number.NaN, RangeError],
    ['"1"', '1', TypeError],
    ['11 (above the limit)', 11, RangeError],
  ] as const)(
    'regression: decide validates cost as RedisStore does (cost %s rejects, granting nothing)',
    async (_what, cost, ctor) => {
      const { store, setNow } = clockedStore()
      setNow(0)
      const error = await store.decide('k', fw, cost as number).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ctor)
      expect((error as Error).message).toContain('cost')
      // Nothing was granted: the whole limit is still there.
      expect((await store.decide('k', fw, 10)).allowed).toBe(true)
    },
  )

  it('regression: cost -5 no longer grants quota (15 of 20 admitted with limit 10 before)', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    let admitted = 0
    for (let i = 0; i < 20; i++) {
      const cost = i % 4 === 3 ? -5 : 1
      const d = await store.decide('k', fw, cost).catch(() => undefined)
      if (d?.allowed) admitted++
    }
    expect(admitted).toBe(10)
  })

  it('validates a hand-made algorithm value (windowMs missing is a TypeError, not "never limits")', async () => {
    const store = new MemoryStore()
    const hand = { kind: 'fixedWindow', limit: 3 } as unknown as typeof fw
    await expect(store.decide('k', hand, 1)).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_TOLLGATE_INVALID_OPTION',
    })
    const nan = { kind: 'slidingWindow', limit: Number.NaN, windowMs: 1000 } as unknown as typeof fw
    await expect(store.decide('k', nan, 1)).rejects.toBeInstanceOf(RangeError)
  })

  it('never throws synchronously: every method rejects', async () => {
    const store = new MemoryStore()
    const bad = null as unknown as typeof fw
    const calls = [
      () => store.decide('k', bad, 1),
      () => store.peek('k', bad, 1),
      () => store.refund('k', bad, 1),
      () => store.block('k', fw, 0),
      () => store.release('k', bad, 'x'),
    ]
    for (const call of calls) {
      let pending: Promise<unknown> | undefined
      expect(() => {
        pending = call()
      }).not.toThrow()
      await expect(pending).rejects.toBeInstanceOf(Error)
    }
  })
})

describe('MemoryStore memory is bounded in bytes (issue 14 item 6)', () => {
  it(`regression: a key longer than ${MAX_STORED_KEY_BYTES} bytes is stored as a fixed-size hash`, async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = fixedWindow({ limit: 1, windowMs: 1000 })
    const a = `${'x'.repeat(8 * 1024)}a`
    const b = `${'x'.repeat(8 * 1024)}b`
    expect((await store.decide(a, algorithm, 1)).allowed).toBe(true)
    expect((await store.decide(a, algorithm, 1)).allowed).toBe(false)
    // A different long key is a different counter.
    expect((await store.decide(b, algorithm, 1)).allowed).toBe(true)
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private key list to check its size
    const stored = ((store as any).keys as Array<string | undefined>).filter((k) => k !== undefined)
    expect(stored).toHaveLength(2)
    for (const k of stored) expect(k!.length).toBeLessThanOrEqual(45)
  })

  it('keeps keys up to the bound as they are, multi-byte characters counted in UTF-8 bytes', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = fixedWindow({ limit: 1, windowMs: 1000 })
    const ascii = 'k'.repeat(MAX_STORED_KEY_BYTES)
    const wide = 'é'.repeat(MAX_STORED_KEY_BYTES / 2 + 1) // 130 bytes: hashed
    await store.decide(ascii, algorithm, 1)
    await store.decide(wide, algorithm, 1)
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private key list
    const stored = ((store as any).keys as Array<string | undefined>).filter((k) => k !== undefined)
    expect(stored).toContain(ascii)
    expect(stored).not.toContain(wide)
  })

  it('a short key cannot pose as the hash of a long one', async () => {
    const { store, setNow } = clockedStore()
    setNow(0)
    const algorithm = fixedWindow({ limit: 1, windowMs: 1000 })
    const long = 'y'.repeat(500)
    await store.decide(long, algorithm, 1)
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private key list
    const hashed = ((store as any).keys as string[]).find((k) => k !== undefined)!
    expect(hashed.startsWith('\0')).toBe(true)
    // Sending the stored form itself as a key is hashed again, so it is another counter.
    expect((await store.decide(hashed, algorithm, 1)).allowed).toBe(true)
    expect((await store.decide(long, algorithm, 1)).allowed).toBe(false)
  })

  it('12,000 distinct 8 KB keys cost about what short keys cost', async () => {
    const store = new MemoryStore()
    const algorithm = tokenBucket({ capacity: 10, refillRate: 1 })
    const pad = 'k'.repeat(8 * 1024)
    for (let i = 0; i < 12_000; i++) store.decideNow(`${pad}${i}`, algorithm, 1)
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private key list
    const keys = (store as any).keys as Array<string | undefined>
    let chars = 0
    for (const k of keys) chars += k?.length ?? 0
    expect(store.size).toBe(12_000)
    // 45 characters per key instead of 8 KB.
    expect(chars).toBe(12_000 * 45)
    await store.close()
  })
})
