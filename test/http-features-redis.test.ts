/**
 * The adapters' options that depend on the store, on a real Redis shared by several app
 * instances (as several processes behind a load balancer would share it): a lockout set by one
 * instance holds in the other, refunds and concurrency leases go back to Redis, and a compound
 * limit is decided all or nothing.
 */
import { randomUUID } from 'node:crypto'
import { concurrency, createLimiter, fixedWindow, slidingWindow } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'

// Unique per evaluation of this file: a test runner that reloads it in the same process (Stryker,
// for each static mutant) restarts `run` at 0, and a lockout of an earlier load would still hold.
const PREFIX = `http-features:${randomUUID()}:`
let client: Redis
let run = 0
let now = 0
/** Each test its own key space; one injected clock that stays inside real time. */
function sharedStore(batch = true) {
  return { prefix: `${PREFIX}${++run}:`, batch }
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
  now = Date.now()
})
afterAll(async () => {
  await client.quit()
})

describe('blockDurationMs on Redis', () => {
  it('a lockout set through one app instance holds in another sharing the Redis', async () => {
    const space = sharedStore()
    const instance = () => {
      const app = express()
      app.use(
        rateLimit({
          algorithm: slidingWindow({ limit: 2, windowMs: 60_000 }),
          store: new RedisStore({ client, prefix: space.prefix, clock: () => now }),
          key: () => 'mallory',
          blockDurationMs: 600_000,
        }),
      )
      app.get('/', (_req, res) => {
        res.send('ok')
      })
      return app
    }
    const a = instance()
    const b = instance()
    expect((await request(a).get('/')).status).toBe(200)
    expect((await request(b).get('/')).status).toBe(200)
    const denied = await request(a).get('/')
    expect(denied.status).toBe(429)
    expect(denied.headers['retry-after']).toBe('600')
    // The other instance, long after the window alone would admit again, still refuses.
    now += 120_000
    const blocked = await request(b).get('/')
    expect(blocked.status).toBe(429)
    expect(blocked.headers['retry-after']).toBe('480')
  })
})

describe('refunds and leases go back to Redis', () => {
  it('skipSuccessfulRequests refunds through the RedisStore', async () => {
    const store = new RedisStore({ client, ...sharedStore(), clock: () => now })
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }), store })
    const app = express()
    app.use(rateLimit({ limiter, key: () => 'u', skipSuccessfulRequests: true }))
    app.get('/', (req, res) => {
      res.status(req.query.fail === undefined ? 200 : 401).send('')
    })
    for (let i = 0; i < 4; i++) expect((await request(app).get('/')).status).toBe(200)
    await request(app).get('/?fail')
    await request(app).get('/?fail')
    await vi.waitFor(async () => expect((await request(app).get('/')).status).toBe(429))
  })

  it('a concurrency lease comes back when a Fastify handler throws', async () => {
    const store = new RedisStore({ client, ...sharedStore(), clock: () => now })
    const limiter = createLimiter({ algorithm: concurrency({ limit: 1 }), store })
    const app = Fastify()
    await app.register(tollgate, { limiter, key: () => 'u' })
    app.get('/boom', async () => {
      throw new Error('boom')
    })
    await app.ready()
    try {
      for (let i = 0; i < 3; i++) {
        // A leaked slot would answer 429 from the second request on.
        await vi.waitFor(async () => expect((await app.inject('/boom')).statusCode).toBe(500))
      }
    } finally {
      await app.close()
    }
  })
})

describe('compound limits through Fastify on Redis', () => {
  it('a client held at 2 per second keeps its daily quota', async () => {
    const store = new RedisStore({ client, ...sharedStore(false), clock: () => now })
    const app = Fastify()
    await app.register(tollgate, {
      algorithm: [
        fixedWindow({ limit: 2, windowMs: 1_000 }),
        fixedWindow({ limit: 10, windowMs: 86_400_000 }),
      ],
      store,
      key: () => 'client',
      // On a loaded machine a first Redis call (script load) can pass the default 100 ms and fail
      // open, admitting a request the store then also counts: this test is about the compound.
      failure: { timeoutMs: 10_000 },
    })
    app.get('/', async () => 'ok')
    await app.ready()
    try {
      now = Math.floor(now / 86_400_000) * 86_400_000 + 3_600_100 // early in a second and in a day
      const statuses: number[] = []
      for (let i = 0; i < 6; i++) statuses.push((await app.inject('/')).statusCode)
      expect(statuses).toEqual([200, 200, 429, 429, 429, 429])
      now += 1_000
      const next = await app.inject('/')
      expect(next.statusCode).toBe(200)
      // 3 admitted in all: the 4 refused requests cost the daily member nothing.
      expect(next.headers.ratelimit).toMatch(/^"2-in-1s"; r=1; t=\d+, "10-in-86400s"; r=7; t=\d+$/)
    } finally {
      await app.close()
    }
  })
})
