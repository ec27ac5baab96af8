/**
 * The header formatter (packages/core/src/headers.ts) where the StrykerJS run of issue 15 item 4
 * (session 6) found it unchecked: the bytes of a concurrency policy in every draft
 * (docs/headers.md, "concurrency"), the message for a `headers` option that is not an object,
 * which limiter writes the legacy fields when the lower one ran first, a full tie between two
 * draft-6/7 limiters, an empty entry list, and a non-compound algorithm in createHeaderPolicies.
 */
import { concurrency, type Decision, fixedWindow, type HeadersOptions } from '@tollgate/core'
import {
  createHeaderPolicy,
  type HeaderEntry,
  parseHeadersOptions,
  partitionKey,
  rateLimitHeaders,
} from '@tollgate/core/http'
import { describe, expect, it } from 'vitest'
import { createHeaderPolicies } from '../../packages/core/src/headers.js'
import { thrown } from '../support/thrown.js'

const NOW = 1_764_064_740_000 // 2025-11-25T09:59:00Z
const PK = partitionKey('key')
const five = concurrency({ limit: 5 })

function decision(overrides: Partial<Decision> = {}): Decision {
  return { allowed: true, limit: 5, remaining: 4, resetMs: 59_500, retryAfterMs: 0, ...overrides }
}

function entry(
  algorithm: Parameters<typeof createHeaderPolicy>[0],
  d: Decision,
  headers?: HeadersOptions | false,
): HeaderEntry {
  return {
    decision: d,
    policy: createHeaderPolicy(algorithm, { headers: parseHeadersOptions(headers) }),
    key: 'key',
  }
}

describe('a concurrency policy in each draft (qu="concurrent-requests", no w, no t)', () => {
  it.each([
    [
      'draft-8',
      { standard: 'draft-8' },
      [
        'RateLimit-Policy',
        `"5-concurrent"; q=5; qu="concurrent-requests"; pk=:${PK}:`,
        'RateLimit',
        '"5-concurrent"; r=4',
      ],
    ],
    [
      'draft-11',
      { standard: 'draft-11' },
      [
        'RateLimit-Policy',
        '"5-concurrent";q=5;qu="concurrent-requests"',
        'RateLimit',
        '"5-concurrent";r=4',
      ],
    ],
    [
      'draft-11 with partitionKey',
      { standard: 'draft-11', partitionKey: true },
      [
        'RateLimit-Policy',
        `"5-concurrent";q=5;qu="concurrent-requests";pk=:${PK}:`,
        'RateLimit',
        `"5-concurrent";r=4;pk=:${PK}:`,
      ],
    ],
    [
      'draft-7',
      { standard: 'draft-7' },
      ['RateLimit-Policy', '5', 'RateLimit', 'limit=5, remaining=4, reset=60'],
    ],
    [
      'draft-6',
      { standard: 'draft-6' },
      [
        'RateLimit-Policy',
        '5',
        'RateLimit-Limit',
        '5',
        'RateLimit-Remaining',
        '4',
        'RateLimit-Reset',
        '60',
      ],
    ],
  ] as const)('writes %s', (_name, headers, expected) => {
    expect(rateLimitHeaders([entry(five, decision(), headers)], NOW)).toEqual(expected)
  })
})

describe('parseHeadersOptions of a value that is not an object', () => {
  it.each([
    ['draft-8', '"draft-8"'],
    [null, 'null'],
    [['draft-8'], 'an array'],
    [true, 'true'],
  ] as const)('throws a TypeError naming the option and %j', (value, shown) => {
    const error = thrown(() => parseHeadersOptions(value, 'rateLimit().headers'))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toMatch(
      /^tollgate: rateLimit\(\)\.headers must be an object like \{ standard: 'draft-8', legacy: false \}, got /,
    )
    expect(error.message).toContain(shown)
  })
})

describe('several limiters', () => {
  const hundred = fixedWindow({ limit: 100, windowMs: 60_000 })
  const ten = fixedWindow({ limit: 10, windowMs: 60_000 })

  it('lets the fewest remaining win the legacy fields when that limiter ran first', () => {
    const h = { standard: false, legacy: true } as const
    const low = decision({ limit: 10, remaining: 1, resetMs: 500 })
    const high = decision({ limit: 100, remaining: 98, resetMs: 59_000 })
    expect(rateLimitHeaders([entry(ten, low, h), entry(hundred, high, h)], NOW)).toEqual([
      'X-RateLimit-Limit',
      '10',
      'X-RateLimit-Remaining',
      '1',
      'X-RateLimit-Reset',
      '1764064741',
    ])
  })

  it('leaves the draft-7 fields to the limiter that ran first on a full tie (same remaining and reset)', () => {
    const h = { standard: 'draft-7' } as const
    const same = { remaining: 3, resetMs: 30_000 }
    const flat = rateLimitHeaders(
      [
        entry(ten, decision({ limit: 10, ...same }), h),
        entry(hundred, decision({ limit: 100, ...same }), h),
      ],
      NOW,
    )
    expect(flat).toEqual([
      'RateLimit-Policy',
      '10;w=60',
      'RateLimit',
      'limit=10, remaining=3, reset=30',
    ])
  })

  it('leaves the legacy fields to the limiter that ran first on a full tie', () => {
    const h = { standard: false, legacy: true } as const
    const same = { remaining: 3, resetMs: 30_000 }
    const flat = rateLimitHeaders(
      [
        entry(hundred, decision({ limit: 100, ...same }), h),
        entry(ten, decision({ limit: 10, ...same }), h),
      ],
      NOW,
    )
    expect(flat[1]).toBe('100')
  })
})

describe('rateLimitHeaders of no entries', () => {
  it('writes nothing (and does not read past the list)', () => {
    expect(rateLimitHeaders([], NOW)).toEqual([])
  })

  it('writes only Retry-After for a final denial given without entries', () => {
    const denied = decision({ allowed: false, remaining: 0, retryAfterMs: 2_500 })
    expect(rateLimitHeaders([], NOW, denied)).toEqual(['Retry-After', '3'])
  })
})

describe('createHeaderPolicies', () => {
  it('gives one policy, under the given name, for an algorithm that is not a compound', () => {
    const policies = createHeaderPolicies(fixedWindow({ limit: 100, windowMs: 60_000 }), {
      name: 'api',
    })
    expect(policies).toHaveLength(1)
    expect(policies[0]!.policyText).toBe('"api"; q=100; w=60')
  })
})
