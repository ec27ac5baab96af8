/**
 * `@tollgate/core/testing` (packages/core/src/testing/index.ts), where the StrykerJS run of issue
 * 15 item 4 (session 6) found behaviour no test pinned: what runConformanceCase passes to the
 * store for each kind of step, how it shows a lease that is not fresh, the error for a release
 * of a step without a lease, and the inventory of the table (its names and features, which a
 * third-party store filters on).
 */
import {
  type Algorithm,
  concurrency,
  type DecideOptions,
  type Decision,
  fixedWindow,
  MemoryStore,
  type Store,
  slidingLog,
} from '@tollgate/core'
import {
  allConformanceCases,
  type ConformanceCase,
  conformanceCases,
  extendedConformanceCases,
  LEASE,
  runConformanceCase,
} from '@tollgate/core/testing'
import { describe, expect, it } from 'vitest'

type Call = [op: string, now: number, key: string, algorithm: Algorithm, ...rest: unknown[]]

/** A MemoryStore that records every call (with the clock it saw) and can rewrite leases. */
function recording(lease?: (got: string) => unknown) {
  let now = 0
  const memory = new MemoryStore({ clock: () => now })
  const calls: Call[] = []
  const given: string[] = []
  const withLease = (d: Decision): Decision => {
    if (d.lease !== undefined) given.push(d.lease)
    return lease === undefined || d.lease === undefined
      ? d
      : { ...d, lease: lease(d.lease) as string }
  }
  const store: Store = {
    async decide(key, algorithm, cost, options?: DecideOptions) {
      calls.push(
        options === undefined
          ? ['decide', now, key, algorithm, cost]
          : ['decide', now, key, algorithm, cost, options],
      )
      return withLease(await memory.decide(key, algorithm, cost, options))
    },
    async peek(key, algorithm, cost) {
      calls.push(['peek', now, key, algorithm, cost])
      return memory.peek(key, algorithm, cost)
    },
    async refund(key, algorithm, cost) {
      calls.push(['refund', now, key, algorithm, cost])
      return memory.refund(key, algorithm, cost)
    },
    async block(key, algorithm, durationMs) {
      calls.push(['block', now, key, algorithm, durationMs])
      return memory.block(key, algorithm, durationMs)
    },
    async release(key, algorithm, l) {
      calls.push(['release', now, key, algorithm, l])
      return memory.release(key, algorithm, l)
    },
    async reset(key, algorithm) {
      calls.push(['reset', now, key, algorithm])
      return memory.reset(key, algorithm)
    },
  }
  return {
    store,
    calls,
    given,
    setNow: (ms: number) => {
      now = ms
    },
    close: () => memory.close(),
  }
}

const fw = fixedWindow({ limit: 3, windowMs: 1000 })
const log = slidingLog({ limit: 2, windowMs: 1000 })

