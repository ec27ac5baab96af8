/**
 * The clients every session test runs on (issue 13): ioredis and node-redis v5, each on a single
 * Redis and on the Cluster, built the way their users build them.
 */
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import type { SessionRedisClient } from '../../src/index.js'

export interface ClientKind {
  readonly name: 'ioredis' | 'node-redis'
  /** A connected client of the single test Redis. */
  single(url: string): Promise<SessionRedisClient>
  /** A connected client of the test Cluster. */
  cluster(ports: readonly number[]): Promise<SessionRedisClient>
  close(client: SessionRedisClient): Promise<void>
}

export const clientKinds: readonly ClientKind[] = [
  {
    name: 'ioredis',
    async single(url) {
      return new Redis(url)
    },
    async cluster(ports) {
      return new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
    },
    async close(client) {
      await (client as Redis | Cluster).quit()
    },
  },
  {
    name: 'node-redis',
    async single(url) {
      const client = createClient({ url })
      client.on('error', () => {})
      await client.connect()
      return client
    },
    async cluster(ports) {
      const cluster = createCluster({
        rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
      })
      cluster.on('error', () => {})
      await cluster.connect()
      return cluster
    },
    async close(client) {
      await (client as unknown as { close(): Promise<void> }).close()
    },
  },
]
