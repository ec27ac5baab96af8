import { createHash } from 'node:crypto'
import {
  type Algorithm,
  type Decision,
  defaultPolicyName,
  fixedWindow,
  type HeadersOptions,
  slidingLog,
  slidingWindow,
  tokenBucket,
  windowSeconds,
} from '@tollgate/core'
import {
  createHeaderPolicy,
  type HeaderEntry,
  parseHeadersOptions,
  partitionKey,
  rateLimitHeaders,
  retryAfterSeconds,
} from '@tollgate/core/http'
import express from 'express'
import { rateLimit as expressRateLimit } from 'express-rate-limit'
import request from 'supertest'
import { describe, expect, it } from 'vitest'

const PK_OF_KEY = 'MmM3MGUxMmI3YTA2' // docs/headers.md: key "key"
const NOW = 1_764_064_740_000 // 2025-11-25T09:59:00Z, so now + 60 s is 1764064800

const hundred = fixedWindow({ limit: 100, windowMs: 60_000 })
const ten = fixedWindow({ limit: 10, windowMs: 1_000 })
const thousand = fixedWindow({ limit: 1000, windowMs: 3_600_000 })

function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    allowed: true,
    limit: 100,
    remaining: 99,
    resetMs: 60_000,
    retryAfterMs: 0,
    ...overrides,
  }
}

function entry(
  algorithm: Algorithm,
  d: Decision,
  headers?: HeadersOptions | false,
  name?: string,
  key = 'key',
): HeaderEntry {
  return {
    decision: d,
    policy: createHeaderPolicy(algorithm, { name, headers: parseHeadersOptions(headers) }),
    key,
  }
}

/** Applies a flat header list the way res.setHeader does: a later value replaces an earlier one. */
function asRecord(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!
  return out
}

describe('partitionKey', () => {
  it('is the base64 of the first 12 hex characters of the SHA-256 of the key', () => {
    expect(partitionKey('key')).toBe(PK_OF_KEY)
    for (const key of ['1.2.3.4', '2001:db8::/56', 'user:42', 'é']) {
      const hex = createHash('sha256').update(key).digest('hex').slice(0, 12)
      expect(partitionKey(key)).toBe(Buffer.from(hex).toString('base64'))
    }
  })
})

describe('windowSeconds and defaultPolicyName', () => {
  it.each([
    [fixedWindow({ limit: 100, windowMs: 60_000 }), 60, '100-in-60s'],
    [slidingWindow({ limit: 5, windowMs: 1_500 }), 2, '5-in-2s'],
    [slidingLog({ limit: 3, windowMs: 1 }), 1, '3-in-1s'],
    [tokenBucket({ capacity: 20, refillRate: 5 }), 4, '20-per-4s'],
    [tokenBucket({ capacity: 10, refillRate: 3 }), 4, '10-per-4s'],
    [tokenBucket({ capacity: 100, refillRate: 100, refillIntervalMs: 60_000 }), 60, '100-per-60s'],
    [tokenBucket({ capacity: 1, refillRate: 1000, refillIntervalMs: 1 }), 1, '1-per-1s'],
  ] as const)('gives %o w=%i and the name %s', (algorithm, w, name) => {
    expect(windowSeconds(algorithm)).toBe(w)
    expect(defaultPolicyName(algorithm)).toBe(name)
  })
})

describe('parseHeadersOptions', () => {
  it('defaults to draft-8 without legacy fields or draft-11 pk', () => {
    expect(parseHeadersOptions(undefined)).toEqual({
      standard: 'draft-8',
      legacy: false,
      partitionKey: false,
    })
    expect(parseHeadersOptions({ legacy: true })).toEqual({
      standard: 'draft-8',
      legacy: true,
      partitionKey: false,
    })
  })

  it('turns every rate-limit field off for false', () => {
    expect(parseHeadersOptions(false)).toEqual({
      standard: false,
      legacy: false,
      partitionKey: false,
    })
  })

  it('throws a TypeError naming an unknown draft', () => {
    expect(() => parseHeadersOptions({ standard: 'draft-9' })).toThrow(TypeError)
    expect(() => parseHeadersOptions({ standard: 'draft-9' })).toThrow(/standard.*"draft-9"/)
    expect(() => parseHeadersOptions({ standard: true })).toThrow(TypeError)
  })

  it('throws a TypeError naming an unknown option or a non-boolean flag', () => {
    expect(() => parseHeadersOptions({ legacyHeaders: true })).toThrow(/"legacyHeaders"/)
    expect(() => parseHeadersOptions({ legacy: 'yes' })).toThrow(/legacy.*"yes"/)
    expect(() => parseHeadersOptions('draft-8')).toThrow(TypeError)
  })
})

