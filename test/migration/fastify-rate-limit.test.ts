/**
 * docs/migrating-from-fastify-rate-limit.md, proven: @fastify/rate-limit (on Redis) and the
 * translated @tollgate/fastify config run the same request sequence against one real Redis. Equal
 * allow/deny outcomes where the semantics match; the differences the guide names are pinned. The
 * two plugins cannot share one context (both read and type `config.rateLimit`), so the last test
 * moves routes over one at a time, each plugin in its own encapsulated context.
 */
import fastifyRateLimit from '@fastify/rate-limit'
import { fixedWindow } from '@tollgate/core'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const PREFIX = `migration-frl:${process.pid}:${Date.now()}:`
let client: Redis
let run = 0
const apps: FastifyInstance[] = []

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  await client.ping()
})
afterAll(async () => {
  for (const app of apps) await app.close()
  await client.quit()
})

const byUser = (req: { headers: Record<string, unknown> }) =>
  String(req.headers['x-user'] ?? 'anonymous')

/** The peer on Redis: a window starts at a key's first hit and lives in a Redis TTL. */
async function peer(max: number, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  apps.push(app)
  await app.register(fastifyRateLimit, {
    max,
    timeWindow: 3_600_000,
    redis: client,
    nameSpace: `${PREFIX}${++run}:frl:`,
    keyGenerator: byUser,
    ...extra,
  })
  app.get('/', async () => 'ok')
  app.get('/health', { config: { rateLimit: false } }, async () => 'ok')
  await app.ready()
  return app
}

/** The translation: a fixed window on a standing clock, so it cannot roll over mid-test. */
async function ours(limit: number, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const now = Date.now()
  const app = Fastify()
  apps.push(app)
  await app.register(tollgate, {
    algorithm: fixedWindow({ limit, windowMs: 3_600_000 }),
    store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
    key: byUser,
    headers: { standard: false, legacy: true },
    ...extra,
  })
  app.get('/', async () => 'ok')
  app.get('/health', { config: { rateLimit: false } }, async () => 'ok')
  await app.ready()
  return app
}

async function statuses(app: FastifyInstance, calls: Array<[string, string]>): Promise<number[]> {
  const out: number[] = []
  for (const [url, user] of calls) {
    out.push((await app.inject({ url, headers: { 'x-user': user } })).statusCode)
  }
  return out
}

const SEQUENCE: Array<[string, string]> = [
  ['/', 'ada'],
  ['/', 'ada'],
  ['/health', 'ada'],
  ['/', 'bob'],
  ['/', 'ada'],
  ['/', 'ada'],
  ['/health', 'ada'],
  ['/', 'bob'],
  ['/', 'bob'],
  ['/', 'bob'],
]

describe('migrating from @fastify/rate-limit', () => {
  it('admits and denies the same requests (max 3 per window, config.rateLimit: false opts out)', async () => {
    const theirs = await statuses(await peer(3), SEQUENCE)
    const mine = await statuses(await ours(3), SEQUENCE)
    expect(mine).toEqual(theirs)
    expect(mine).toEqual([200, 200, 200, 200, 200, 429, 200, 200, 200, 429])
  })

  it('legacy headers: the same X-RateLimit-Limit and -Remaining; reset differs (seconds vs epoch)', async () => {
    const a = await (await peer(3)).inject({ url: '/', headers: { 'x-user': 'ada' } })
    const b = await (await ours(3)).inject({ url: '/', headers: { 'x-user': 'ada' } })
    expect([a.headers['x-ratelimit-limit'], a.headers['x-ratelimit-remaining']]).toEqual(['3', '2'])
    expect([b.headers['x-ratelimit-limit'], b.headers['x-ratelimit-remaining']]).toEqual(['3', '2'])
    // @fastify/rate-limit: seconds until the window ends; tollgate: the Unix time it ends.
    expect(Number(a.headers['x-ratelimit-reset'])).toBe(3600)
    expect(Number(b.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000)
  })

  it('the 429 body differs: an Error-shaped body vs tollgate JSON; both send Retry-After', async () => {
    const peerApp = await peer(1)
    const ourApp = await ours(1)
    for (const app of [peerApp, ourApp]) await app.inject({ url: '/', headers: { 'x-user': 'x' } })
    const a = await peerApp.inject({ url: '/', headers: { 'x-user': 'x' } })
    const b = await ourApp.inject({ url: '/', headers: { 'x-user': 'x' } })
    expect([a.statusCode, b.statusCode]).toEqual([429, 429])
    expect(a.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests' })
    expect(b.json()).toMatchObject({ error: 'Too Many Requests', retryAfterMs: expect.any(Number) })
    expect(a.headers['retry-after']).toMatch(/^\d+$/)
    expect(b.headers['retry-after']).toMatch(/^[1-9]\d*$/)
  })

  it('moves route by route: each plugin in its own encapsulated context of one app', async () => {
    const app = Fastify()
    apps.push(app)
    const now = Date.now()
    // Routes not migrated yet keep @fastify/rate-limit ...
    await app.register(async (legacy) => {
      await legacy.register(fastifyRateLimit, {
        max: 1,
        timeWindow: 3_600_000,
        redis: client,
        nameSpace: `${PREFIX}${++run}:frl:`,
        keyGenerator: byUser,
      })
      legacy.get('/old', async () => 'old')
    })
    // ... migrated routes get tollgate; neither plugin sees the other's routes.
    await app.register(async (migrated) => {
      await migrated.register(tollgate, {
        algorithm: fixedWindow({ limit: 2, windowMs: 3_600_000 }),
        store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
        key: byUser,
      })
      migrated.get('/new', async () => 'new')
    })
    await app.ready()
    const calls: Array<[string, string]> = [
      ['/old', 'ada'],
      ['/old', 'ada'],
      ['/new', 'ada'],
      ['/new', 'ada'],
      ['/new', 'ada'],
    ]
    expect(await statuses(app, calls)).toEqual([200, 429, 200, 200, 429])
    const old = await app.inject({ url: '/old', headers: { 'x-user': 'bob' } })
    const migratedRoute = await app.inject({ url: '/new', headers: { 'x-user': 'bob' } })
    expect(old.headers['x-ratelimit-limit']).toBe('1')
    expect(old.headers.ratelimit).toBeUndefined()
    expect(migratedRoute.headers.ratelimit).toMatch(/^"2-in-3600s"; r=1; t=\d+$/)
    expect(migratedRoute.headers['x-ratelimit-limit']).toBeUndefined()
  })
})
