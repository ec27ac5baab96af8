import { describe, expect, it } from 'vitest'
import {
  type Algorithm,
  assertAlgorithm,
  compound,
  concurrency,
  createLimiter,
  fixedWindow,
  type RateAlgorithm,
  slidingLog,
  slidingWindow,
  tokenBucket,
  withLimit,
} from '../src/index.js'

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('expected a throw')
}

describe('concurrency()', () => {
  it('makes a frozen value with leaseMs defaulting to 60 s', () => {
    const a = concurrency({ limit: 2 })
    expect(a).toEqual({ kind: 'concurrency', limit: 2, leaseMs: 60_000 })
    expect(Object.isFrozen(a)).toBe(true)
  })

  it.each([
    ['limit 0', { limit: 0 }, RangeError, ['limit', '0']],
    ['limit 1.5', { limit: 1.5 }, RangeError, ['limit', '1.5']],
    ['limit "2"', { limit: '2' }, TypeError, ['limit', '"2"']],
    ['leaseMs 0', { limit: 1, leaseMs: 0 }, RangeError, ['leaseMs', '0']],
    ['leaseMs 2^31', { limit: 1, leaseMs: 2 ** 31 }, RangeError, ['leaseMs', '2147483647']],
    ['leaseMs NaN', { limit: 1, leaseMs: Number.NaN }, RangeError, ['leaseMs', 'NaN']],
    ['unknown option', { limit: 1, leaseMS: 5 }, TypeError, ['leaseMS']],
  ] as const)('rejects %s', (_what, options, ctor, fragments) => {
    const error = thrown(() => concurrency(options as never))
    expect(error).toBeInstanceOf(ctor)
    expect(error.code).toMatch(/^ERR_TOLLGATE_/)
    for (const f of fragments) expect(error.message).toContain(f)
  })

  it('accepts leaseMs up to 2^31 - 1', () => {
    expect(concurrency({ limit: 1, leaseMs: 2 ** 31 - 1 }).leaseMs).toBe(2 ** 31 - 1)
  })
})

describe('compound()', () => {
  const perSecond = slidingWindow({ limit: 10, windowMs: 1_000 })
  const perDay = fixedWindow({ limit: 1_000, windowMs: 86_400_000 })

  it('keeps its members in order, frozen', () => {
    const c = compound([perSecond, perDay])
    expect(c.kind).toBe('compound')
    expect(c.members).toEqual([perSecond, perDay])
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.members)).toBe(true)
  })

  it('takes two members of one kind with different numbers', () => {
    const c = compound([
      fixedWindow({ limit: 10, windowMs: 1_000 }),
      fixedWindow({ limit: 1_000, windowMs: 86_400_000 }),
    ])
    expect(c.members).toHaveLength(2)
  })

  it.each([
    ['an empty list', [], ['members', 'empty']],
    ['a nested list', [perSecond, [perDay]], ['members[1]', 'nest']],
    ['a nested compound', [perSecond, compound([perDay])], ['members[1]', 'nest']],
    ['a concurrency member', [perSecond, concurrency({ limit: 2 })], ['members[1]', 'concurrency']],
    [
      'the same algorithm twice',
      [perSecond, perDay, slidingWindow({ limit: 10, windowMs: 1_000 })],
      ['members[2]', 'members[0]'],
    ],
    ['a non-algorithm', [perSecond, { kind: 'nope' }], ['members[1]', '"nope"']],
  ])('is a TypeError naming the member for %s', (_what, members, fragments) => {
    const error = thrown(() => compound(members as unknown as RateAlgorithm[]))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
    for (const f of fragments) expect(error.message).toContain(f)
  })

  it('createLimiter({ algorithm: [a, b] }) builds a compound and names algorithm[i] in errors', () => {
    const limiter = createLimiter({ algorithm: [perSecond, perDay] })
    expect(limiter.algorithm).toEqual(compound([perSecond, perDay]))
    const error = thrown(() => createLimiter({ algorithm: [perSecond, perSecond] }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toContain('algorithm[1]')
  })
})

describe('withLimit()', () => {
  it('replaces the limit or the capacity, and returns the value itself when unchanged', () => {
    const fw = fixedWindow({ limit: 10, windowMs: 1000 })
    expect(withLimit(fw, 50)).toEqual({ kind: 'fixedWindow', limit: 50, windowMs: 1000 })
    expect(withLimit(fw, 10)).toBe(fw)
    const tb = tokenBucket({ capacity: 5, refillRate: 1 })
    expect(withLimit(tb, 7)).toEqual({ ...tb, capacity: 7 })
    expect(withLimit(concurrency({ limit: 2 }), 3).limit).toBe(3)
  })

  it('is a TypeError for a compound and a coded error for a bad limit', () => {
    const c = compound([slidingLog({ limit: 3, windowMs: 1000 })])
    expect(() => withLimit(c, 5)).toThrow(TypeError)
    const fw = fixedWindow({ limit: 10, windowMs: 1000 })
    expect(thrown(() => withLimit(fw, 0))).toBeInstanceOf(RangeError)
    expect(thrown(() => withLimit(fw, '5' as unknown as number))).toBeInstanceOf(TypeError)
  })
})

describe('algorithm values are validated wherever they enter (issue 14 item 5)', () => {
  it.each([
    ['windowMs missing', { kind: 'fixedWindow', limit: 3 }, TypeError, ['windowMs', 'undefined']],
    [
      'NaN limit',
      { kind: 'slidingWindow', limit: Number.NaN, windowMs: 1000 },
      RangeError,
      ['limit', 'NaN'],
    ],
    [
      'string limit',
      { kind: 'slidingLog', limit: '3', windowMs: 1000 },
      TypeError,
      ['limit', '"3"'],
    ],
    [
      'Infinity capacity',
      {
        kind: 'tokenBucket',
        capacity: Number.POSITIVE_INFINITY,
        refillRate: 1,
        refillIntervalMs: 1000,
      },
      RangeError,
      ['capacity', 'Infinity'],
    ],
    [
      'unknown field',
      { kind: 'fixedWindow', limit: 3, windowMs: 1000, windowMS: 5 },
      TypeError,
      ['windowMS'],
    ],
    [
      'windowMs above 366 days',
      { kind: 'fixedWindow', limit: 3, windowMs: 1e300 },
      RangeError,
      ['windowMs'],
    ],
  ] as const)('a hand-made object with %s is a coded error', (_what, value, ctor, fragments) => {
    for (const enter of [
      () => assertAlgorithm(value),
      () => createLimiter({ algorithm: value as unknown as Algorithm }),
    ]) {
      const error = thrown(enter)
      expect(error).toBeInstanceOf(ctor)
      expect(error.code).toMatch(/^ERR_TOLLGATE_(INVALID|UNKNOWN)_OPTION$/)
      for (const f of fragments) expect(error.message).toContain(f)
    }
  })

  it('accepts a valid hand-made object as a frozen copy', () => {
    const hand = { kind: 'fixedWindow', limit: 3, windowMs: 1000 } as const
    const checked = assertAlgorithm(hand)
    expect(checked).toEqual(hand)
    expect(Object.isFrozen(checked)).toBe(true)
  })
})
