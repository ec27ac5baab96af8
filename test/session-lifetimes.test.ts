/**
 * packages/session/README.md, "How long a session lives": the cookie's expiry, else its maxAge,
 * else `ttl`; a lifetime of 0 or less destroys the session; a cookie lifetime above 2^31 - 1
 * seconds is refused. These pin the edges: exactly 0, exactly the maximum, no cookie at all, and
 * a cookie that expires in the very millisecond it is read. On the suite's real Redis.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest'

const PREFIX = 'test-session-lifetimes:'
let client: Redis

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

function withMaxAge(maxAge: number, user?: string): SessionData {
  return {
    cookie: { originalMaxAge: maxAge, maxAge },
    ...(user === undefined ? {} : { user: { id: user } }),
  } as unknown as SessionData
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

beforeEach(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
})

afterAll(async () => {
  vi.useRealTimers()
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

describe('RedisSessionStore session lifetimes at their edges', () => {
  it('set with a cookie maxAge of exactly 0 destroys the session instead of writing it', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    await store.set('s', withMaxAge(60_000))
    await store.set('s', withMaxAge(0))
    expect(await client.exists(`${PREFIX}s`)).toBe(0)
  })

  it('touch with a cookie maxAge of exactly 0 destroys the session and unlists it from its user', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('s', withMaxAge(60_000, 'ada'))
    expect(await client.sismember(`${PREFIX}user:{ada}`, 's')).toBe(1)
    await store.touch('s', withMaxAge(0, 'ada'))
    expect(await client.exists(`${PREFIX}s`)).toBe(0)
    expect(await client.sismember(`${PREFIX}user:{ada}`, 's')).toBe(0)
  })

  it('touch of a session without a user writes no user index', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey })
    await store.set('anon', withMaxAge(60_000))
    await store.touch('anon', withMaxAge(60_000))
    expect(await client.pttl(`${PREFIX}anon`)).toBeGreaterThan(50_000)
    expect(await client.keys(`${PREFIX}user*`)).toEqual([])
  })

  it('a session without a cookie lives for ttl seconds', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, ttl: 120 })
    await store.set('bare', { user: 'x' } as never)
    const pttl = await client.pttl(`${PREFIX}bare`)
    expect(pttl).toBeGreaterThan(110_000)
    expect(pttl).toBeLessThanOrEqual(120_000)
    await store.touch('bare', { user: 'x' } as never)
    expect(await client.pttl(`${PREFIX}bare`)).toBeGreaterThan(110_000)
  })

  it('a cookie maxAge of exactly 2^31 - 1 seconds is written with that lifetime', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    const max = (2 ** 31 - 1) * 1000
    await store.set('longest', withMaxAge(max))
    expect(await client.pttl(`${PREFIX}longest`)).toBeGreaterThan(max - 60_000)
  })

  it('get returns null for a session whose cookie expires in the millisecond it is read', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, disableTTL: true })
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const now = Date.now()
      // disableTTL: Redis keeps the key; only the cookie's own expiry ends the session.
      await client.set(
        `${PREFIX}edge`,
        JSON.stringify({ cookie: { expires: new Date(now).toISOString() } }),
      )
      await client.set(
        `${PREFIX}later`,
        JSON.stringify({ cookie: { expires: new Date(now + 1).toISOString() } }),
      )
      expect(await store.get('edge')).toBeNull()
      expect(await client.exists(`${PREFIX}edge`)).toBe(0)
      expect(await store.get('later')).not.toBeNull()
    } finally {
      vi.useRealTimers()
    }
  })
})
