/**
 * The conformance table: sequences of steps (decide, peek, refund, block, release, reset at a
 * given store clock) with the Decision docs/semantics.md prescribes for each, worked out by hand. Every
 * Store must reproduce them exactly; a third-party store can run them with `runConformanceCase`.
 * `conformanceCases` covers the four rate algorithms' decide; `extendedConformanceCases` adds
 * per-kind state, peek, refund, block, blockDurationMs, per-request limits, compound limits and
 * concurrency (each case names its `feature`); `allConformanceCases` is both.
 *
 * @example
 * for (const c of allConformanceCases) {
 *   const results = await runConformanceCase(store, (ms) => { now = ms }, c, 'my-prefix:')
 *   for (const { step, got } of results) assert.deepStrictEqual(got, step.expect)
 * }
 */
import {
  type Algorithm,
  algorithmLimit,
  compound,
  concurrency,
  fixedWindow,
  slidingLog,
  slidingWindow,
  tokenBucket,
  withLimit,
} from '../algorithms/index.js'
import type { Decision } from '../decision.js'
import type { Store } from '../store.js'

/** The common fields of a conformance step. */
interface StepBase {
  /** The store clock, integer epoch ms, at this step. */
  now: number
  key: string
  /** This step's algorithm when it is not the case's (to show state kept apart per kind). */
  algorithm?: Algorithm
}

/** `store.decide(key, algorithm, cost, { blockDurationMs })`; `limit` is a per-request limit. */
export interface DecideStep extends StepBase {
  op?: 'decide'
  cost: number
  limit?: number
  blockDurationMs?: number
  expect: Decision
}

/** `store.peek(key, algorithm, cost)`. */
export interface PeekStep extends StepBase {
  op: 'peek'
  cost: number
  limit?: number
  expect: Decision
}

/** `store.refund(key, algorithm, cost)`. */
export interface RefundStep extends StepBase {
  op: 'refund'
  cost: number
  expect?: undefined
}

/** `store.block(key, algorithm, durationMs)`. */
export interface BlockStep extends StepBase {
  op: 'block'
  durationMs: number
  expect?: undefined
}

/** `store.release(key, algorithm, lease)` with the lease step number `leaseOf` (0-based) got. */
export interface ReleaseStep extends StepBase {
  op: 'release'
  leaseOf: number
  expect?: undefined
}

/** `store.reset(key, algorithm)`. */
export interface ResetStep extends StepBase {
  op: 'reset'
  expect?: undefined
}

/** One step of a conformance case: an operation at `now` and, for decide and peek, the Decision it must give. */
export type ConformanceStep =
  | DecideStep
  | PeekStep
  | RefundStep
  | BlockStep
  | ReleaseStep
  | ResetStep

/** What a case exercises beyond decide: lets a store in progress run only what it implements. */
export type ConformanceFeature =
  | 'decide'
  | 'kinds'
  | 'peek'
  | 'refund'
  | 'block'
  | 'limit'
  | 'compound'
  | 'concurrency'

/** A named sequence of steps on one algorithm, run against a fresh store. */
export interface ConformanceCase {
  name: string
  /** @default 'decide' */
  feature?: ConformanceFeature
  algorithm: Algorithm
  steps: ConformanceStep[]
}

