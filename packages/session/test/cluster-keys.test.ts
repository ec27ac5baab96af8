import calculateSlot from 'cluster-key-slot'
import type { SessionData } from 'express-session'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { RedisSessionStore } from '../src/index.js'

// packages/session/README.md, "Log out everywhere" (how, on a Cluster) and "Redis Cluster": the
// key names a Cluster store writes, the slot grouping of its multi-key commands, and what clear()
// leaves alone. On the suite's real Cluster (ioredis), and its single Redis for the clear() of
// sets outside the prefix.
const PREFIX = 'test-session-cluster-keys:'
let cluster: Cluster
let single: Redis

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

function sessionOf(user?: string): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, maxAge: 60_000 },
    ...(user === undefined ? {} : { user: { id: user } }),
  } as unknown as SessionData
}

/** The first base-36 counter (0, 1, ..., z, 10, ...) whose CRC16 slot is `slot`. */
function firstTagOf(slot: number): string {
  for (let i = 0; ; i++) if (calculateSlot(i.toString(36)) === slot) return i.toString(36)
}

async function clusterKeys(pattern: string): Promise<string[]> {
  const found: string[] = []
  for (const node of cluster.nodes('master')) {
    found.push(...(await node.keys(pattern)))
  }
  return found.sort()
}

beforeAll(async () => {
  cluster = new Cluster(inject('clusterPorts').map((port) => ({ host: '127.0.0.1', port })))
  await cluster.ping()
  single = new Redis(inject('redisUrl'))
})

beforeEach(async () => {
  for (const key of await clusterKeys(`${PREFIX}*`)) await cluster.del(key)
  for (const key of await clusterKeys('test-session-cluster-other:*')) await cluster.del(key)
})

afterAll(async () => {
  for (const key of await clusterKeys(`${PREFIX}*`)) await cluster.del(key)
  for (const key of await clusterKeys('test-session-cluster-other:*')) await cluster.del(key)
  await single.del('test-session-cluster-other:set')
  await cluster.quit()
  await single.quit()
})

describe('RedisSessionStore keys on a Cluster', () => {
  it('lists a session in the index named by the first base-36 tag of its slot, so every app server finds it', async () => {
    const store = new RedisSessionStore({ client: cluster, prefix: PREFIX, userKey })
    await store.set('abc', sessionOf('ada'))
    const tag = firstTagOf(calculateSlot(`${PREFIX}abc`))
    expect(await cluster.sismember(`${PREFIX}user:{${tag}}:ada`, 'abc')).toBe(1)
    expect(await cluster.zrange(`${PREFIX}user-slots:{ada}`, '0', '-1')).toEqual([tag])
  })

  it('refuses a prefix whose "{" would put a session and its user index in different slots', async () => {
    const prefix = 'test-session-cluster-keys{'
    const store = new RedisSessionStore({ client: cluster, prefix, userKey })
    await expect(store.set('abc', sessionOf('ada'))).rejects.toMatchObject({
      name: 'SessionStoreError',
      code: 'ERR_TOLLGATE_SESSION_CLUSTER',
      message: `tollgate: prefix ${JSON.stringify(prefix)} puts a session and its user index in different Cluster slots; use a prefix without "{" or "}", or with a complete hash tag`,
    })
    expect(await cluster.exists(`${prefix}abc`)).toBe(0)
  })

  it('all() returns every session when several share a slot', async () => {
    const store = new RedisSessionStore({ client: cluster, prefix: PREFIX })
    // One hash tag: the three keys share a slot, so they go in one MGET group.
    for (const sid of ['{t}1', '{t}2', '{t}3', 'other']) await store.set(sid, sessionOf())
    const ids = (await store.all()).map((s) => (s as { id: string }).id).sort()
    expect(ids).toEqual(['other', '{t}1', '{t}2', '{t}3'])
  })

  it('clear() leaves sorted sets outside its prefix alone', async () => {
    const store = new RedisSessionStore({ client: cluster, prefix: PREFIX, userKey })
    await store.set('abc', sessionOf('ada'))
    await cluster.zadd('test-session-cluster-other:zset', 1, 'm')
    await cluster.sadd('test-session-cluster-other:set', 'm')
    await store.clear()
    expect(await clusterKeys(`${PREFIX}*`)).toEqual([])
    expect(await cluster.exists('test-session-cluster-other:zset')).toBe(1)
    expect(await cluster.exists('test-session-cluster-other:set')).toBe(1)
  })
})

describe('RedisSessionStore clear() on a single Redis', () => {
  it('leaves sets outside its prefix alone', async () => {
    const store = new RedisSessionStore({ client: single, prefix: PREFIX, userKey })
    await store.set('abc', sessionOf('ada'))
    await single.sadd('test-session-cluster-other:set', 'm')
    await store.clear()
    expect(await single.exists(`${PREFIX}abc`, `${PREFIX}user:{ada}`)).toBe(0)
    expect(await single.exists('test-session-cluster-other:set')).toBe(1)
  })
})
