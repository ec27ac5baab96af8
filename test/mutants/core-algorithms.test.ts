/**
 * The algorithm values of packages/core/src/algorithms/*.ts where the StrykerJS run of issue 15
 * item 4 (session 6) found behaviour no test pinned: the exact error messages (the factory, the
 * field, the value, the member), the defaults, what counts as the same algorithm in a compound,
 * the exact-arithmetic bounds of withLimit, and the cost check of a compound.
 */
import {
  type Algorithm,
  algorithmLimit,
  assertAlgorithm,
  assertNever,
  compound,
  concurrency,
  createLimiter,
  describeAlgorithm,
  fixedWindow,
  MAX_COMPOUND_MEMBERS,
  MAX_WINDOW_MS,
  parseAlgorithm,
  type RateAlgorithm,
  slidingLog,
  slidingWindow,
  TollgateRangeError,
  TollgateTypeError,
  tokenBucket,
  validateCost,
  withLimit,
} from '@tollgate/core'
import { describe, expect, it } from 'vitest'
import { isBranded } from '../../packages/core/src/algorithms/brand.js'

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('did not throw')
}

const FACTORIES =
  'fixedWindow(), slidingWindow(), slidingLog(), tokenBucket(), concurrency() or compound()'

describe('algorithm factories', () => {
  it('each makes a frozen, branded value of its kind with exactly its fields', () => {
    const made: Array<[Algorithm, object]> = [
      [
        fixedWindow({ limit: 3, windowMs: 1000 }),
        { kind: 'fixedWindow', limit: 3, windowMs: 1000 },
      ],
      [
        slidingWindow({ limit: 3, windowMs: 1000 }),
        { kind: 'slidingWindow', limit: 3, windowMs: 1000 },
      ],
      [slidingLog({ limit: 3, windowMs: 1000 }), { kind: 'slidingLog', limit: 3, windowMs: 1000 }],
      [
        tokenBucket({ capacity: 4, refillRate: 2, refillIntervalMs: 500 }),
        { kind: 'tokenBucket', capacity: 4, refillRate: 2, refillIntervalMs: 500 },
      ],
      [concurrency({ limit: 2, leaseMs: 5 }), { kind: 'concurrency', limit: 2, leaseMs: 5 }],
    ]
    for (const [value, fields] of made) {
      expect(value).toStrictEqual(fields)
      expect(Object.isFrozen(value)).toBe(true)
      expect(isBranded(value)).toBe(true)
    }
  })

  it('a token bucket refills over 1000 ms unless told otherwise; a lease lasts 60 s', () => {
    expect(tokenBucket({ capacity: 4, refillRate: 2 }).refillIntervalMs).toBe(1000)
    expect(concurrency({ limit: 2 }).leaseMs).toBe(60_000)
  })

  it.each([
    ['fixedWindow', () => fixedWindow(5 as never)],
    ['slidingWindow', () => slidingWindow([] as never)],
    ['slidingLog', () => slidingLog(null as never)],
    ['tokenBucket', () => tokenBucket('x' as never)],
    ['concurrency', () => concurrency(undefined as never)],
  ])('%s() without an options object is a TypeError naming the factory', (name, make) => {
    const error = thrown(make)
    expect(error).toBeInstanceOf(TollgateTypeError)
    expect(error.message).toMatch(
      new RegExp(`^tollgate: ${name}\\(\\) expects an options object, got `),
    )
  })

  it.each([
    ['fixedWindow', () => fixedWindow({ limit: 1, windowMs: 1, x: 1 } as never), 'limit, windowMs'],
    [
      'slidingWindow',
      () => slidingWindow({ limit: 1, windowMs: 1, x: 1 } as never),
      'limit, windowMs',
    ],
    ['slidingLog', () => slidingLog({ limit: 1, windowMs: 1, x: 1 } as never), 'limit, windowMs'],
    [
      'tokenBucket',
      () => tokenBucket({ capacity: 1, refillRate: 1, x: 1 } as never),
      'capacity, refillRate, refillIntervalMs',
    ],
    ['concurrency', () => concurrency({ limit: 1, x: 1 } as never), 'limit, leaseMs'],
  ])('%s() names its own options when given an unknown one', (name, make, known) => {
    expect(thrown(make).message).toBe(
      `tollgate: unknown option "x" in ${name}(); expected one of ${known}`,
    )
  })

  it('the window and interval bounds are 366 days; counts are bounded by 2^53 - 1', () => {
    expect(MAX_WINDOW_MS).toBe(31_622_400_000)
    expect(fixedWindow({ limit: 1, windowMs: MAX_WINDOW_MS }).windowMs).toBe(MAX_WINDOW_MS)
    expect(thrown(() => slidingLog({ limit: 1, windowMs: MAX_WINDOW_MS + 1 })).message).toBe(
      'tollgate: windowMs must be a positive integer no larger than 31622400000, got 31622400001',
    )
    expect(
      thrown(() => tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: MAX_WINDOW_MS + 1 }))
        .message,
    ).toBe(
      'tollgate: refillIntervalMs must be a positive integer no larger than 31622400000, got 31622400001',
    )
    expect(thrown(() => fixedWindow({ limit: 2 ** 53, windowMs: 1 })).message).toBe(
      'tollgate: limit must be a positive integer no larger than 9007199254740991, got 9007199254740992',
    )
    expect(thrown(() => tokenBucket({ capacity: 1, refillRate: 2 ** 53 })).message).toBe(
      'tollgate: refillRate must be a positive integer no larger than 9007199254740991, got 9007199254740992',
    )
    expect(thrown(() => concurrency({ limit: 1, leaseMs: 2 ** 31 })).message).toBe(
      'tollgate: leaseMs must be a positive integer no larger than 2147483647, got 2147483648',
    )
  })

  it('a sliding window or bucket whose scaled state would leave exact doubles is refused', () => {
    const sw = thrown(() => slidingWindow({ limit: 2 ** 40, windowMs: 2 ** 13 }))
    expect(sw).toBeInstanceOf(TollgateRangeError)
    expect(sw.message).toBe(
      'tollgate: 2 * limit * windowMs must stay below 2^53 for exact arithmetic, got 2199023255552 * 8192',
    )
    // Just inside: 2 * 2^39 * 2^13 = 2^53 > MAX_SAFE_INTEGER, 2 * (2^39 - 1) * 2^13 is not.
    expect(slidingWindow({ limit: 2 ** 39 - 1, windowMs: 2 ** 13 }).limit).toBe(2 ** 39 - 1)
    const tb = thrown(() =>
      tokenBucket({ capacity: 2 ** 41, refillRate: 1, refillIntervalMs: 2 ** 12 }),
    )
    expect(tb).toBeInstanceOf(TollgateRangeError)
    expect(tb.message).toBe(
      'tollgate: capacity * refillIntervalMs must stay below 2^53 for exact arithmetic, got 2199023255552 * 4096',
    )
    expect(
      tokenBucket({ capacity: 2 ** 40, refillRate: 1, refillIntervalMs: 2 ** 12 }).capacity,
    ).toBe(2 ** 40)
  })
})

