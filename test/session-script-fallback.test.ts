import { RedisSessionStore } from '@tollgate/session'
import { Cluster, Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

// packages/session/README.md ("Which clients"): on node-redis the store sends EVALSHA and falls
// back to EVAL once when Redis answers NOSCRIPT. Any other error of a script is the answer: it is
// not sent again as EVAL. Counted with INFO commandstats on a server of this file's own (so no
// other file's commands or CONFIG RESETSTAT can mix in).
const PREFIX = 'test-session-script-fallback:'
const userKey = (session: object) => (session as { user?: string }).user
const sessionOf = (user: string) =>
  ({ user, cookie: { originalMaxAge: 60_000, maxAge: 60_000 } }) as never

describe('node-redis script calls', () => {
  let server: RedisServer
  let raw: Redis
  let client: ReturnType<typeof createClient>

  beforeAll(async () => {
    server = await startRedisServer()
    raw = new Redis(server.url)
    client = createClient({ url: server.url })
    client.on('error', () => {})
    await client.connect()
  })

  afterAll(async () => {
    await client?.close()
    raw?.disconnect()
    await server?.stop()
  })

  async function calls(command: string): Promise<number> {
    const stats = await raw.info('commandstats')
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  }

  it('loads a script with EVAL on NOSCRIPT, then sends only EVALSHA', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await raw.script('FLUSH')
    await raw.config('RESETSTAT')
    await store.set('first', sessionOf('ada'))
    expect([await calls('evalsha'), await calls('eval')]).toEqual([1, 1])
    await store.set('second', sessionOf('ada'))
    expect([await calls('evalsha'), await calls('eval')]).toEqual([2, 1])
  })

  it('does not resend a script that failed for another reason (WRONGTYPE) as EVAL', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('warm', sessionOf('bob'))
    await raw.set(`${PREFIX}user:{cy}`, 'not a set')
    await raw.config('RESETSTAT')
    await expect(store.set('broken', sessionOf('cy'))).rejects.toThrow(/WRONGTYPE/)
    expect([await calls('evalsha'), await calls('eval')]).toEqual([1, 0])
  })
})

describe('an ioredis Cluster that is not ready yet', () => {
  it('is waited for before SCAN, so the first ids() sees every session', async () => {
    const ports = inject('clusterPorts')
    const writer = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
    const prefix = `${PREFIX}cluster:`
    await writer.set(`${prefix}one`, JSON.stringify({ cookie: {} }))
    await writer.set(`${prefix}two`, JSON.stringify({ cookie: {} }))
    // Created and used at once: its slot map is not loaded, so nodes('master') is still empty.
    const fresh = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
    try {
      const store = new RedisSessionStore({ client: fresh, prefix })
      expect((await store.ids()).sort()).toEqual(['one', 'two'])
    } finally {
      await writer.del(`${prefix}one`)
      await writer.del(`${prefix}two`)
      await writer.quit()
      await fresh.quit()
    }
  })
})
