import type { TestProject } from 'vitest/node'
import { startRedisCluster, startRedisServer } from './redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the shared standalone redis-server for this run. */
    redisUrl: string
    redisPort: number
    /** Ports of the three-master test cluster. */
    clusterPorts: number[]
  }
}

export default async function setup(project: TestProject) {
  const redis = await startRedisServer()
  const cluster = await startRedisCluster()
  project.provide('redisUrl', redis.url)
  project.provide('redisPort', redis.port)
  project.provide('clusterPorts', cluster.ports)
  return async () => {
    await cluster.stop()
    await redis.stop()
  }
}