describe('runConformanceCase', () => {
  it('passes each step to the store at its own time, under the prefix, and returns what decide and peek gave', async () => {
    const r = recording()
    const c: ConformanceCase = {
      name: 'every op',
      algorithm: fw,
      steps: [
        { now: 1000, key: 'a', cost: 1, expect: undefined as never },
        { op: 'decide', now: 1100, key: 'a', cost: 1, limit: 5, expect: undefined as never },
        {
          now: 1200,
          key: 'b',
          cost: 2,
          algorithm: log,
          blockDurationMs: 700,
          expect: undefined as never,
        },
        { op: 'peek', now: 1300, key: 'a', cost: 2, expect: undefined as never },
        { op: 'peek', now: 1300, key: 'a', cost: 2, limit: 4, expect: undefined as never },
        { op: 'refund', now: 1400, key: 'a', cost: 1 },
        { op: 'block', now: 1500, key: 'a', durationMs: 250 },
        { op: 'reset', now: 1600, key: 'b', algorithm: log },
      ],
    }
    const results = await runConformanceCase(r.store, r.setNow, c, 'p:')
    const fw5 = { kind: 'fixedWindow', limit: 5, windowMs: 1000 }
    const fw4 = { kind: 'fixedWindow', limit: 4, windowMs: 1000 }
    expect(r.calls).toEqual([
      ['decide', 1000, 'p:a', fw, 1],
      ['decide', 1100, 'p:a', fw5, 1],
      ['decide', 1200, 'p:b', log, 2, { blockDurationMs: 700 }],
      ['peek', 1300, 'p:a', fw, 2],
      ['peek', 1300, 'p:a', fw4, 2],
      ['refund', 1400, 'p:a', fw, 1],
      ['block', 1500, 'p:a', fw, 250],
      ['reset', 1600, 'p:b', log],
    ])
    // decide without blockDurationMs is called with three arguments, not an empty options bag
    expect(r.calls[0]).toHaveLength(5)
    expect(results.map((x) => x.step)).toEqual(c.steps)
    expect(results.map((x) => x.got)).toEqual([
      { allowed: true, limit: 3, remaining: 2, resetMs: 1000, retryAfterMs: 0 },
      { allowed: true, limit: 5, remaining: 3, resetMs: 900, retryAfterMs: 0 },
      { allowed: true, limit: 2, remaining: 0, resetMs: 1000, retryAfterMs: 0 },
      { allowed: false, limit: 3, remaining: 1, resetMs: 700, retryAfterMs: 700 },
      { allowed: true, limit: 4, remaining: 0, resetMs: 700, retryAfterMs: 0 },
      undefined,
      undefined,
      undefined,
    ])
    await r.close()
  })

  it('releases the lease the named step got, and shows fresh leases as LEASE', async () => {
    const r = recording()
    const cc = concurrency({ limit: 2, leaseMs: 1000 })
    const results = await runConformanceCase(
      r.store,
      r.setNow,
      {
        name: 'leases',
        algorithm: cc,
        steps: [
          { now: 0, key: 'k', cost: 1, expect: undefined as never },
          { now: 0, key: 'k', cost: 1, expect: undefined as never },
          { op: 'release', now: 10, key: 'k', leaseOf: 0 },
          { now: 20, key: 'k', cost: 1, expect: undefined as never },
        ],
      },
      'q:',
    )
    expect(LEASE).toBe('<lease>')
    expect(results.map((x) => x.got?.lease)).toEqual([LEASE, LEASE, undefined, LEASE])
    const leaseOfFirst = r.calls.find((call) => call[0] === 'release')
    expect(leaseOfFirst).toEqual(['release', 10, 'q:k', cc, r.given[0]])
    expect(r.given[0]).not.toBe(r.given[1])
    // the lease the store gave the first step, not the second's
    const d0 = await r.store.peek('q:k', cc, 1)
    expect(d0.remaining).toBe(0)
    await r.close()
  })

  it('shows a repeated, empty or non-string lease (even one with a length) as not fresh', async () => {
    let n = 0
    const leases = ['same', 'same', '', 7, ['an array']]
    const r = recording(() => leases[n++])
    const results = await runConformanceCase(
      r.store,
      r.setNow,
      {
        name: 'bad leases',
        algorithm: concurrency({ limit: 5, leaseMs: 1000 }),
        steps: [0, 1, 2, 3, 4].map((i) => ({
          now: i,
          key: 'k',
          cost: 1,
          expect: undefined as never,
        })),
      },
      'r:',
    )
    expect(results.map((x) => x.got?.lease)).toEqual([
      LEASE,
      '<not a fresh lease: same>',
      '<not a fresh lease: >',
      '<not a fresh lease: 7>',
      // not a string, though it has a length
      '<not a fresh lease: an array>',
    ])
    await r.close()
  })

  it('refuses to release the lease of a step that got none, naming both steps', async () => {
    const r = recording()
    const run = runConformanceCase(
      r.store,
      r.setNow,
      {
        name: 'no lease',
        algorithm: fw,
        steps: [
          { now: 0, key: 'k', cost: 1, expect: undefined as never },
          { op: 'refund', now: 0, key: 'k', cost: 1 },
          { op: 'release', now: 0, key: 'k', leaseOf: 0 },
        ],
      },
      's:',
    )
    await expect(run).rejects.toThrow(/^conformance step 2: step 0 holds no lease$/)
    await r.close()
  })
})

