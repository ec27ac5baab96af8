import { channel } from 'node:diagnostics_channel'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  setWarningHandler,
  slidingWindow,
} from '@tollgate/core'
import { type RateLimitOptions, rateLimit } from '@tollgate/express'
import express, { type ErrorRequestHandler } from 'express'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'

let now = 1_000_000
const clock = () => now
afterEach(() => {
  now = 1_000_000
})

/** GET /?status=N answers N; POST /login answers 401 unless ?ok; errors answer 500 JSON. */
function appWith(options: RateLimitOptions, trustProxy?: unknown) {
  const app = express()
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy)
  app.use(rateLimit(options))
  app.get('/', (req, res) => {
    res.status(Number(req.query.status ?? 200)).json({ rateLimit: req.rateLimit })
  })
  app.post('/login', (req, res) => {
    res.status(req.query.ok === undefined ? 401 : 200).send('')
  })
  app.use(((error, _req, res, _next) => {
    res.status(500).json({ message: String(error.message) })
  }) as ErrorRequestHandler)
  return app
}

describe('limit (per-request limits, paid tiers)', () => {
  it('applies the limit the function answers and shows it in the headers', async () => {
    const store = new MemoryStore({ clock })
    const app = appWith({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store,
      key: (req) => String(req.headers['x-user']),
      limit: (req) => (req.headers['x-plan'] === 'pro' ? 5 : 2),
    })
    const pro = await request(app).get('/').set('x-user', 'p').set('x-plan', 'pro')
    expect(pro.headers['ratelimit-policy']).toMatch(/^"5-in-60s"; q=5; w=60; pk=/)
    expect(pro.headers.ratelimit).toBe('"5-in-60s"; r=4; t=20')
    await request(app).get('/').set('x-user', 'f')
    await request(app).get('/').set('x-user', 'f')
    expect((await request(app).get('/').set('x-user', 'f')).status).toBe(429)
  })

  it('keeps the count of one key when its plan changes mid-window', async () => {
    const app = appWith({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      key: () => 'user',
      limit: (req) => (req.headers['x-plan'] === 'pro' ? 4 : 2),
    })
    await request(app).get('/')
    await request(app).get('/')
    expect((await request(app).get('/')).status).toBe(429)
    const upgraded = await request(app).get('/').set('x-plan', 'pro')
    expect(upgraded.status).toBe(200)
    expect(upgraded.body.rateLimit).toMatchObject({ limit: 4, remaining: 1 })
  })

  it.each([0, -1, 1.5, Number.NaN, '3'])(
    'answers 500 naming limit for the bad value %j, and counts nothing',
    async (bad) => {
      const store = new MemoryStore({ clock })
      const app = appWith({
        algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
        store,
        limit: () => bad as number,
      })
      const res = await request(app).get('/')
      expect(res.status).toBe(500)
      expect(res.body.message).toMatch(/limit/)
      expect(store.size).toBe(0)
    },
  )

  it('answers 500 when the limit function rejects', async () => {
    const app = appWith({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      limit: () => Promise.reject(new Error('plan lookup failed')),
    })
    const res = await request(app).get('/')
    expect(res.status).toBe(500)
    expect(res.body.message).toBe('plan lookup failed')
  })

  it('rejects a bad fixed limit at construction', () => {
    expect(() =>
      rateLimit({ algorithm: fixedWindow({ limit: 2, windowMs: 1000 }), limit: 0 }),
    ).toThrow(RangeError)
    expect(() =>
      rateLimit({ algorithm: fixedWindow({ limit: 2, windowMs: 1000 }), limit: '5' as never }),
    ).toThrow(TypeError)
  })
})

describe('skipSuccessfulRequests / skipFailedRequests (refunds)', () => {
  it('counts only failed logins with skipSuccessfulRequests', async () => {
    const store = new MemoryStore({ clock })
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }), store })
    const app = appWith({ limiter, skipSuccessfulRequests: true, key: () => 'alice' })
    for (let i = 0; i < 5; i++) expect((await request(app).post('/login?ok')).status).toBe(200)
    // peek answers what limit() would: an untouched key of limit 3 has 2 left after this one.
    await vi.waitFor(async () => expect((await limiter.peek('alice')).remaining).toBe(2))
    for (let i = 0; i < 3; i++) expect((await request(app).post('/login')).status).toBe(401)
    expect((await request(app).post('/login?ok')).status).toBe(429)
  })

  it('refunds failures with skipFailedRequests, judged by requestWasSuccessful', async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    const app = appWith({
      limiter,
      skipFailedRequests: true,
      key: () => 'k',
      requestWasSuccessful: (_req, res) => res.statusCode !== 418,
    })
    await request(app).get('/?status=418')
    await request(app).get('/?status=404')
    // 418 refunded (a failure by the rule), 404 kept (a success by the rule): one counted.
    await vi.waitFor(async () => expect((await limiter.peek('k')).remaining).toBe(1))
  })

  it('counts a request whose client hung up before the response as failed', async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    const app = express()
    let release!: () => void
    const hung = new Promise<void>((resolve) => {
      release = resolve
    })
    app.use(rateLimit({ limiter, skipFailedRequests: true, key: () => 'k' }))
    app.get('/slow', async (_req, res) => {
      await hung
      res.send('late')
    })
    const server = createServer(app).listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const closed = new Promise<void>((resolve) =>
        server.once('request', (_q, s) => s.once('close', resolve)),
      )
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' })
      req.on('error', () => {})
      req.end()
      // In flight: counted (peek shows what one more request would leave).
      await vi.waitFor(async () => expect((await limiter.peek('k')).remaining).toBe(1))
      req.destroy()
      await closed
      await vi.waitFor(async () => expect((await limiter.peek('k')).remaining).toBe(2))
    } finally {
      release()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('never refunds a request this limiter denied, and never more than once', async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    const app = appWith({ limiter, skipFailedRequests: true, key: () => 'k' })
    await request(app).get('/')
    const denied = await request(app).get('/')
    expect(denied.status).toBe(429)
    expect((await limiter.peek('k')).remaining).toBe(0)
  })
})

