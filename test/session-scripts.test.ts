/**
 * Issue 13: with either client the store's scripts go as EVALSHA and fall back to EVAL when Redis
 * answers NOSCRIPT (after a restart or SCRIPT FLUSH). This file flushes scripts, so it runs on its
 * own redis-server, never on the shared one.
 */
import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientKinds } from '../packages/session/test/support/clients.js'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

let server: RedisServer
let inspector: Redis

beforeAll(async () => {
  server = await startRedisServer()
  inspector = new Redis(server.url)
})

afterAll(async () => {
  await inspector?.quit()
  await server?.stop()
})

const sessionOf = (user: string) =>
  ({
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    user: { id: user },
  }) as unknown as SessionData

describe.each(clientKinds)('with $name', (kind) => {
  let client: SessionRedisClient

  beforeAll(async () => {
    client = await kind.single(server.url)
  })

  afterAll(async () => {
    await kind.close(client)
  })

  it('reloads its scripts with EVAL after SCRIPT FLUSH, then writes, touches and destroys as before', async () => {
    const prefix = `test-session-scripts-${kind.name}:`
    const store = new RedisSessionStore({
      client,
      prefix,
      touchAfterSeconds: 1,
      userKey: (s) => (s as { user?: { id: string } }).user?.id,
    })
    await store.set('a', sessionOf('ada'))
    await inspector.script('FLUSH')
    await store.set('b', sessionOf('ada'))
    await inspector.pexpire(`${prefix}b`, 1000)
    await store.touch('b', sessionOf('ada'))
    expect(await inspector.pttl(`${prefix}b`)).toBeGreaterThan(50_000)
    expect((await store.userSessions('ada')).sort()).toEqual(['a', 'b'])
    await inspector.script('FLUSH')
    expect(await store.destroyUser('ada')).toBe(2)
    expect(await inspector.exists(`${prefix}a`, `${prefix}b`, `${prefix}user:{ada}`)).toBe(0)
  })
})
