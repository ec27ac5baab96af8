import { createLimiter, fixedWindow, MemoryStore } from '@tollgate/core'
import {
  asError,
  type HeaderEntry,
  handleRequest,
  parseHttpOptions,
  type RequestFacts,
  routeOptions,
  validateHttpOptions,
} from '@tollgate/core/http'
import { describe, expect, it } from 'vitest'

interface Req {
  user?: string
  weight?: unknown
}

const facts: RequestFacts = {
  ip: '203.0.113.9',
  accept: undefined,
  forwardedFor: false,
  trustProxy: false,
}
const clock = () => 1_000_000
const two = () => fixedWindow({ limit: 2, windowMs: 60_000 })
const parse = (options: Parameters<typeof parseHttpOptions<Req, () => void>>[0]) =>
  parseHttpOptions<Req, () => void>(options, 'test()')

describe('handleRequest (the order of steps of one request)', () => {
  it('answers synchronously on a MemoryStore with a string key and a boolean skip', () => {
    const config = parse({
      algorithm: two(),
      store: new MemoryStore({ clock }),
      skip: () => false,
      key: (req) => req.user ?? 'anon',
    })
    const first = handleRequest(config, { user: 'u' }, facts, undefined)
    expect(first).not.toBeInstanceOf(Promise)
    expect(first).toMatchObject({ kind: 'pass', decision: { allowed: true, remaining: 1 } })
    handleRequest(config, { user: 'u' }, facts, undefined)
    const third = handleRequest(config, { user: 'u' }, facts, undefined)
    expect(third).not.toBeInstanceOf(Promise)
    expect(third).toMatchObject({
      kind: 'deny',
      status: 429,
      response: { status: 429, body: '{"error":"Too Many Requests","retryAfterMs":20000}' },
    })
    if (third instanceof Promise || third.kind !== 'deny') throw new Error('unreachable')
    expect(third.headers).toContain('Retry-After')
    expect(third.headers[third.headers.indexOf('Retry-After') + 1]).toBe('20')
  })

  it('makes a promise only for the step that is async', async () => {
    const config = parse({
      algorithm: two(),
      store: new MemoryStore({ clock }),
      key: async () => 'k',
    })
    const outcome = handleRequest(config, {}, facts, undefined)
    expect(outcome).toBeInstanceOf(Promise)
    expect(await outcome).toMatchObject({ kind: 'pass', decision: { remaining: 1 } })
  })

  it('skips when skip answers true, sync or async, and never counts', async () => {
    const store = new MemoryStore({ clock })
    const sync = parse({ algorithm: two(), store, skip: () => true })
    const later = parse({ algorithm: two(), store, skip: async () => true })
    expect(handleRequest(sync, {}, facts, undefined)).toEqual({ kind: 'skip' })
    expect(await handleRequest(later, {}, facts, undefined)).toEqual({ kind: 'skip' })
    expect(store.size).toBe(0)
  })

  it('counts a request once per limiter: the entries of earlier limiters guard against a second count', () => {
    const config = parse({ algorithm: two(), store: new MemoryStore({ clock }) })
    const first = handleRequest(config, {}, facts, undefined)
    if (first instanceof Promise || first.kind !== 'pass') throw new Error('expected a pass')
    expect(handleRequest(config, {}, facts, first.entries)).toEqual({ kind: 'skip' })
  })

  it('appends to the entries of other limiters so their headers combine', () => {
    const store = new MemoryStore({ clock })
    const a = parse({ algorithm: two(), store, name: 'a' })
    const b = parse({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), store, name: 'b' })
    const first = handleRequest(a, {}, facts, undefined) as { entries: HeaderEntry[] }
    const second = handleRequest(b, {}, facts, first.entries)
    if (second instanceof Promise || second.kind !== 'pass') throw new Error('expected a pass')
    expect(second.entries).toHaveLength(2)
    expect(second.headers[second.headers.indexOf('RateLimit') + 1]).toBe(
      '"a"; r=1; t=20, "b"; r=4; t=20',
    )
  })

  it('keys by the client IP when no key function is given', () => {
    const limiter = createLimiter({ algorithm: two(), store: new MemoryStore({ clock }) })
    const config = parse({ limiter })
    const outcome = handleRequest(config, {}, facts, undefined) as { entries: HeaderEntry[] }
    expect(outcome.entries[0]!.key).toBe('203.0.113.9')
  })

  it('treats a cost function answering undefined as an error, not as cost 1', () => {
    const config = parse({
      algorithm: two(),
      store: new MemoryStore({ clock }),
      cost: (req) => req.weight as number,
    })
    expect(() => handleRequest(config, {}, facts, undefined)).toThrow(/cost/)
  })

  it('leaves the denial to the handler, with the status it must use', () => {
    const config = parse({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      handler: () => undefined,
      statusCode: 418,
    })
    handleRequest(config, {}, facts, undefined)
    expect(handleRequest(config, {}, facts, undefined)).toMatchObject({
      kind: 'deny',
      status: 418,
      response: undefined,
    })
  })
})

describe('asError', () => {
  it.each([undefined, null, 0, '', 'route', false])(
    'wraps the thrown value %j in an Error, so next() never sees it as "no error" or "route"',
    (thrown) => {
      const error = asError(thrown)
      expect(error).toBeInstanceOf(Error)
      expect(error.cause).toBe(thrown)
    },
  )
  it('passes an Error through', () => {
    const e = new RangeError('x')
    expect(asError(e)).toBe(e)
  })
})

describe('validateHttpOptions (plugin-level options checked without building a limiter)', () => {
  it.each([
    [{ statusCode: 200 }, /statusCode/],
    [{ algorithm: { kind: 'fixedWindow2' } }, /algorithm/],
    [{ failure: { mode: 'sometimes' } }, /failure.mode/],
    [{ headers: { standard: 'draft-9' } }, /standard/],
    [{ cost: 0 }, /cost/],
    [{ message: 5 }, /message/],
    [{ key: 'ip' }, /key/],
    [{ windowMS: 5 }, /windowMS/],
  ])('rejects %j', (options, message) => {
    expect(() => validateHttpOptions(options, 'plugin')).toThrow(message)
  })
  it('accepts partial options routes will complete', () => {
    expect(() =>
      validateHttpOptions({ store: new MemoryStore(), statusCode: 503, global: false }, 'p', [
        'global',
      ]),
    ).not.toThrow()
  })
})

describe('routeOptions (what a route inherits from the plugin)', () => {
  const store = new MemoryStore()
  it('inherits every plugin option but limiter, name and prefix; the route prefix names the route', () => {
    const merged = routeOptions<Req, () => void>(
      { store, statusCode: 503, name: 'plugin', prefix: 'p:' },
      { algorithm: two() },
      'GET /x',
    )
    expect(merged).toMatchObject({ store, statusCode: 503, prefix: 'fw:2:60000:GET /x:' })
    expect(merged).not.toHaveProperty('name')
  })
  it('takes none of the limiter-building options when the route brings its own limiter', () => {
    const limiter = createLimiter({ algorithm: two() })
    const merged = routeOptions<Req, () => void>(
      { store, algorithm: two(), statusCode: 503 },
      { limiter },
      'GET /y',
    )
    expect(merged).toEqual({ limiter, statusCode: 503 })
  })
  it('rejects a value that is neither an object nor false', () => {
    expect(() => routeOptions({}, 5, 'GET /z')).toThrow(/config.rateLimit of GET \/z/)
  })
})
