import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cookieHeader, expressApp, fastifyApp } from '../packages/session/test/support/apps.js'
import { clientKinds } from '../packages/session/test/support/clients.js'

const PREFIX = 'test-session-frameworks:'
const MAX_AGE_MS = 30 * 60 * 1000
// Two app instances, each with its own connection, sharing one Redis (as two servers would).
let clientA: Redis
let clientB: Redis
let storeA: RedisSessionStore
let storeB: RedisSessionStore

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    clientA = new Redis(inject('redisUrl'))
    storeClient = await kind.single(inject('redisUrl'))
    clientB = new Redis(inject('redisUrl'))
    // Two app servers: A on the client kind under test, B on ioredis, sharing one Redis.
    storeA = new RedisSessionStore({ client: storeClient, prefix: PREFIX })
    storeB = new RedisSessionStore({ client: clientB, prefix: PREFIX })
  })

  afterAll(async () => {
    await storeA.clear()
    await clientA.quit()
    await clientB.quit()
    await kind.close(storeClient)
  })

  describe('express-session with RedisSessionStore', () => {
    it('logs in, reads the user, logs out', async () => {
      const app = expressApp(storeA, MAX_AGE_MS)
      await request(app).get('/me').expect(401)
      const login = await request(app).post('/login').send({ id: 'e1', name: 'Ada' }).expect(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      expect(cookie).toMatch(/^connect\.sid=/)
      await request(app).get('/me').set('Cookie', cookie).expect(200, { id: 'e1', name: 'Ada' })
      await request(app).post('/logout').set('Cookie', cookie).expect(200)
      await request(app).get('/me').set('Cookie', cookie).expect(401)
    })

    it('stores the session with the TTL of the cookie maxAge (within 2%)', async () => {
      const app = expressApp(storeA, MAX_AGE_MS)
      const login = await request(app).post('/login').send({ id: 'e2', name: 'Bea' }).expect(200)
      const sid = decodeURIComponent(cookieHeader(login.headers['set-cookie']))
        .replace(/^connect\.sid=s:/, '')
        .split('.')[0]
      const pttl = await clientA.pttl(`${PREFIX}${sid}`)
      expect(Math.abs(pttl - MAX_AGE_MS) / MAX_AGE_MS).toBeLessThan(0.02)
    })

    it('shares sessions between two app instances on the same Redis', async () => {
      const first = expressApp(storeA, MAX_AGE_MS)
      const second = expressApp(storeB, MAX_AGE_MS)
      const login = await request(first).post('/login').send({ id: 'e3', name: 'Cy' }).expect(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      await request(second).get('/me').set('Cookie', cookie).expect(200, { id: 'e3', name: 'Cy' })
      await request(second).post('/logout').set('Cookie', cookie).expect(200)
      await request(first).get('/me').set('Cookie', cookie).expect(401)
    })
  })

  describe('@fastify/session with RedisSessionStore', () => {
    it('logs in, reads the user, logs out', async () => {
      const app = await fastifyApp(storeA, MAX_AGE_MS)
      expect((await app.inject({ method: 'GET', url: '/me' })).statusCode).toBe(401)
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { id: 'f1', name: 'Dee' },
      })
      expect(login.statusCode).toBe(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      expect(cookie).toMatch(/^sessionId=/)
      const me = await app.inject({ method: 'GET', url: '/me', headers: { cookie } })
      expect(me.json()).toEqual({ id: 'f1', name: 'Dee' })
      const sid = decodeURIComponent(cookie.replace(/^sessionId=/, '')).split('.')[0]
      const pttl = await clientA.pttl(`${PREFIX}${sid}`)
      expect(Math.abs(pttl - MAX_AGE_MS) / MAX_AGE_MS).toBeLessThan(0.02)
      expect(
        (await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode,
      ).toBe(200)
      expect(await clientA.exists(`${PREFIX}${sid}`)).toBe(0)
      expect(
        (await app.inject({ method: 'GET', url: '/me', headers: { cookie } })).statusCode,
      ).toBe(401)
      await app.close()
    })

    it('shares sessions between two app instances on the same Redis', async () => {
      const first = await fastifyApp(storeA, MAX_AGE_MS)
      const second = await fastifyApp(storeB, MAX_AGE_MS)
      const login = await first.inject({
        method: 'POST',
        url: '/login',
        payload: { id: 'f2', name: 'Eve' },
      })
      const cookie = cookieHeader(login.headers['set-cookie'])
      const me = await second.inject({ method: 'GET', url: '/me', headers: { cookie } })
      expect(me.statusCode).toBe(200)
      expect(me.json()).toEqual({ id: 'f2', name: 'Eve' })
      await first.close()
      await second.close()
    })
  })
})