describe('assertAlgorithm', () => {
  it('returns a factory-made value itself, and a hand-made one as a branded frozen copy', () => {
    const fw = fixedWindow({ limit: 3, windowMs: 1000 })
    expect(assertAlgorithm(fw)).toBe(fw)
    const hands: Array<Record<string, unknown>> = [
      { kind: 'fixedWindow', limit: 3, windowMs: 1000 },
      { kind: 'slidingWindow', limit: 3, windowMs: 1000 },
      { kind: 'slidingLog', limit: 3, windowMs: 1000 },
      { kind: 'tokenBucket', capacity: 3, refillRate: 1, refillIntervalMs: 250 },
      { kind: 'concurrency', limit: 3, leaseMs: 10 },
    ]
    for (const hand of hands) {
      const checked = assertAlgorithm(hand)
      expect(checked).not.toBe(hand)
      expect(checked).toStrictEqual(hand)
      expect(Object.isFrozen(checked)).toBe(true)
      expect(isBranded(checked)).toBe(true)
      expect(assertAlgorithm(checked)).toBe(checked)
    }
    const hand = { kind: 'compound', members: [{ kind: 'fixedWindow', limit: 3, windowMs: 1000 }] }
    const checked = assertAlgorithm(hand)
    expect(checked).toStrictEqual({
      kind: 'compound',
      members: [{ kind: 'fixedWindow', limit: 3, windowMs: 1000 }],
    })
    expect(isBranded(checked)).toBe(true)
    expect(isBranded((checked as unknown as { members: object[] }).members[0])).toBe(true)
  })

  it('a hand-made token bucket or concurrency value has no defaults: every field is required', () => {
    expect(
      thrown(() => assertAlgorithm({ kind: 'tokenBucket', capacity: 3, refillRate: 1 })).message,
    ).toBe(
      'tollgate: refillIntervalMs must be a positive integer no larger than 31622400000, got undefined',
    )
    expect(thrown(() => assertAlgorithm({ kind: 'concurrency', limit: 3 })).message).toBe(
      'tollgate: leaseMs must be a positive integer no larger than 2147483647, got undefined',
    )
  })

  it.each([
    [{ kind: 'fixedWindow', limit: 1, windowMs: 1, leaseMs: 1 }, 'fixedWindow', 'limit, windowMs'],
    [{ kind: 'slidingWindow', limit: 1, windowMs: 1, x: 1 }, 'slidingWindow', 'limit, windowMs'],
    [{ kind: 'slidingLog', limit: 1, windowMs: 1, x: 1 }, 'slidingLog', 'limit, windowMs'],
    [
      { kind: 'tokenBucket', capacity: 1, refillRate: 1, refillIntervalMs: 1, limit: 1 },
      'tokenBucket',
      'capacity, refillRate, refillIntervalMs',
    ],
    [{ kind: 'concurrency', limit: 1, leaseMs: 1, windowMs: 1 }, 'concurrency', 'limit, leaseMs'],
    [{ kind: 'compound', members: [], limit: 1 }, 'compound', 'members'],
  ])(
    'a hand-made %j with a field of another kind names the fields of its kind',
    (value, kind, known) => {
      const error = thrown(() => assertAlgorithm(value, 'opt'))
      expect(error).toBeInstanceOf(TollgateTypeError)
      expect(error.code).toBe('ERR_TOLLGATE_UNKNOWN_OPTION')
      const extra = Object.keys(value).at(-1)
      expect(error.message).toBe(
        `tollgate: unknown option "${extra}" in opt (${kind}); expected one of kind, ${known}`,
      )
    },
  )

  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [5, '5'],
    ['fixedWindow', '"fixedWindow"'],
    [[fixedWindow({ limit: 1, windowMs: 1 })], 'an array'],
    [{ kind: 5 }, 'an object'],
    [{}, 'an object'],
  ])(
    'a value that is not an algorithm (%j) is a TypeError listing the factories',
    (value, shown) => {
      const error = thrown(() => assertAlgorithm(value, 'where'))
      expect(error).toBeInstanceOf(TollgateTypeError)
      expect(error.message).toBe(`tollgate: where must be made by ${FACTORIES}, got ${shown}`)
    },
  )

  it('an unknown kind is named quoted', () => {
    expect(thrown(() => assertAlgorithm({ kind: 'leakyBucket' })).message).toBe(
      `tollgate: algorithm must be made by ${FACTORIES}, got kind "leakyBucket"`,
    )
  })

  it('a hand-made compound names its members under the value it came in', () => {
    expect(thrown(() => assertAlgorithm({ kind: 'compound', members: 'x' }, 'a')).message).toBe(
      'tollgate: a.members must be an array of rate algorithms, got "x"',
    )
    expect(
      thrown(() =>
        assertAlgorithm({
          kind: 'compound',
          members: [{ kind: 'concurrency', limit: 1, leaseMs: 1 }],
        }),
      ).message,
    ).toBe(
      'tollgate: algorithm.members[0] is a concurrency algorithm, which cannot be a member of a compound limit',
    )
  })

  it('assertNever names the kind it did not expect', () => {
    const error = thrown(() => assertNever({ kind: 'leakyBucket' } as never))
    expect(error).toBeInstanceOf(TollgateTypeError)
    expect(error.message).toBe('tollgate: unknown algorithm "leakyBucket"')
    expect(thrown(() => assertNever(null as never)).message).toBe(
      'tollgate: unknown algorithm undefined',
    )
  })
})

