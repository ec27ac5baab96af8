/**
 * Helpers for the tests on a Cluster with replicas (startRedisReplicaCluster): which master owns
 * a key, whether a replica answered any client command, and a bound on a call that a frozen
 * replica would never answer.
 */
import { execFileSync } from 'node:child_process'
import { createCluster, type RedisClusterType } from 'redis'
import { hashSlot } from '../../packages/redis/src/client.js'
import type { RedisReplicaCluster, RedisServer } from './redis-server.js'

/** The master serving `key`'s hash slot, read from CLUSTER NODES. */
export function masterOf(cluster: RedisReplicaCluster, key: string): RedisServer {
  const slot = hashSlot(key)
  const text = execFileSync(
    'redis-cli',
    ['-p', String(cluster.masters[0]!.port), 'CLUSTER', 'NODES'],
    {
      encoding: 'utf8',
    },
  )
  for (const line of text.trim().split('\n')) {
    const fields = line.split(' ')
    if (!fields[2]!.includes('master')) continue
    const port = Number(fields[1]!.split(':')[1]!.split('@')[0])
    for (const range of fields.slice(8)) {
      const [from, to = from] = range.split('-').map(Number)
      if (slot >= from! && slot <= to!) {
        const master = cluster.masters.find((m) => m.port === port)
        if (master) return master
      }
    }
  }
  throw new Error(`no master serves slot ${slot}`)
}

/**
 * One name for each master: the first of `name(0)`, `name(1)`, ... whose Redis key (`redisKey`
 * of it) lands on that master.
 */
export function keyPerMaster(
  cluster: RedisReplicaCluster,
  name: (i: number) => string,
  redisKey: (name: string) => string = (n) => n,
): string[] {
  const found = new Map<number, string>()
  for (let i = 0; found.size < cluster.masters.length; i++) {
    const port = masterOf(cluster, redisKey(name(i))).port
    if (!found.has(port)) found.set(port, name(i))
  }
  return [...found.values()]
}

/**
 * Calls of `command` a node served for clients, from INFO commandstats (`calls` plus rejected and
 * failed calls). On a replica, commands its master replicates are writes (SET, PEXPIRE, ...; a
 * script replicates as its effects), so a read or a script counted there came from a client.
 */
export function commandCalls(node: RedisServer, command: string): number {
  const text = execFileSync('redis-cli', ['-p', String(node.port), 'INFO', 'commandstats'], {
    encoding: 'utf8',
  })
  const line = new RegExp(`cmdstat_${command}:([^\\r\\n]*)`).exec(text)?.[1] ?? ''
  let sum = 0
  for (const field of ['calls', 'rejected_calls', 'failed_calls']) {
    sum += Number(new RegExp(`(?:^|,)${field}=(\\d+)`).exec(line)?.[1] ?? 0)
  }
  return sum
}

/**
 * `promise`, or a rejection naming `what` after `ms`: a command sent to a frozen (SIGSTOP)
 * replica is never answered, and the test must fail with that reason, not its own timeout.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${ms} ms (sent to a frozen replica?)`)),
      ms,
    )
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A node-redis Cluster client on `servers` with `useReplicas`, connected: read-only calls may go
 * to a replica, which is what the replica tests need to rule out for writes.
 */
export async function connectUsingReplicas(
  servers: RedisReplicaCluster,
): Promise<RedisClusterType> {
  // Typed at the call, as the tests declare their client: createCluster infers its modules from it.
  const cluster: RedisClusterType = createCluster({
    rootNodes: servers.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
    useReplicas: true,
  })
  cluster.on('error', () => {})
  await cluster.connect()
  return cluster
}

/**
 * How many GETs the replicas have answered: two read-only GETs of one slot through `cluster`
 * add one (node-redis takes master and replica in turn), which shows the set-up really routes
 * read-only calls to replicas.
 */
export function replicaGets(servers: RedisReplicaCluster): number {
  return servers.replicas.reduce((sum, r) => sum + commandCalls(r, 'get'), 0)
}
