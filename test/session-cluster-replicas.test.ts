/**
 * On a node-redis Cluster created with `useReplicas: true` (which sends the calls marked
 * read-only to replicas as well as masters) RedisSessionStore sends every call to the master of
 * the session's slot: its writes must land there, and a read from a replica could miss a session
 * just written. Real Cluster of three masters and three replicas, this file's own
 * (test/support/redis-server.ts). Every replica is frozen (SIGSTOP) while the store works: a call
 * that went to one would never be answered.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import type { RedisClusterType } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type RedisReplicaCluster,
  rawCommand,
  startRedisReplicaCluster,
} from './support/redis-server.js'
import {
  commandCalls,
  connectUsingReplicas,
  keyPerMaster,
  masterOf,
  replicaGets,
  within,
} from './support/replicas.js'

const PREFIX = 'test-session-replicas:'
let servers: RedisReplicaCluster
let cluster: RedisClusterType

function sessionOf(user: string | undefined, n: number): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    ...(user === undefined ? {} : { user: { id: user } }),
    n,
  } as unknown as SessionData
}

beforeAll(async () => {
  servers = await startRedisReplicaCluster()
  cluster = await connectUsingReplicas(servers)
})

afterAll(async () => {
  cluster?.destroy()
  await servers?.stop()
})

describe('RedisSessionStore on a node-redis Cluster with useReplicas', () => {
  it('sends every call to the master of the session’s slot: set, get, touch, all, userSessions, destroy and destroyUser answer with every replica frozen, each session held by its master', async () => {
    // The set-up does route read-only calls to replicas: the client knows all three, and two
    // read-only GETs of one slot reach its replica (node-redis takes master and replica in turn).
    expect(cluster.replicas).toHaveLength(3)
    const before = replicaGets(servers)
    await cluster.sendCommand('probe', true, ['GET', 'probe'])
    await cluster.sendCommand('probe', true, ['GET', 'probe'])
    expect(replicaGets(servers)).toBe(before + 1)

    const store = new RedisSessionStore({
      client: cluster,
      prefix: PREFIX,
      userKey: (s) => (s as { user?: { id: string } }).user?.id,
    })
    // One session of ada's on each master (each written by the set script with its index), and
    // an anonymous one (a plain SET).
    const sids = keyPerMaster(
      servers,
      (i) => `ada-${i}`,
      (sid) => PREFIX + sid,
    )
    const bound = <T>(what: string, promise: Promise<T>) => within(5_000, what, promise)
    for (const replica of servers.replicas) replica.freeze()
    try {
      for (const [n, sid] of sids.entries())
        await bound(`set(${sid})`, store.set(sid, sessionOf('ada', n)))
      await bound('set(anon)', store.set('anon', sessionOf(undefined, 9)))
      for (const sid of [...sids, 'anon']) {
        const key = PREFIX + sid
        const held = await rawCommand(masterOf(servers, key).port, `GET ${key}`)
        expect(held, sid).toMatch(/^\$\d+\r\n\{/)
      }
      for (const [n, sid] of sids.entries()) {
        expect(await bound(`get(${sid})`, store.get(sid))).toMatchObject({ n, user: { id: 'ada' } })
        await bound(`touch(${sid})`, store.touch(sid, sessionOf('ada', n)))
      }
      const all = await bound('all()', store.all())
      expect(all.map((s) => (s as SessionData & { id: string }).id).sort()).toEqual(
        [...sids, 'anon'].sort(),
      )
      expect((await bound('userSessions(ada)', store.userSessions('ada'))).sort()).toEqual(
        [...sids].sort(),
      )
      await bound(`destroy(${sids[0]})`, store.destroy(sids[0]!))
      expect(await bound(`get(${sids[0]})`, store.get(sids[0]!))).toBeNull()
      expect(await bound('destroyUser(ada)', store.destroyUser('ada'))).toBe(sids.length - 1)
      expect(await bound('ids()', store.ids())).toEqual(['anon'])
      await bound('destroy(anon)', store.destroy('anon'))
    } finally {
      for (const replica of servers.replicas) replica.thaw()
    }
    // Thawed, the replicas still count no read and no script call: none was ever sent to them.
    expect(replicaGets(servers)).toBe(before + 1)
    for (const replica of servers.replicas) {
      expect(commandCalls(replica, 'evalsha') + commandCalls(replica, 'eval')).toBe(0)
    }
  })
})
