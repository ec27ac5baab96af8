import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { clientKinds } from '../packages/session/test/support/clients.js'

const PREFIX = 'test-session-user:'
let client: Redis
let store: RedisSessionStore

function sessionOf(user: string | undefined, maxAgeMs = 60_000): SessionData {
  return {
    cookie: { originalMaxAge: maxAgeMs, expires: new Date(Date.now() + maxAgeMs), path: '/' },
    ...(user === undefined ? {} : { user: { id: user } }),
  } as unknown as SessionData
}

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    client = new Redis(inject('redisUrl'))
    storeClient = await kind.single(inject('redisUrl'))
    store = new RedisSessionStore({ client: storeClient, prefix: PREFIX, userKey })
  })

  beforeEach(async () => {
    await store.clear()
  })

  afterAll(async () => {
    await store.clear()
    await client.quit()
    await kind.close(storeClient)
  })

  describe('RedisSessionStore userKey', () => {
    it('destroyUser logs a user out of every device at once and leaves others alone', async () => {
      await store.set('phone', sessionOf('ada'))
      await store.set('laptop', sessionOf('ada'))
      await store.set('tablet', sessionOf('ada'))
      await store.set('other', sessionOf('bob'))
      await store.set('anonymous', sessionOf(undefined))
      expect((await store.userSessions('ada')).sort()).toEqual(['laptop', 'phone', 'tablet'])

      expect(await store.destroyUser('ada')).toBe(3)

      expect(await store.get('phone')).toBeNull()
      expect(await store.get('laptop')).toBeNull()
      expect(await store.get('tablet')).toBeNull()
      expect(await store.get('other')).toMatchObject({ user: { id: 'bob' } })
      expect(await store.get('anonymous')).not.toBeNull()
      expect(await client.exists(`${PREFIX}user:{ada}`)).toBe(0)
    })

    it('keeps the index out of all, ids and length, and clear removes it', async () => {
      await store.set('s', sessionOf('ada'))
      expect(await store.ids()).toEqual(['s'])
      expect(await store.length()).toBe(1)
      expect(await store.all()).toHaveLength(1)
      await store.clear()
      expect(await client.exists(`${PREFIX}user:{ada}`)).toBe(0)
    })

    it('gives the index a TTL no shorter than the longest session it holds', async () => {
      await store.set('long', sessionOf('ada', 600_000))
      await store.set('short', sessionOf('ada', 10_000))
      const indexTtl = await client.pttl(`${PREFIX}user:{ada}`)
      expect(indexTtl).toBeGreaterThanOrEqual(await client.pttl(`${PREFIX}long`))
      // A touch that extends a session extends the index with it.
      await store.touch('short', sessionOf('ada', 3_600_000))
      expect(await client.pttl(`${PREFIX}user:{ada}`)).toBeGreaterThanOrEqual(
        await client.pttl(`${PREFIX}short`),
      )
    })

    it('drops a destroyed session from the index, and the index with its last session', async () => {
      await store.set('one', sessionOf('ada'))
      await store.set('two', sessionOf('ada'))
      await store.destroy('one')
      expect(await client.smembers(`${PREFIX}user:{ada}`)).toEqual(['two'])
      await store.destroy('two')
      expect(await client.exists(`${PREFIX}user:{ada}`)).toBe(0)
    })

    it('prunes sessions that expired or changed owner when the index is read', async () => {
      await store.set('expired', sessionOf('ada'))
      await store.set('switched', sessionOf('ada'))
      await store.set('live', sessionOf('ada'))
      await client.del(`${PREFIX}expired`) // as if its TTL ran out
      await store.set('switched', sessionOf('bob'))
      expect(await store.userSessions('ada')).toEqual(['live'])
      expect(await client.smembers(`${PREFIX}user:{ada}`)).toEqual(['live'])
    })

    it('destroyUser never deletes a session that now belongs to someone else', async () => {
      await store.set('shared-device', sessionOf('ada'))
      await store.set('shared-device', sessionOf('bob'))
      expect(await store.destroyUser('ada')).toBe(0)
      expect(await store.get('shared-device')).toMatchObject({ user: { id: 'bob' } })
      expect(await store.destroyUser('bob')).toBe(1)
      expect(await store.get('shared-device')).toBeNull()
    })

    it('destroyUser also removes an unreadable session listed under the user', async () => {
      await store.set('broken', sessionOf('ada'))
      await client.set(`${PREFIX}broken`, '{corrupt', 'KEEPTTL')
      expect(await store.destroyUser('ada')).toBe(1)
      expect(await client.exists(`${PREFIX}broken`)).toBe(0)
    })

    it('refuses destroyUser without userKey, with a coded error', async () => {
      const plain = new RedisSessionStore({ client: storeClient, prefix: PREFIX })
      await expect(plain.destroyUser('ada')).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_NO_USER_KEY',
      })
    })

    it('rejects a userKey result that is not a string', async () => {
      const bad = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        userKey: () => 42 as unknown as string,
      })
      await expect(bad.set('x', sessionOf('ada'))).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_HOOK',
      })
      expect(await client.exists(`${PREFIX}x`)).toBe(0)
    })
  })
})
