/**
 * destroyUser against a session that changes owner while it runs (issue 15, X5): "log out
 * everywhere" must never delete a session that meanwhile belongs to someone else. The store
 * reads, checks the owner, then deletes only if the value is still the one it checked (a
 * compare-and-delete); a plain DEL would delete the new owner's session. Real Redis.
 */
import { randomUUID } from 'node:crypto'
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const PREFIX = `t-mutants-sess-${randomUUID()}:`
let client: Redis

function sessionOf(user: string, device = 'any'): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    user: { id: user },
    device,
  } as unknown as SessionData
}

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id
const ownerOf = (session: unknown) => (session as { user?: { id: string } } | null)?.user?.id

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

describe('destroyUser with a concurrent owner change', () => {
  it("keeps a session that another user's login rewrote after destroyUser read it", async () => {
    // The rewrite is placed exactly between destroyUser's read of 'device' and its delete: the
    // serializer runs there (destroyUser parses what it read to learn the owner).
    const other = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    let rewriteOnParse: 'device' | undefined
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
      serializer: {
        stringify: (data) => JSON.stringify(data),
        async parse(text) {
          const data = JSON.parse(text)
          if (rewriteOnParse !== undefined && data.device === rewriteOnParse) {
            rewriteOnParse = undefined
            await other.set('device', sessionOf('bob', 'device'))
          }
          return data
        },
      },
    })
    await store.set('device', sessionOf('ada', 'device'))
    await store.set('ada-only', sessionOf('ada', 'ada-only'))
    rewriteOnParse = 'device'
    const destroyed = await store.destroyUser('ada')
    expect(rewriteOnParse).toBeUndefined() // the rewrite did happen mid-destroyUser
    expect(ownerOf(await other.get('device'))).toBe('bob')
    expect(await other.get('ada-only')).toBeNull()
    expect(destroyed).toBe(1)
    expect(await other.userSessions('bob')).toEqual(['device'])
  })

  it("never loses the new owner's session in 100 racing logout/login trials", async () => {
    // Whatever the interleaving, bob's write is either seen (and the session spared), lands
    // after the delete (and recreates it), or lands in between (and the compare fails).
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    const lost: number[] = []
    for (let trial = 0; trial < 100; trial++) {
      const sid = `race-${trial}`
      await store.set(sid, sessionOf('ada'))
      await Promise.all([store.destroyUser('ada'), store.set(sid, sessionOf('bob'))])
      if (ownerOf(await store.get(sid)) !== 'bob') lost.push(trial)
    }
    expect(lost).toEqual([])
  })
})
