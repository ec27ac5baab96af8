/**
 * MemoryStore's state namespaces (packages/core/src/memory-store.ts: `memberNs` and the
 * `namespaces` list of `allocate`), where the StrykerJS run of issue 15 (session 7, lines
 * 1143-1386) found them unchecked.
 *
 * Each algorithm kind keeps its own state for a key, and each compound member its own by position
 * (TEAM.md, docs/semantics.md): a compound member's namespace must differ from every single
 * kind's, whatever the member's kind and position.
 */
import {
  type Algorithm,
  compound,
  concurrency,
  type Decision,
  fixedWindow,
  MemoryStore,
  type RateAlgorithm,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { describe, expect, it } from 'vitest'

const W = 60_000
// Nothing refills or expires within a test: the clock stays put.
const at = 1_000_000

/** The remaining of each decision (of its first part for a compound), admitted or not. */
function summary(d: Decision): [allowed: boolean, remaining: number] {
  const first = d.parts?.[0] ?? d
  return [d.allowed, first.remaining]
}

describe('compound members keep their state apart from the single kinds of the same key', () => {
  // Pairs a first member and a single kind of a different kind on the same key: the single kind
  // is used up before the compound runs, and the compound after it must still start full.
  const cases: Array<[name: string, member: RateAlgorithm, single: Algorithm]> = [
    [
      'a token bucket first member beside a sliding log',
      tokenBucket({ capacity: 3, refillRate: 1, refillIntervalMs: W }),
      slidingLog({ limit: 2, windowMs: W }),
    ],
    [
      'a sliding log first member beside a token bucket',
      slidingLog({ limit: 3, windowMs: W }),
      tokenBucket({ capacity: 2, refillRate: 1, refillIntervalMs: W }),
    ],
    [
      'a sliding window first member beside a concurrency limit',
      slidingWindow({ limit: 3, windowMs: W }),
      concurrency({ limit: 2, leaseMs: W }),
    ],
    [
      'a fixed window first member beside a fixed window',
      fixedWindow({ limit: 3, windowMs: W }),
      fixedWindow({ limit: 2, windowMs: W }),
    ],
  ]
  for (const [name, member, single] of cases) {
    it(name, async () => {
      const store = new MemoryStore({ clock: () => at })
      const alone = single
      const singles: Array<[boolean, number]> = []
      for (let i = 0; i < 3; i++) singles.push(summary(await store.decide('k', alone, 1)))
      expect(singles).toEqual([
        [true, 1],
        [true, 0],
        [false, 0],
      ])
      const both = compound([member, fixedWindow({ limit: 10, windowMs: W })])
      const compounds: Array<[boolean, number]> = []
      for (let i = 0; i < 4; i++) compounds.push(summary(await store.decide('k', both, 1)))
      expect(compounds).toEqual([
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ])
      // And the single kind's state is as it was.
      expect(summary(await store.peek('k', alone, 1))).toEqual([false, 0])
    })
  }
})

describe('the namespace list', () => {
  // White-box: the list only feeds reset of every kind of a key (one lookup per namespace), so a
  // list that grew with every allocation would show as memory and reset time alone, without
  // bound, never in a Decision.
  it('holds each namespace once however many keys are allocated', async () => {
    const store = new MemoryStore({ clock: () => at })
    const fw = fixedWindow({ limit: 5, windowMs: W })
    const tb = tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: W })
    const both = compound([fw, tb])
    for (let i = 0; i < 50; i++) {
      await store.decide(`k${i}`, fw, 1)
      await store.decide(`k${i}`, tb, 1)
      await store.decide(`k${i}`, both, 1)
    }
    const namespaces = (store as unknown as { namespaces: number[] }).namespaces
    expect([...namespaces].sort((a, b) => a - b)).toEqual([0, 3, 5, 12])
  })
})
