/**
 * A decision writes, so on a node-redis Cluster created with `useReplicas: true` (which sends
 * the calls marked read-only to replicas as well as masters) RedisStore still sends every call
 * to the master of the key's slot: marked as a write, never read-only. Real Cluster of three
 * masters and three replicas, this file's own (test/support/redis-server.ts). Every replica is
 * frozen (SIGSTOP) while the decisions run: a call that went to one would never be answered.
 */
import { fixedWindow } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import type { RedisClusterType } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type RedisReplicaCluster,
  rawCommand,
  startRedisReplicaCluster,
} from '../../../test/support/redis-server.js'
import {
  commandCalls,
  connectUsingReplicas,
  keyPerMaster,
  masterOf,
  replicaGets,
  within,
} from '../../../test/support/replicas.js'

const PREFIX = 't-replicas:'
let servers: RedisReplicaCluster
let cluster: RedisClusterType

beforeAll(async () => {
  servers = await startRedisReplicaCluster()
  cluster = await connectUsingReplicas(servers)
})

afterAll(async () => {
  cluster?.destroy()
  await servers?.stop()
})

describe('RedisStore on a node-redis Cluster with useReplicas', () => {
  it('sends every decision to the master of its slot: exact with every replica frozen, the state held by that master', async () => {
    // The set-up does route read-only calls to replicas: the client knows all three, and two
    // read-only GETs of one slot reach its replica (node-redis takes master and replica in turn).
    expect(cluster.replicas).toHaveLength(3)
    const before = replicaGets(servers)
    await cluster.sendCommand('probe', true, ['GET', 'probe'])
    await cluster.sendCommand('probe', true, ['GET', 'probe'])
    expect(replicaGets(servers)).toBe(before + 1)

    const store = new RedisStore({ client: cluster, prefix: PREFIX, clock: () => 1_000 })
    const algorithm = fixedWindow({ limit: 2, windowMs: 60_000 })
    const keys = keyPerMaster(
      servers,
      (i) => `k${i}`,
      (key) => stateKey(PREFIX, key, 'fixedWindow'),
    )
    for (const replica of servers.replicas) replica.freeze()
    try {
      for (const key of keys) {
        const allowed: boolean[] = []
        // Three decisions per slot: node-redis would alternate master and replica for a call
        // marked read-only, so one of them at least would reach the frozen replica.
        for (let n = 0; n < 3; n++) {
          const decision = await within(5_000, `decide(${key})`, store.decide(key, algorithm, 1))
          allowed.push(decision.allowed)
        }
        expect(allowed, key).toEqual([true, true, false])
        const state = stateKey(PREFIX, key, 'fixedWindow')
        expect(await rawCommand(masterOf(servers, state).port, `EXISTS ${state}`)).toBe(':1\r\n')
      }
    } finally {
      for (const replica of servers.replicas) replica.thaw()
    }
    // Thawed, the replicas still count no script call: none was ever sent to them.
    for (const replica of servers.replicas) {
      expect(commandCalls(replica, 'evalsha') + commandCalls(replica, 'eval')).toBe(0)
    }
  })
})
