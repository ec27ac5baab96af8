/**
 * packages/session/README.md, "Log out everywhere": destroy, destroyUser and userSessions act on a
 * session only if it still holds the text they read (compare-and-delete), read it again when it
 * changed meanwhile, and give up with ERR_TOLLGATE_SESSION_CONFLICT after 10 tries. A concurrent
 * writer is played, deterministically, by the serializer's own parse hook: each time the store
 * reads the session it rewrites it in Redis (still owned by the same user), so every compare
 * fails. On the suite's real Redis.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'

const PREFIX = 'test-session-conflicts:'
let client: Redis

function sessionOf(user: string | undefined): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    ...(user === undefined ? {} : { user: { id: user } }),
  } as unknown as SessionData
}

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

/**
 * A store whose serializer rewrites the session it parses (keeping its owner and TTL) on each of
 * its first `rewrites` parses, as a save racing the read would; `parses` counts the reads. Each
 * session names its own id in `sid`, so the hook knows which key to rewrite.
 */
function racedStore(rewrites: number) {
  const state = { parses: 0 }
  const store = new RedisSessionStore({
    client,
    prefix: PREFIX,
    userKey,
    serializer: {
      async parse(text) {
        state.parses++
        const data = JSON.parse(text) as Record<string, unknown>
        if (state.parses <= rewrites) {
          await client.set(
            `${PREFIX}${data.sid}`,
            JSON.stringify({ ...data, saved: state.parses }),
            'KEEPTTL',
          )
        }
        return data
      },
      stringify: (session) => JSON.stringify(session),
    },
  })
  return { store, state }
}

/** A session of `user` (or anonymous) that names its own id. */
function raced(sid: string, user: string | undefined): SessionData {
  return { ...sessionOf(user), sid } as unknown as SessionData
}

const indexOf = (user: string) => `${PREFIX}user:{${user}}`

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

beforeEach(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
})

afterAll(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

describe('destroy of a session that a save keeps rewriting', () => {
  it('reads it again after a failed compare and deletes it (and unlists it) on the second try', async () => {
    const { store, state } = racedStore(1)
    await store.set('s', raced('s', 'ada'))
    await store.destroy('s')
    expect(state.parses).toBe(2)
    expect(await client.exists(`${PREFIX}s`)).toBe(0)
    expect(await client.sismember(indexOf('ada'), 's')).toBe(0)
  })

  it('gives up after exactly 10 reads with ERR_TOLLGATE_SESSION_CONFLICT, leaving it in place', async () => {
    const { store, state } = racedStore(Number.POSITIVE_INFINITY)
    await store.set('s', raced('s', 'ada'))
    await expect(store.destroy('s')).rejects.toMatchObject({
      name: 'SessionStoreError',
      code: 'ERR_TOLLGATE_SESSION_CONFLICT',
      message: 'tollgate: session "s" kept changing while destroy tried to delete it',
    })
    expect(state.parses).toBe(10)
    expect(await client.exists(`${PREFIX}s`)).toBe(1)
    expect(await client.sismember(indexOf('ada'), 's')).toBe(1)
  })
})

describe('destroyUser and userSessions over sessions that keep changing', () => {
  it('destroyUser gives up after 10 rounds naming every session that kept changing', async () => {
    const { store, state } = racedStore(Number.POSITIVE_INFINITY)
    await store.set('a', raced('a', 'ada'))
    await store.set('b', raced('b', 'ada'))
    const error = await store.destroyUser('ada').catch((e: unknown) => e as Error)
    expect(error).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_CONFLICT' })
    // SMEMBERS gives no order: either order of the two ids, comma-separated.
    expect([
      'tollgate: sessions "a", "b" kept changing while destroyUser read them',
      'tollgate: sessions "b", "a" kept changing while destroyUser read them',
    ]).toContain((error as Error).message)
    expect(state.parses).toBe(20)
    expect(await client.exists(`${PREFIX}a`, `${PREFIX}b`)).toBe(2)
  })

  it('userSessions gives up the same way on a session that moved to another user and keeps changing', async () => {
    const { store } = racedStore(Number.POSITIVE_INFINITY)
    await client.set(`${PREFIX}moved`, JSON.stringify(raced('moved', 'bob')), 'PX', 60_000)
    await client.sadd(indexOf('ada'), 'moved')
    await expect(store.userSessions('ada')).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_CONFLICT',
      message: 'tollgate: sessions "moved" kept changing while userSessions read them',
    })
    // Never unlisted: each compare saw other text than the one judged.
    expect(await client.sismember(indexOf('ada'), 'moved')).toBe(1)
  })
})

describe('unreadable and anonymous sessions under userKey', () => {
  it('userSessions rejects a listed session that does not parse, naming its key', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('fine', sessionOf('ada'))
    await client.set(`${PREFIX}broken`, 'not json', 'PX', 60_000)
    await client.sadd(indexOf('ada'), 'broken')
    await expect(store.userSessions('ada')).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_PARSE',
      message: `tollgate: the value stored at "${PREFIX}broken" does not parse`,
    })
    expect(await client.sismember(indexOf('ada'), 'broken')).toBe(1)
  })

  it('destroy deletes an anonymous session (no index lists it)', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('anon', sessionOf(undefined))
    expect(await client.exists(`${PREFIX}anon`)).toBe(1)
    await store.destroy('anon')
    expect(await client.exists(`${PREFIX}anon`)).toBe(0)
    expect(await client.keys(`${PREFIX}user*`)).toEqual([])
  })

  it('destroy deletes a session that does not parse', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await client.set(`${PREFIX}broken`, 'not json', 'PX', 60_000)
    await store.destroy('broken')
    expect(await client.exists(`${PREFIX}broken`)).toBe(0)
  })
})
