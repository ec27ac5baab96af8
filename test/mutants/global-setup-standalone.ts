import type { TestProject } from 'vitest/node'
import suiteSetup from '../support/global-setup.js'

/**
 * Global setup of the mutation runs (vitest.mutation.config.ts). Under test/mutants/run-mutants.mjs
 * (TOLLGATE_TEST_REDIS_PORT set) the one redis-server the runner started for all its mutants, and
 * no Cluster (its mutants' tests need none); otherwise (Stryker, which keeps one vitest per test
 * runner for all mutants) the suite's own servers, Cluster included.
 */
export default async function setup(project: TestProject) {
  const given = process.env.TOLLGATE_TEST_REDIS_PORT
  if (given === undefined) return suiteSetup(project)
  const port = Number(given)
  project.provide('redisUrl', `redis://127.0.0.1:${port}`)
  project.provide('redisPort', port)
  project.provide('clusterPorts', [])
}
