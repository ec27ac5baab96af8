import { describe, expect, it } from 'vitest'
import {
  createLimiter,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '../src/index.js'

type Ctor = typeof TypeError | typeof RangeError

// [what, thunk, error class, fragments the message must contain (option name and value)]
const constructionCases: Array<[string, () => unknown, Ctor, string[]]> = [
  ['limit 0', () => fixedWindow({ limit: 0, windowMs: 1000 }), RangeError, ['limit', '0']],
  [
    'limit negative',
    () => slidingWindow({ limit: -5, windowMs: 1000 }),
    RangeError,
    ['limit', '-5'],
  ],
  [
    'limit NaN',
    () => slidingLog({ limit: Number.NaN, windowMs: 1000 }),
    RangeError,
    ['limit', 'NaN'],
  ],
  [
    'limit Infinity',
    () => fixedWindow({ limit: Number.POSITIVE_INFINITY, windowMs: 1000 }),
    RangeError,
    ['limit', 'Infinity'],
  ],
  [
    'limit fractional',
    () => fixedWindow({ limit: 1.5, windowMs: 1000 }),
    RangeError,
    ['limit', '1.5'],
  ],
  [
    'limit string',
    () => fixedWindow({ limit: '10' as unknown as number, windowMs: 1000 }),
    TypeError,
    ['limit', '"10"'],
  ],
  [
    'limit missing',
    () => fixedWindow({ windowMs: 1000 } as unknown as { limit: number; windowMs: number }),
    TypeError,
    ['limit', 'undefined'],
  ],
  ['windowMs 0', () => fixedWindow({ limit: 1, windowMs: 0 }), RangeError, ['windowMs', '0']],
  [
    'windowMs negative',
    () => slidingWindow({ limit: 1, windowMs: -5 }),
    RangeError,
    ['windowMs', '-5'],
  ],
  [
    'windowMs NaN',
    () => slidingLog({ limit: 1, windowMs: Number.NaN }),
    RangeError,
    ['windowMs', 'NaN'],
  ],
  [
    'windowMs fractional',
    () => slidingWindow({ limit: 1, windowMs: 0.5 }),
    RangeError,
    ['windowMs', '0.5'],
  ],
  [
    'windowMs string',
    () => slidingLog({ limit: 1, windowMs: '1s' as unknown as number }),
    TypeError,
    ['windowMs', '"1s"'],
  ],
  ['capacity 0', () => tokenBucket({ capacity: 0, refillRate: 1 }), RangeError, ['capacity', '0']],
  [
    'capacity Infinity',
    () => tokenBucket({ capacity: Number.POSITIVE_INFINITY, refillRate: 1 }),
    RangeError,
    ['capacity', 'Infinity'],
  ],
  [
    'capacity string',
    () => tokenBucket({ capacity: 'ten' as unknown as number, refillRate: 1 }),
    TypeError,
    ['capacity', '"ten"'],
  ],
  [
    'refillRate negative',
    () => tokenBucket({ capacity: 1, refillRate: -1 }),
    RangeError,
    ['refillRate', '-1'],
  ],
  [
    'refillRate fractional',
    () => tokenBucket({ capacity: 1, refillRate: 0.5 }),
    RangeError,
    ['refillRate', '0.5'],
  ],
  [
    'refillRate NaN',
    () => tokenBucket({ capacity: 1, refillRate: Number.NaN }),
    RangeError,
    ['refillRate', 'NaN'],
  ],
  [
    'refillIntervalMs 0',
    () => tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: 0 }),
    RangeError,
    ['refillIntervalMs', '0'],
  ],
  [
    'refillIntervalMs string',
    () =>
      tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: '1000' as unknown as number }),
    TypeError,
    ['refillIntervalMs', '"1000"'],
  ],
  [
    'unknown option windowMS',
    () =>
      fixedWindow({ limit: 1, windowMS: 1000 } as unknown as { limit: number; windowMs: number }),
    TypeError,
    ['windowMS'],
  ],
  [
    'unknown option on tokenBucket',
    () =>
      tokenBucket({ capacity: 1, refillRate: 1, interval: 5 } as unknown as {
        capacity: number
        refillRate: number
      }),
    TypeError,
    ['interval'],
  ],
  [
    'algorithm options not an object',
    () => slidingWindow(null as unknown as { limit: number; windowMs: number }),
    TypeError,
    ['slidingWindow', 'null'],
  ],
  [
    'unknown algorithm',
    () => createLimiter({ algorithm: { kind: 'leakyBucket' } as never }),
    TypeError,
    ['algorithm', 'leakyBucket'],
  ],
  ['missing algorithm', () => createLimiter({} as never), TypeError, ['algorithm', 'undefined']],
  [
    'unknown limiter option',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        stor: new MemoryStore(),
      } as never),
    TypeError,
    ['stor'],
  ],
  [
    'store without decide()',
    () => createLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 1 }), store: {} as never }),
    TypeError,
    ['store'],
  ],
  [
    'failure.mode unknown',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        failure: { mode: 'half' as never },
      }),
    TypeError,
    ['failure.mode', '"half"'],
  ],
  [
    'failure.timeoutMs 0',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        failure: { timeoutMs: 0 },
      }),
    RangeError,
    ['failure.timeoutMs', '0'],
  ],
  [
    'failure.breaker.failures fractional',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        failure: { breaker: { failures: 2.5 } },
      }),
    RangeError,
    ['failure.breaker.failures', '2.5'],
  ],
  [
    'failure unknown option',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        failure: { timeout: 5 } as never,
      }),
    TypeError,
    ['timeout'],
  ],
  [
    'onStoreError not a function',
    () =>
      createLimiter({
        algorithm: fixedWindow({ limit: 1, windowMs: 1 }),
        onStoreError: 'log' as never,
      }),
    TypeError,
    ['onStoreError', '"log"'],
  ],
  ['MemoryStore maxKeys 0', () => new MemoryStore({ maxKeys: 0 }), RangeError, ['maxKeys', '0']],
  ['MemoryStore unknown option', () => new MemoryStore({ max: 5 } as never), TypeError, ['max']],
]

