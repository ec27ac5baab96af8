import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  concurrency,
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  slidingWindow,
} from '@tollgate/core'
import { type TollgateOptions, tollgate } from '@tollgate/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'

let now = 1_000_000
const clock = () => now
const apps: FastifyInstance[] = []
afterEach(async () => {
  now = 1_000_000
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

async function appWith(options: TollgateOptions, routes?: (app: FastifyInstance) => void) {
  const app = Fastify()
  apps.push(app)
  await app.register(tollgate, options)
  app.get('/', async (request, reply) => {
    const status = Number((request.query as { status?: string }).status ?? 200)
    return reply.code(status).send({ rateLimit: request.rateLimit })
  })
  routes?.(app)
  await app.ready()
  return app
}

describe('limit (per-request limits)', () => {
  it('applies the limit the function answers, and shows it in the headers', async () => {
    const app = await appWith({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      limit: async (request) => (request.headers['x-plan'] === 'pro' ? 10 : 2),
    })
    const pro = await app.inject({ url: '/', headers: { 'x-plan': 'pro' } })
    expect(pro.headers.ratelimit).toBe('"10-in-60s"; r=9; t=20')
  })

  it('answers 500 naming limit for a bad value, counting nothing', async () => {
    const store = new MemoryStore({ clock })
    const app = await appWith({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store,
      limit: () => -1,
    })
    const res = await app.inject('/')
    expect(res.statusCode).toBe(500)
    expect(res.json().message).toMatch(/limit/)
    expect(store.size).toBe(0)
  })
})

describe('refunds', () => {
  it('skipSuccessfulRequests counts only failures, through inject', async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    const app = await appWith({ limiter, skipSuccessfulRequests: true, key: () => 'u' })
    for (let i = 0; i < 4; i++) expect((await app.inject('/')).statusCode).toBe(200)
    await app.inject('/?status=401')
    await app.inject('/?status=401')
    expect((await app.inject('/')).statusCode).toBe(429)
  })

  it('a client that hangs up counts as failed, on a real socket', async () => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    let release!: () => void
    const hung = new Promise<void>((resolve) => {
      release = resolve
    })
    let closed!: () => void
    const aborted = new Promise<void>((resolve) => {
      closed = resolve
    })
    const app = await appWith({ limiter, skipFailedRequests: true, key: () => 'k' }, (a) => {
      a.get('/slow', async (request) => {
        request.raw.socket.once('close', () => setImmediate(closed))
        await hung
        return 'late'
      })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const { port } = app.server.address() as AddressInfo
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' })
      req.on('error', () => {})
      req.end()
      await vi.waitFor(async () => expect((await limiter.peek('k')).remaining).toBe(1))
      req.destroy()
      await aborted
      await vi.waitFor(async () => expect((await limiter.peek('k')).remaining).toBe(2))
    } finally {
      release()
    }
  })
})

describe('hook', () => {
  it("limits by a user an earlier hook authenticated, with hook: 'preHandler'", async () => {
    const app = Fastify()
    apps.push(app)
    app.decorateRequest('user', '')
    app.addHook('preValidation', async (request) => {
      ;(request as unknown as { user: string }).user = String(request.headers['x-user'])
    })
    await app.register(tollgate, {
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      hook: 'preHandler',
      key: (request) => (request as unknown as { user: string }).user,
    })
    app.get('/', async () => 'ok')
    await app.ready()
    expect((await app.inject({ url: '/', headers: { 'x-user': 'a' } })).statusCode).toBe(200)
    expect((await app.inject({ url: '/', headers: { 'x-user': 'b' } })).statusCode).toBe(200)
    expect((await app.inject({ url: '/', headers: { 'x-user': 'a' } })).statusCode).toBe(429)
  })

  it('runs in preParsing and passes the payload on', async () => {
    const app = await appWith(
      {
        algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
        store: new MemoryStore({ clock }),
        hook: 'preParsing',
      },
      (a) => a.post('/echo', async (request) => request.body),
    )
    const ok = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })
    expect(ok.json()).toEqual({ a: 1 })
    expect((await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } })).statusCode).toBe(
      429,
    )
  })

  it('rejects an unknown hook at registration', async () => {
    const app = Fastify()
    await expect(
      app
        .register(tollgate, {
          algorithm: fixedWindow({ limit: 1, windowMs: 1000 }),
          hook: 'onSend' as never,
        })
        .ready(),
    ).rejects.toThrow(/hook/)
    await app.close()
  })
})

describe('app.rateLimit() for routes the plugin does not see', () => {
  it('limits URL guessing on the not-found handler', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(tollgate, {
      algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    app.setNotFoundHandler(
      { preHandler: app.rateLimit({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) }) },
      async (_request, reply) => reply.code(404).send('nope'),
    )
    await app.ready()
    expect((await app.inject('/a')).statusCode).toBe(404)
    expect((await app.inject('/b')).statusCode).toBe(404)
    const third = await app.inject('/c')
    expect(third.statusCode).toBe(429)
    expect(third.headers['retry-after']).toBe('20')
  })
})

describe('blockDurationMs, shadow mode, onDenied', () => {
  it('a denial blocks the key for blockDurationMs', async () => {
    const app = await appWith({
      algorithm: slidingWindow({ limit: 1, windowMs: 1_000 }),
      store: new MemoryStore({ clock }),
      blockDurationMs: 60_000,
    })
    await app.inject('/')
    expect((await app.inject('/')).headers['retry-after']).toBe('60')
    now += 5_000
    expect((await app.inject('/')).statusCode).toBe(429)
  })

  it('shadow mode never denies and sets no rate-limit headers; onDenied sees each would-be denial', async () => {
    const seen: Decision[] = []
    const app = await appWith({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      mode: 'shadow',
      onDenied: (_request, d) => seen.push(d),
    })
    await app.inject('/')
    const res = await app.inject('/')
    expect(res.statusCode).toBe(200)
    expect(res.headers.ratelimit).toBeUndefined()
    expect(res.json().rateLimit.allowed).toBe(false)
    expect(seen).toHaveLength(1)
  })
})

describe('concurrency', () => {
  it('releases the lease when the handler throws, so no slot leaks', async () => {
    const limiter = createLimiter({
      algorithm: concurrency({ limit: 1 }),
      store: new MemoryStore({ clock }),
    })
    const app = await appWith({ limiter, key: () => 'u' }, (a) => {
      a.get('/boom', async () => {
        throw new Error('boom')
      })
    })
    expect((await app.inject('/boom')).statusCode).toBe(500)
    expect((await app.inject('/boom')).statusCode).toBe(500)
    // Both leases came back: one more request would be admitted.
    await vi.waitFor(async () => expect(await limiter.peek('u')).toMatchObject({ allowed: true }))
  })
})
