import { RedisSessionStore } from '@tollgate/session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'

// packages/session/README.md, "Log out everywhere": a save raises the user index's TTL, never
// lowering it, to the session's TTL plus one minute; with disableTTL nothing expires. These read
// the TTLs right after each step (real Redis, a fresh cookie lifetime each time), so the exact
// minute is checked, not only "at least as long as the session".
const PREFIX = 'test-session-index-ttl:'
const MINUTE = 60_000
let client: Redis

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

beforeEach(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
})

const userKey = (session: object) => (session as { user?: string }).user

const sessionOf = (user: string, maxAgeMs: number) =>
  ({ user, cookie: { originalMaxAge: maxAgeMs, maxAge: maxAgeMs } }) as never

/** PTTL of the index minus PTTL of the session, read together. */
async function slack(sid: string, user: string): Promise<number> {
  const [[, index], [, session]] = (await client
    .multi()
    .pttl(`${PREFIX}user:{${user}}`)
    .pttl(`${PREFIX}${sid}`)
    .exec()) as [[null, number], [null, number]]
  return index - session
}

describe('the user index TTL', () => {
  it('is the session TTL plus one minute after a save', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
    })
    await store.set('a', sessionOf('ada', 120_000))
    expect(Math.abs((await slack('a', 'ada')) - MINUTE)).toBeLessThan(50)
  })

  it('is raised to the session TTL plus one minute by a touch that lengthens the session', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
    })
    await store.set('t', sessionOf('tom', 10_000))
    await store.touch('t', sessionOf('tom', 600_000))
    expect(Math.abs((await slack('t', 'tom')) - MINUTE)).toBeLessThan(50)
  })

  it('is raised the same way by a touch with touchAfterSeconds', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
      touchAfterSeconds: 1,
    })
    await store.set('u', sessionOf('una', 10_000))
    await store.touch('u', sessionOf('una', 600_000))
    expect(Math.abs((await slack('u', 'una')) - MINUTE)).toBeLessThan(50)
  })

  it('is never lowered by a shorter session of the same user', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
    })
    await store.set('long', sessionOf('lea', 600_000))
    await store.set('short', sessionOf('lea', 10_000))
    expect(Math.abs((await slack('long', 'lea')) - MINUTE)).toBeLessThan(50)
  })

  it('does not exist as an expiry with disableTTL: session and index never expire', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      userKey,
      disableTTL: true,
    })
    await store.set('p', sessionOf('pat', 60_000))
    expect(await client.pttl(`${PREFIX}p`)).toBe(-1)
    expect(await client.pttl(`${PREFIX}user:{pat}`)).toBe(-1)
  })

  it('a session without a user is written with its own TTL and no index', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, userKey: () => undefined })
    await store.set('anon', sessionOf('x', 120_000))
    const pttl = await client.pttl(`${PREFIX}anon`)
    expect(pttl).toBeGreaterThan(119_000)
    expect(pttl).toBeLessThanOrEqual(120_000)
    expect(await client.keys(`${PREFIX}user*`)).toEqual([])
  })
})