describe('invalid configuration', () => {
  it.each(constructionCases)(
    '%s throws naming option and value',
    (_what, thunk, ctor, fragments) => {
      let caught: unknown
      try {
        thunk()
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(ctor)
      const message = (caught as Error).message
      for (const fragment of fragments) expect(message).toContain(fragment)
      expect((caught as { code?: string }).code).toMatch(/^ERR_TOLLGATE_/)
    },
  )
})

const requestCases: Array<[string, string, number | undefined, Ctor, string[]]> = [
  ['cost 0', 'k', 0, RangeError, ['cost', '0']],
  ['cost negative', 'k', -1, RangeError, ['cost', '-1']],
  ['cost NaN', 'k', Number.NaN, RangeError, ['cost', 'NaN']],
  ['cost Infinity', 'k', Number.POSITIVE_INFINITY, RangeError, ['cost', 'Infinity']],
  ['cost fractional', 'k', 1.5, RangeError, ['cost', '1.5']],
  ['cost string', 'k', '2' as unknown as number, TypeError, ['cost', '"2"']],
  ['cost above limit', 'k', 11, RangeError, ['cost', 'limit 10', '11']],
  ['empty key', '', 1, RangeError, ['key', '""']],
  ['key not a string', 42 as unknown as string, 1, TypeError, ['key', '42']],
]

describe('invalid requests', () => {
  const limiter = createLimiter({ algorithm: fixedWindow({ limit: 10, windowMs: 1000 }) })
  const bucket = createLimiter({ algorithm: tokenBucket({ capacity: 3, refillRate: 1 }) })

  it.each(requestCases)(
    '%s rejects naming option and value',
    async (_what, key, cost, ctor, fragments) => {
      const error = await limiter.limit(key, { cost }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(ctor)
      for (const fragment of fragments) expect((error as Error).message).toContain(fragment)
    },
  )

  it('cost above a bucket capacity names capacity', async () => {
    await expect(bucket.limit('k', { cost: 4 })).rejects.toThrow(
      /cost must not exceed capacity 3, got 4/,
    )
  })
})
