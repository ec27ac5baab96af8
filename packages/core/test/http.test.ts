import {
  createLimiter,
  type Decision,
  fixedWindow,
  type HttpLimitOptions,
  MemoryStore,
  setWarningHandler,
  tokenBucket,
} from '@tollgate/core'
import {
  checkTrustProxy,
  denialResponse,
  denialStatus,
  JSON_CONTENT_TYPE,
  limitOptionsFor,
  parseHttpOptions,
  prefersText,
  resetWarnings,
  TEXT_CONTENT_TYPE,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
  WARN_PERMISSIVE_TRUST_PROXY,
  warnOnce,
} from '@tollgate/core/http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

interface FakeRequest {
  path: string
  weight?: number
}
type Options = HttpLimitOptions<FakeRequest, () => void>

const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
const parse = (options: Options) => parseHttpOptions(options, 'test()')

const denied: Decision = {
  allowed: false,
  limit: 5,
  remaining: 0,
  resetMs: 30_000,
  retryAfterMs: 1_234,
}

describe('parseHttpOptions', () => {
  it('builds a limiter from algorithm and its options, with the documented defaults', async () => {
    const config = parse({ algorithm, name: 'api', failure: { mode: 'closed' } })
    expect(config.limiter.algorithm).toBe(algorithm)
    expect(config.limiter.name).toBe('api')
    expect(config.limiter.failure.mode).toBe('closed')
    expect(config.closed).toBe(true)
    expect(config.statusCode).toBe(429)
    expect(config.headers).toEqual({ standard: 'draft-8', legacy: false, partitionKey: false })
    expect(config.policy.policyText).toBe('"api"; q=5; w=60')
    expect(config.key).toBeUndefined()
    expect(config.limitOptions).toBeUndefined()
    const first = await config.limiter.limit('k')
    expect(first).toMatchObject({ allowed: true, remaining: 4 })
  })

  it('passes store and prefix to the limiter it builds', async () => {
    const store = new MemoryStore()
    const config = parse({ algorithm, store, prefix: 'p:' })
    expect(config.limiter.prefix).toBe('p:')
    await config.limiter.limit('a')
    const direct = createLimiter({ algorithm, store, prefix: 'p:' })
    expect(await direct.limit('a')).toMatchObject({ remaining: 3 })
  })

  it('uses a given limiter as is', () => {
    const limiter = createLimiter({ algorithm, name: 'shared' })
    const config = parse({ limiter, headers: { standard: 'draft-11' } })
    expect(config.limiter).toBe(limiter)
    expect(config.policy.policyText).toBe('"shared";q=5;w=60')
  })

  it('throws a TypeError naming an unknown option', () => {
    expect(() => parse({ algorithm, windowMs: 1000 } as Options)).toThrow(TypeError)
    expect(() => parse({ algorithm, windowMs: 1000 } as Options)).toThrow(/"windowMs" in test\(\)/)
  })

  it('accepts the adapter extra option names it is told about', () => {
    expect(() =>
      parseHttpOptions({ algorithm, global: false } as Options, 'plugin', ['global']),
    ).not.toThrow()
  })

  it('requires exactly one of algorithm and limiter', () => {
    expect(() => parse({})).toThrow(/algorithm.*or a limiter/)
    const limiter = createLimiter({ algorithm })
    expect(() => parse({ algorithm, limiter })).toThrow(/algorithm cannot be combined with limiter/)
    expect(() => parse({ limiter, store: new MemoryStore(), name: 'x' })).toThrow(
      /store, name cannot be combined with limiter/,
    )
  })

  it('rejects a limiter that was not made by createLimiter', () => {
    expect(() => parse({ limiter: { limit: () => 1 } as never })).toThrow(/limiter must be made/)
  })

  it('checks cost against the algorithm at construction', () => {
    expect(() => parse({ algorithm, cost: 6 })).toThrow(RangeError)
    expect(() => parse({ algorithm, cost: 0 })).toThrow(/cost/)
    expect(() => parse({ algorithm, cost: '2' as never })).toThrow(TypeError)
    expect(parse({ algorithm, cost: 1 }).limitOptions).toBeUndefined()
    expect(parse({ algorithm, cost: 2 }).limitOptions).toEqual({ cost: 2 })
  })

  it('asks a cost function per request', () => {
    const config = parse({ algorithm, cost: (req) => req.weight ?? 1 })
    expect(limitOptionsFor(config, { path: '/', weight: 3 })).toEqual({ cost: 3 })
    expect(limitOptionsFor(parse({ algorithm, cost: 2 }), { path: '/' })).toEqual({ cost: 2 })
  })

  it('validates statusCode, key, skip, handler, message and headers', () => {
    expect(() => parse({ algorithm, statusCode: 200 })).toThrow(RangeError)
    expect(() => parse({ algorithm, statusCode: '429' as never })).toThrow(/statusCode.*"429"/)
    expect(parse({ algorithm, statusCode: 503 }).statusCode).toBe(503)
    expect(() => parse({ algorithm, key: 'ip' as never })).toThrow(/key must be a function/)
    expect(() => parse({ algorithm, skip: true as never })).toThrow(/skip must be a function/)
    expect(() => parse({ algorithm, handler: 1 as never })).toThrow(/handler must be a function/)
    expect(() => parse({ algorithm, message: 42 as never })).toThrow(/message.*42/)
    expect(() => parse({ algorithm, headers: { standard: 'draft-5' } as never })).toThrow(TypeError)
  })

  it('does not mutate the options object', () => {
    const options = Object.freeze({ algorithm, name: 'frozen', headers: { legacy: true } })
    expect(() => parse(options)).not.toThrow()
  })
})

