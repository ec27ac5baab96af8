/**
 * The adapter options of packages/core/src/http/options.ts where the StrykerJS run of issue 15
 * item 4 (session 6) found them unchecked: the messages of a bad `mode`, of `limit` with a
 * compound algorithm, of a `null` message and of limiter-building options given beside a
 * `limiter`; the 400-599 bounds of `statusCode`; the `headers` option in a compound's members.
 */
import { createLimiter, fixedWindow, MemoryStore } from '@tollgate/core'
import { handleRequest, type PassOutcome, parseHttpOptions } from '@tollgate/core/http'
import { describe, expect, it } from 'vitest'
import { thrown } from '../support/thrown.js'

const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
const parse = (options: Record<string, unknown>) => parseHttpOptions(options as never, 'test()')

describe('option errors', () => {
  it('a mode other than enforce or shadow is a TypeError naming it', () => {
    const error = thrown(() => parse({ algorithm, mode: 'dry-run' }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(`tollgate: mode must be 'enforce' or 'shadow', got "dry-run"`)
  })

  it('a limit with a compound algorithm is a TypeError', () => {
    const compound = [algorithm, fixedWindow({ limit: 100, windowMs: 3_600_000 })]
    const error = thrown(() => parse({ algorithm: compound, limit: 5 }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(
      'tollgate: limit cannot be combined with a compound algorithm (each member keeps its own limit), got 5',
    )
  })

  it('a null message is a TypeError naming the caller', () => {
    const error = thrown(() => parse({ algorithm, message: null }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(
      'tollgate: test(): message must be a string, an object or a function, got null',
    )
  })

  it('names one limiter-building option beside a limiter as "it", several as "them"', () => {
    const limiter = createLimiter({ algorithm })
    expect(thrown(() => parse({ limiter, name: 'x' })).message).toBe(
      'tollgate: test(): name cannot be combined with limiter; pass it to createLimiter() instead',
    )
    expect(thrown(() => parse({ limiter, name: 'x', prefix: 'p:' })).message).toBe(
      'tollgate: test(): prefix, name cannot be combined with limiter; pass them to createLimiter() instead',
    )
  })
})

describe('statusCode', () => {
  it.each([400, 429, 503, 599])('accepts %i', (statusCode) => {
    expect(parse({ algorithm, statusCode }).statusCode).toBe(statusCode)
  })

  it.each([399, 600, 429.5])('rejects %d with a RangeError', (statusCode) => {
    const error = thrown(() => parse({ algorithm, statusCode }))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.message).toBe(
      `tollgate: statusCode must be an integer from 400 to 599, got ${statusCode}`,
    )
  })
})

describe('a compound algorithm', () => {
  it('writes its members in the draft the headers option asks for', () => {
    const config = parse({
      algorithm: [
        fixedWindow({ limit: 10, windowMs: 1_000 }),
        fixedWindow({ limit: 100, windowMs: 60_000 }),
      ],
      store: new MemoryStore({ clock: () => 1_000_000 }),
      headers: { standard: 'draft-11' },
    })
    const facts = { ip: '203.0.113.9', accept: undefined, forwardedFor: false, trustProxy: false }
    const outcome = handleRequest(config, {}, facts, undefined) as PassOutcome
    expect(outcome.headers).toEqual([
      'RateLimit-Policy',
      '"10-in-1s";q=10;w=1, "100-in-60s";q=100;w=60',
      'RateLimit',
      '"10-in-1s";r=9;t=1, "100-in-60s";r=99;t=20',
    ])
  })
})
