import { Cluster, Redis } from 'ioredis'

/** The Redis the example shares between rate limiting and sessions, or none (memory). */
export interface RedisConnection {
  client: Redis | Cluster
  /** Where it points, for the start-up message. */
  description: string
}

/**
 * `REDIS_CLUSTER_NODES="host:port,host:port"` gives an ioredis Cluster, `REDIS_URL` a single
 * Redis; neither keeps everything in process memory.
 */
export function connectRedis(env: NodeJS.ProcessEnv = process.env): RedisConnection | undefined {
  // A request waits at most this long for a session command (the rate limiter has its own,
  // shorter, failure.timeoutMs); ioredis would otherwise wait forever on a hung server.
  const commandTimeout = 2000
  let connection: RedisConnection | undefined
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = env.REDIS_CLUSTER_NODES.split(',').map((node) => {
      const [host = '127.0.0.1', port = '6379'] = node.trim().split(':')
      return { host, port: Number(port) }
    })
    connection = {
      client: new Cluster(nodes, { redisOptions: { commandTimeout } }),
      description: `Redis Cluster ${env.REDIS_CLUSTER_NODES}`,
    }
  } else if (env.REDIS_URL) {
    connection = {
      client: new Redis(env.REDIS_URL, { commandTimeout }),
      description: env.REDIS_URL,
    }
  }
  // Without a listener ioredis prints every reconnection error as "Unhandled error event"; the
  // fail policy keeps answering meanwhile, so one line per distinct error is enough.
  let last = ''
  connection?.client.on('error', (error: Error) => {
    if (error.message !== last) console.error(`redis: ${error.message}`)
    last = error.message
  })
  connection?.client.on('ready', () => {
    last = ''
  })
  return connection
}