describe('denialStatus', () => {
  it('is statusCode for a healthy or locally degraded denial and 503 only when fail-closed', () => {
    const open = parse({ algorithm, statusCode: 420 })
    expect(denialStatus(open, denied)).toBe(420)
    expect(denialStatus(open, { ...denied, degraded: true })).toBe(420)
    const closed = parse({ algorithm, failure: { mode: 'closed' } })
    expect(denialStatus(closed, denied)).toBe(429)
    expect(denialStatus(closed, { ...denied, degraded: true })).toBe(503)
  })
})

describe('denialResponse', () => {
  const req = { path: '/x' }
  const html = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

  it.each([
    [
      'default, JSON',
      {},
      undefined,
      JSON_CONTENT_TYPE,
      '{"error":"Too Many Requests","retryAfterMs":1234}',
    ],
    ['default, text', {}, 'text/plain', TEXT_CONTENT_TYPE, 'Too Many Requests'],
    ['default, browser', {}, html, TEXT_CONTENT_TYPE, 'Too Many Requests'],
    [
      'string message, JSON',
      { message: 'Slow "down"' },
      'application/json',
      JSON_CONTENT_TYPE,
      '{"error":"Slow \\"down\\"","retryAfterMs":1234}',
    ],
    ['string message, text', { message: 'Slow down' }, 'text/*', TEXT_CONTENT_TYPE, 'Slow down'],
    [
      'object message, text preferred',
      { message: { code: 'LIMITED' } },
      'text/plain',
      JSON_CONTENT_TYPE,
      '{"code":"LIMITED"}',
    ],
    [
      'function message',
      { message: (r: FakeRequest, d: Decision) => `${r.path} wait ${d.retryAfterMs}` },
      'text/plain',
      TEXT_CONTENT_TYPE,
      '/x wait 1234',
    ],
  ] as const)('answers %s', (_name, options, accept, contentType, body) => {
    const config = parse({ algorithm, ...(options as Options) })
    expect(denialResponse(config, req, denied, accept)).toEqual({ status: 429, contentType, body })
  })

  it('awaits a message function that returns a promise', async () => {
    const config = parse({ algorithm, message: async () => ({ later: true }) })
    const pending = denialResponse(config, req, denied, undefined)
    expect(pending).toBeInstanceOf(Promise)
    expect(await pending).toEqual({
      status: 429,
      contentType: JSON_CONTENT_TYPE,
      body: '{"later":true}',
    })
  })

  it('rejects a message function result that is neither text nor object', () => {
    const config = parse({ algorithm, message: (() => 7) as never })
    expect(() => denialResponse(config, req, denied, undefined)).toThrow(/message function/)
  })

  it('answers 503 Service Unavailable for a fail-closed degraded denial, ignoring message', () => {
    const config = parse({ algorithm, failure: { mode: 'closed' }, message: 'custom' })
    const d = { ...denied, degraded: true as const, retryAfterMs: 1000 }
    expect(denialResponse(config, req, d, undefined)).toEqual({
      status: 503,
      contentType: JSON_CONTENT_TYPE,
      body: '{"error":"Service Unavailable","retryAfterMs":1000}',
    })
    expect(denialResponse(config, req, d, 'text/plain')).toEqual({
      status: 503,
      contentType: TEXT_CONTENT_TYPE,
      body: 'Service Unavailable',
    })
  })
})

