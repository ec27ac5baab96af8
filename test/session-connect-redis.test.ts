import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import { RedisStore } from 'connect-redis'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { clientKinds } from '../packages/session/test/support/clients.js'

// Both stores on their default prefix would collide with other files; the prefix is the only
// option changed, and the layout under it (`<prefix><sid>` = JSON) is what is compared.
const PREFIX = 'test-session-connect-redis:'
let nodeRedis: ReturnType<typeof createClient>
let ioredis: Redis
let theirs: RedisStore
let ours: RedisSessionStore

function sessionWith(maxAgeMs: number, extra: Record<string, unknown> = {}): SessionData {
  return {
    cookie: {
      originalMaxAge: maxAgeMs,
      expires: new Date(Date.now() + maxAgeMs),
      httpOnly: true,
      path: '/',
    },
    ...extra,
  } as unknown as SessionData
}

function call<T>(fn: (cb: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v as T))))
}

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    nodeRedis = createClient({ url: inject('redisUrl') })
    await nodeRedis.connect()
    ioredis = new Redis(inject('redisUrl'))
    storeClient = await kind.single(inject('redisUrl'))
    theirs = new RedisStore({ client: nodeRedis, prefix: PREFIX })
    ours = new RedisSessionStore({ client: storeClient, prefix: PREFIX })
  })

  beforeEach(async () => {
    await ours.clear()
  })

  afterAll(async () => {
    await ours.clear()
    await ioredis.quit()
    await nodeRedis.quit()
    await kind.close(storeClient)
  })

  describe('drop-in for connect-redis 9', () => {
    it('reads, touches and destroys sessions that connect-redis wrote', async () => {
      const data = sessionWith(600_000, { user: { id: 'ada' }, views: 7 })
      await call<void>((cb) => theirs.set('from-them', data, cb))
      expect(await ours.get('from-them')).toEqual(JSON.parse(JSON.stringify(data)))

      await ioredis.pexpire(`${PREFIX}from-them`, 1000)
      await ours.touch('from-them', sessionWith(900_000))
      expect(Math.abs((await ioredis.pttl(`${PREFIX}from-them`)) - 900_000)).toBeLessThan(18_000)
      // touch renews the TTL only: the value connect-redis wrote is unchanged.
      expect(await ours.get('from-them')).toMatchObject({ views: 7 })

      expect(await ours.ids()).toEqual(['from-them'])
      await ours.destroy('from-them')
      expect(await call((cb) => theirs.get('from-them', cb))).toBeNull()
    })

    it('writes sessions that connect-redis reads, touches, lists and destroys', async () => {
      const data = sessionWith(600_000, { user: { id: 'bob' } })
      await ours.set('from-us', data)
      expect(await call((cb) => theirs.get('from-us', cb))).toEqual(
        JSON.parse(JSON.stringify(data)),
      )

      await ioredis.pexpire(`${PREFIX}from-us`, 1000)
      await call<void>((cb) => theirs.touch('from-us', sessionWith(900_000), cb))
      expect(await ioredis.pttl(`${PREFIX}from-us`)).toBeGreaterThan(880_000)

      expect(await call((cb) => theirs.all(cb))).toEqual([
        expect.objectContaining({ id: 'from-us', user: { id: 'bob' } }),
      ])
      expect(await call((cb) => theirs.length(cb))).toBe(1)

      await call<void>((cb) => theirs.destroy('from-us', cb))
      expect(await ours.get('from-us')).toBeNull()
    })

    it('returns all() in the same shape: an array of sessions, each with its id', async () => {
      await ours.set('one', sessionWith(600_000, { n: 1 }))
      await call<void>((cb) => theirs.set('two', sessionWith(600_000, { n: 2 }), cb))
      const byId = (list: unknown) =>
        [...(list as { id: string }[])].sort((a, b) => a.id.localeCompare(b.id))
      expect(byId(await ours.all())).toEqual(byId(await call((cb) => theirs.all(cb))))
      expect((await ours.ids()).sort()).toEqual(
        ((await call((cb) => theirs.ids(cb))) as string[]).sort(),
      )
    })

    it('gives the same TTL as connect-redis for the cookie expiry and for the ttl option', async () => {
      await call<void>((cb) => theirs.set('theirs-ttl', sessionWith(600_000), cb))
      await ours.set('ours-ttl', sessionWith(600_000))
      const [a, b] = await Promise.all([
        ioredis.pttl(`${PREFIX}theirs-ttl`),
        ioredis.pttl(`${PREFIX}ours-ttl`),
      ])
      // connect-redis rounds up to whole seconds (EX); this store keeps milliseconds (PX).
      expect(Math.abs(a - b)).toBeLessThan(2000)

      const noExpiry = { cookie: { originalMaxAge: null, path: '/' } } as unknown as SessionData
      await call<void>((cb) => theirs.set('theirs-default', noExpiry, cb))
      await ours.set('ours-default', noExpiry)
      const [c, d] = await Promise.all([
        ioredis.pttl(`${PREFIX}theirs-default`),
        ioredis.pttl(`${PREFIX}ours-default`),
      ])
      expect(Math.abs(c - d)).toBeLessThan(2000)
      expect(Math.abs(d - 86_400_000)).toBeLessThan(2000)
    })
  })
})
