/**
 * The conformance table: sequences of `(now, key, cost)` with the Decision docs/semantics.md prescribes
 * for each step, worked out by hand. Every Store must reproduce them exactly; a third-party store
 * can run them with `runConformanceCase`.
 *
 * @example
 * for (const c of conformanceCases) {
 *   const results = await runConformanceCase(store, (ms) => { now = ms }, c, 'my-prefix:')
 *   for (const { step, got } of results) assert.deepStrictEqual(got, step.expect)
 * }
 */
import {
  type Algorithm,
  algorithmLimit,
  fixedWindow,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '../algorithms/index.js'
import type { Decision } from '../decision.js'
import type { Store } from '../store.js'

/** One step of a conformance case: a decision at `now` and the Decision it must give. */
export interface ConformanceStep {
  /** The store clock, integer epoch ms, at this step. */
  now: number
  key: string
  cost: number
  expect: Decision
}

/** A named sequence of steps on one algorithm, run against a fresh store. */
export interface ConformanceCase {
  name: string
  algorithm: Algorithm
  steps: ConformanceStep[]
}

type Row = [
  now: number,
  key: string,
  cost: number,
  allowed: boolean,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
]

function table(name: string, algorithm: Algorithm, rows: Row[]): ConformanceCase {
  const limit = algorithmLimit(algorithm)
  return {
    name,
    algorithm,
    steps: rows.map(([now, key, cost, allowed, remaining, resetMs, retryAfterMs]) => ({
      now,
      key,
      cost,
      expect: { allowed, limit, remaining, resetMs, retryAfterMs },
    })),
  }
}

//                         now    key  cost allowed remaining resetMs retryAfterMs
/** Every conformance case: what a store must answer to be a tollgate store (docs/semantics.md). */
export const conformanceCases: ConformanceCase[] = [
  table(
    'fixedWindow: fills a window, denies until its end, starts afresh',
    fixedWindow({ limit: 3, windowMs: 1000 }),
    [
      [1000, 'a', 1, true, 2, 1000, 0],
      [1500, 'a', 2, true, 0, 500, 0],
      [1999, 'a', 1, false, 0, 1, 1],
      [2000, 'a', 1, true, 2, 1000, 0],
      [2100, 'a', 3, false, 2, 900, 900],
      [2100, 'b', 1, true, 2, 900, 0],
      [2100, 'a', 2, true, 0, 900, 0],
      [4500, 'a', 1, true, 2, 500, 0],
    ],
  ),
  table(
    'slidingWindow: weighted previous window, both retry branches',
    slidingWindow({ limit: 10, windowMs: 1000 }),
    [
      [1000, 'a', 4, true, 6, 2000, 0],
      [1500, 'a', 6, true, 0, 1500, 0],
      [1600, 'a', 1, false, 0, 1400, 500],
      [2099, 'a', 1, false, 0, 901, 1],
      [2100, 'a', 1, true, 0, 1900, 0],
      [2200, 'a', 2, false, 1, 1800, 100],
      [2299, 'a', 2, false, 1, 1701, 1],
      [2300, 'a', 2, true, 0, 1700, 0],
      [3500, 'a', 1, true, 7, 1500, 0],
      [6000, 'a', 1, true, 9, 2000, 0],
    ],
  ),
  table(
    'slidingWindow: denial while only the previous window holds requests',
    slidingWindow({ limit: 2, windowMs: 1000 }),
    [
      [0, 'k', 2, true, 0, 2000, 0],
      [1000, 'k', 1, false, 0, 1000, 500],
      [1499, 'k', 1, false, 0, 501, 1],
      [1500, 'k', 1, true, 0, 1500, 0],
      [1700, 'k', 2, false, 0, 1300, 1300],
      [2999, 'k', 2, false, 1, 1, 1],
      [3000, 'k', 2, true, 0, 2000, 0],
    ],
  ),
  table(
    'slidingLog: exact log, retry when enough old entries leave',
    slidingLog({ limit: 3, windowMs: 1000 }),
    [
      [0, 'a', 1, true, 2, 1000, 0],
      [100, 'a', 1, true, 1, 1000, 0],
      [200, 'a', 1, true, 0, 1000, 0],
      [300, 'a', 1, false, 0, 900, 700],
      [999, 'a', 2, false, 0, 201, 101],
      [1000, 'a', 1, true, 0, 1000, 0],
      [1100, 'a', 2, false, 1, 900, 100],
      [1200, 'a', 2, true, 0, 1000, 0],
      [5000, 'a', 3, true, 0, 1000, 0],
    ],
  ),
  table(
    'tokenBucket: burst, then refill of one token per second',
    tokenBucket({ capacity: 5, refillRate: 1 }),
    [
      [0, 'a', 5, true, 0, 5000, 0],
      [500, 'a', 1, false, 0, 4500, 500],
      [999, 'a', 1, false, 0, 4001, 1],
      [1000, 'a', 1, true, 0, 5000, 0],
      [3500, 'a', 2, true, 0, 4500, 0],
      [3600, 'a', 1, false, 0, 4400, 400],
      [20000, 'a', 1, true, 4, 1000, 0],
    ],
  ),
  table(
    'tokenBucket: refill rate that does not divide the interval rounds up',
    tokenBucket({ capacity: 10, refillRate: 3 }),
    [
      [0, 'a', 10, true, 0, 3334, 0],
      [100, 'a', 1, false, 0, 3234, 234],
      [334, 'a', 1, true, 0, 3333, 0],
      [1000, 'a', 2, true, 0, 3334, 0],
    ],
  ),
  table(
    'tokenBucket: slow interval (1 token per minute)',
    tokenBucket({ capacity: 2, refillRate: 1, refillIntervalMs: 60_000 }),
    [
      [0, 'a', 1, true, 1, 60_000, 0],
      [0, 'a', 1, true, 0, 120_000, 0],
      [1, 'a', 1, false, 0, 119_999, 59_999],
      [60_000, 'a', 1, true, 0, 120_000, 0],
    ],
  ),
]

/**
 * Runs one case against a store whose clock reads what `setNow` last set. Keys are prefixed so
 * cases never share state. Returns each step with the Decision the store gave.
 */
export async function runConformanceCase(
  store: Store,
  setNow: (ms: number) => void,
  c: ConformanceCase,
  prefix: string,
): Promise<Array<{ step: ConformanceStep; got: Decision }>> {
  const results: Array<{ step: ConformanceStep; got: Decision }> = []
  for (const step of c.steps) {
    setNow(step.now)
    const got = await store.decide(prefix + step.key, c.algorithm, step.cost)
    results.push({ step, got })
  }
  return results
}
