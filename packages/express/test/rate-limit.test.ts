import {
  type Algorithm,
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  setWarningHandler,
  slidingLog,
  tokenBucket,
} from '@tollgate/core'
import {
  partitionKey,
  resetWarnings,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
  WARN_PERMISSIVE_TRUST_PROXY,
} from '@tollgate/core/http'
import { type RateLimitOptions, rateLimit } from '@tollgate/express'
import { RedisStore } from '@tollgate/redis'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import Redis from 'ioredis'
import request from 'supertest'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { freezeWallClock } from '../../../test/support/frozen-clock.js'
import { brokenStore } from '../../../test/support/stores.js'

// No test here may depend on where the wall clock sits in a window (issue 15): Date is frozen
// at the start of an hour, and RedisStores take that frozen clock instead of Redis TIME.
freezeWallClock()

const five = fixedWindow({ limit: 5, windowMs: 60_000 })

/** An app with one limiter in front of GET /, answering the decision it saw. */
function appWith(options: RateLimitOptions, setup?: (app: Express) => void): Express {
  const app = express()
  setup?.(app)
  app.use(rateLimit(options))
  app.get('/', (req, res) => {
    res.json({ rateLimit: req.rateLimit ?? null })
  })
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ caught: error.message })
  })
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

describe('rateLimit()', () => {
  it('admits up to the limit, then answers 429 JSON with draft-8 headers and Retry-After', async () => {
    // A sliding log restores the full quota one window after the first request: t is exact.
    const app = appWith({ algorithm: slidingLog({ limit: 5, windowMs: 60_000 }) })
    for (let i = 4; i >= 0; i--) {
      const res = await request(app).get('/').expect(200)
      expect(res.headers.ratelimit).toBe(`"5-in-60s"; r=${i}; t=60`)
      expect(res.headers['ratelimit-policy']).toMatch(/^"5-in-60s"; q=5; w=60; pk=:.{16}:$/)
      expect(res.headers['retry-after']).toBeUndefined()
    }
    const denied = await request(app).get('/').expect(429)
    expect(denied.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(denied.body.error).toBe('Too Many Requests')
    expect(denied.body.retryAfterMs).toBeGreaterThan(0)
    expect(denied.headers['retry-after']).toBe(
      String(Math.max(1, Math.ceil(denied.body.retryAfterMs / 1000))),
    )
    expect(denied.headers.ratelimit).toMatch(/^"5-in-60s"; r=0; t=\d+$/)
    const pk = /pk=:(.*):$/.exec(String(denied.headers['ratelimit-policy']))?.[1]
    // supertest connects over loopback; ipKey unmaps ::ffff:127.0.0.1 to 127.0.0.1.
    expect(pk).toBe(partitionKey('127.0.0.1'))
  })

  it('exposes the decision as req.rateLimit', async () => {
    const res = await request(appWith({ algorithm: five }))
      .get('/')
      .expect(200)
    expect(res.body.rateLimit).toEqual({
      allowed: true,
      limit: 5,
      remaining: 4,
      resetMs: expect.any(Number),
      retryAfterMs: 0,
    })
  })

  it('answers text when Accept prefers text/plain or text/html over JSON', async () => {
    const app = appWith({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) })
    await request(app).get('/').expect(200)
    const text = await request(app).get('/').set('Accept', 'text/html,*/*;q=0.8').expect(429)
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(text.text).toBe('Too Many Requests')
    const json = await request(app)
      .get('/')
      .set('Accept', 'text/plain;q=0.5, application/json')
      .expect(429)
    expect(json.body.error).toBe('Too Many Requests')
  })

  it('throws a TypeError naming an unknown option at construction', () => {
    expect(() => rateLimit({ algorithm: five, max: 5 } as RateLimitOptions)).toThrow(TypeError)
    expect(() => rateLimit({ algorithm: five, max: 5 } as RateLimitOptions)).toThrow(/"max"/)
    expect(() => rateLimit({} as RateLimitOptions)).toThrow(/algorithm/)
    expect(() => rateLimit({ algorithm: five, headers: { standard: 'draft-9' } } as never)).toThrow(
      TypeError,
    )
  })

  describe('client key', () => {
    it('ignores a spoofed X-Forwarded-For when trust proxy is off, and warns once', async () => {
      const app = appWith({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) })
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.1').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.2').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.3').expect(429)
      expect(warnings).toEqual([WARN_FORWARDED_WITHOUT_TRUST_PROXY])
    })

    it('keys by the forwarded client when trust proxy trusts the hop', async () => {
      const app = appWith({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) }, (a) =>
        a.set('trust proxy', 1),
      )
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.1').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.2').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '198.51.100.1').expect(429)
      expect(warnings).toEqual([])
    })

    it('groups IPv6 clients by /56', async () => {
      const app = appWith({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) }, (a) =>
        a.set('trust proxy', 'loopback'),
      )
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:1:200::1').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:1:2ff:abcd::9').expect(200)
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:1:2aa::7').expect(429)
      await request(app).get('/').set('X-Forwarded-For', '2001:db8:1:300::1').expect(200)
    })

    it('warns once when trust proxy is true', async () => {
      const app = appWith({ algorithm: five }, (a) => a.set('trust proxy', true))
      await request(app).get('/').expect(200)
      await request(app).get('/').expect(200)
      expect(warnings).toEqual([WARN_PERMISSIVE_TRUST_PROXY])
    })

    it('uses a key function, sync or async', async () => {
      const sync = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        key: (req) => String(req.headers['x-user']),
      })
      await request(sync).get('/').set('X-User', 'a').expect(200)
      await request(sync).get('/').set('X-User', 'b').expect(200)
      await request(sync).get('/').set('X-User', 'a').expect(429)
      const async = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        key: async (req) => `user:${req.headers['x-user']}`,
      })
      await request(async).get('/').set('X-User', 'a').expect(200)
      await request(async).get('/').set('X-User', 'a').expect(429)
    })

    it('passes a throwing key function to the error handler once', async () => {
      const app = appWith({
        algorithm: five,
        key: () => {
          throw new Error('no user')
        },
      })
      const res = await request(app).get('/').expect(500)
      expect(res.body).toEqual({ caught: 'no user' })
    })

    it('passes an empty key to the error handler as a RangeError', async () => {
      const res = await request(appWith({ algorithm: five, key: () => '' }))
        .get('/')
        .expect(500)
      expect(res.body.caught).toMatch(/key must be a non-empty string/)
    })
  })

  describe('stacked limiters', () => {
    it('count the request once each and combine draft-8 members in order', async () => {
      const burst = createLimiter({ algorithm: fixedWindow({ limit: 3, windowMs: 1_000 }) })
      const hourly = createLimiter({ algorithm: fixedWindow({ limit: 100, windowMs: 3_600_000 }) })
      const app = express()
      app.get('/', rateLimit({ limiter: burst }), rateLimit({ limiter: hourly }), (_req, res) => {
        res.send('ok')
      })
      const res = await request(app).get('/').expect(200)
      expect(res.headers.ratelimit).toMatch(/^"3-in-1s"; r=2; t=1, "100-in-3600s"; r=99; t=\d+$/)
      expect(res.headers['ratelimit-policy']).toMatch(
        /^"3-in-1s"; q=3; w=1; pk=:.{16}:, "100-in-3600s"; q=100; w=3600; pk=:.{16}:$/,
      )
      const key = '127.0.0.1'
      expect((await burst.limit(key)).remaining + (await hourly.limit(key)).remaining).toBe(1 + 98)
    })

    it('let the fewest remaining win in draft-7', async () => {
      const headers = { standard: 'draft-7' } as const
      const app = express()
      app.use(rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), headers }))
      app.use(rateLimit({ algorithm: slidingLog({ limit: 2, windowMs: 10_000 }), headers }))
      app.get('/', (_req, res) => {
        res.send('ok')
      })
      const res = await request(app).get('/').expect(200)
      expect(res.headers['ratelimit-policy']).toBe('2;w=10')
      expect(res.headers.ratelimit).toBe('limit=2, remaining=1, reset=10')
    })

    it('count once when the same middleware is mounted twice on a path', async () => {
      const once = rateLimit({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) })
      const app = express()
      app.use(once)
      app.get('/', once, (req, res) => {
        res.json(req.rateLimit)
      })
      expect((await request(app).get('/').expect(200)).body.remaining).toBe(1)
      expect((await request(app).get('/').expect(200)).body.remaining).toBe(0)
      await request(app).get('/').expect(429)
    })

    it('answer with the headers of both when the second denies', async () => {
      const app = express()
      app.use(rateLimit({ algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }) }))
      app.use(rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), name: 'strict' }))
      app.get('/', (_req, res) => {
        res.send('ok')
      })
      await request(app).get('/').expect(200)
      const res = await request(app).get('/').expect(429)
      expect(res.headers.ratelimit).toMatch(/^"10-in-60s"; r=8; t=\d+, "strict"; r=0; t=\d+$/)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
    })
  })

  describe('options', () => {
    it('skips requests for which skip answers true, sync or async', async () => {
      const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
      for (const skip of [
        (req: Request) => req.path === '/health',
        async (req: Request) => req.path === '/health',
      ]) {
        const app = express()
        app.use(rateLimit({ algorithm, skip }))
        app.get('/health', (req, res) => {
          res.json({ limited: req.rateLimit !== undefined })
        })
        app.get('/', (_req, res) => {
          res.send('ok')
        })
        expect((await request(app).get('/health').expect(200)).body).toEqual({ limited: false })
        await request(app).get('/health').expect(200)
        await request(app).get('/').expect(200)
        await request(app).get('/').expect(429)
      }
    })

    it('charges a fixed cost or a cost function', async () => {
      const fixed = appWith({ algorithm: tokenBucket({ capacity: 10, refillRate: 1 }), cost: 4 })
      expect((await request(fixed).get('/').expect(200)).body.rateLimit.remaining).toBe(6)
      const fn = appWith({
        algorithm: tokenBucket({ capacity: 10, refillRate: 1 }),
        cost: (req) => Number(req.query.n ?? 1),
      })
      expect((await request(fn).get('/?n=7').expect(200)).body.rateLimit.remaining).toBe(3)
      await request(fn).get('/?n=4').expect(429)
      expect((await request(fn).get('/?n=3').expect(200)).body.rateLimit.remaining).toBe(0)
      expect((await request(fn).get('/?n=11').expect(500)).body.caught).toMatch(/cost/)
    })

    it('sends message as text, as JSON, or from a function', async () => {
      const one = fixedWindow({ limit: 1, windowMs: 60_000 })
      const text = appWith({ algorithm: one, message: 'Slow down' })
      await request(text).get('/')
      expect((await request(text).get('/').set('Accept', 'text/plain')).text).toBe('Slow down')
      expect((await request(text).get('/')).body).toEqual({
        error: 'Slow down',
        retryAfterMs: expect.any(Number),
      })
      const object = appWith({ algorithm: one, message: { code: 'LIMITED' } })
      await request(object).get('/')
      expect((await request(object).get('/').expect(429)).body).toEqual({ code: 'LIMITED' })
      const fn = appWith({
        algorithm: one,
        message: async (req, d: Decision) => ({ path: req.path, remaining: d.remaining }),
      })
      await request(fn).get('/')
      expect((await request(fn).get('/').expect(429)).body).toEqual({ path: '/', remaining: 0 })
    })

    it('uses statusCode for denials', async () => {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        statusCode: 420,
      })
      await request(app).get('/').expect(200)
      await request(app).get('/').expect(420)
    })

    it('sends the message when statusCode is 503 (only a fail-closed denial says Service Unavailable)', async () => {
      const one = fixedWindow({ limit: 1, windowMs: 60_000 })
      const app = appWith({ algorithm: one, statusCode: 503, message: 'Slow down' })
      await request(app).get('/').expect(200)
      const json = await request(app).get('/').set('Accept', 'application/json').expect(503)
      expect(json.body).toEqual({ error: 'Slow down', retryAfterMs: expect.any(Number) })
      const text = await request(app).get('/').set('Accept', 'text/plain').expect(503)
      expect(text.text).toBe('Slow down')
      const object = appWith({ algorithm: one, statusCode: 503, message: { code: 'LIMITED' } })
      await request(object).get('/')
      expect((await request(object).get('/').expect(503)).body).toEqual({ code: 'LIMITED' })
    })

    it('lets handler replace the whole denial, after headers and status are set', async () => {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        handler: (req, res, _next, decision) => {
          res.json({
            custom: true,
            status: res.statusCode,
            remaining: decision.remaining,
            ip: req.ip,
          })
        },
      })
      await request(app).get('/').expect(200)
      const res = await request(app).get('/').expect(429)
      expect(res.body).toMatchObject({ custom: true, status: 429, remaining: 0 })
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.headers.ratelimit).toMatch(/r=0/)
    })

    it('passes a rejecting async handler to the error handler', async () => {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        handler: async () => {
          throw new Error('handler broke')
        },
      })
      await request(app).get('/').expect(200)
      expect((await request(app).get('/').expect(500)).body).toEqual({ caught: 'handler broke' })
    })

    it('writes legacy and draft-6 headers, or none with headers: false', async () => {
      const legacy = appWith({ algorithm: five, headers: { standard: 'draft-6', legacy: true } })
      const res = await request(legacy).get('/').expect(200)
      expect(res.headers).toMatchObject({
        'ratelimit-policy': '5;w=60',
        'ratelimit-limit': '5',
        'ratelimit-remaining': '4',
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '4',
      })
      const reset = Number(res.headers['x-ratelimit-reset'])
      expect(reset).toBeGreaterThan(Date.now() / 1000)
      expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60)
      const none = await request(appWith({ algorithm: five, headers: false }))
        .get('/')
        .expect(200)
      expect(none.headers.ratelimit).toBeUndefined()
      expect(none.headers['ratelimit-policy']).toBeUndefined()
    })
  })

  describe('fail policy', () => {
    it('admits without rate-limit headers when the store fails open', async () => {
      const errors: unknown[] = []
      const app = appWith({
        algorithm: five,
        store: brokenStore,
        headers: { legacy: true },
        onStoreError: (error) => errors.push(error),
      })
      const res = await request(app).get('/').expect(200)
      expect(res.body.rateLimit).toMatchObject({ allowed: true, degraded: true })
      expect(res.headers.ratelimit).toBeUndefined()
      expect(res.headers['x-ratelimit-limit']).toBeUndefined()
      expect(errors).toHaveLength(1)
    })

    it('answers 503 with Retry-After and nothing else when the store fails closed', async () => {
      const app = appWith({
        algorithm: five,
        store: brokenStore,
        failure: { mode: 'closed', breaker: { failures: 1, cooldownMs: 2_500 } },
      })
      const res = await request(app).get('/').set('Accept', 'application/json').expect(503)
      expect(res.body).toEqual({ error: 'Service Unavailable', retryAfterMs: 2_500 })
      expect(res.headers['retry-after']).toBe('3')
      expect(res.headers.ratelimit).toBeUndefined()
      expect(res.headers['ratelimit-policy']).toBeUndefined()
    })

    it('keeps limiting per process with Retry-After only when the store fails locally', async () => {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store: brokenStore,
        failure: { mode: 'local' },
      })
      await request(app).get('/').expect(200)
      const res = await request(app).get('/').expect(429)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.headers.ratelimit).toBeUndefined()
    })
  })

  describe('with RedisStore', () => {
    let client: Redis
    const prefix = `tollgate-express-test:${process.pid}:${Date.now()}:`
    beforeAll(async () => {
      client = new Redis(inject('redisUrl'))
      await client.ping()
    })
    afterAll(async () => {
      await client.quit()
    })

    it('shares one counter between two apps on the same store', async () => {
      const store = new RedisStore({ client, prefix, clock: () => Date.now() })
      const algorithm: Algorithm = fixedWindow({ limit: 3, windowMs: 60_000 })
      const a = appWith({ algorithm, store, name: 'shared' })
      const b = appWith({ algorithm, store, name: 'shared' })
      await request(a).get('/').expect(200)
      await request(b).get('/').expect(200)
      const third = await request(a).get('/').expect(200)
      expect(third.headers.ratelimit).toMatch(/^"shared"; r=0; t=\d+$/)
      await request(b).get('/').expect(429)
    })

    it('admits exactly the limit of concurrent requests', async () => {
      const store = new RedisStore({ client, prefix, clock: () => Date.now() })
      // A generous timeout: under load a fail-open answer would admit past the limit.
      const app = appWith({
        algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }),
        store,
        failure: { timeoutMs: 10_000 },
      })
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () =>
          request(app)
            .get('/')
            .then((r) => r.status),
        ),
      )
      expect(statuses.filter((s) => s === 200)).toHaveLength(10)
      expect(statuses.filter((s) => s === 429)).toHaveLength(20)
    })
  })

  it('keeps state per limiter: a MemoryStore given to two middlewares with distinct names', async () => {
    const store = new MemoryStore()
    const app = express()
    app.use(rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store, name: 'a' }))
    app.use(rateLimit({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), store, name: 'b' }))
    app.get('/', (req, res) => {
      res.json(req.rateLimit)
    })
    expect((await request(app).get('/').expect(200)).body.remaining).toBe(4)
    await request(app).get('/').expect(429)
  })
})
