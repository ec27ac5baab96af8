/**
 * Every RateLimit / RateLimit-Policy field tollgate emits, parsed by an RFC 9651 parser
 * (structured-headers, a dev dependency only): draft-8 and draft-11 fields are Lists whose members
 * carry the numbers of docs/headers.md, draft-7's RateLimit is a Dictionary and its policy an Item.
 * Random algorithms, limits, windows, policy names (any printable ASCII, quotes and backslashes
 * included), stacked limiters and request counts.
 */
import {
  type Algorithm,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import express from 'express'
import fc from 'fast-check'
import { parseDictionary, parseItem, parseList, Token } from 'structured-headers'
import request from 'supertest'
import { describe, expect, it } from 'vitest'

const algorithm: fc.Arbitrary<Algorithm> = fc.oneof(
  fc
    .record({
      limit: fc.integer({ min: 1, max: 20 }),
      windowMs: fc.integer({ min: 1, max: 90_000 }),
    })
    .chain((o) => fc.constantFrom(fixedWindow(o), slidingWindow(o), slidingLog(o))),
  fc
    .record({
      capacity: fc.integer({ min: 1, max: 20 }),
      refillRate: fc.integer({ min: 1, max: 5 }),
    })
    .map((o) => tokenBucket(o)),
)
const policyName = fc.option(
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 12,
  }),
  { nil: undefined },
)
const limiter = fc.record({ algorithm, name: policyName })

function limitOf(a: Algorithm): number {
  return a.kind === 'tokenBucket' ? a.capacity : 'limit' in a ? a.limit : 0
}

describe('emitted RateLimit headers parse as RFC 9651 structured fields', () => {
  it('draft-8 and draft-11: Lists of named policies with integer q, w, r, t (and pk bytes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(limiter, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('draft-8' as const, 'draft-11' as const),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        async (limiters, standard, partitionKey, requests) => {
          const now = 1_700_000_000_000
          const store = new MemoryStore({ clock: () => now })
          const app = express()
          app.get(
            '/',
            ...limiters.map((l, i) =>
              rateLimit({
                algorithm: l.algorithm,
                store,
                prefix: `l${i}:`,
                ...(l.name === undefined ? {} : { name: l.name }),
                headers: { standard, partitionKey },
                key: () => 'client',
              }),
            ),
            (_req, res) => {
              res.send('ok')
            },
          )
          for (let i = 0; i < requests; i++) {
            const res = await request(app).get('/')
            const policies = parseList(res.headers['ratelimit-policy'] as string)
            const members = parseList(res.headers.ratelimit as string)
            expect(policies.length).toBe(members.length)
            expect(members.length).toBeGreaterThanOrEqual(1)
            for (const [j, [name, params]] of policies.entries()) {
              expect(typeof name).toBe('string')
              expect(members[j]![0]).toBe(name)
              const q = params.get('q')
              expect(Number.isInteger(q)).toBe(true)
              expect(Number.isInteger(params.get('w'))).toBe(true)
              const pk = params.get('pk')
              if (standard === 'draft-8' || partitionKey) expect(pk).toBeInstanceOf(ArrayBuffer)
              else expect(pk).toBeUndefined()
              const r = members[j]![1].get('r')
              expect(Number.isInteger(r)).toBe(true)
              expect(r as number).toBeGreaterThanOrEqual(0)
              expect(r as number).toBeLessThanOrEqual(q as number)
              expect(Number.isInteger(members[j]![1].get('t'))).toBe(true)
            }
            // The limiters that ran, in order (a denial stops the ones after it).
            expect(policies.length).toBeLessThanOrEqual(limiters.length)
            for (const [j, [name, params]] of policies.entries()) {
              const l = limiters[j]!
              if (l.name !== undefined) expect(name).toBe(l.name)
              expect(params.get('q')).toBe(limitOf(l.algorithm))
            }
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it('draft-7: RateLimit is a Dictionary of integers, RateLimit-Policy an Item with w', async () => {
    await fc.assert(
      fc.asyncProperty(limiter, fc.integer({ min: 1, max: 4 }), async (l, requests) => {
        const now = 1_700_000_000_000
        const app = express()
        app.use(
          rateLimit({
            algorithm: l.algorithm,
            store: new MemoryStore({ clock: () => now }),
            headers: { standard: 'draft-7' },
            key: () => 'client',
          }),
        )
        app.get('/', (_req, res) => {
          res.send('ok')
        })
        for (let i = 0; i < requests; i++) {
          const res = await request(app).get('/')
          const fields = parseDictionary(res.headers.ratelimit as string)
          expect([...fields.keys()]).toEqual(['limit', 'remaining', 'reset'])
          for (const [value] of fields.values()) expect(Number.isInteger(value)).toBe(true)
          expect(fields.get('limit')![0]).toBe(limitOf(l.algorithm))
          const [q, params] = parseItem(res.headers['ratelimit-policy'] as string)
          expect(q).toBe(limitOf(l.algorithm))
          expect(Number.isInteger(params.get('w'))).toBe(true)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('keeps every parsed value a plain number, string or byte sequence (no tokens)', () => {
    const [[name, params]] = parseList('"100-in-60s"; q=100; w=60; pk=:MmM3MGUxMmI3YTA2:') as [
      [string, Map<string, unknown>],
    ]
    expect(name).toBe('100-in-60s')
    expect(params.get('q')).toBe(100)
    expect(params.get('pk')).not.toBeInstanceOf(Token)
  })
})
