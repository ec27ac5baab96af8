import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import { RedisStore as ConnectRedisStore } from 'connect-redis'
import type { SessionData } from 'express-session'
import { Cluster, Redis } from 'ioredis'
import { createCluster } from 'redis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { cookieHeader, expressApp } from '../packages/session/test/support/apps.js'
import { clientKinds } from '../packages/session/test/support/clients.js'

const PREFIX = 'test-session-cluster:'
let cluster: Cluster
let store: RedisSessionStore

function sessionOf(user: string, extra: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    user: { id: user },
    ...extra,
  } as unknown as SessionData
}

/** Keys each master holds under the prefix, read with SCAN straight from that master. */
async function keysPerMaster(): Promise<number[]> {
  const counts: number[] = []
  for (const port of inject('clusterPorts')) {
    const node = new Redis(port, '127.0.0.1')
    let cursor = '0'
    let count = 0
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500)
      cursor = next
      count += keys.length
    } while (cursor !== '0')
    counts.push(count)
    node.disconnect()
  }
  return counts
}

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    cluster = new Cluster(inject('clusterPorts').map((port) => ({ host: '127.0.0.1', port })))
    storeClient = await kind.cluster(inject('clusterPorts'))
    store = new RedisSessionStore({
      client: storeClient,
      prefix: PREFIX,
      scanCount: 50,
      userKey: (s) => (s as { user?: { id: string } }).user?.id,
    })
    await store.clear()
  })

  afterAll(async () => {
    await store.clear()
    await cluster.quit()
    await kind.close(storeClient)
  })

  describe('RedisSessionStore on a 3-master Redis Cluster', () => {
    it('lists and clears 1,000 sessions spread over every master', async () => {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) => store.set(`c-${i}`, sessionOf(`u${i % 10}`, { i }))),
      )
      const perMaster = await keysPerMaster()
      expect(perMaster.every((n) => n > 100)).toBe(true)

      const all = await store.all()
      expect(all).toHaveLength(1000)
      expect(new Set(all.map((s) => (s as SessionData & { id: string }).id)).size).toBe(1000)
      expect(await store.length()).toBe(1000)
      expect((await store.ids()).length).toBe(1000)

      await store.clear()
      expect(await store.length()).toBe(0)
      // The user indexes (SETs) are gone too.
      expect((await keysPerMaster()).reduce((a, b) => a + b, 0)).toBe(0)
    })

    it('reads, touches and destroys sessions across slots', async () => {
      await store.set('solo', sessionOf('ada'))
      expect(await store.get('solo')).toMatchObject({ user: { id: 'ada' } })
      await cluster.pexpire(`${PREFIX}solo`, 1000)
      await store.touch('solo', sessionOf('ada'))
      expect(await cluster.pttl(`${PREFIX}solo`)).toBeGreaterThan(50_000)
      await store.destroy('solo')
      expect(await store.get('solo')).toBeNull()
    })

    it('destroyUser ends a user’s sessions held on different masters', async () => {
      const sids = Array.from({ length: 12 }, (_, i) => `dev-${i}`)
      await Promise.all(sids.map((sid) => store.set(sid, sessionOf('grace'))))
      await store.set('someone-else', sessionOf('heidi'))
      expect((await store.userSessions('grace')).sort()).toEqual([...sids].sort())
      expect(await store.destroyUser('grace')).toBe(12)
      expect(await store.ids()).toEqual(['someone-else'])
      await store.destroy('someone-else')
    })

    it('forgets a slot of a user directory once every session written there can have expired', async () => {
      const directory = `${PREFIX}user-slots:{zoe}`
      await cluster.zadd(directory, 1, 'stale') // listed until 1 ms after the epoch
      await store.set('zoe-1', sessionOf('zoe'))
      expect(await cluster.zscore(directory, 'stale')).toBeNull()
      expect(await cluster.zcard(directory)).toBe(1)
      expect(await cluster.pttl(directory)).toBeGreaterThan(await cluster.pttl(`${PREFIX}zoe-1`))
      expect(await store.destroyUser('zoe')).toBe(1)
    })

    it('shares sessions with connect-redis 9 on the same Cluster, both ways', async () => {
      const theirClient = createCluster({
        rootNodes: inject('clusterPorts').map((port) => ({ url: `redis://127.0.0.1:${port}` })),
      })
      await theirClient.connect()
      try {
        const theirs = new ConnectRedisStore({ client: theirClient, prefix: PREFIX })
        const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
          new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v as T))))
        await store.set('ours', sessionOf('ivy', { n: 1 }))
        expect(await call((cb) => theirs.get('ours', cb))).toMatchObject({ n: 1 })
        await call<void>((cb) => theirs.set('theirs', sessionOf('jon', { n: 2 }), cb))
        expect(await store.get('theirs')).toMatchObject({ n: 2 })
        await store.destroy('theirs')
        await call<void>((cb) => theirs.destroy('ours', cb))
        expect(await store.get('ours')).toBeNull()
        expect(await call((cb) => theirs.get('theirs', cb))).toBeNull()
      } finally {
        await theirClient.close()
      }
    })

    it('serves the express login flow', async () => {
      const app = expressApp(store)
      const login = await request(app).post('/login').send({ id: 'k1', name: 'Kim' }).expect(200)
      const cookie = cookieHeader(login.headers['set-cookie'])
      await request(app).get('/me').set('Cookie', cookie).expect(200, { id: 'k1', name: 'Kim' })
      expect(await store.destroyUser('k1')).toBe(1)
      await request(app).get('/me').set('Cookie', cookie).expect(401)
    })
  })
})
