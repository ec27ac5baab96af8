import type { TestProject } from 'vitest/node'
import { startRedisServer } from '../support/redis-server.js'

/**
 * Global setup of the mutation runs (vitest.mutation.config.ts): one standalone redis-server,
 * the one the runner started when TOLLGATE_TEST_REDIS_PORT is set (so a mutant costs only its
 * tests), else its own. No Cluster: mutation runs exclude the Cluster tests.
 */
export default async function setup(project: TestProject) {
  const given = process.env.TOLLGATE_TEST_REDIS_PORT
  if (given !== undefined) {
    const port = Number(given)
    project.provide('redisUrl', `redis://127.0.0.1:${port}`)
    project.provide('redisPort', port)
    project.provide('clusterPorts', [])
    return
  }
  const redis = await startRedisServer()
  project.provide('redisUrl', redis.url)
  project.provide('redisPort', redis.port)
  project.provide('clusterPorts', [])
  return async () => {
    await redis.stop()
  }
}
