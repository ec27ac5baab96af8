/**
 * docs/migrating-from-connect-redis.md, proven: an Express app on connect-redis (node-redis) and
 * one on @tollgate/session share one Redis, one prefix and one secret, as old and new app servers
 * do during a rolling deploy. The same requests (log in, read the user, log out) give the same
 * outcomes whichever app answers. The tollgate app runs once on the very node-redis client
 * connect-redis uses (what the guide tells its users to keep) and once on ioredis.
 */
import { RedisSessionStore } from '@tollgate/session'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import express, { type Express } from 'express'
import session, { type Store } from 'express-session'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

declare module 'express-session' {
  interface SessionData {
    migrationUser?: string
  }
}

const PREFIX = `migration-connect-redis:${process.pid}:`
let nodeRedis: ReturnType<typeof createClient>
let ioredis: Redis
let theirs: Express
/** The tollgate app on each client library. */
const ours: Record<'node-redis' | 'ioredis', Express> = Object.create(null)

function appWith(store: Store): Express {
  const app = express()
  app.use(
    session({ store, secret: 'one secret for both', resave: false, saveUninitialized: false }),
  )
  app.post('/login/:user', (req, res) => {
    req.session.migrationUser = req.params.user
    res.json({ ok: true })
  })
  app.get('/me', (req, res) => {
    if (req.session.migrationUser === undefined) res.status(401).json({ user: null })
    else res.json({ user: req.session.migrationUser })
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => (error ? next(error) : res.json({ ok: true })))
  })
  return app
}

beforeAll(async () => {
  nodeRedis = createClient({ url: inject('redisUrl') })
  await nodeRedis.connect()
  ioredis = new Redis(inject('redisUrl'))
  theirs = appWith(new ConnectRedisStore({ client: nodeRedis, prefix: PREFIX }))
  ours['node-redis'] = appWith(new RedisSessionStore({ client: nodeRedis, prefix: PREFIX }))
  ours.ioredis = appWith(new RedisSessionStore({ client: ioredis, prefix: PREFIX }))
})

afterAll(async () => {
  let cursor = '0'
  do {
    const [next, keys] = await ioredis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await ioredis.del(...keys)
  } while (cursor !== '0')
  await ioredis.quit()
  await nodeRedis.quit()
})

function cookieOf(res: request.Response): string {
  const set = res.headers['set-cookie'] as unknown as string[]
  return set.map((c) => c.split(';')[0]).join('; ')
}

describe.each(['node-redis', 'ioredis'] as const)(
  'migrating from connect-redis, tollgate on %s',
  (kind) => {
    it.each([
      ['connect-redis', 'tollgate'],
      ['tollgate', 'connect-redis'],
    ])(
      'a login through %s is the same user through %s, and a logout there ends it',
      async (a, b) => {
        const first = a === 'tollgate' ? ours[kind] : theirs
        const second = b === 'tollgate' ? ours[kind] : theirs
        const login = await request(first).post(`/login/ada-${a}-${kind}`).expect(200)
        const cookie = cookieOf(login)
        const outcomes = [
          (await request(first).get('/me').set('cookie', cookie)).status,
          (await request(second).get('/me').set('cookie', cookie)).body.user,
          (await request(second).post('/logout').set('cookie', cookie)).status,
          (await request(first).get('/me').set('cookie', cookie)).status,
          (await request(second).get('/me').set('cookie', cookie)).status,
        ]
        expect(outcomes).toEqual([200, `ada-${a}-${kind}`, 200, 401, 401])
      },
    )

    it('writes the same key and value, with TTLs within a second of each other', async () => {
      const a = cookieOf(await request(theirs).post('/login/ttl').expect(200))
      const b = cookieOf(await request(ours[kind]).post('/login/ttl').expect(200))
      const sid = (cookie: string) =>
        decodeURIComponent(cookie).split('=')[1]!.slice(2).split('.')[0]!
      const [valueA, valueB] = await Promise.all([
        ioredis.get(`${PREFIX}${sid(a)}`),
        ioredis.get(`${PREFIX}${sid(b)}`),
      ])
      expect(JSON.parse(valueB!)).toEqual(JSON.parse(valueA!))
      const [ttlA, ttlB] = await Promise.all([
        ioredis.pttl(`${PREFIX}${sid(a)}`),
        ioredis.pttl(`${PREFIX}${sid(b)}`),
      ])
      // No cookie maxAge: both fall back to their ttl of one day (connect-redis in whole seconds).
      expect(Math.abs(ttlA - ttlB)).toBeLessThan(1_500)
      expect(ttlB).toBeGreaterThan(86_000_000)
    })
  },
)