describe('prefersText', () => {
  it.each([
    ['*/*', false],
    ['', false],
    ['application/json', false],
    ['text/plain', true],
    ['text/html', true],
    ['TEXT/HTML', true],
    ['application/json, text/plain', false],
    ['text/plain, application/json', false],
    ['application/json;q=0.5, text/plain', true],
    ['application/json; q=0.9, text/html; q=0.95', true],
    ['text/html;q=0.1, application/json;q=0.2', false],
    ['text/*, application/json;q=0.8', true],
    ['text/*;q=0.5, text/plain;q=0.1, application/json;q=0.3', true],
    ['text/*;q=0.5, text/plain;q=0.1, text/html;q=0.2, application/json;q=0.3', false],
    ['application/*;q=0.2, */*', true],
    ['image/png', false],
    ['text/plain;q=0', false],
    ['text/plain;charset=utf-8;Q=0.7, application/json;q=0.6', true],
    ['text/plain;q=oops, application/json;q=0.6', true],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', true],
  ])('decides %j: text %s', (accept, expected) => {
    expect(prefersText(accept)).toBe(expected)
  })
})

describe('warnOnce', () => {
  const seen: [string, string][] = []
  let previous: ReturnType<typeof setWarningHandler>
  beforeEach(() => {
    seen.length = 0
    resetWarnings()
    previous = setWarningHandler((code, message) => seen.push([code, message]))
  })
  afterEach(() => {
    setWarningHandler(previous)
    resetWarnings()
  })

  it('emits each code once until reset', () => {
    warnOnce('A', 'first')
    warnOnce('A', 'again')
    warnOnce('B', 'other')
    expect(seen).toEqual([
      ['A', 'first'],
      ['B', 'other'],
    ])
    resetWarnings()
    warnOnce('A', 'after reset')
    expect(seen.at(-1)).toEqual(['A', 'after reset'])
  })

  it('stays silent with a null handler', () => {
    setWarningHandler(null)
    warnOnce('C', 'nobody hears')
    setWarningHandler((code, message) => seen.push([code, message]))
    warnOnce('C', 'already emitted')
    expect(seen).toEqual([])
  })

  it('warns about X-Forwarded-For without trust proxy, and about trust proxy true', () => {
    checkTrustProxy(false, false)
    checkTrustProxy(1, true)
    checkTrustProxy('loopback', true)
    expect(seen).toEqual([])
    checkTrustProxy(false, true)
    checkTrustProxy(undefined, true)
    checkTrustProxy(true, false)
    expect(seen.map(([code]) => code)).toEqual([
      WARN_FORWARDED_WITHOUT_TRUST_PROXY,
      WARN_PERMISSIVE_TRUST_PROXY,
    ])
  })
})

describe('token bucket policy through parseHttpOptions', () => {
  it('names the policy by capacity and refill time', () => {
    const config = parse({ algorithm: tokenBucket({ capacity: 20, refillRate: 5 }) })
    expect(config.policy.name).toBe('20-per-4s')
  })
})
