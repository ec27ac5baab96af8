import {
  createLimiter,
  fixedWindow,
  setWarningHandler,
  slidingLog,
  tokenBucket,
} from '@tollgate/core'
import {
  partitionKey,
  resetWarnings,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
} from '@tollgate/core/http'
import tollgateDefault, { type TollgateOptions, tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import Redis from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { freezeWallClock } from '../../../test/support/frozen-clock.js'
import { brokenStore } from '../../../test/support/stores.js'

// No test here may depend on where the wall clock sits in a window (issue 15): Date is frozen
// at the start of an hour, and RedisStores take that frozen clock instead of Redis TIME.
freezeWallClock()

const five = fixedWindow({ limit: 5, windowMs: 60_000 })
const one = fixedWindow({ limit: 1, windowMs: 60_000 })

const apps: FastifyInstance[] = []

/** An app with the plugin and GET / answering the decision it saw. */
async function appWith(
  options: TollgateOptions,
  routes?: (app: FastifyInstance) => void,
  server: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify(server)
  apps.push(app)
  await app.register(tollgate, options)
  app.get('/', async (request) => ({ rateLimit: request.rateLimit }))
  routes?.(app)
  await app.ready()
  return app
}

const warnings: string[] = []
let previousHandler: ReturnType<typeof setWarningHandler>
beforeEach(() => {
  warnings.length = 0
  resetWarnings()
  previousHandler = setWarningHandler((code) => warnings.push(code))
})
afterEach(() => {
  setWarningHandler(previousHandler)
  resetWarnings()
})
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()))
})

