import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'

/** ioredis or node-redis, single or Cluster: RedisStore and RedisSessionStore take all four. */
export type RedisClient =
  | Redis
  | Cluster
  | ReturnType<typeof createClient>
  | ReturnType<typeof createCluster>

/** The Redis the example shares between rate limiting and sessions, or none (memory). */
export interface RedisConnection {
  client: RedisClient
  /** Where it points, for the start-up message. */
  description: string
  /** Quits the client (waits for replies in flight), or drops it if that fails. */
  close(): Promise<void>
}

/**
 * `REDIS_CLUSTER_NODES="host:port,host:port"` gives a Cluster, `REDIS_URL` a single Redis;
 * neither keeps everything in process memory. `REDIS_CLIENT=node-redis` uses node-redis
 * (`createClient` / `createCluster`, what connect-redis users have) instead of ioredis.
 */
export function connectRedis(env: NodeJS.ProcessEnv = process.env): RedisConnection | undefined {
  const library = env.REDIS_CLIENT ?? 'ioredis'
  if (library !== 'ioredis' && library !== 'node-redis') {
    throw new TypeError(
      `REDIS_CLIENT must be ioredis or node-redis, got ${JSON.stringify(library)}`,
    )
  }
  const nodes = env.REDIS_CLUSTER_NODES?.split(',').map((node) => {
    const [host = '127.0.0.1', port = '6379'] = node.trim().split(':')
    return { host, port: Number(port) }
  })
  if (!nodes && !env.REDIS_URL) return undefined
  const description = `${nodes ? `Redis Cluster ${env.REDIS_CLUSTER_NODES}` : env.REDIS_URL} (${library})`
  // Without a listener both clients report every reconnection error loudly; the fail policy
  // keeps answering meanwhile, so one line per distinct error is enough.
  let last = ''
  const onError = (error: Error) => {
    if (error.message !== last) console.error(`redis: ${error.message}`)
    last = error.message
  }
  const onReady = () => {
    last = ''
  }
  if (library === 'node-redis') {
    const client = nodes
      ? createCluster({
          rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
        })
      : createClient({ url: env.REDIS_URL })
    client.on('error', onError)
    client.on('ready', onReady)
    // connect() opens the client at once (the stores require an open client) and resolves when
    // it is ready; commands issued before wait for it.
    client.connect().catch(onError)
    return {
      client,
      description,
      async close() {
        if (client.isOpen) await client.close().catch(() => client.destroy())
      },
    }
  }
  // A request waits at most this long for a session command (the rate limiter has its own,
  // shorter, failure.timeoutMs); ioredis would otherwise wait forever on a hung server.
  const commandTimeout = 2000
  const client = nodes
    ? new Cluster(nodes, { redisOptions: { commandTimeout } })
    : new Redis(env.REDIS_URL!, { commandTimeout })
  client.on('error', onError)
  client.on('ready', onReady)
  return {
    client,
    description,
    async close() {
      await client.quit().catch(() => client.disconnect())
    },
  }
}