describe('compound', () => {
  const perSecond = slidingWindow({ limit: 10, windowMs: 1_000 })
  const perDay = fixedWindow({ limit: 1_000, windowMs: 86_400_000 })

  it('names each refusal exactly', () => {
    const cases: Array<[unknown, string, typeof TollgateTypeError | typeof TollgateRangeError]> = [
      [5, 'members must be an array of rate algorithms, got 5', TollgateTypeError],
      [[], 'members must list at least one algorithm, got an empty array', TollgateTypeError],
      [
        [perSecond, [perDay]],
        'members[1] is an array: compound limits do not nest',
        TollgateTypeError,
      ],
      [
        [perSecond, compound([perDay])],
        'members[1] is a compound: compound limits do not nest',
        TollgateTypeError,
      ],
      [
        [concurrency({ limit: 1 })],
        'members[0] is a concurrency algorithm, which cannot be a member of a compound limit',
        TollgateTypeError,
      ],
      [
        [perDay, perSecond, slidingWindow({ limit: 10, windowMs: 1_000 })],
        'members[2] repeats members[1] (slidingWindow({ limit: 10, windowMs: 1000 })): list each algorithm once',
        TollgateTypeError,
      ],
    ]
    for (const [members, message, ctor] of cases) {
      const error = thrown(() => compound(members as RateAlgorithm[]))
      expect(error).toBeInstanceOf(ctor)
      expect(error.message).toBe(`tollgate: ${message}`)
    }
  })

  it('takes up to 16 members and refuses 17 with a RangeError', () => {
    expect(MAX_COMPOUND_MEMBERS).toBe(16)
    const members = Array.from({ length: 17 }, (_, i) =>
      fixedWindow({ limit: i + 1, windowMs: 1000 }),
    )
    expect(compound(members.slice(0, 16)).members).toHaveLength(16)
    const error = thrown(() => compound(members))
    expect(error).toBeInstanceOf(TollgateRangeError)
    expect(error.message).toBe('tollgate: members must list at most 16 algorithms, got 17')
  })

  it('two members are the same only when kind and every number match', () => {
    const ok: RateAlgorithm[][] = [
      [fixedWindow({ limit: 10, windowMs: 1_000 }), fixedWindow({ limit: 10, windowMs: 2_000 })],
      [fixedWindow({ limit: 10, windowMs: 1_000 }), fixedWindow({ limit: 11, windowMs: 1_000 })],
      [fixedWindow({ limit: 10, windowMs: 1_000 }), slidingLog({ limit: 10, windowMs: 1_000 })],
      [tokenBucket({ capacity: 5, refillRate: 1 }), tokenBucket({ capacity: 6, refillRate: 1 })],
      [tokenBucket({ capacity: 5, refillRate: 1 }), tokenBucket({ capacity: 5, refillRate: 2 })],
      [
        tokenBucket({ capacity: 5, refillRate: 1 }),
        tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 2000 }),
      ],
    ]
    for (const members of ok) expect(compound(members).members).toEqual(members)
    expect(
      thrown(() =>
        compound([
          tokenBucket({ capacity: 5, refillRate: 1 }),
          tokenBucket({ capacity: 5, refillRate: 1 }),
        ]),
      ).message,
    ).toBe(
      'tollgate: members[1] repeats members[0] (tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 1000 })): list each algorithm once',
    )
  })

  it('is frozen and branded, its members too, and keeps their order', () => {
    const c = compound([perSecond, perDay])
    expect(c).toStrictEqual({ kind: 'compound', members: [perSecond, perDay] })
    expect(Object.isFrozen(c)).toBe(true)
    expect(Object.isFrozen(c.members)).toBe(true)
    expect(isBranded(c)).toBe(true)
  })

  it('parseAlgorithm reads an array as a compound named after the option', () => {
    expect(parseAlgorithm([perSecond, perDay])).toStrictEqual(compound([perSecond, perDay]))
    expect(parseAlgorithm(perDay)).toBe(perDay)
    expect(thrown(() => parseAlgorithm([perDay, perDay], 'route.algorithm')).message).toBe(
      'tollgate: route.algorithm[1] repeats route.algorithm[0] (fixedWindow({ limit: 1000, windowMs: 86400000 })): list each algorithm once',
    )
    expect(thrown(() => parseAlgorithm('x', 'route.algorithm')).message).toBe(
      `tollgate: route.algorithm must be made by ${FACTORIES}, got "x"`,
    )
    expect(thrown(() => createLimiter({ algorithm: [] })).message).toBe(
      'tollgate: algorithm must list at least one algorithm, got an empty array',
    )
  })
})

