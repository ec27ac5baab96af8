import { randomUUID } from 'node:crypto'
import {
  type Algorithm,
  algorithmLimit,
  type Decision,
  fixedWindow,
  MemoryStore,
  type Store,
  slidingLog,
  slidingWindow,
  tokenBucket,
  withLimit,
} from '@tollgate/core'
import {
  allConformanceCases,
  type ConformanceCase,
  LEASE,
  runConformanceCase,
} from '@tollgate/core/testing'
import { RedisStore } from '@tollgate/redis'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { connectClient, type TestClient } from './support/clients.js'

// Shared server: every key of this file lives under its own prefix.
const filePrefix = `t-conformance-${randomUUID()}:`
let client: TestClient
let now = 0
const clock = () => now
const setNow = (ms: number) => {
  now = ms
}

beforeAll(async () => {
  client = await connectClient(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

const stores: Array<[name: string, make: () => Store]> = [
  ['MemoryStore', () => new MemoryStore({ clock })],
  [
    'RedisStore (batched)',
    () => new RedisStore({ client: client.client, prefix: `${filePrefix}b:`, clock }),
  ],
  [
    'RedisStore (batch: false)',
    () => new RedisStore({ client: client.client, prefix: `${filePrefix}u:`, clock, batch: false }),
  ],
]

describe.each(stores)('conformance table on %s', (_name, make) => {
  it.each(allConformanceCases.map((c, index) => [c.name, c, index] as const))(
    '%s',
    async (_caseName, c, index) => {
      const store = make()
      const results = await runConformanceCase(store, setNow, c, `case-${index}:`)
      expect(results.map((r) => r.got)).toEqual(results.map((r) => r.step.expect))
      await store.close?.()
    },
  )
})

/**
 * Runs a case with every step issued before any is awaited (one event-loop turn), except that a
 * release waits for the step whose lease it frees. The store reads the clock as each op is issued
 * and the batch runs them in issue order, so each step still gets the Decision of its own moment.
 */
async function runInOneTurn(
  store: Store,
  c: ConformanceCase,
  prefix: string,
): Promise<Array<Decision | undefined>> {
  const pending: Array<Promise<Decision | undefined>> = []
  const seen = new Set<string>()
  for (const step of c.steps) {
    const key = prefix + step.key
    const base = step.algorithm ?? c.algorithm
    if (step.op === 'release') {
      const holder = await pending[step.leaseOf]!
      setNow(step.now)
      pending.push(store.release(key, base, holder!.lease!).then(() => undefined))
      continue
    }
    setNow(step.now)
    switch (step.op) {
      case undefined:
      case 'decide': {
        const algorithm = step.limit === undefined ? base : withLimit(base, step.limit)
        const options =
          step.blockDurationMs === undefined ? undefined : { blockDurationMs: step.blockDurationMs }
        pending.push(store.decide(key, algorithm, step.cost, options))
        break
      }
      case 'peek': {
        const algorithm = step.limit === undefined ? base : withLimit(base, step.limit)
        pending.push(store.peek(key, algorithm, step.cost))
        break
      }
      case 'refund':
        pending.push(store.refund(key, base, step.cost).then(() => undefined))
        break
      case 'block':
        pending.push(store.block(key, base, step.durationMs).then(() => undefined))
        break
      case 'reset':
        pending.push(store.reset(key, base).then(() => undefined))
        break
    }
  }
  return (await Promise.all(pending)).map((got) => {
    if (got?.lease === undefined) return got
    const fresh = got.lease.length > 0 && !seen.has(got.lease)
    seen.add(got.lease)
    return { ...got, lease: fresh ? LEASE : `<not a fresh lease: ${got.lease}>` }
  })
}

describe('conformance table issued within one event-loop turn on a batched RedisStore', () => {
  it.each(allConformanceCases.map((c, index) => [c.name, c, index] as const))(
    '%s',
    async (_caseName, c, index) => {
      const store = new RedisStore({ client: client.client, prefix: `${filePrefix}turn:`, clock })
      const got = await runInOneTurn(store, c, `case-${index}:`)
      expect(got).toEqual(c.steps.map((step) => step.expect))
    },
  )
})

describe('MemoryStore and RedisStore agree on random sequences', () => {
  // A fixed seed: a failure reproduces run after run; the counterexample names the step.
  const SEED = 20_261_126
  const RUNS = 25
  // Redis expires keys on its own clock even when the store's clock is injected. A key written
  // with a TTL of a few ms could vanish in real time between two steps at the same injected
  // instant, which MemoryStore (on the injected clock alone) rightly does not do. Every time,
  // window and interval here is a multiple of U, and refillRate <= 5, so every TTL a script sets
  // is >= U / 5 = 1 s: far more than the real time between two steps. The ms-exact boundaries
  // are pinned by the conformance table above.
  const U = 5000
  const keyPool = ['a', 'b', 'c']
  const step = fc.record({
    // Bursts at one instant, steps within a window, and long jumps past several windows.
    dt: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 4 },
      { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 2 },
    ),
    key: fc.constantFrom(...keyPool),
    cost: fc.integer({ min: 1, max: 10 }),
  })
  const start = fc.integer({ min: 320_000_000, max: 380_000_000 })
  const steps = fc.array(step, { minLength: 45, maxLength: 90 })
  const windowed = fc.record({
    limit: fc.integer({ min: 1, max: 10 }),
    windowMs: fc.integer({ min: 1, max: 12 }).map((w) => w * U),
  })
  const bucket = fc.record({
    capacity: fc.integer({ min: 1, max: 10 }),
    refillRate: fc.integer({ min: 1, max: 5 }),
    refillIntervalMs: fc.integer({ min: 1, max: 6 }).map((i) => i * U),
  })
  const algorithms: Array<[string, fc.Arbitrary<Algorithm>]> = [
    ['fixedWindow', windowed.map(fixedWindow)],
    ['slidingWindow', windowed.map(slidingWindow)],
    ['slidingLog', windowed.map(slidingLog)],
    ['tokenBucket', bucket.map(tokenBucket)],
  ]
  let run = 0
  const modes = [
    ['awaited one by one, batched', true, false],
    ['awaited one by one, batch: false', false, false],
    ['all issued in one event-loop turn, batched', true, true],
  ] as const
  const cases = algorithms.flatMap(([kind, arb]) =>
    modes.map(([mode, batch, oneTurn]) => [kind, mode, arb, batch, oneTurn] as const),
  )

  it.each(cases)(
    'gives equal decisions for %s at every step, %s (seeded, >= 1000 steps)',
    async (_kind, _mode, algorithmArb, batch, oneTurn) => {
      let total = 0
      let denied = 0
      await fc.assert(
        fc.asyncProperty(algorithmArb, start, steps, async (algorithm, startUnits, sequence) => {
          const limit = algorithmLimit(algorithm)
          const memory = new MemoryStore({ clock })
          const redis = new RedisStore({
            client: client.client,
            prefix: `${filePrefix}random-${run++}:`,
            clock,
            batch,
          })
          // Epoch ms around 2020-2030, so the scripts see realistic 13-digit times.
          now = startUnits * U
          const steps = sequence.map(({ dt, key, cost: rawCost }) => {
            now += dt * U
            return { now, key, cost: 1 + ((rawCost - 1) % limit) }
          })
          // In one turn: every call issued (each reading the clock) before any is awaited.
          const issued = oneTurn
            ? steps.map((s) => {
                now = s.now
                return redis.decide(s.key, algorithm, s.cost)
              })
            : undefined
          try {
            for (const [index, { key, cost }] of steps.entries()) {
              now = steps[index]!.now
              const fromMemory: Decision = await memory.decide(key, algorithm, cost)
              const fromRedis: Decision = await (issued?.[index] ??
                redis.decide(key, algorithm, cost))
              total++
              if (!fromRedis.allowed) denied++
              if (JSON.stringify(fromMemory) !== JSON.stringify(fromRedis)) {
                throw new Error(
                  `step ${index} (now ${now}, key ${key}, cost ${cost}): memory ${JSON.stringify(
                    fromMemory,
                  )} vs redis ${JSON.stringify(fromRedis)}`,
                )
              }
            }
          } finally {
            await memory.close()
          }
        }),
        { seed: SEED, numRuns: RUNS },
      )
      expect(total).toBeGreaterThanOrEqual(1000)
      // The sequences exercise both outcomes, not only admissions.
      expect(denied).toBeGreaterThan(total / 10)
      expect(denied).toBeLessThan(total)
    },
  )
})