describe('createHeaderPolicy', () => {
  it('escapes a quote and a backslash in the policy name (RFC 9651 sf-string)', () => {
    const policy = createHeaderPolicy(hundred, { name: 'a"b\\c' })
    expect(policy.policyText).toBe('"a\\"b\\\\c"; q=100; w=60')
  })

  it('rejects a name that cannot travel in a header', () => {
    expect(() => createHeaderPolicy(hundred, { name: 'naïve' })).toThrow(RangeError)
    expect(() => createHeaderPolicy(hundred, { name: 'a\nb' })).toThrow(/name/)
  })
})

describe('rateLimitHeaders', () => {
  const single: [string, HeaderEntry, string[]][] = [
    [
      'draft-6',
      entry(hundred, decision(), { standard: 'draft-6' }),
      [
        'RateLimit-Policy',
        '100;w=60',
        'RateLimit-Limit',
        '100',
        'RateLimit-Remaining',
        '99',
        'RateLimit-Reset',
        '60',
      ],
    ],
    [
      'draft-7',
      entry(hundred, decision(), { standard: 'draft-7' }),
      ['RateLimit-Policy', '100;w=60', 'RateLimit', 'limit=100, remaining=99, reset=60'],
    ],
    [
      'draft-8 (default)',
      entry(hundred, decision()),
      [
        'RateLimit-Policy',
        `"100-in-60s"; q=100; w=60; pk=:${PK_OF_KEY}:`,
        'RateLimit',
        '"100-in-60s"; r=99; t=60',
      ],
    ],
    [
      'draft-8 named',
      entry(hundred, decision({ remaining: 3, resetMs: 59_001 }), undefined, 'api'),
      [
        'RateLimit-Policy',
        `"api"; q=100; w=60; pk=:${PK_OF_KEY}:`,
        'RateLimit',
        '"api"; r=3; t=60',
      ],
    ],
    [
      'draft-11',
      entry(hundred, decision(), { standard: 'draft-11' }),
      ['RateLimit-Policy', '"100-in-60s";q=100;w=60', 'RateLimit', '"100-in-60s";r=99;t=60'],
    ],
    [
      'draft-11 with partitionKey',
      entry(hundred, decision(), { standard: 'draft-11', partitionKey: true }),
      [
        'RateLimit-Policy',
        `"100-in-60s";q=100;w=60;pk=:${PK_OF_KEY}:`,
        'RateLimit',
        `"100-in-60s";r=99;t=60;pk=:${PK_OF_KEY}:`,
      ],
    ],
    [
      'draft-11 token bucket, full',
      entry(
        tokenBucket({ capacity: 20, refillRate: 5 }),
        decision({ limit: 20, remaining: 20, resetMs: 0 }),
        { standard: 'draft-11' },
      ),
      ['RateLimit-Policy', '"20-per-4s";q=20;w=4', 'RateLimit', '"20-per-4s";r=20;t=0'],
    ],
    [
      'legacy only',
      entry(hundred, decision(), { standard: false, legacy: true }),
      [
        'X-RateLimit-Limit',
        '100',
        'X-RateLimit-Remaining',
        '99',
        'X-RateLimit-Reset',
        '1764064800',
      ],
    ],
    [
      'draft-7 and legacy',
      entry(hundred, decision({ remaining: 0, resetMs: 1 }), { standard: 'draft-7', legacy: true }),
      [
        'RateLimit-Policy',
        '100;w=60',
        'RateLimit',
        'limit=100, remaining=0, reset=1',
        'X-RateLimit-Limit',
        '100',
        'X-RateLimit-Remaining',
        '0',
        'X-RateLimit-Reset',
        '1764064741',
      ],
    ],
    ['no standard, no legacy', entry(hundred, decision(), false), []],
  ]

  it.each(single)('writes %s for one limiter', (_mode, e, expected) => {
    expect(rateLimitHeaders([e], NOW)).toEqual(expected)
  })

  const denied = decision({ allowed: false, remaining: 0, resetMs: 42_500, retryAfterMs: 1_500 })

  it.each([
    [
      'draft-8',
      entry(hundred, denied),
      [
        'RateLimit-Policy',
        `"100-in-60s"; q=100; w=60; pk=:${PK_OF_KEY}:`,
        'RateLimit',
        '"100-in-60s"; r=0; t=43',
        'Retry-After',
        '2',
      ],
    ],
    [
      'draft-6',
      entry(hundred, { ...denied, retryAfterMs: 10 }, { standard: 'draft-6' }),
      [
        'RateLimit-Policy',
        '100;w=60',
        'RateLimit-Limit',
        '100',
        'RateLimit-Remaining',
        '0',
        'RateLimit-Reset',
        '43',
        'Retry-After',
        '1',
      ],
    ],
    [
      'headers off',
      entry(hundred, { ...denied, retryAfterMs: 60_000 }, false),
      ['Retry-After', '60'],
    ],
  ] as const)(
    'adds Retry-After, rounded up and at least 1, on a %s denial',
    (_mode, e, expected) => {
      expect(rateLimitHeaders([e], NOW)).toEqual(expected)
    },
  )

  it('writes nothing for a degraded admission, in every mode', () => {
    const degraded = decision({ degraded: true, remaining: 100, resetMs: 0 })
    for (const standard of ['draft-6', 'draft-7', 'draft-8', 'draft-11'] as const) {
      expect(rateLimitHeaders([entry(hundred, degraded, { standard, legacy: true })], NOW)).toEqual(
        [],
      )
    }
  })

  it('writes only Retry-After for a degraded denial (fail mode local or closed)', () => {
    const local = decision({ degraded: true, allowed: false, remaining: 0, retryAfterMs: 2_001 })
    expect(rateLimitHeaders([entry(hundred, local, { legacy: true })], NOW)).toEqual([
      'Retry-After',
      '3',
    ])
    const closed = decision({ degraded: true, allowed: false, remaining: 0, retryAfterMs: 1_000 })
    expect(rateLimitHeaders([entry(hundred, closed)], NOW)).toEqual(['Retry-After', '1'])
  })

  describe('with several limiters', () => {
    const burst = decision({ limit: 10, remaining: 9, resetMs: 1_000 })
    const hourly = decision({ limit: 1000, remaining: 998, resetMs: 3_540_000 })

    it('appends draft-8 members in the order the limiters ran', () => {
      expect(rateLimitHeaders([entry(ten, burst), entry(thousand, hourly)], NOW)).toEqual([
        'RateLimit-Policy',
        `"10-in-1s"; q=10; w=1; pk=:${PK_OF_KEY}:, "1000-in-3600s"; q=1000; w=3600; pk=:${PK_OF_KEY}:`,
        'RateLimit',
        '"10-in-1s"; r=9; t=1, "1000-in-3600s"; r=998; t=3540',
      ])
    })

    it('appends draft-11 members in the order the limiters ran', () => {
      const h = { standard: 'draft-11' } as const
      expect(rateLimitHeaders([entry(ten, burst, h), entry(thousand, hourly, h)], NOW)).toEqual([
        'RateLimit-Policy',
        '"10-in-1s";q=10;w=1, "1000-in-3600s";q=1000;w=3600',
        'RateLimit',
        '"10-in-1s";r=9;t=1, "1000-in-3600s";r=998;t=3540',
      ])
    })

    it('lets the fewest remaining win in draft-7, with that limiter policy only', () => {
      const h = { standard: 'draft-7' } as const
      const low = decision({ limit: 1000, remaining: 3, resetMs: 3_540_000 })
      expect(rateLimitHeaders([entry(ten, burst, h), entry(thousand, low, h)], NOW)).toEqual([
        'RateLimit-Policy',
        '1000;w=3600',
        'RateLimit',
        'limit=1000, remaining=3, reset=3540',
      ])
      expect(rateLimitHeaders([entry(ten, burst, h), entry(thousand, hourly, h)], NOW)).toEqual([
        'RateLimit-Policy',
        '10;w=1',
        'RateLimit',
        'limit=10, remaining=9, reset=1',
      ])
    })

    it('breaks a draft-6 tie on remaining with the longer reset', () => {
      const h = { standard: 'draft-6' } as const
      const a = decision({ limit: 10, remaining: 5, resetMs: 1_000 })
      const b = decision({ limit: 1000, remaining: 5, resetMs: 3_540_000 })
      const expected = [
        'RateLimit-Policy',
        '1000;w=3600',
        'RateLimit-Limit',
        '1000',
        'RateLimit-Remaining',
        '5',
        'RateLimit-Reset',
        '3540',
      ]
      expect(rateLimitHeaders([entry(ten, a, h), entry(thousand, b, h)], NOW)).toEqual(expected)
      expect(rateLimitHeaders([entry(thousand, b, h), entry(ten, a, h)], NOW)).toEqual(expected)
    })

    it('lets the fewest remaining win the legacy fields', () => {
      const h = { standard: false, legacy: true } as const
      const low = decision({ limit: 10, remaining: 1, resetMs: 500 })
      expect(rateLimitHeaders([entry(thousand, hourly, h), entry(ten, low, h)], NOW)).toEqual([
        'X-RateLimit-Limit',
        '10',
        'X-RateLimit-Remaining',
        '1',
        'X-RateLimit-Reset',
        '1764064741',
      ])
    })

    it('leaves a degraded limiter out and keeps the healthy one', () => {
      const degraded = decision({ degraded: true, limit: 10, remaining: 10, resetMs: 0 })
      expect(rateLimitHeaders([entry(ten, degraded), entry(thousand, hourly)], NOW)).toEqual([
        'RateLimit-Policy',
        `"1000-in-3600s"; q=1000; w=3600; pk=:${PK_OF_KEY}:`,
        'RateLimit',
        '"1000-in-3600s"; r=998; t=3540',
      ])
    })

    it('adds Retry-After of the limiter that denied last', () => {
      const deniedBurst = decision({
        allowed: false,
        limit: 10,
        remaining: 0,
        resetMs: 900,
        retryAfterMs: 100,
      })
      const h = { standard: 'draft-11' } as const
      expect(
        rateLimitHeaders([entry(thousand, hourly, h), entry(ten, deniedBurst, h)], NOW),
      ).toEqual([
        'RateLimit-Policy',
        '"1000-in-3600s";q=1000;w=3600, "10-in-1s";q=10;w=1',
        'RateLimit',
        '"1000-in-3600s";r=998;t=3540, "10-in-1s";r=0;t=1',
        'Retry-After',
        '1',
      ])
    })

    it('lets draft-8/11 list fields win the shared names when mixed with draft-7', () => {
      const flat = rateLimitHeaders(
        [entry(ten, burst, { standard: 'draft-7' }), entry(thousand, hourly)],
        NOW,
      )
      expect(asRecord(flat)).toEqual({
        'RateLimit-Policy': `"1000-in-3600s"; q=1000; w=3600; pk=:${PK_OF_KEY}:`,
        RateLimit: '"1000-in-3600s"; r=998; t=3540',
      })
    })

    it('hashes each limiter key for its own pk', () => {
      const flat = rateLimitHeaders(
        [
          entry(ten, burst, undefined, undefined, 'a'),
          entry(thousand, hourly, undefined, undefined, 'b'),
        ],
        NOW,
      )
      expect(flat[1]).toBe(
        `"10-in-1s"; q=10; w=1; pk=:${partitionKey('a')}:, "1000-in-3600s"; q=1000; w=3600; pk=:${partitionKey('b')}:`,
      )
      expect(partitionKey('a')).not.toBe(partitionKey('b'))
    })
  })

  it('uses Date.now() for X-RateLimit-Reset when no time is given', () => {
    const before = Date.now()
    const flat = rateLimitHeaders([entry(hundred, decision(), { standard: false, legacy: true })])
    const reset = Number(flat[5])
    expect(reset).toBeGreaterThanOrEqual(Math.ceil((before + 60_000) / 1000))
    expect(reset).toBeLessThanOrEqual(Math.ceil((Date.now() + 60_000) / 1000))
  })
})

