/**
 * MemoryStore's key index keeps a 32-bit hash per key and compares the key itself before it
 * answers (packages/core/src/memory-store.ts, slotOf): two keys whose hashes collide are still
 * two keys. Collisions are rare but not exotic (a birthday search finds one among ~80,000 keys),
 * so an attacker choosing keys could make them; these tests make them on purpose.
 *
 * White-box on purpose: the hash depends on the store's random seed, so the test reads the seed
 * and searches with the store's own hashKey (exported for tests); it first checks through the index that the two keys really
 * collide, so a change to the hash fails here loudly instead of leaving the test aimed at nothing.
 */
import { fixedWindow, MemoryStore } from '@tollgate/core'
import { describe, expect, it } from 'vitest'
import { hashKey } from '../../packages/core/src/memory-store.js'

interface Internals {
  seed: number
  index: Int32Array
}

const FIXED_WINDOW_NS = 0 // KIND_INDEX.fixedWindow

/** Two distinct keys with the same hash under `seed` (a birthday search). */
function collidingPair(seed: number): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; i < 2_000_000; i++) {
    const key = `c${i}`
    const h = hashKey(key, FIXED_WINDOW_NS, seed)
    const other = seen.get(h)
    if (other !== undefined) return [other, key]
    seen.set(h, key)
  }
  throw new Error('no collision among 2,000,000 keys')
}

/** How many live entries of the index hold hash `h`. */
function entriesWithHash(store: MemoryStore, h: number): number {
  const { index } = store as unknown as Internals
  let n = 0
  for (let p = 0; p < index.length / 2; p++) {
    if (index[2 * p] === h && index[2 * p + 1] !== 0) n++
  }
  return n
}

describe('MemoryStore with two keys whose hashes collide', () => {
  const five = fixedWindow({ limit: 5, windowMs: 1_000_000_000 })

  it('keeps a counter for each key, and each key finds its own', async () => {
    const store = new MemoryStore({ clock: () => 7_000_000 })
    const { seed } = store as unknown as Internals
    const [a, b] = collidingPair(seed)
    expect(a).not.toBe(b)
    const h = hashKey(a, FIXED_WINDOW_NS, seed)
    expect(hashKey(b, FIXED_WINDOW_NS, seed)).toBe(h)

    await store.decide(a, five, 2)
    expect(entriesWithHash(store, h)).toBe(1)
    // b is new: its own count starts at 0, whatever a holds.
    expect(await store.decide(b, five, 1)).toMatchObject({ allowed: true, remaining: 4 })
    expect(entriesWithHash(store, h)).toBe(2)
    expect(store.size).toBe(2)
    // A peek answers as the decide would: 3 left for a, so 2 after this one.
    expect(await store.peek(a, five, 1)).toMatchObject({ remaining: 2 })
    expect(await store.decide(a, five, 3)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await store.peek(b, five, 1)).toMatchObject({ remaining: 3 })

    // Either goes without taking the other along.
    await store.reset(a, five)
    expect(store.size).toBe(1)
    expect(await store.peek(b, five, 1)).toMatchObject({ remaining: 3 })
    expect(await store.peek(a, five, 1)).toMatchObject({ remaining: 4 })
  })
})
