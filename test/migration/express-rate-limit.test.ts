/**
 * docs/migrating-from-express-rate-limit.md, proven: express-rate-limit (with rate-limit-redis) and
 * the translated @tollgate/express config run the same request sequence against one real Redis.
 * Where the semantics match the allow/deny outcomes are equal; where they differ (window alignment,
 * the default 429 body, header policy names) the test pins both sides, as the guide says.
 */
import { createLimiter, fixedWindow } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { RedisStore } from '@tollgate/redis'
import express, { type Express } from 'express'
import { rateLimit as expressRateLimit } from 'express-rate-limit'
import { Redis } from 'ioredis'
import { RedisStore as RateLimitRedisStore, type RedisReply } from 'rate-limit-redis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const PREFIX = `migration-erl:${process.pid}:${Date.now()}:`
let client: Redis
let run = 0

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  await client.ping()
})
afterAll(async () => {
  await client.quit()
})

/** One GET / route behind `middleware`, keyed by the x-user header. */
function appWith(middleware: express.RequestHandler): Express {
  const app = express()
  app.use(middleware)
  app.get('/', (_req, res) => {
    res.send('ok')
  })
  return app
}

/**
 * The peer, as its README configures it on Redis. A window of an hour: its windows start at a
 * key's first hit and live in Redis TTLs (real time), so nothing rolls over during the test.
 */
function peer(limit: number, extra: Parameters<typeof expressRateLimit>[0] = {}): Express {
  return appWith(
    expressRateLimit({
      windowMs: 3_600_000,
      limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: (req) => req.get('x-user') ?? 'anonymous',
      store: new RateLimitRedisStore({
        sendCommand: (command: string, ...args: string[]) =>
          client.call(command, ...args) as Promise<RedisReply>,
        prefix: `${PREFIX}${++run}:erl:`,
      }),
      ...extra,
    }),
  )
}

/**
 * The translation. tollgate's fixed window is aligned to the store's clock; the injected clock
 * stands still, so the window cannot roll over mid-test either.
 */
function ours(limit: number, extra: Parameters<typeof rateLimit>[0] = {}): Express {
  const now = Date.now()
  return appWith(
    rateLimit({
      algorithm: fixedWindow({ limit, windowMs: 3_600_000 }),
      store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
      key: (req) => req.get('x-user') ?? 'anonymous',
      ...extra,
    }),
  )
}

/** Sends the sequence one request at a time (order matters) and returns the statuses. */
async function statuses(app: Express, users: string[]): Promise<number[]> {
  const out: number[] = []
  for (const user of users) out.push((await request(app).get('/').set('x-user', user)).status)
  return out
}

const SEQUENCE = ['ada', 'ada', 'bob', 'ada', 'ada', 'bob', 'bob', 'bob', 'carol', 'ada']