describe('retryAfterSeconds', () => {
  it.each([
    [0, 1],
    [1, 1],
    [1000, 1],
    [1001, 2],
    [59_999, 60],
  ])('gives %i ms as %i s', (ms, s) => {
    expect(retryAfterSeconds(decision({ allowed: false, retryAfterMs: ms }))).toBe(s)
  })
})

describe('draft-8 compatibility with express-rate-limit 8', () => {
  it('writes the same bytes as express-rate-limit for the same name, key and numbers', async () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
    const app = express()
    for (const [path, key] of [
      ['/v4', '203.0.113.9'],
      ['/v6', '2001:db8:1234:5600::/56'],
      ['/user', 'user:42'],
    ] as const) {
      app.get(
        path,
        expressRateLimit({
          windowMs: 60_000,
          limit: 5,
          standardHeaders: 'draft-8',
          legacyHeaders: false,
          identifier: 'five per minute',
          keyGenerator: () => key,
          validate: false,
        }),
        (req, res) => {
          const info = (req as unknown as { rateLimit: { remaining: number; resetTime: Date } })
            .rateLimit
          const policy = createHeaderPolicy(algorithm, { name: 'five per minute' })
          const d = decision({
            limit: 5,
            remaining: info.remaining,
            resetMs: info.resetTime.getTime() - Date.now(),
          })
          res.json(asRecord(rateLimitHeaders([{ decision: d, policy, key }])))
        },
      )
    }
    for (const path of ['/v4', '/v6', '/user']) {
      for (let i = 0; i < 2; i++) {
        const res = await request(app).get(path).expect(200)
        expect(res.body.RateLimit).toBe(res.headers.ratelimit)
        expect(res.body['RateLimit-Policy']).toBe(res.headers['ratelimit-policy'])
      }
    }
  })
})
