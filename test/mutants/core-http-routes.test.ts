/**
 * The rest of packages/core/src/http/options.ts (lines 383-563) where the StrykerJS run of issue
 * 15 item 4 (session 6) found it unchecked: the messages of a bad blockDurationMs, refund flag,
 * cost function answer and per-request limit; the options limitOptionsFor keeps beside a cost
 * function; the checks of validateHttpOptions (mode, a limit function, cost with and without an
 * algorithm); and what routeOptions copies from the plugin (never its limiter, never an undefined
 * value), when it refuses a route, and the prefix it gives a route in a shared store.
 */
import { createLimiter, fixedWindow, MemoryStore } from '@tollgate/core'
import {
  limitOptionsFor,
  parseHttpOptions,
  routeOptions,
  validateHttpOptions,
} from '@tollgate/core/http'
import { describe, expect, it } from 'vitest'
import { thrown } from '../support/thrown.js'

const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
const parse = (options: Record<string, unknown>) => parseHttpOptions(options as never, 'test()')

function expectError(fn: () => unknown, type: ErrorConstructor, message: string): void {
  const error = thrown(fn)
  expect(error).toBeInstanceOf(type)
  expect(error.message).toBe(message)
}

describe('option values', () => {
  it('a blockDurationMs that is not a number is a TypeError, one out of range a RangeError', () => {
    expectError(
      () => parse({ algorithm, blockDurationMs: '5' }),
      TypeError,
      'tollgate: blockDurationMs must be an integer from 1 to 2147483647, got "5"',
    )
    expectError(
      () => parse({ algorithm, blockDurationMs: 0 }),
      RangeError,
      'tollgate: blockDurationMs must be an integer from 1 to 2147483647, got 0',
    )
  })

  it('a refund flag that is not a boolean is a TypeError naming it', () => {
    expectError(
      () => parse({ algorithm, skipFailedRequests: 'yes' }),
      TypeError,
      'tollgate: skipFailedRequests must be a boolean, got "yes"',
    )
    expectError(
      () => parse({ algorithm, skipSuccessfulRequests: 1 }),
      TypeError,
      'tollgate: skipSuccessfulRequests must be a boolean, got 1',
    )
  })

  it('a cost function must answer a positive integer: a TypeError for a string, a RangeError below 1 or fractional', () => {
    const withCost = (answer: unknown) => parse({ algorithm, cost: () => answer })
    expectError(
      () => limitOptionsFor(withCost('2'), {}),
      TypeError,
      'tollgate: cost function must return a positive integer, got "2"',
    )
    for (const [answer, shown] of [
      [0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
    ] as const) {
      expectError(
        () => limitOptionsFor(withCost(answer), {}),
        RangeError,
        `tollgate: cost function must return a positive integer, got ${shown}`,
      )
    }
    expect(limitOptionsFor(withCost(1), {})).toEqual({ cost: 1 })
  })

  it('a per-request limit must be a positive integer and at least the cost', () => {
    expectError(
      () => parse({ algorithm, limit: '5' }),
      TypeError,
      'tollgate: limit must be a positive integer, got "5"',
    )
    for (const [limit, shown] of [
      [0, '0'],
      [-2, '-2'],
      [2.5, '2.5'],
    ] as const) {
      expectError(
        () => parse({ algorithm, limit }),
        RangeError,
        `tollgate: limit must be a positive integer, got ${shown}`,
      )
    }
    expectError(
      () => parse({ algorithm, cost: 2, limit: 1 }),
      RangeError,
      'tollgate: limit must be at least the cost 2, got 1',
    )
    expect(parse({ algorithm, cost: 2, limit: 2 }).limitOptions).toEqual({ cost: 2, limit: 2 })
  })
})

describe('limitOptionsFor with a cost function', () => {
  it('keeps the fixed limit, blockDurationMs and shadow mode beside the cost', () => {
    const config = parse({
      algorithm,
      cost: () => 3,
      limit: 4,
      blockDurationMs: 1_000,
      mode: 'shadow',
    })
    expect(limitOptionsFor(config, {})).toEqual({
      cost: 3,
      limit: 4,
      blockDurationMs: 1_000,
      mode: 'shadow',
    })
  })
})

describe('validateHttpOptions', () => {
  it('accepts either mode and rejects any other with a TypeError naming it', () => {
    expect(() => validateHttpOptions({ mode: 'enforce' }, 'p')).not.toThrow()
    expect(() => validateHttpOptions({ mode: 'shadow' }, 'p')).not.toThrow()
    expectError(
      () => validateHttpOptions({ mode: 'dry-run' }, 'p'),
      TypeError,
      `tollgate: mode must be 'enforce' or 'shadow', got "dry-run"`,
    )
  })

  it('accepts a limit function and checks a limit number', () => {
    expect(() => validateHttpOptions({ limit: () => 5 }, 'p')).not.toThrow()
    expect(() => validateHttpOptions({ limit: 0 }, 'p')).toThrow(RangeError)
  })

  it('checks a cost against the algorithm when one is given', () => {
    expect(() => validateHttpOptions({ algorithm, cost: 5 }, 'p')).not.toThrow()
    expect(() => validateHttpOptions({ algorithm, cost: 6 }, 'p')).toThrow(RangeError)
  })

  it('checks a cost without an algorithm: any positive integer passes, nothing else', () => {
    expect(() => validateHttpOptions({ cost: 3 }, 'p')).not.toThrow()
    expect(() => validateHttpOptions({ cost: () => 3 }, 'p')).not.toThrow()
    expect(() => validateHttpOptions({ cost: '2' }, 'p')).toThrow(TypeError)
    expect(() => validateHttpOptions({ cost: 1.5 }, 'p')).toThrow(RangeError)
    expect(() => validateHttpOptions({ cost: 0 }, 'p')).toThrow(RangeError)
  })
})

describe('routeOptions', () => {
  const store = new MemoryStore()

  it('rejects null with the message naming the route', () => {
    expectError(
      () => routeOptions({}, null, 'GET /z'),
      TypeError,
      'tollgate: config.rateLimit of GET /z must be an options object or false, got null',
    )
  })

  it('copies only the plugin values that are set, never its limiter', () => {
    const limiter = createLimiter({ algorithm })
    const merged = routeOptions(
      { limiter, statusCode: 503, skip: undefined },
      { algorithm },
      'GET /a',
    )
    expect(Object.keys(merged).sort()).toEqual(['algorithm', 'statusCode'])
  })

  it('refuses a route without its own algorithm or limiter when the plugin has a limiter', () => {
    const limiter = createLimiter({ algorithm })
    expectError(
      () => routeOptions({ limiter }, { statusCode: 503 }, 'GET /b'),
      TypeError,
      "tollgate: config.rateLimit of GET /b needs its own algorithm or limiter: the plugin's limiter cannot be shared by a route with its own counter",
    )
    const own = createLimiter({ algorithm })
    expect(routeOptions({ limiter }, { limiter: own }, 'GET /c')).toEqual({ limiter: own })
    expect(routeOptions({ limiter }, { algorithm }, 'GET /d')).toEqual({ algorithm })
  })

  it('leaves a route without algorithm or limiter to parseHttpOptions when the plugin has no limiter', () => {
    expect(routeOptions({ statusCode: 503 }, {}, 'GET /h')).toEqual({ statusCode: 503 })
  })

  it('keeps the prefix a route gives itself in a shared store', () => {
    expect(routeOptions({ store }, { algorithm, prefix: 'mine:' }, 'GET /e')).toMatchObject({
      prefix: 'mine:',
    })
  })

  it('gives no prefix without a store', () => {
    expect(Object.keys(routeOptions({ statusCode: 503 }, { algorithm }, 'GET /f')).sort()).toEqual([
      'algorithm',
      'statusCode',
    ])
  })

  it("names a route's counter after the route's own name when it has one", () => {
    expect(routeOptions({ store }, { algorithm, name: 'search' }, 'GET /g').prefix).toBe(
      'search:GET /g:',
    )
  })
})
