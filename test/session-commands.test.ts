/**
 * What RedisSessionStore sends for its common calls: the cheapest command that does the job, no
 * read where nothing needs judging, and, with `timeoutMs: false` (README, "Options"), no time
 * limit at all. Counted with INFO commandstats on a redis-server of
 * this file's own, so no other file's commands or CONFIG RESETSTAT mix in.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

const PREFIX = 'test-session-commands:'
let server: RedisServer
let client: Redis
let raw: Redis

function sessionOf(user: string | undefined): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    ...(user === undefined ? {} : { user: { id: user } }),
  } as unknown as SessionData
}

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

/** Calls of each command since the last CONFIG RESETSTAT, by lower-case name. */
async function calls(...commands: string[]): Promise<Record<string, number>> {
  const stats = await raw.info('commandstats')
  const out: Record<string, number> = {}
  for (const command of commands) {
    out[command] = Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
  }
  return out
}

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
  raw = new Redis(server.url)
  await Promise.all([client.ping(), raw.ping()])
})

beforeEach(async () => {
  await raw.flushall()
})

afterAll(async () => {
  client?.disconnect()
  raw?.disconnect()
  await server?.stop()
})

describe('RedisSessionStore commands', () => {
  it('touch without touchAfterSeconds is one PEXPIRE, no script', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    await store.set('s', sessionOf(undefined))
    await raw.config('RESETSTAT')
    await store.touch('s', sessionOf(undefined))
    expect(await calls('pexpire', 'evalsha', 'eval')).toEqual({ pexpire: 1, evalsha: 0, eval: 0 })
    expect(await raw.pttl(`${PREFIX}s`)).toBeGreaterThan(50_000)
  })

  it('destroy without userKey is one DEL and no read', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    await store.set('s', sessionOf('ada'))
    await raw.config('RESETSTAT')
    await store.destroy('s')
    expect(await calls('del', 'get')).toEqual({ del: 1, get: 0 })
    expect(await raw.exists(`${PREFIX}s`)).toBe(0)
  })

  it('destroy of a missing session under userKey is one GET and nothing else', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await raw.config('RESETSTAT')
    await store.destroy('gone')
    expect(await calls('get', 'del', 'evalsha')).toEqual({ get: 1, del: 0, evalsha: 0 })
  })

  it('destroy of a listed session under userKey is one GET and one compare-and-delete', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('s', sessionOf('ada'))
    await raw.config('RESETSTAT')
    await store.destroy('s')
    // commandstats counts the script's own GET and DEL too: one GET of the store, one script
    // call (EVALSHA, or EVAL the first time this server sees the script) with its GET and DEL.
    const n = await calls('get', 'evalsha', 'eval', 'del')
    expect({ get: n.get, scripts: n.evalsha! + n.eval!, del: n.del }).toEqual({
      get: 2,
      scripts: 1,
      del: 1,
    })
    expect(await raw.exists(`${PREFIX}s`)).toBe(0)
  })

  it('destroy of an anonymous session under userKey is one GET and one DEL, no script', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('anon', sessionOf(undefined))
    await raw.config('RESETSTAT')
    await store.destroy('anon')
    expect(await calls('get', 'del', 'evalsha', 'eval')).toEqual({
      get: 1,
      del: 1,
      evalsha: 0,
      eval: 0,
    })
    expect(await raw.exists(`${PREFIX}anon`)).toBe(0)
  })

  it('destroyUser over 501 sessions sends them in compare-and-delete calls of at most 500', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    const sids = Array.from({ length: 501 }, (_, i) => `s${i}`)
    await Promise.all(sids.map((sid) => store.set(sid, sessionOf('ada'))))
    await raw.config('RESETSTAT')
    expect(await store.destroyUser('ada')).toBe(501)
    const n = await calls('evalsha', 'eval', 'del')
    // Two script calls (500 sessions, then 1), each deleting what it compared: 501 DELs.
    expect({ scripts: n.evalsha! + n.eval!, del: n.del }).toEqual({ scripts: 2, del: 501 })
    expect(await raw.dbsize()).toBe(0)
  })

  it('all() on a single Redis reads sessions of many slots with one MGET', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    for (const sid of ['a', 'b', 'c', 'd']) await store.set(sid, sessionOf(undefined))
    await raw.config('RESETSTAT')
    expect((await store.all()).map((s) => (s as { id: string }).id).sort()).toEqual([
      'a',
      'b',
      'c',
      'd',
    ])
    expect(await calls('mget')).toEqual({ mget: 1 })
  })

  it('with timeoutMs: false a call waits for a Redis that answers late', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, timeoutMs: false })
    await store.set('s', sessionOf(undefined))
    // Every client of this server waits 100 ms for its next command.
    await raw.client('PAUSE', 100, 'ALL')
    await expect(store.get('s')).resolves.toMatchObject({ cookie: { originalMaxAge: 60_000 } })
  })
})
