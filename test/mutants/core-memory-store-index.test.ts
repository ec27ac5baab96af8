/**
 * MemoryStore's key index (packages/core/src/memory-store.ts `unindex`: backward-shift deletion
 * from a linear-probing table), where the StrykerJS run of issue 15 (session 7, lines 1143-1386)
 * found the cases of a probe run that wraps round the end of the table unchecked: random keys put
 * three in a row across the table's end too rarely.
 *
 * White-box, as test/mutants/core-memory-store-slots.test.ts is not: the test reads the store's
 * seed and computes the index's hash (memory-store.ts `hashKey`, exported for tests) to pick keys with chosen home
 * buckets, then deletes one (reset) and checks every other key still finds its state. A wrong
 * deletion loses a key (its next decision starts from a fresh state) or leaves a dead entry that
 * fills the index (counted from the store's `index`). The first test checks that the keys land
 * where `hashKey` says, so a change of layout fails loudly.
 */
import { fixedWindow, MemoryStore } from '@tollgate/core'
import { describe, expect, it } from 'vitest'
import { hashKey } from '../../packages/core/src/memory-store.js'

interface Inside {
  readonly seed: number
  readonly index: Int32Array
  readonly indexMask: number
}
const inside = (store: MemoryStore) => store as unknown as Inside

// The index has 2,048 pairs until more than 512 keys are tracked.
const PAIRS = 2048
const M = PAIRS - 1
const fw = fixedWindow({ limit: 5, windowMs: 60_000 })
const FIXED_WINDOW_NS = 0

/** Distinct keys whose home buckets (hash & mask) are `homes`, in that order. */
function keysWithHomes(seed: number, homes: readonly number[]): string[] {
  const keys: string[] = []
  let i = 0
  for (const home of homes) {
    for (;;) {
      const k = `h${i++}`
      if ((hashKey(k, FIXED_WINDOW_NS, seed) & M) === home) {
        keys.push(k)
        break
      }
    }
  }
  return keys
}

/** Index positions of the tracked entries (a pair whose slot field is not 0). */
function occupied(store: MemoryStore): number[] {
  const index = inside(store).index
  const at: number[] = []
  for (let p = 0; 2 * p < index.length; p++) if (index[2 * p + 1] !== 0) at.push(p)
  return at
}

/**
 * Tracks one key per home in order (so linear probing puts them at `positions`), resets the key
 * at `remove`, and checks that the index holds exactly the entries left, that every other key
 * still holds its one admission, and that the removed key starts afresh.
 */
async function deleteFromRun(homes: number[], positions: number[], remove: number): Promise<void> {
  const store = new MemoryStore({ clock: () => 1_000_000 })
  // The seed is fixed at construction; the first allocation sizes the index to PAIRS.
  const keys = keysWithHomes(inside(store).seed, homes)
  for (const k of keys) expect((await store.decide(k, fw, 1)).remaining).toBe(4)
  expect(inside(store).indexMask).toBe(M)
  expect(occupied(store)).toEqual([...positions].sort((a, b) => a - b))
  await store.reset(keys[remove]!, fw)
  expect(occupied(store).length).toBe(keys.length - 1)
  // The others first: the removed key, tracked again, would fill the hole a wrong deletion left.
  const remaining: number[] = []
  for (const k of keys.filter((_, i) => i !== remove)) {
    remaining.push((await store.decide(k, fw, 1)).remaining)
  }
  expect(remaining).toEqual(keys.slice(1).map(() => 3))
  expect((await store.decide(keys[remove]!, fw, 1)).remaining).toBe(4)
}

describe('deleting a key from a probe run keeps every other key findable', () => {
  it('shifts back an entry whose home is the hole', async () => {
    await deleteFromRun([7, 7], [7, 8], 0)
  })

  it('leaves an entry at its own home after the hole', async () => {
    await deleteFromRun([5, 6], [5, 6], 0)
  })

  it('clears the last hole (position 2) and nothing before it', async () => {
    await deleteFromRun([0, 2], [0, 2], 1)
  })

  it('shifts back entries of a run that wraps round the table end, twice', async () => {
    // Positions M-1, M, 0, 1: the hole at M takes the entry at 0 (home M-1), then the hole at 0
    // takes the entry at 1 (home 0).
    await deleteFromRun([M - 1, M - 1, M - 1, 0], [M - 1, M, 0, 1], 1)
  })

  it('shifts back into the last pair an entry wrapped from its own home there', async () => {
    await deleteFromRun([M, M], [M, 0], 0)
  })

  it('shifts back past the table end an entry whose home is before it', async () => {
    // Positions M, 0, 1; deleting at 0 leaves the hole there and the entry at 1 (home M) moves.
    await deleteFromRun([M, M, M], [M, 0, 1], 1)
  })

  it('leaves a wrapped entry at its home 0 after a hole at the table end', async () => {
    await deleteFromRun([M - 1, M, 0], [M - 1, M, 0], 0)
  })

  it('leaves a wrapped entry whose home is after the hole', async () => {
    await deleteFromRun([M - 1, M, M], [M - 1, M, 0], 0)
  })
})

describe('the index of a store at maxKeys', () => {
  it('holds one entry per tracked key after many evictions', async () => {
    const store = new MemoryStore({ maxKeys: 8, clock: () => 1_000_000 })
    // More keys than the index has pairs: a deletion that left its entry behind would fill it.
    for (let i = 0; i < 600; i++) await store.decide(`c${i}`, fw, 1)
    expect(store.size).toBe(8)
    expect(occupied(store).length).toBe(8)
    for (let i = 592; i < 600; i++) {
      expect((await store.decide(`c${i}`, fw, 1)).remaining).toBe(3)
    }
  })
})
