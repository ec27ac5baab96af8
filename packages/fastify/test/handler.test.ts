/**
 * The Fastify plugin's denial handler and error paths (Stryker survivors of
 * packages/fastify/src): what a denied request is answered with whether the handler sends,
 * sends later, forgets to send or fails; errors of the request's own functions; route names in
 * messages; a HEAD route derived from a globally limited GET route.
 */
import { fixedWindow, MemoryStore } from '@tollgate/core'
import { type TollgateOptions, tollgate } from '@tollgate/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'

const clock = () => 1_000_000
const one = fixedWindow({ limit: 1, windowMs: 60_000 })

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

/** An app with the plugin, GET / (counting how often it is reached), and its warn+ log lines. */
async function appWith(options: Omit<TollgateOptions, 'store'>) {
  const logs: Array<{ level: number; msg: string; err?: { code?: string } }> = []
  const app = Fastify({
    logger: { level: 'warn', stream: { write: (line: string) => logs.push(JSON.parse(line)) } },
  })
  apps.push(app)
  let reached = 0
  await app.register(tollgate, { store: new MemoryStore({ clock }), ...options })
  app.get('/', async () => {
    reached++
    return 'route'
  })
  await app.ready()
  return { app, logs, reached: () => reached }
}

/** Resolves with the inject response, or rejects after 2 s (a request nobody answers). */
function within2s<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

describe('the denial handler', () => {
  it('a handler that forgets to send leaves the default body: error and retryAfterMs', async () => {
    const { app, reached } = await appWith({ algorithm: one, handler: () => undefined })
    await app.inject('/')
    const denied = await app.inject('/')
    expect(denied.statusCode).toBe(429)
    // 1,000,000 ms is 40 s into a minute: 20 s to the window's end.
    expect(denied.json()).toEqual({ error: 'Too Many Requests', retryAfterMs: 20_000 })
    expect(reached()).toBe(1)
  })

  it('a handler that sends at once is answered once: no second send is attempted', async () => {
    const { app, logs } = await appWith({
      algorithm: one,
      handler: (_request, reply) => {
        reply.send({ mine: true })
      },
    })
    await app.inject('/')
    const denied = await app.inject('/')
    expect(denied.json()).toEqual({ mine: true })
    // A second reply.send would log FST_ERR_REP_ALREADY_SENT; a handler result treated as a
    // promise would throw in the hook.
    expect(logs).toEqual([])
  })

  it('an async handler that sends after a wait is the answer, not the default body', async () => {
    const { app, logs } = await appWith({
      algorithm: one,
      handler: async (_request, reply) => {
        await new Promise((resolve) => setImmediate(resolve))
        reply.send({ later: true })
      },
    })
    await app.inject('/')
    const denied = await app.inject('/')
    expect(denied.statusCode).toBe(429)
    expect(denied.json()).toEqual({ later: true })
    expect(logs).toEqual([])
  })

  it('an async handler that rejects answers with its error (status still 429)', async () => {
    const { app, reached } = await appWith({
      algorithm: one,
      handler: async () => {
        throw new Error('handler broke')
      },
    })
    await app.inject('/')
    const denied = await within2s(app.inject('/'))
    // Fastify keeps a status >= 400 already set when it sends an error.
    expect(denied.statusCode).toBe(429)
    expect(denied.json()).toMatchObject({ message: 'handler broke' })
    expect(reached()).toBe(1)
  })
})

describe('errors of the request functions', () => {
  it('a skip function that rejects answers 500 through the error handler, never reaching the route', async () => {
    const { app, reached } = await appWith({
      algorithm: one,
      skip: () => Promise.reject(new Error('skip broke')),
    })
    const res = await within2s(app.inject('/'))
    expect(res.statusCode).toBe(500)
    expect(res.json()).toMatchObject({ message: 'skip broke' })
    expect(reached()).toBe(0)
  })
})

describe('route names in messages', () => {
  it('names a route with several methods by its methods joined with commas', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(tollgate, { algorithm: one, store: new MemoryStore({ clock }) })
    // onRoute runs inside app.route(): the option error is thrown there.
    expect(() =>
      app.route({
        method: ['GET', 'POST'],
        url: '/both',
        config: { rateLimit: { windowMS: 1 } as never },
        handler: async () => 'ok',
      }),
    ).toThrow(/in config\.rateLimit of GET,POST \/both;/)
  })
})

describe('HEAD routes', () => {
  it('counts a HEAD request once on a GET route that only the global limiter limits', async () => {
    const { app } = await appWith({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }) })
    const head = await app.inject({ method: 'HEAD', url: '/' })
    expect(head.statusCode).toBe(200)
    expect(head.headers.ratelimit).toMatch(/r=4;/)
    const get = await app.inject('/')
    expect(get.headers.ratelimit).toMatch(/r=3;/)
  })
})