describe('tollgate plugin', () => {
  it('is exported by name and as the default export', () => {
    expect(tollgateDefault).toBe(tollgate)
  })

  it('limits every route by default and answers 429 JSON with headers', async () => {
    const app = await appWith({ algorithm: slidingLog({ limit: 3, windowMs: 60_000 }) }, (a) => {
      a.get('/other', async () => 'other')
    })
    for (const [url, remaining] of [
      ['/', 2],
      ['/other', 1],
      ['/', 0],
    ] as const) {
      const res = await app.inject(url)
      expect(res.statusCode).toBe(200)
      expect(res.headers.ratelimit).toBe(`"3-in-60s"; r=${remaining}; t=60`)
      expect(res.headers['ratelimit-policy']).toBe(
        `"3-in-60s"; q=3; w=60; pk=:${partitionKey('127.0.0.1')}:`,
      )
    }
    const denied = await app.inject('/')
    expect(denied.statusCode).toBe(429)
    expect(denied.headers['content-type']).toBe('application/json; charset=utf-8')
    const body = denied.json()
    expect(body.error).toBe('Too Many Requests')
    expect(denied.headers['retry-after']).toBe(String(Math.ceil(body.retryAfterMs / 1000)))
    expect(denied.headers.ratelimit).toMatch(/^"3-in-60s"; r=0; t=\d+$/)
  })

  it('decorates request.rateLimit with the decision', async () => {
    const app = await appWith({ algorithm: five })
    expect((await app.inject('/')).json().rateLimit).toEqual({
      allowed: true,
      limit: 5,
      remaining: 4,
      resetMs: expect.any(Number),
      retryAfterMs: 0,
    })
  })

  it('answers text when Accept prefers it', async () => {
    const app = await appWith({ algorithm: one, message: 'Slow down' })
    await app.inject('/')
    const text = await app.inject({ url: '/', headers: { accept: 'text/plain' } })
    expect(text.statusCode).toBe(429)
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(text.body).toBe('Slow down')
    const json = await app.inject({ url: '/', headers: { accept: 'application/json' } })
    expect(json.json()).toEqual({ error: 'Slow down', retryAfterMs: expect.any(Number) })
  })

  it('sends the message when statusCode is 503 (only a fail-closed denial says Service Unavailable)', async () => {
    const app = await appWith({ algorithm: one, statusCode: 503, message: 'Slow down' })
    await app.inject('/')
    const json = await app.inject({ url: '/', headers: { accept: 'application/json' } })
    expect(json.statusCode).toBe(503)
    expect(json.json()).toEqual({ error: 'Slow down', retryAfterMs: expect.any(Number) })
    const text = await app.inject({ url: '/', headers: { accept: 'text/plain' } })
    expect(text.statusCode).toBe(503)
    expect(text.body).toBe('Slow down')
    const object = await appWith({ algorithm: one, statusCode: 503, message: { code: 'LIMITED' } })
    await object.inject('/')
    const denied = await object.inject('/')
    expect(denied.statusCode).toBe(503)
    expect(denied.json()).toEqual({ code: 'LIMITED' })
  })

  it('sends a denial as a reply, not through the error handler', async () => {
    const errors: unknown[] = []
    const app = await appWith({ algorithm: one }, (a) => {
      a.setErrorHandler((error, _request, reply) => {
        errors.push(error)
        reply.code(500).send('error handler')
      })
    })
    await app.inject('/')
    expect((await app.inject('/')).statusCode).toBe(429)
    expect(errors).toEqual([])
  })

  it('throws at registration on an unknown option or value', async () => {
    const app = Fastify()
    apps.push(app)
    await expect(
      app.register(tollgate, { algorithm: five, max: 3 } as TollgateOptions),
    ).rejects.toThrow(/"max"/)
    const other = Fastify()
    apps.push(other)
    await expect(
      other.register(tollgate, { algorithm: five, global: 'yes' } as never),
    ).rejects.toThrow(TypeError)
    const none = Fastify()
    apps.push(none)
    await expect(none.register(tollgate, {})).rejects.toThrow(/algorithm/)
  })

  describe('per-route config', () => {
    it('replaces the global limiter with its own counter, or opts out with false', async () => {
      const app = await appWith({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) }, (a) => {
        a.post(
          '/login',
          { config: { rateLimit: { algorithm: one, name: 'login' } } },
          async () => 'in',
        )
        a.get('/health', { config: { rateLimit: false } }, async (request) => ({
          limited: request.rateLimit !== null,
        }))
      })
      const login = await app.inject({ method: 'POST', url: '/login' })
      expect(login.statusCode).toBe(200)
      expect(login.headers.ratelimit).toMatch(/^"login"; r=0; t=\d+$/)
      expect((await app.inject({ method: 'POST', url: '/login' })).statusCode).toBe(429)
      expect((await app.inject('/')).statusCode).toBe(200)
      expect((await app.inject('/')).statusCode).toBe(200)
      expect((await app.inject('/')).statusCode).toBe(429)
      for (let i = 0; i < 3; i++) {
        const health = await app.inject('/health')
        expect(health.statusCode).toBe(200)
        expect(health.json()).toEqual({ limited: false })
        expect(health.headers.ratelimit).toBeUndefined()
      }
    })

    it('inherits unset options from the plugin (headers, message)', async () => {
      const app = await appWith(
        { algorithm: five, headers: { standard: 'draft-11' }, message: { code: 'LIMITED' } },
        (a) => {
          a.get('/strict', { config: { rateLimit: { algorithm: one } } }, async () => 'ok')
        },
      )
      const first = await app.inject('/strict')
      expect(first.headers.ratelimit).toMatch(/^"1-in-60s";r=0;t=\d+$/)
      const denied = await app.inject('/strict')
      expect(denied.json()).toEqual({ code: 'LIMITED' })
    })

    it('limits only configured routes when global is false', async () => {
      const app = await appWith({ global: false }, (a) => {
        a.get('/limited', { config: { rateLimit: { algorithm: one } } }, async () => 'ok')
      })
      for (let i = 0; i < 3; i++) expect((await app.inject('/')).statusCode).toBe(200)
      expect((await app.inject('/limited')).statusCode).toBe(200)
      expect((await app.inject('/limited')).statusCode).toBe(429)
    })

    it('throws at route registration on a bad route config', async () => {
      const app = Fastify()
      apps.push(app)
      await app.register(tollgate, { algorithm: five })
      expect(() =>
        app.get(
          '/x',
          { config: { rateLimit: { algorithm: one, windowMs: 1 } as never } },
          async () => 'x',
        ),
      ).toThrow(/"windowMs" in config.rateLimit of GET \/x/)
      expect(() =>
        app.get('/y', { config: { rateLimit: true as never } }, async () => 'y'),
      ).toThrow(/must be an options object or false/)
    })

    it('needs an algorithm on a route when the plugin was given a limiter', async () => {
      const app = Fastify()
      apps.push(app)
      await app.register(tollgate, { limiter: createLimiter({ algorithm: five }) })
      expect(() => app.get('/x', { config: { rateLimit: { cost: 2 } } }, async () => 'x')).toThrow(
        /needs its own algorithm or limiter/,
      )
    })

    it('counts a request once when the plugin is registered twice', async () => {
      const app = Fastify()
      apps.push(app)
      await app.register(tollgate, { algorithm: five })
      await app.register(tollgate, { algorithm: five })
      app.get('/', async (request) => ({ remaining: request.rateLimit?.remaining }))
      expect((await app.inject('/')).json()).toEqual({ remaining: 4 })
      expect((await app.inject('/')).json()).toEqual({ remaining: 3 })
    })

    it('counts a HEAD request once, on the counter of its GET route', async () => {
      const app = await appWith({ algorithm: five }, (a) => {
        a.get(
          '/page',
          { config: { rateLimit: { algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }) } } },
          async (request) => ({
            remaining: request.rateLimit?.remaining,
          }),
        )
      })
      const head = await app.inject({ method: 'HEAD', url: '/page' })
      expect(head.statusCode).toBe(200)
      expect(head.headers.ratelimit).toMatch(/r=2;/)
      expect((await app.inject('/page')).json()).toEqual({ remaining: 1 })
    })
  })

  describe('options', () => {
    it('honours key, cost and skip', async () => {
      const app = await appWith(
        {
          algorithm: tokenBucket({ capacity: 10, refillRate: 1 }),
          key: (request) => String(request.headers['x-user']),
          cost: (request) => Number((request.query as { n?: string }).n ?? 1),
          skip: async (request) => request.headers['x-internal'] === '1',
        },
        undefined,
      )
      const a = await app.inject({ url: '/?n=6', headers: { 'x-user': 'a' } })
      expect(a.json().rateLimit.remaining).toBe(4)
      const b = await app.inject({ url: '/?n=6', headers: { 'x-user': 'b' } })
      expect(b.json().rateLimit.remaining).toBe(4)
      expect((await app.inject({ url: '/?n=6', headers: { 'x-user': 'a' } })).statusCode).toBe(429)
      const skipped = await app.inject({
        url: '/?n=6',
        headers: { 'x-user': 'a', 'x-internal': '1' },
      })
      expect(skipped.statusCode).toBe(200)
      expect(skipped.json().rateLimit).toBeNull()
    })

    it('lets handler replace the denial after status and headers are set', async () => {
      const app = await appWith({
        algorithm: one,
        handler: (_request, reply, decision) => {
          reply.send({ custom: true, status: reply.statusCode, remaining: decision.remaining })
        },
      })
      await app.inject('/')
      const res = await app.inject('/')
      expect(res.statusCode).toBe(429)
      expect(res.json()).toEqual({ custom: true, status: 429, remaining: 0 })
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
    })

    it('uses statusCode for denials', async () => {
      const app = await appWith({ algorithm: one, statusCode: 420 })
      await app.inject('/')
      expect((await app.inject('/')).statusCode).toBe(420)
    })
  })

  describe('client key', () => {
    it('ignores a spoofed X-Forwarded-For without trustProxy, and warns once', async () => {
      const app = await appWith({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) })
      const spoof = (ip: string) => app.inject({ url: '/', headers: { 'x-forwarded-for': ip } })
      expect((await spoof('198.51.100.1')).statusCode).toBe(200)
      expect((await spoof('198.51.100.2')).statusCode).toBe(200)
      expect((await spoof('198.51.100.3')).statusCode).toBe(429)
      expect(warnings).toEqual([WARN_FORWARDED_WITHOUT_TRUST_PROXY])
    })

    it('keys by the forwarded client with trustProxy, IPv6 grouped by /56', async () => {
      const app = await appWith({ algorithm: one }, undefined, { trustProxy: '127.0.0.1' })
      const from = (ip: string) => app.inject({ url: '/', headers: { 'x-forwarded-for': ip } })
      expect((await from('2001:db8:1:200::1')).statusCode).toBe(200)
      expect((await from('2001:db8:1:2ff::9')).statusCode).toBe(429)
      expect((await from('2001:db8:1:300::1')).statusCode).toBe(200)
      expect((await from('198.51.100.1')).statusCode).toBe(200)
      expect(warnings).toEqual([])
    })
  })

  describe('fail policy', () => {
    it('admits without rate-limit headers when the store fails open', async () => {
      const errors: unknown[] = []
      const app = await appWith({
        algorithm: five,
        store: brokenStore,
        onStoreError: (error) => errors.push(error),
      })
      const res = await app.inject('/')
      expect(res.statusCode).toBe(200)
      expect(res.json().rateLimit).toMatchObject({ allowed: true, degraded: true })
      expect(res.headers.ratelimit).toBeUndefined()
      expect(errors).toHaveLength(1)
    })

    it('answers 503 with Retry-After only when the store fails closed', async () => {
      const app = await appWith({
        algorithm: five,
        store: brokenStore,
        failure: { mode: 'closed', breaker: false },
      })
      const res = await app.inject('/')
      expect(res.statusCode).toBe(503)
      expect(res.json()).toEqual({ error: 'Service Unavailable', retryAfterMs: 1000 })
      expect(res.headers['retry-after']).toBe('1')
      expect(res.headers.ratelimit).toBeUndefined()
      expect(res.headers['ratelimit-policy']).toBeUndefined()
    })
  })

  describe('on a real listening server', () => {
    let app: FastifyInstance
    let base: string
    beforeAll(async () => {
      app = Fastify()
      await app.register(tollgate, { algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) })
      app.get('/', async () => 'hello')
      base = await app.listen({ port: 0, host: '127.0.0.1' })
    })
    afterAll(async () => {
      await app.close()
    })

    it('limits requests over HTTP with headers', async () => {
      const first = await fetch(base)
      expect(first.status).toBe(200)
      expect(await first.text()).toBe('hello')
      expect(first.headers.get('ratelimit')).toMatch(/^"2-in-60s"; r=1; t=\d+$/)
      await (await fetch(base)).text()
      const denied = await fetch(base, { headers: { accept: 'application/json' } })
      expect(denied.status).toBe(429)
      expect(denied.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(((await denied.json()) as { error: string }).error).toBe('Too Many Requests')
    })
  })

  describe('with RedisStore', () => {
    let client: Redis
    const prefix = `tollgate-fastify-test:${process.pid}:${Date.now()}:`
    beforeAll(async () => {
      client = new Redis(inject('redisUrl'))
      await client.ping()
    })
    afterAll(async () => {
      await client.quit()
    })

    it('gives each configured route its own counter in a shared store', async () => {
      const store = new RedisStore({ client, prefix, clock: () => Date.now() })
      const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
      const app = await appWith({ algorithm, store }, (a) => {
        a.get('/a', { config: { rateLimit: { algorithm } } }, async () => 'a')
        a.get('/b', { config: { rateLimit: { algorithm } } }, async () => 'b')
      })
      expect((await app.inject('/')).statusCode).toBe(200)
      expect((await app.inject('/a')).statusCode).toBe(200)
      expect((await app.inject('/b')).statusCode).toBe(200)
      expect((await app.inject('/a')).statusCode).toBe(429)
      expect((await app.inject('/b')).statusCode).toBe(429)
      expect((await app.inject('/')).statusCode).toBe(429)
      const keys = await client.keys(`${prefix}*`)
      expect(keys.some((k) => k.includes('GET /a:'))).toBe(true)
      expect(keys.some((k) => k.includes('GET /b:'))).toBe(true)
    })

    it('admits exactly the limit of concurrent requests', async () => {
      const store = new RedisStore({ client, prefix, clock: () => Date.now() })
      const app = await appWith({
        algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }),
        store,
        name: 'burst',
      })
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () => app.inject('/').then((r) => r.statusCode)),
      )
      expect(statuses.filter((s) => s === 200)).toHaveLength(10)
      expect(statuses.filter((s) => s === 429)).toHaveLength(20)
    })
  })
})

describe('stacked registrations', () => {
  it('count a request once each, in registration order, and combine their headers', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(tollgate, { algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) })
    await app.register(tollgate, { algorithm: fixedWindow({ limit: 2, windowMs: 1_000 }) })
    app.get('/', async () => 'ok')
    app.get('/own', { config: { rateLimit: { algorithm: one } } }, async () => 'own')
    await app.ready()

    const first = await app.inject({ url: '/' })
    expect(first.statusCode).toBe(200)
    expect(first.headers.ratelimit).toMatch(/^"100-in-60s"; r=99; t=\d+, "2-in-1s"; r=1; t=1$/)
    await app.inject({ url: '/' })
    const third = await app.inject({ url: '/' })
    expect(third.statusCode).toBe(429)
    // The first limiter admitted (and counted) the request; the second denied it.
    expect(third.headers.ratelimit).toMatch(/^"100-in-60s"; r=97; t=\d+, "2-in-1s"; r=0; t=1$/)

    // A route's own limiter replaces every global one.
    const own = await app.inject({ url: '/own' })
    expect(own.headers.ratelimit).toMatch(/^"1-in-60s"; r=0; t=\d+$/)
  })
})