describe('describeAlgorithm and algorithmLimit', () => {
  it('writes each kind as the factory call that makes it', () => {
    expect(describeAlgorithm(fixedWindow({ limit: 1, windowMs: 2 }))).toBe(
      'fixedWindow({ limit: 1, windowMs: 2 })',
    )
    expect(describeAlgorithm(slidingLog({ limit: 1, windowMs: 2 }))).toBe(
      'slidingLog({ limit: 1, windowMs: 2 })',
    )
    expect(
      describeAlgorithm(tokenBucket({ capacity: 3, refillRate: 2, refillIntervalMs: 7 })),
    ).toBe('tokenBucket({ capacity: 3, refillRate: 2, refillIntervalMs: 7 })')
    expect(describeAlgorithm(concurrency({ limit: 4, leaseMs: 9 }))).toBe(
      'concurrency({ limit: 4, leaseMs: 9 })',
    )
    expect(
      describeAlgorithm(
        compound([
          fixedWindow({ limit: 1, windowMs: 2 }),
          slidingWindow({ limit: 3, windowMs: 4 }),
        ]),
      ),
    ).toBe('[fixedWindow({ limit: 1, windowMs: 2 }), slidingWindow({ limit: 3, windowMs: 4 })]')
  })

  it('is the limit, a bucket capacity, or a compound first member', () => {
    expect(algorithmLimit(fixedWindow({ limit: 7, windowMs: 2 }))).toBe(7)
    expect(algorithmLimit(concurrency({ limit: 8 }))).toBe(8)
    expect(algorithmLimit(tokenBucket({ capacity: 9, refillRate: 2 }))).toBe(9)
    expect(
      algorithmLimit(
        compound([
          tokenBucket({ capacity: 5, refillRate: 1 }),
          fixedWindow({ limit: 2, windowMs: 2 }),
        ]),
      ),
    ).toBe(5)
  })
})

