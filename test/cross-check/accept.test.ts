/**
 * Differential test of the Accept negotiation of the default denial body (`prefersText` in
 * @tollgate/core/http) against negotiator, the library Express itself negotiates with. Where the
 * two define a preference they agree; the one deliberate difference is pinned below.
 */
import { prefersText } from '@tollgate/core/http'
import fc from 'fast-check'
import Negotiator from 'negotiator'
import { describe, expect, it } from 'vitest'

const RANGES = [
  'application/json',
  'text/plain',
  'text/html',
  'text/*',
  'application/*',
  '*/*',
  'image/png',
]
const AVAILABLE = ['application/json', 'text/plain', 'text/html']

function negotiated(accept: string): boolean {
  const best = new Negotiator({ headers: { accept } }).mediaType(AVAILABLE)
  return best === 'text/plain' || best === 'text/html'
}

/** Accept headers whose ranges all carry different qualities, some 0 (not acceptable). */
const acceptHeaders = fc
  .uniqueArray(fc.constantFrom(...RANGES), { minLength: 1, maxLength: RANGES.length })
  .chain((ranges) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: 1000 }), {
        minLength: ranges.length,
        maxLength: ranges.length,
      })
      .map((qs) =>
        ranges
          .map((range, i) => {
            const q = qs[i]!
            return q === 1000 ? range : `${range};q=${(q / 1000).toFixed(3).replace(/\.?0+$/, '')}`
          })
          .join(', '),
      ),
  )
  // Two qualities that print alike ("0.1" and "0.100") are one quality: keep them distinct.
  .filter((accept) => {
    const qs = accept.split(',').map((r) => /q=([\d.]+)/.exec(r)?.[1] ?? '1')
    return new Set(qs.map(Number)).size === qs.length
  })

describe('Accept negotiation against negotiator', () => {
  it('prefers text exactly when negotiator picks text/plain or text/html', () => {
    fc.assert(
      fc.property(acceptHeaders, (accept) => {
        expect(prefersText(accept)).toBe(negotiated(accept))
      }),
      { numRuns: 3_000 },
    )
  })

  it('agrees on the headers clients send', () => {
    for (const accept of [
      '*/*',
      'application/json',
      'text/plain',
      'text/html',
      'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      'application/json, text/plain, */*',
      'text/plain;q=0.5, application/json',
    ]) {
      expect(prefersText(accept), accept).toBe(negotiated(accept))
    }
  })

  it('differs on a tie: equal quality answers JSON, negotiator takes the more specific range', () => {
    const accept = 'text/*;q=0.5, */*;q=0.5'
    expect(negotiated(accept)).toBe(true)
    expect(prefersText(accept)).toBe(false)
  })
})