describe('migrating from express-rate-limit', () => {
  it('admits and denies the same requests of the same clients (limit 3 per window)', async () => {
    const theirs = await statuses(peer(3), SEQUENCE)
    const mine = await statuses(ours(3), SEQUENCE)
    expect(mine).toEqual(theirs)
    expect(mine).toEqual([200, 200, 200, 200, 429, 200, 200, 429, 200, 429])
  })

  it('skip: the same requests are never counted', async () => {
    const skip = (req: express.Request) => req.get('x-user') === 'health-check'
    const users = ['health-check', 'ada', 'health-check', 'ada', 'health-check', 'ada']
    const theirs = await statuses(peer(1, { skip }), users)
    const mine = await statuses(ours(1, { skip }), users)
    expect(mine).toEqual(theirs)
    expect(mine).toEqual([200, 200, 200, 429, 200, 429])
  })

  it('skipFailedRequests: failed responses are given back, the same requests pass', async () => {
    // Each app tells when a response has finished: the refund is issued from 'finish', and the
    // next request must not overtake it (one Redis connection keeps the commands in order).
    let finished: Promise<void> = Promise.resolve()
    const withFailures = (limiterMiddleware: express.RequestHandler): Express => {
      const app = express()
      app.use((_req, res, next) => {
        finished = new Promise((resolve) => res.once('finish', () => setImmediate(resolve)))
        next()
      })
      app.use(limiterMiddleware)
      app.get('/', (req, res) => {
        res.status(req.get('x-fail') ? 500 : 200).send('done')
      })
      return app
    }
    const now = Date.now()
    const theirs = withFailures(
      expressRateLimit({
        windowMs: 3_600_000,
        limit: 2,
        skipFailedRequests: true,
        keyGenerator: () => 'ada',
        store: new RateLimitRedisStore({
          sendCommand: (command: string, ...args: string[]) =>
            client.call(command, ...args) as Promise<RedisReply>,
          prefix: `${PREFIX}${++run}:erl:`,
        }),
      }),
    )
    const mine = withFailures(
      rateLimit({
        algorithm: fixedWindow({ limit: 2, windowMs: 3_600_000 }),
        store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
        skipFailedRequests: true,
        key: () => 'ada',
      }),
    )
    const send = async (app: Express) => {
      const out: number[] = []
      for (const fail of [true, true, false, true, false, false]) {
        const req = request(app).get('/')
        out.push((await (fail ? req.set('x-fail', '1') : req)).status)
        await finished
      }
      return out
    }
    const a = await send(theirs)
    const b = await send(mine)
    expect(b).toEqual(a)
    expect(b).toEqual([500, 500, 200, 500, 200, 429])
  })

  it('statusCode and message: the same status; the default body differs (JSON vs text)', async () => {
    const theirs = peer(1, { statusCode: 420, message: { error: 'slow down' } })
    const mine = ours(1, { statusCode: 420, message: { error: 'slow down' } })
    for (const app of [theirs, mine]) await request(app).get('/').set('x-user', 'ada').expect(200)
    const a = await request(theirs).get('/').set('x-user', 'ada')
    const b = await request(mine).get('/').set('x-user', 'ada')
    expect([a.status, b.status]).toEqual([420, 420])
    expect(a.body).toEqual({ error: 'slow down' })
    expect(b.body).toEqual({ error: 'slow down' })

    // Differs: without `message`, express-rate-limit sends a text sentence, tollgate a JSON body
    // with the wait (text only when the client prefers text/plain or text/html).
    const peerDefault = peer(1)
    const ourDefault = ours(1)
    for (const app of [peerDefault, ourDefault]) await request(app).get('/').set('x-user', 'x')
    const c = await request(peerDefault).get('/').set('x-user', 'x')
    const d = await request(ourDefault).get('/').set('x-user', 'x')
    expect(c.text).toBe('Too many requests, please try again later.')
    expect(d.body).toMatchObject({ error: 'Too Many Requests', retryAfterMs: expect.any(Number) })
  })

  it('draft-8 headers: same fields and remaining; the policy name differs', async () => {
    const a = await request(peer(3)).get('/').set('x-user', 'ada')
    const b = await request(ours(3)).get('/').set('x-user', 'ada')
    // express-rate-limit names the policy after its window ("3-in-1hr"), tollgate after the
    // limit and window seconds ("3-in-3600s"); set `name` to choose it.
    expect(a.headers.ratelimit).toMatch(/^"3-in-1hr"; r=2; t=3600$/)
    expect(b.headers.ratelimit).toMatch(/^"3-in-3600s"; r=2; t=\d+$/)
    expect(a.headers['ratelimit-policy']).toMatch(/^"3-in-1hr"; q=3; w=3600; pk=:[A-Za-z0-9+/=]+:$/)
    expect(b.headers['ratelimit-policy']).toMatch(
      /^"3-in-3600s"; q=3; w=3600; pk=:[A-Za-z0-9+/=]+:$/,
    )
  })

  it('window alignment differs: the peer starts a window at the first hit, tollgate on the clock', async () => {
    // express-rate-limit: the first hit opens a full window, so reset is the whole window.
    const a = await request(peer(3)).get('/').set('x-user', 'ada')
    expect(a.headers.ratelimit).toMatch(/t=3600$/)
    // tollgate: windows are aligned to the store clock (epoch multiples of windowMs), shared by
    // every key, so reset is what is left of the current window. Use slidingWindow or slidingLog
    // for a window that follows each client.
    const now = 3_600_000 * 100 + 1_800_000 // half way through a window
    const app = appWith(
      rateLimit({
        limiter: createLimiter({
          algorithm: fixedWindow({ limit: 3, windowMs: 3_600_000 }),
          store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
        }),
        key: () => 'ada',
      }),
    )
    const b = await request(app).get('/')
    expect(b.headers.ratelimit).toBe('"3-in-3600s"; r=2; t=1800')
  })
})