describe('withLimit', () => {
  it('replaces the limit of each kind with a new frozen branded value, keeping the rest', () => {
    const cases: Array<[Algorithm, object]> = [
      [fixedWindow({ limit: 3, windowMs: 10 }), { kind: 'fixedWindow', limit: 5, windowMs: 10 }],
      [
        slidingWindow({ limit: 3, windowMs: 10 }),
        { kind: 'slidingWindow', limit: 5, windowMs: 10 },
      ],
      [slidingLog({ limit: 3, windowMs: 10 }), { kind: 'slidingLog', limit: 5, windowMs: 10 }],
      [concurrency({ limit: 3, leaseMs: 10 }), { kind: 'concurrency', limit: 5, leaseMs: 10 }],
      [
        tokenBucket({ capacity: 3, refillRate: 2, refillIntervalMs: 10 }),
        { kind: 'tokenBucket', capacity: 5, refillRate: 2, refillIntervalMs: 10 },
      ],
    ]
    for (const [a, expected] of cases) {
      const b = withLimit(a, 5)
      expect(b).toStrictEqual(expected)
      expect(Object.isFrozen(b)).toBe(true)
      expect(isBranded(b)).toBe(true)
      expect(withLimit(a, 3)).toBe(a)
    }
  })

  it('checks a hand-made value first', () => {
    expect(withLimit({ kind: 'slidingLog', limit: 3, windowMs: 10 } as Algorithm, 4)).toStrictEqual(
      {
        kind: 'slidingLog',
        limit: 4,
        windowMs: 10,
      },
    )
    expect(() => withLimit({ kind: 'slidingLog', limit: 3 } as Algorithm, 4)).toThrow(/windowMs/)
  })

  it('names each refusal exactly', () => {
    const fw = fixedWindow({ limit: 3, windowMs: 10 })
    const c = compound([fw])
    expect(thrown(() => withLimit(c, 5)).message).toBe(
      'tollgate: limit cannot be set per request on a compound limit (each member has its own limit)',
    )
    const t = thrown(() => withLimit(fw, '5' as never))
    expect(t).toBeInstanceOf(TollgateTypeError)
    expect(t.message).toBe('tollgate: limit must be a positive integer, got "5"')
    for (const [bad, shown] of [
      [0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
      [2 ** 53, '9007199254740992'],
    ] as const) {
      const r = thrown(() => withLimit(fw, bad))
      expect(r).toBeInstanceOf(TollgateRangeError)
      expect(r.message).toBe(`tollgate: limit must be a positive integer, got ${shown}`)
    }
    expect(withLimit(fw, 1).limit).toBe(1)
  })

  it('keeps a sliding window and a bucket inside exact arithmetic', () => {
    const sw = slidingWindow({ limit: 1, windowMs: 2 ** 13 })
    expect(thrown(() => withLimit(sw, 2 ** 39)).message).toBe(
      'tollgate: 2 * limit * windowMs must stay below 2^53 for exact arithmetic, got 1099511627776 * 8192',
    )
    expect(withLimit(sw, 2 ** 39 - 1).limit).toBe(2 ** 39 - 1)
    const tb = tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: 2 ** 12 })
    expect(thrown(() => withLimit(tb, 2 ** 41)).message).toBe(
      'tollgate: capacity * refillIntervalMs must stay below 2^53 for exact arithmetic, got 2199023255552 * 4096',
    )
    expect(withLimit(tb, 2 ** 40).capacity).toBe(2 ** 40)
    // A fixed window or log has no such product: any safe limit goes.
    expect(withLimit(fixedWindow({ limit: 1, windowMs: MAX_WINDOW_MS }), 2 ** 52).limit).toBe(
      2 ** 52,
    )
  })
})

