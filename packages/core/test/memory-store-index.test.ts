import { describe, expect, it } from 'vitest'
import { fixedWindow, MemoryStore, tokenBucket } from '../src/index.js'

// The MemoryStore finds a key's state through its own hash index (open addressing, entries moved
// back on removal). These tests drive it through the public API with a seeded random mix of
// decisions, resets and expiries, against a plain Map model: a key found in the wrong slot, or
// lost after another key's removal, shows up as a wrong `remaining` or a wrong `size`.

/** Mulberry32: a small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const LIMIT = 1_000_000
const fw = fixedWindow({ limit: LIMIT, windowMs: 1_000_000_000 })
const tb = tokenBucket({ capacity: LIMIT, refillRate: 1, refillIntervalMs: 1_000_000_000 })

describe('MemoryStore key index', () => {
  for (const seed of [1, 2, 3]) {
    it(`keeps every key's own count through 20,000 random decisions and resets (seed ${seed})`, () => {
      const random = rng(seed)
      const store = new MemoryStore({ clock: () => 1_000 })
      // Per algorithm kind (each keeps its own state for a key): key -> units consumed.
      const model = [new Map<string, number>(), new Map<string, number>()]
      const algorithms = [fw, tb]
      // Keys of several shapes: IPv4-like, long, unicode, one-character.
      const pool = Array.from({ length: 3_000 }, (_, i) =>
        i % 4 === 0
          ? `10.${i >> 8}.${i & 255}.1`
          : i % 4 === 1
            ? `user:${i}:${'x'.repeat(i % 30)}`
            : i % 4 === 2
              ? `ключ-${i}`
              : String.fromCharCode(33 + (i % 90)) + i,
      )
      for (let step = 0; step < 20_000; step++) {
        const key = pool[Math.floor(random() * pool.length)]!
        const which = random() < 0.5 ? 0 : 1
        const r = random()
        if (r < 0.1) {
          store.resetNow(key, algorithms[which])
          model[which]!.delete(key)
        } else if (r < 0.13) {
          store.resetNow(key, undefined)
          model[0]!.delete(key)
          model[1]!.delete(key)
        } else {
          const cost = 1 + Math.floor(random() * 3)
          const d = store.decideNow(key, algorithms[which]!, cost)
          const used = (model[which]!.get(key) ?? 0) + cost
          model[which]!.set(key, used)
          expect({ step, key, which, remaining: d.remaining }).toEqual({
            step,
            key,
            which,
            remaining: LIMIT - used,
          })
        }
      }
      expect(store.size).toBe(model[0]!.size + model[1]!.size)
      // Every key still answers with its own count (peek consumes nothing; its `remaining` is
      // what would be left after a request of that cost).
      for (let which = 0; which < 2; which++) {
        for (const [key, used] of model[which]!) {
          expect(store.peekNow(key, algorithms[which]!, 1).remaining).toBe(LIMIT - used - 1)
        }
      }
    })
  }

  it('finds the survivors after most keys expire and are swept at maxKeys', () => {
    let now = 0
    const store = new MemoryStore({ maxKeys: 5_000, clock: () => now })
    const short = fixedWindow({ limit: 100, windowMs: 1_000 })
    const long = fixedWindow({ limit: 100, windowMs: 1_000_000 })
    // 4,000 keys whose state ends at 1,000 ms, 1,000 that live on; each counted twice.
    for (let i = 0; i < 5_000; i++) {
      const algorithm = i % 5 === 0 ? long : short
      store.decideNow(`k${i}`, algorithm, 1)
      store.decideNow(`k${i}`, algorithm, 1)
    }
    expect(store.size).toBe(5_000)
    now = 2_000
    // A new key at maxKeys reclaims the 4,000 expired ones first (docs: expired before LRU).
    store.decideNow('new', short, 1)
    expect(store.size).toBe(1_001)
    for (let i = 0; i < 5_000; i += 5) {
      expect(store.peekNow(`k${i}`, long, 1).remaining).toBe(97)
    }
    expect(store.peekNow('k1', short, 1).remaining).toBe(99)
  })
})