/** A case of decide steps only (the cases of `conformanceCases`), so `step.cost` type-checks. */
export interface DecideCase extends ConformanceCase {
  steps: DecideStep[]
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

function table(name: string, algorithm: Algorithm, rows: Row[]): DecideCase {
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
export const conformanceCases: DecideCase[] = [
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

// ---------------------------------------------------------------------------------------------
// Extended cases: state kept apart per kind, peek, refund, block, blockDurationMs, per-request
// limits, compound limits and concurrency. Every number worked out by hand from docs/semantics.md.

/** The marker an admitted concurrency decision's `lease` is compared as (ids differ per store). */
export const LEASE = '<lease>'

/** d(allowed, limit, remaining, resetMs, retryAfterMs) */
function d(
  allowed: boolean,
  limit: number,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
  extra?: { parts?: Decision[]; lease?: string },
): Decision {
  return { allowed, limit, remaining, resetMs, retryAfterMs, ...extra }
}

const leased = (limit: number, remaining: number, resetMs: number): Decision =>
  d(true, limit, remaining, resetMs, 0, { lease: LEASE })

/** A compound Decision from its parts, as docs/semantics.md "Compound" combines them. */
function c(allowed: boolean, parts: Decision[]): Decision {
  let fewest = parts[0]!
  for (const p of parts) if (p.remaining < fewest.remaining) fewest = p
  return {
    allowed,
    limit: fewest.limit,
    remaining: fewest.remaining,
    resetMs: Math.max(...parts.map((p) => p.resetMs)),
    retryAfterMs: allowed ? 0 : Math.max(...parts.map((p) => p.retryAfterMs)),
    parts,
  }
}

const fw3 = fixedWindow({ limit: 3, windowMs: 1000 })

/**
 * The cases beyond the rate algorithms' decide: per-kind state, peek, refund, block,
 * blockDurationMs, per-request limits, compound limits and concurrency (each names its `feature`).
 */
export const extendedConformanceCases: ConformanceCase[] = [
  {
    name: 'state is kept apart per algorithm kind on one key',
    feature: 'kinds',
    algorithm: fixedWindow({ limit: 2, windowMs: 1000 }),
    steps: [
      { now: 1000, key: 'k', cost: 2, expect: d(true, 2, 0, 1000, 0) },
      {
        now: 1000,
        key: 'k',
        cost: 1,
        algorithm: slidingWindow({ limit: 3, windowMs: 1000 }),
        expect: d(true, 3, 2, 2000, 0),
      },
      { now: 1000, key: 'k', cost: 1, expect: d(false, 2, 0, 1000, 1000) },
      {
        now: 1000,
        key: 'k',
        cost: 2,
        algorithm: slidingLog({ limit: 2, windowMs: 1000 }),
        expect: d(true, 2, 0, 1000, 0),
      },
      {
        now: 1000,
        key: 'k',
        cost: 2,
        algorithm: tokenBucket({ capacity: 2, refillRate: 1 }),
        expect: d(true, 2, 0, 2000, 0),
      },
      {
        now: 1000,
        key: 'k',
        cost: 2,
        algorithm: slidingWindow({ limit: 3, windowMs: 1000 }),
        expect: d(true, 3, 0, 2000, 0),
      },
      { now: 1500, key: 'k', cost: 1, expect: d(false, 2, 0, 500, 500) },
    ],
  },
  {
    name: 'peek: fixedWindow answers as decide would, storing nothing',
    feature: 'peek',
    algorithm: fw3,
    steps: [
      { op: 'peek', now: 1000, key: 'a', cost: 1, expect: d(true, 3, 2, 1000, 0) },
      { op: 'peek', now: 1000, key: 'a', cost: 3, expect: d(true, 3, 0, 1000, 0) },
      { now: 1000, key: 'a', cost: 2, expect: d(true, 3, 1, 1000, 0) },
      { op: 'peek', now: 1200, key: 'a', cost: 2, expect: d(false, 3, 1, 800, 800) },
      { now: 1200, key: 'a', cost: 1, expect: d(true, 3, 0, 800, 0) },
      { op: 'peek', now: 2000, key: 'a', cost: 1, expect: d(true, 3, 2, 1000, 0) },
    ],
  },
  {
    name: 'peek: slidingLog expires nothing early',
    feature: 'peek',
    algorithm: slidingLog({ limit: 2, windowMs: 1000 }),
    steps: [
      { now: 0, key: 'a', cost: 1, expect: d(true, 2, 1, 1000, 0) },
      { now: 500, key: 'a', cost: 1, expect: d(true, 2, 0, 1000, 0) },
      { op: 'peek', now: 999, key: 'a', cost: 1, expect: d(false, 2, 0, 501, 1) },
      { op: 'peek', now: 1000, key: 'a', cost: 2, expect: d(false, 2, 1, 500, 500) },
      { now: 1000, key: 'a', cost: 1, expect: d(true, 2, 0, 1000, 0) },
      { op: 'peek', now: 1499, key: 'a', cost: 1, expect: d(false, 2, 0, 501, 1) },
    ],
  },
  {
    name: 'peek: tokenBucket refills in the answer only',
    feature: 'peek',
    algorithm: tokenBucket({ capacity: 2, refillRate: 1 }),
    steps: [
      { now: 0, key: 'a', cost: 2, expect: d(true, 2, 0, 2000, 0) },
      { op: 'peek', now: 500, key: 'a', cost: 1, expect: d(false, 2, 0, 1500, 500) },
      { op: 'peek', now: 1000, key: 'a', cost: 1, expect: d(true, 2, 0, 2000, 0) },
      { op: 'peek', now: 1000, key: 'a', cost: 1, expect: d(true, 2, 0, 2000, 0) },
      { now: 1500, key: 'a', cost: 1, expect: d(true, 2, 0, 1500, 0) },
    ],
  },
  {
    name: 'refund: fixedWindow gives back within the current window, never below 0',
    feature: 'refund',
    algorithm: fw3,
    steps: [
      { now: 1000, key: 'a', cost: 3, expect: d(true, 3, 0, 1000, 0) },
      { op: 'refund', now: 1100, key: 'a', cost: 2 },
      { now: 1100, key: 'a', cost: 1, expect: d(true, 3, 1, 900, 0) },
      { op: 'refund', now: 1200, key: 'a', cost: 3 },
      { op: 'peek', now: 1200, key: 'a', cost: 1, expect: d(true, 3, 2, 800, 0) },
      { now: 1300, key: 'a', cost: 3, expect: d(true, 3, 0, 700, 0) },
      { op: 'refund', now: 2100, key: 'a', cost: 1 },
      { now: 2100, key: 'a', cost: 3, expect: d(true, 3, 0, 900, 0) },
      { op: 'refund', now: 2200, key: 'b', cost: 1 },
      { now: 2200, key: 'b', cost: 1, expect: d(true, 3, 2, 800, 0) },
    ],
  },
  {
    name: 'refund: slidingWindow takes from the current window, then the previous',
    feature: 'refund',
    algorithm: slidingWindow({ limit: 4, windowMs: 1000 }),
    steps: [
      { now: 0, key: 'a', cost: 3, expect: d(true, 4, 1, 2000, 0) },
      { now: 1000, key: 'a', cost: 1, expect: d(true, 4, 0, 2000, 0) },
      { op: 'refund', now: 1000, key: 'a', cost: 2 },
      { op: 'peek', now: 1000, key: 'a', cost: 2, expect: d(true, 4, 0, 2000, 0) },
      { now: 1500, key: 'a', cost: 3, expect: d(true, 4, 0, 1500, 0) },
      { op: 'refund', now: 1500, key: 'a', cost: 4 },
      { op: 'peek', now: 1500, key: 'a', cost: 4, expect: d(false, 4, 3, 500, 500) },
      { op: 'peek', now: 1999, key: 'a', cost: 4, expect: d(false, 4, 3, 1, 1) },
      { now: 2000, key: 'a', cost: 4, expect: d(true, 4, 0, 2000, 0) },
    ],
  },
  {
    name: 'refund: slidingLog removes the newest entries first',
    feature: 'refund',
    algorithm: slidingLog({ limit: 3, windowMs: 1000 }),
    steps: [
      { now: 0, key: 'a', cost: 1, expect: d(true, 3, 2, 1000, 0) },
      { now: 100, key: 'a', cost: 2, expect: d(true, 3, 0, 1000, 0) },
      { op: 'refund', now: 200, key: 'a', cost: 1 },
      { now: 200, key: 'a', cost: 1, expect: d(true, 3, 0, 1000, 0) },
      { op: 'refund', now: 300, key: 'a', cost: 2 },
      { op: 'peek', now: 300, key: 'a', cost: 2, expect: d(true, 3, 0, 1000, 0) },
      { now: 300, key: 'a', cost: 3, expect: d(false, 3, 2, 700, 700) },
      { op: 'refund', now: 400, key: 'a', cost: 1 },
      { now: 400, key: 'a', cost: 3, expect: d(true, 3, 0, 1000, 0) },
    ],
  },
  {
    name: 'refund: tokenBucket adds the tokens back, up to a full bucket',
    feature: 'refund',
    algorithm: tokenBucket({ capacity: 4, refillRate: 1 }),
    steps: [
      { now: 0, key: 'a', cost: 4, expect: d(true, 4, 0, 4000, 0) },
      { op: 'refund', now: 500, key: 'a', cost: 1 },
      { op: 'peek', now: 500, key: 'a', cost: 1, expect: d(true, 4, 0, 3500, 0) },
      { now: 500, key: 'a', cost: 2, expect: d(false, 4, 1, 2500, 500) },
      { op: 'refund', now: 1000, key: 'a', cost: 3 },
      { now: 1000, key: 'a', cost: 4, expect: d(true, 4, 0, 4000, 0) },
    ],
  },
  {
    name: 'block: denies until its end, covers the state wait, a later end wins, reset lifts it',
    feature: 'block',
    algorithm: fw3,
    steps: [
      { now: 1000, key: 'a', cost: 1, expect: d(true, 3, 2, 1000, 0) },
      { op: 'block', now: 1000, key: 'a', durationMs: 5000 },
      { now: 1100, key: 'a', cost: 1, expect: d(false, 3, 0, 4900, 4900) },
      { op: 'peek', now: 1100, key: 'a', cost: 1, expect: d(false, 3, 0, 4900, 4900) },
      { op: 'block', now: 1200, key: 'a', durationMs: 1000 },
      { now: 2500, key: 'a', cost: 1, expect: d(false, 3, 0, 3500, 3500) },
      { op: 'block', now: 2500, key: 'a', durationMs: 4000 },
      { now: 6000, key: 'a', cost: 1, expect: d(false, 3, 0, 500, 500) },
      { op: 'reset', now: 6000, key: 'a' },
      { now: 6000, key: 'a', cost: 3, expect: d(true, 3, 0, 1000, 0) },
      { op: 'block', now: 6000, key: 'fresh', durationMs: 100 },
      { now: 6050, key: 'fresh', cost: 1, expect: d(false, 3, 0, 50, 50) },
      { now: 6100, key: 'fresh', cost: 1, expect: d(true, 3, 2, 900, 0) },
    ],
  },
  {
    name: 'block: a wait the state needs beyond the block is kept',
    feature: 'block',
    algorithm: slidingLog({ limit: 1, windowMs: 10_000 }),
    steps: [
      { now: 0, key: 'a', cost: 1, expect: d(true, 1, 0, 10_000, 0) },
      { op: 'block', now: 0, key: 'a', durationMs: 3000 },
      { now: 1000, key: 'a', cost: 1, expect: d(false, 1, 0, 9000, 9000) },
      { now: 3000, key: 'a', cost: 1, expect: d(false, 1, 0, 7000, 7000) },
    ],
  },
  {
    name: 'blockDurationMs: a denial blocks in the same step; a blocked answer does not extend it',
    feature: 'block',
    algorithm: fixedWindow({ limit: 2, windowMs: 1000 }),
    steps: [
      { now: 1000, key: 'a', cost: 2, blockDurationMs: 5000, expect: d(true, 2, 0, 1000, 0) },
      { now: 1100, key: 'a', cost: 1, blockDurationMs: 5000, expect: d(false, 2, 0, 5000, 5000) },
      { now: 1200, key: 'a', cost: 1, blockDurationMs: 5000, expect: d(false, 2, 0, 4900, 4900) },
      { op: 'peek', now: 6099, key: 'a', cost: 1, expect: d(false, 2, 0, 1, 1) },
      { now: 6100, key: 'a', cost: 1, expect: d(true, 2, 1, 900, 0) },
    ],
  },
  {
    name: 'blockDurationMs: the denial keeps a longer wait of its own',
    feature: 'block',
    algorithm: slidingLog({ limit: 1, windowMs: 10_000 }),
    steps: [
      { now: 0, key: 'a', cost: 1, expect: d(true, 1, 0, 10_000, 0) },
      { now: 1000, key: 'a', cost: 1, blockDurationMs: 2000, expect: d(false, 1, 0, 9000, 9000) },
      { op: 'peek', now: 2000, key: 'a', cost: 1, expect: d(false, 1, 0, 8000, 8000) },
    ],
  },
  {
    name: 'per-request limit: fixedWindow shares one count across limits; a downgrade leaves 0',
    feature: 'limit',
    algorithm: fw3,
    steps: [
      { now: 1000, key: 'a', cost: 1, limit: 5, expect: d(true, 5, 4, 1000, 0) },
      { now: 1000, key: 'a', cost: 2, expect: d(true, 3, 0, 1000, 0) },
      { now: 1000, key: 'a', cost: 1, limit: 5, expect: d(true, 5, 1, 1000, 0) },
      { op: 'peek', now: 1000, key: 'a', cost: 1, expect: d(false, 3, 0, 1000, 1000) },
      { now: 1000, key: 'a', cost: 1, limit: 2, expect: d(false, 2, 0, 1000, 1000) },
    ],
  },
  {
    name: 'per-request limit: slidingLog downgrade walks to the entry that makes room',
    feature: 'limit',
    algorithm: slidingLog({ limit: 3, windowMs: 1000 }),
    steps: [
      { now: 0, key: 'a', cost: 3, limit: 5, expect: d(true, 5, 2, 1000, 0) },
      { now: 100, key: 'a', cost: 1, expect: d(false, 3, 0, 900, 900) },
      { now: 100, key: 'a', cost: 2, limit: 5, expect: d(true, 5, 0, 1000, 0) },
      { now: 200, key: 'a', cost: 1, limit: 2, expect: d(false, 2, 0, 900, 900) },
      { now: 1000, key: 'a', cost: 2, limit: 2, expect: d(false, 2, 0, 100, 100) },
    ],
  },
  {
    name: 'per-request limit: tokenBucket state is dropped when full under the capacity that wrote it',
    feature: 'limit',
    algorithm: tokenBucket({ capacity: 2, refillRate: 1 }),
    steps: [
      { now: 0, key: 'a', cost: 1, limit: 4, expect: d(true, 4, 3, 1000, 0) },
      { now: 0, key: 'a', cost: 1, expect: d(true, 2, 1, 1000, 0) },
      { now: 500, key: 'a', cost: 2, limit: 4, expect: d(false, 4, 1, 2500, 500) },
      // Full under capacity 2 at 1000, so dropped: a missing state is full under capacity 4.
      { now: 1000, key: 'a', cost: 2, limit: 4, expect: d(true, 4, 2, 2000, 0) },
    ],
  },
  (() => {
    // Two fixed windows (same kind, different numbers): each member keeps its own state.
    const m0 = fixedWindow({ limit: 2, windowMs: 1000 })
    const m1 = fixedWindow({ limit: 3, windowMs: 10_000 })
    return {
      name: 'compound: all or nothing; a denial consumes nothing in any member',
      feature: 'compound',
      algorithm: compound([m0, m1]),
      steps: [
        {
          now: 10_000,
          key: 'a',
          cost: 1,
          expect: c(true, [d(true, 2, 1, 1000, 0), d(true, 3, 2, 10_000, 0)]),
        },
        {
          now: 10_000,
          key: 'a',
          cost: 1,
          expect: c(true, [d(true, 2, 0, 1000, 0), d(true, 3, 1, 10_000, 0)]),
        },
        {
          now: 10_500,
          key: 'a',
          cost: 1,
          expect: c(false, [d(false, 2, 0, 500, 500), d(true, 3, 1, 9500, 0)]),
        },
        {
          now: 11_000,
          key: 'a',
          cost: 1,
          expect: c(true, [d(true, 2, 1, 1000, 0), d(true, 3, 0, 9000, 0)]),
        },
        {
          now: 11_000,
          key: 'a',
          cost: 1,
          expect: c(false, [d(true, 2, 1, 1000, 0), d(false, 3, 0, 9000, 9000)]),
        },
        {
          op: 'peek',
          now: 11_000,
          key: 'a',
          cost: 1,
          expect: c(false, [d(true, 2, 1, 1000, 0), d(false, 3, 0, 9000, 9000)]),
        },
      ],
    } satisfies ConformanceCase
  })(),
  (() => {
    const m0 = fixedWindow({ limit: 2, windowMs: 1000 })
    const m1 = fixedWindow({ limit: 5, windowMs: 10_000 })
    return {
      name: 'compound: block, refund, peek and blockDurationMs act on every member',
      feature: 'compound',
      algorithm: compound([m0, m1]),
      steps: [
        {
          now: 10_000,
          key: 'a',
          cost: 1,
          expect: c(true, [d(true, 2, 1, 1000, 0), d(true, 5, 4, 10_000, 0)]),
        },
        { op: 'block', now: 10_000, key: 'a', durationMs: 3000 },
        {
          now: 10_500,
          key: 'a',
          cost: 1,
          expect: c(false, [d(false, 2, 0, 2500, 2500), d(false, 5, 0, 9500, 2500)]),
        },
        {
          now: 13_000,
          key: 'a',
          cost: 1,
          expect: c(true, [d(true, 2, 1, 1000, 0), d(true, 5, 3, 7000, 0)]),
        },
        { op: 'refund', now: 13_000, key: 'a', cost: 1 },
        {
          op: 'peek',
          now: 13_000,
          key: 'a',
          cost: 2,
          expect: c(true, [d(true, 2, 0, 1000, 0), d(true, 5, 2, 7000, 0)]),
        },
        {
          now: 13_000,
          key: 'a',
          cost: 2,
          blockDurationMs: 1000,
          expect: c(true, [d(true, 2, 0, 1000, 0), d(true, 5, 2, 7000, 0)]),
        },
        {
          now: 13_100,
          key: 'a',
          cost: 1,
          blockDurationMs: 1000,
          expect: c(false, [d(false, 2, 0, 1000, 1000), d(false, 5, 0, 6900, 1000)]),
        },
        {
          now: 14_099,
          key: 'a',
          cost: 1,
          expect: c(false, [d(false, 2, 0, 1, 1), d(false, 5, 0, 5901, 1)]),
        },
        { op: 'reset', now: 14_099, key: 'a' },
        {
          now: 14_099,
          key: 'a',
          cost: 2,
          expect: c(true, [d(true, 2, 0, 901, 0), d(true, 5, 3, 5901, 0)]),
        },
      ],
    } satisfies ConformanceCase
  })(),
  {
    name: 'concurrency: leases, release (idempotent), expiry by leaseMs, block, reset, per-request limit',
    feature: 'concurrency',
    algorithm: concurrency({ limit: 3, leaseMs: 1000 }),
    steps: [
      { now: 0, key: 'a', cost: 1, expect: leased(3, 2, 1000) },
      { now: 100, key: 'a', cost: 2, expect: leased(3, 0, 1000) },
      { now: 200, key: 'a', cost: 1, expect: d(false, 3, 0, 900, 800) },
      { op: 'peek', now: 200, key: 'a', cost: 1, expect: d(false, 3, 0, 900, 800) },
      { op: 'release', now: 300, key: 'a', leaseOf: 1 },
      { op: 'peek', now: 300, key: 'a', cost: 2, expect: d(true, 3, 0, 1000, 0) },
      { op: 'release', now: 300, key: 'a', leaseOf: 1 },
      { now: 300, key: 'a', cost: 2, expect: leased(3, 0, 1000) },
      { now: 1000, key: 'a', cost: 1, expect: leased(3, 0, 1000) },
      { now: 1000, key: 'a', cost: 2, expect: d(false, 3, 0, 1000, 300) },
      { op: 'block', now: 1000, key: 'a', durationMs: 500 },
      { now: 1300, key: 'a', cost: 1, expect: d(false, 3, 0, 700, 200) },
      { op: 'reset', now: 1300, key: 'a' },
      { now: 1300, key: 'a', cost: 3, expect: leased(3, 0, 1000) },
      { now: 2300, key: 'a', cost: 3, expect: leased(3, 0, 1000) },
      { now: 2300, key: 'a', cost: 1, limit: 4, expect: leased(4, 0, 1000) },
      { op: 'release', now: 2300, key: 'a', leaseOf: 14 },
      { op: 'peek', now: 2300, key: 'a', cost: 3, expect: d(false, 3, 2, 1000, 1000) },
      { op: 'peek', now: 2300, key: 'a', cost: 2, expect: d(true, 3, 0, 1000, 0) },
    ],
  },
]

/** Both tables: what every complete Store must reproduce. */
export const allConformanceCases: ConformanceCase[] = [
  ...conformanceCases,
  ...extendedConformanceCases,
]

function lookupLease(
  results: Array<{ step: ConformanceStep; got: Decision | undefined }>,
  leases: Array<string | undefined>,
  index: number,
): string {
  const lease = leases[index]
  if (lease === undefined) {
    throw new Error(`conformance step ${results.length}: step ${index} holds no lease`)
  }
  return lease
}

/**
 * Runs one case against a store whose clock reads what `setNow` last set. Keys are prefixed so
 * cases never share state. Returns each step with what the store answered (a Decision for decide
 * and peek, undefined for the others); an admitted concurrency decision's lease is checked to be
 * a fresh non-empty string and then shown as {@link LEASE}, so results compare with `expect`.
 */
export async function runConformanceCase(
  store: Store,
  setNow: (ms: number) => void,
  c: ConformanceCase,
  prefix: string,
): Promise<Array<{ step: ConformanceStep; got: Decision | undefined }>> {
  const results: Array<{ step: ConformanceStep; got: Decision | undefined }> = []
  const leases: Array<string | undefined> = []
  const seen = new Set<string>()
  for (const step of c.steps) {
    setNow(step.now)
    const key = prefix + step.key
    const base = step.algorithm ?? c.algorithm
    let got: Decision | undefined
    switch (step.op) {
      case undefined:
      case 'decide': {
        const algorithm = step.limit === undefined ? base : withLimit(base, step.limit)
        got =
          step.blockDurationMs === undefined
            ? await store.decide(key, algorithm, step.cost)
            : await store.decide(key, algorithm, step.cost, {
                blockDurationMs: step.blockDurationMs,
              })
        break
      }
      case 'peek': {
        const algorithm = step.limit === undefined ? base : withLimit(base, step.limit)
        got = await store.peek(key, algorithm, step.cost)
        break
      }
      case 'refund':
        await store.refund(key, base, step.cost)
        break
      case 'block':
        await store.block(key, base, step.durationMs)
        break
      case 'release':
        await store.release(key, base, lookupLease(results, leases, step.leaseOf))
        break
      case 'reset':
        await store.reset(key, base)
        break
    }
    let lease: string | undefined
    if (got !== undefined && got.lease !== undefined) {
      lease = got.lease
      const fresh = typeof lease === 'string' && lease.length > 0 && !seen.has(lease)
      seen.add(lease)
      got = { ...got, lease: fresh ? LEASE : `<not a fresh lease: ${String(lease)}>` }
    }
    leases.push(lease)
    results.push({ step, got })
  }
  return results
}
