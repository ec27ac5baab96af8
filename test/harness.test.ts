import { describe, expect, inject, it } from 'vitest'
import { rawCommand } from './support/redis-server.js'

describe('test harness', () => {
  it('starts a real standalone redis-server and a three-master cluster', async () => {
    expect(await rawCommand(inject('redisPort'), 'PING')).toBe('+PONG\r\n')
    const ports = inject('clusterPorts')
    expect(ports).toHaveLength(3)
    const info = await rawCommand(ports[0]!, 'CLUSTER INFO')
    expect(info).toContain('cluster_known_nodes:3')
  })
})