describe('the conformance table', () => {
  it('holds these cases, in this order, each with its feature', () => {
    expect(allConformanceCases).toEqual([...conformanceCases, ...extendedConformanceCases])
    expect(allConformanceCases.map((c) => [c.feature ?? 'decide', c.name])).toEqual([
      ['decide', 'fixedWindow: fills a window, denies until its end, starts afresh'],
      ['decide', 'slidingWindow: weighted previous window, both retry branches'],
      ['decide', 'slidingWindow: denial while only the previous window holds requests'],
      ['decide', 'slidingLog: exact log, retry when enough old entries leave'],
      ['decide', 'tokenBucket: burst, then refill of one token per second'],
      ['decide', 'tokenBucket: refill rate that does not divide the interval rounds up'],
      ['decide', 'tokenBucket: slow interval (1 token per minute)'],
      ['kinds', 'state is kept apart per algorithm kind on one key'],
      ['peek', 'peek: fixedWindow answers as decide would, storing nothing'],
      ['peek', 'peek: slidingLog expires nothing early'],
      ['peek', 'peek: tokenBucket refills in the answer only'],
      ['refund', 'refund: fixedWindow gives back within the current window, never below 0'],
      ['refund', 'refund: slidingWindow takes from the current window, then the previous'],
      ['refund', 'refund: slidingLog removes the newest entries first'],
      ['refund', 'refund: tokenBucket adds the tokens back, up to a full bucket'],
      [
        'block',
        'block: denies until its end, covers the state wait, a later end wins, reset lifts it',
      ],
      ['block', 'block: a wait the state needs beyond the block is kept'],
      [
        'block',
        'blockDurationMs: a denial blocks in the same step; a blocked answer does not extend it',
      ],
      ['block', 'blockDurationMs: the denial keeps a longer wait of its own'],
      [
        'limit',
        'per-request limit: fixedWindow shares one count across limits; a downgrade leaves 0',
      ],
      ['limit', 'per-request limit: slidingLog downgrade walks to the entry that makes room'],
      [
        'limit',
        'per-request limit: tokenBucket state is dropped when full under the capacity that wrote it',
      ],
      ['compound', 'compound: all or nothing; a denial consumes nothing in any member'],
      ['compound', 'compound: block, refund, peek and blockDurationMs act on every member'],
      [
        'concurrency',
        'concurrency: leases, release (idempotent), expiry by leaseMs, block, reset, per-request limit',
      ],
    ])
    for (const c of conformanceCases) expect(c.feature).toBeUndefined()
  })

  it('each case keeps its operations and keys, in order (* marks a step with its own algorithm)', () => {
    // A step dropped, or moved to another key or operation, can leave every expectation true and
    // the case weaker: a refund on an expired window, a decide on a fresh key.
    const shape = allConformanceCases.map((c) =>
      c.steps.map((s) => `${s.op ?? 'decide'} ${s.key}${s.algorithm ? '*' : ''}`).join(', '),
    )
    expect(shape).toEqual([
      'decide a, decide a, decide a, decide a, decide a, decide b, decide a, decide a',
      'decide a, decide a, decide a, decide a, decide a, decide a, decide a, decide a, decide a, decide a',
      'decide k, decide k, decide k, decide k, decide k, decide k, decide k',
      'decide a, decide a, decide a, decide a, decide a, decide a, decide a, decide a, decide a',
      'decide a, decide a, decide a, decide a, decide a, decide a, decide a',
      'decide a, decide a, decide a, decide a',
      'decide a, decide a, decide a, decide a',
      'decide k, decide k*, decide k, decide k*, decide k*, decide k*, decide k',
      'peek a, peek a, decide a, peek a, decide a, peek a',
      'decide a, decide a, peek a, peek a, decide a, peek a',
      'decide a, peek a, peek a, peek a, decide a',
      'decide a, refund a, decide a, refund a, peek a, decide a, refund a, decide a, refund b, decide b',
      'decide a, decide a, refund a, peek a, decide a, refund a, peek a, peek a, decide a',
      'decide a, decide a, refund a, decide a, refund a, peek a, decide a, refund a, decide a',
      'decide a, refund a, peek a, decide a, refund a, decide a',
      'decide a, block a, decide a, peek a, block a, decide a, block a, decide a, reset a, decide a, block fresh, decide fresh, decide fresh',
      'decide a, block a, decide a, decide a',
      'decide a, decide a, decide a, peek a, decide a',
      'decide a, decide a, peek a',
      'decide a, decide a, decide a, peek a, decide a',
      'decide a, decide a, decide a, decide a, decide a',
      'decide a, decide a, decide a, decide a',
      'decide a, decide a, decide a, decide a, decide a, peek a',
      'decide a, block a, decide a, decide a, refund a, peek a, decide a, decide a, decide a, reset a, decide a',
      'decide a, decide a, decide a, peek a, release a, peek a, release a, decide a, decide a, decide a, block a, decide a, reset a, decide a, decide a, decide a, release a, peek a, peek a',
    ])
  })

  it('passes on a MemoryStore, every case from a fresh store', async () => {
    for (const [index, c] of allConformanceCases.entries()) {
      let now = 0
      const store = new MemoryStore({ clock: () => now })
      const results = await runConformanceCase(store, (ms) => (now = ms), c, `case-${index}:`)
      expect(
        results.map((x) => x.got),
        c.name,
      ).toEqual(results.map((x) => x.step.expect))
      await store.close()
    }
  })
})