describe('validateCost', () => {
  const fw = fixedWindow({ limit: 3, windowMs: 10 })

  it('returns a cost from 1 up to the limit', () => {
    expect(validateCost(fw, 1)).toBe(1)
    expect(validateCost(fw, 3)).toBe(3)
  })

  it('names each refusal exactly', () => {
    const t = thrown(() => validateCost(fw, '1'))
    expect(t).toBeInstanceOf(TollgateTypeError)
    expect(t.message).toBe('tollgate: cost must be a positive integer, got "1"')
    for (const [bad, shown] of [
      [0, '0'],
      [-2, '-2'],
      [0.5, '0.5'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      const r = thrown(() => validateCost(fw, bad))
      expect(r).toBeInstanceOf(TollgateRangeError)
      expect(r.message).toBe(`tollgate: cost must be a positive integer, got ${shown}`)
    }
    expect(thrown(() => validateCost(fw, 4)).message).toBe(
      'tollgate: cost must not exceed limit 3, got 4',
    )
    expect(thrown(() => validateCost(tokenBucket({ capacity: 2, refillRate: 1 }), 3)).message).toBe(
      'tollgate: cost must not exceed capacity 2, got 3',
    )
    expect(thrown(() => validateCost(concurrency({ limit: 2 }), 3)).message).toBe(
      'tollgate: cost must not exceed limit 2, got 3',
    )
  })

  it('a compound cost must fit every member, not only the first', () => {
    const c = compound([
      fixedWindow({ limit: 5, windowMs: 10 }),
      tokenBucket({ capacity: 2, refillRate: 1 }),
    ])
    expect(validateCost(c, 2)).toBe(2)
    expect(thrown(() => validateCost(c, 3)).message).toBe(
      'tollgate: cost must not exceed capacity 2, got 3',
    )
    expect(thrown(() => validateCost(c, 0)).message).toBe(
      'tollgate: cost must be a positive integer, got 0',
    )
  })
})