describe('blockDurationMs (lockout)', () => {
  it('blocks the key for the duration after a denial; retryAfter covers the block', async () => {
    const app = appWith({
      algorithm: slidingWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      key: () => 'mallory',
      blockDurationMs: 3_600_000,
    })
    await request(app).get('/')
    await request(app).get('/')
    const denied = await request(app).get('/')
    expect(denied.status).toBe(429)
    expect(denied.headers['retry-after']).toBe('3600')
    now += 120_000 // the window alone would admit again
    const blocked = await request(app).get('/')
    expect(blocked.status).toBe(429)
    expect(blocked.headers['retry-after']).toBe('3480')
    now += 3_480_000
    expect((await request(app).get('/')).status).toBe(200)
  })

  it.each([0, -5, 1.5, 2 ** 31, '10'])('rejects blockDurationMs %j at construction', (bad) => {
    expect(() =>
      rateLimit({
        algorithm: fixedWindow({ limit: 1, windowMs: 1000 }),
        blockDurationMs: bad as number,
      }),
    ).toThrow(/blockDurationMs/)
  })
})

describe("mode: 'shadow'", () => {
  it('counts and reports but never denies, and sets no rate-limit headers', async () => {
    const denials: Decision[] = []
    const app = appWith({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      mode: 'shadow',
      onDenied: (_req, d) => denials.push(d),
    })
    await request(app).get('/')
    const res = await request(app).get('/')
    expect(res.status).toBe(200)
    expect(res.headers.ratelimit).toBeUndefined()
    expect(res.headers['ratelimit-policy']).toBeUndefined()
    expect(res.headers['retry-after']).toBeUndefined()
    expect(res.body.rateLimit).toMatchObject({ allowed: false, remaining: 0 })
    expect(denials).toHaveLength(1)
  })

  it("reports mode 'shadow' on tollgate:decision", async () => {
    const seen: unknown[] = []
    const listener = (message: unknown) => seen.push(message)
    channel('tollgate:decision').subscribe(listener)
    try {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store: new MemoryStore({ clock }),
        mode: 'shadow',
        key: () => 'watched',
      })
      await request(app).get('/')
      expect(seen).toContainEqual(expect.objectContaining({ key: 'watched', mode: 'shadow' }))
    } finally {
      channel('tollgate:decision').unsubscribe(listener)
    }
  })
})

describe('onDenied', () => {
  it('is called once per denial, before the 429 is sent', async () => {
    const calls: number[] = []
    const app = appWith({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      onDenied: (_req, d) => calls.push(d.retryAfterMs),
    })
    await request(app).get('/')
    await request(app).get('/')
    await request(app).get('/')
    expect(calls).toEqual([20_000, 20_000])
  })

  it('a throwing onDenied is reported once per throw and the request still gets its 429', async () => {
    const warnings: string[] = []
    const previous = setWarningHandler((code) => warnings.push(code))
    try {
      const app = appWith({
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store: new MemoryStore({ clock }),
        onDenied: () => {
          throw new Error('metrics down')
        },
      })
      await request(app).get('/')
      expect((await request(app).get('/')).status).toBe(429)
      expect(warnings).toEqual(['WARN_TOLLGATE_ON_DENIED_THREW'])
    } finally {
      setWarningHandler(previous)
    }
  })
})

describe('ipv6Subnet', () => {
  const v6 = (last: string) => `2001:db8:1:2${last}`
  async function keysFor(ipv6Subnet: number | false | undefined, ips: string[]) {
    const keys: string[] = []
    const app = express()
    app.set('trust proxy', '127.0.0.1')
    const options: RateLimitOptions = {
      algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      headers: { standard: 'draft-8' },
    }
    if (ipv6Subnet !== undefined) options.ipv6Subnet = ipv6Subnet
    app.use(rateLimit(options))
    app.get('/', (req, res) => {
      keys.push(String(req.ip))
      res.json(req.rateLimit)
    })
    const policies = new Set<string>()
    for (const ip of ips) {
      const res = await request(app).get('/').set('x-forwarded-for', ip)
      policies.add(String(res.headers['ratelimit-policy']))
    }
    return policies.size
  }

  it('groups by /56 by default, by the given prefix, or not at all with false', async () => {
    const ips = [v6('34::1'), v6('35::1'), v6('ff::1')]
    expect(await keysFor(undefined, ips)).toBe(1)
    expect(await keysFor(64, ips)).toBe(3)
    expect(await keysFor(false, [v6('34::1'), v6('34::2')])).toBe(2)
    expect(await keysFor(56, [v6('34::1'), v6('34::2')])).toBe(1)
  })

  it.each([0, 129, 1.5, true, '56'])('rejects ipv6Subnet %j at construction', (bad) => {
    expect(() =>
      rateLimit({
        algorithm: fixedWindow({ limit: 1, windowMs: 1000 }),
        ipv6Subnet: bad as number,
      }),
    ).toThrow(/ipv6Subnet/)
  })
})
