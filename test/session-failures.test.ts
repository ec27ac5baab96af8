import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookieHeader, expressApp, fastifyApp } from '../packages/session/test/support/apps.js'
import { clientKinds } from '../packages/session/test/support/clients.js'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

// Freezing a server (SIGSTOP) would hang every other test file, so this file has its own.
const TIMEOUT_MS = 300
const PREFIX = 'test-session-failures:'
let server: RedisServer
let client: Redis
let store: RedisSessionStore

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
})

afterAll(async () => {
  server?.thaw()
  client?.disconnect()
  await server?.stop()
})

/** Runs `work` while the server is frozen, thawing it (and waiting for PING) afterwards. */
async function whileFrozen<T>(work: () => Promise<T>): Promise<T> {
  server.freeze()
  try {
    return await work()
  } finally {
    server.thaw()
    await client.ping()
  }
}

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    storeClient = await kind.single(server.url)
    store = new RedisSessionStore({ client: storeClient, prefix: PREFIX, timeoutMs: TIMEOUT_MS })
    // The broken value of the other client's run must not be found by this one.
    await store.clear()
  })

  afterAll(async () => {
    server.thaw()
    await kind.close(storeClient)
  })

  describe('RedisSessionStore on a hung Redis', () => {
    it('gives the callback a timeout error within timeoutMs', async () => {
      const { error, elapsed } = await whileFrozen(
        () =>
          new Promise<{ error: unknown; elapsed: number }>((resolve) => {
            const started = performance.now()
            store.get('any', (e) => resolve({ error: e, elapsed: performance.now() - started }))
          }),
      )
      expect(error).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_TIMEOUT' })
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 5)
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000)
    })

    it('times out each command of set, touch, destroy, all and clear', async () => {
      const data = { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } }
      const results = await whileFrozen(() =>
        Promise.all([
          store.set('x', data as never).catch((e: unknown) => e),
          store.touch('x', data as never).catch((e: unknown) => e),
          store.destroy('x').catch((e: unknown) => e),
          store.all().catch((e: unknown) => e),
          store.clear().catch((e: unknown) => e),
        ]),
      )
      for (const result of results) {
        expect(result).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_TIMEOUT' })
      }
    })

    it('makes express answer 500 instead of hanging, then serve again once Redis is back', async () => {
      const app = expressApp(store)
      const login = await request(app).post('/login').send({ id: 'u1', name: 'Ada' }).expect(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      const started = performance.now()
      const frozen = await whileFrozen(() => request(app).get('/me').set('Cookie', cookie))
      expect(frozen.status).toBe(500)
      expect(frozen.body).toEqual({ error: 'ERR_TOLLGATE_SESSION_TIMEOUT' })
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 2000)
      await request(app).get('/me').set('Cookie', cookie).expect(200, { id: 'u1', name: 'Ada' })
    })

    it('makes fastify answer 500 instead of hanging', async () => {
      const app = await fastifyApp(store)
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { id: 'u2', name: 'Bob' },
      })
      expect(login.statusCode).toBe(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      const started = performance.now()
      const frozen = await whileFrozen(() =>
        app.inject({ method: 'GET', url: '/me', headers: { cookie } }),
      )
      const elapsed = performance.now() - started
      expect(frozen.statusCode).toBe(500)
      // Answered by the store's timeout, not by a hang that ended with the thaw.
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 5)
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 2000)
      const after = await app.inject({ method: 'GET', url: '/me', headers: { cookie } })
      expect(after.json()).toEqual({ id: 'u2', name: 'Bob' })
      await app.close()
    })
  })

  describe('RedisSessionStore on a broken value', () => {
    it('makes express answer 500 for that session only and keep serving the others', async () => {
      const app = expressApp(store)
      const good = await request(app).post('/login').send({ id: 'g', name: 'Good' }).expect(200)
      const bad = await request(app).post('/login').send({ id: 'b', name: 'Bad' }).expect(200)
      const ids = await store.ids()
      const badSid = (
        await Promise.all(ids.map(async (id) => [id, await store.get(id)] as const))
      ).find(([, s]) => (s as { user?: { id: string } } | null)?.user?.id === 'b')?.[0]
      await client.set(`${PREFIX}${badSid}`, '{"cookie":', 'KEEPTTL')
      await request(app)
        .get('/me')
        .set('Cookie', cookieHeader(bad.headers['set-cookie']))
        .expect(500, { error: 'ERR_TOLLGATE_SESSION_PARSE' })
      await request(app)
        .get('/me')
        .set('Cookie', cookieHeader(good.headers['set-cookie']))
        .expect(200, { id: 'g', name: 'Good' })
    })
  })
})
