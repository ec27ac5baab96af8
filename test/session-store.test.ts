import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { clientKinds } from '../packages/session/test/support/clients.js'

const PREFIX = 'test-session-store:'
let client: Redis
let store: RedisSessionStore

/** A session as express-session hands it to a store: a cookie with maxAge and expires. */
function sessionWith(maxAgeMs: number | null, extra: Record<string, unknown> = {}): SessionData {
  const cookie = {
    originalMaxAge: maxAgeMs,
    expires: maxAgeMs === null ? null : new Date(Date.now() + maxAgeMs),
    httpOnly: true,
    path: '/',
  }
  return { cookie, ...extra } as unknown as SessionData
}

/** Node-style call as express-session makes it, turned into a promise for the test. */
function viaCallback<T>(call: (cb: (error: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    call((error, value) => (error ? reject(error) : resolve(value as T)))
  })
}

describe.each(clientKinds)('with $name', (kind) => {
  let storeClient: SessionRedisClient

  beforeAll(async () => {
    client = new Redis(inject('redisUrl'))
    storeClient = await kind.single(inject('redisUrl'))
    store = new RedisSessionStore({ client: storeClient, prefix: PREFIX })
  })

  beforeEach(async () => {
    await store.clear()
  })

  afterAll(async () => {
    await store.clear()
    await client.quit()
    await kind.close(storeClient)
  })

  describe('RedisSessionStore contract', () => {
    it('reads back what it wrote, through callbacks as express-session calls it', async () => {
      const data = sessionWith(60_000, { user: { id: 'u1', name: 'Ada' } })
      await viaCallback<void>((cb) => store.set('s1', data, cb))
      const read = await viaCallback<SessionData | null>((cb) => store.get('s1', cb))
      expect(read).toEqual(JSON.parse(JSON.stringify(data)))
    })

    it('answers null for a session that does not exist', async () => {
      expect(await viaCallback((cb) => store.get('missing', cb))).toBeNull()
      expect(await store.get('missing')).toBeNull()
    })

    it('writes the key and value layout of connect-redis: <prefix><sid> = JSON.stringify(session)', async () => {
      const data = sessionWith(60_000, { views: 3 })
      await store.set('layout', data)
      expect(await client.get(`${PREFIX}layout`)).toBe(JSON.stringify(data))
    })

    it('destroys a session', async () => {
      await store.set('gone', sessionWith(60_000))
      await viaCallback<void>((cb) => store.destroy('gone', cb))
      expect(await client.exists(`${PREFIX}gone`)).toBe(0)
      expect(await store.get('gone')).toBeNull()
    })

    it('lists sessions with their id, their ids and their number', async () => {
      await store.set('a', sessionWith(60_000, { n: 1 }))
      await store.set('b', sessionWith(60_000, { n: 2 }))
      const all = await viaCallback<SessionData[]>((cb) => store.all(cb))
      expect(
        all.map((s) => [(s as SessionData & { id: string }).id, (s as unknown as { n: number }).n]),
      ).toEqual(
        expect.arrayContaining([
          ['a', 1],
          ['b', 2],
        ]),
      )
      expect(all).toHaveLength(2)
      expect((await viaCallback<string[]>((cb) => store.ids(cb))).sort()).toEqual(['a', 'b'])
      expect(await viaCallback<number>((cb) => store.length(cb))).toBe(2)
    })

    it('clears only its own prefix', async () => {
      await client.set('test-session-store-other:keep', 'x')
      await store.set('a', sessionWith(60_000))
      await viaCallback<void>((cb) => store.clear(cb))
      expect(await store.length()).toBe(0)
      expect(await client.get('test-session-store-other:keep')).toBe('x')
      await client.del('test-session-store-other:keep')
    })

    // Issue 14, item 2: a framework's exception inside the store's callback used to escape as an
    // uncaught exception and end the process. It is reported instead, and never fed back into the
    // callback (no second call).
    it('calls a callback that throws exactly once and reports its error on the store’s error event', async () => {
      await store.set('throws', sessionWith(60_000))
      const reported = new Promise<unknown>((resolve) => store.once('error', resolve))
      let calls = 0
      store.get('throws', () => {
        calls++
        throw new Error('user callback failed')
      })
      expect(await reported).toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_CALLBACK',
        cause: expect.objectContaining({ message: 'user callback failed' }),
      })
      // One more store round trip: a second (error) call would have been queued before it ends.
      await store.get('throws')
      expect(calls).toBe(1)
    })

    it('reports a throwing callback as a process warning when nobody listens for error', async () => {
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
      let calls = 0
      store.get('missing', () => {
        calls++
        throw 'not even an Error'
      })
      const warning = await warned
      expect(warning).toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_CALLBACK',
        cause: 'not even an Error',
      })
      await store.get('missing')
      expect(calls).toBe(1)
    })
  })

  describe('RedisSessionStore TTL', () => {
    it('follows the cookie maxAge within 2%', async () => {
      await store.set('ttl', sessionWith(600_000))
      const pttl = await client.pttl(`${PREFIX}ttl`)
      expect(Math.abs(pttl - 600_000) / 600_000).toBeLessThan(0.02)
    })

    it('uses ttl (seconds) when the cookie has no expiry, one day by default', async () => {
      await store.set('default', sessionWith(null))
      expect(Math.abs((await client.pttl(`${PREFIX}default`)) - 86_400_000)).toBeLessThan(1_728_000)
      const short = new RedisSessionStore({ client: storeClient, prefix: PREFIX, ttl: 120 })
      await short.set('numeric', sessionWith(null))
      expect(Math.abs((await client.pttl(`${PREFIX}numeric`)) - 120_000)).toBeLessThan(2_400)
      const byFunction = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        ttl: (s) => ((s as unknown as { remember?: boolean }).remember ? 3600 : 60),
      })
      await byFunction.set('remember', sessionWith(null, { remember: true }))
      expect(Math.abs((await client.pttl(`${PREFIX}remember`)) - 3_600_000)).toBeLessThan(72_000)
    })

    it('destroys instead of writing a session whose cookie has expired', async () => {
      await store.set('expired', sessionWith(60_000))
      const expired = sessionWith(60_000)
      ;(expired.cookie as unknown as { expires: Date }).expires = new Date(Date.now() - 1000)
      await store.set('expired', expired)
      expect(await client.exists(`${PREFIX}expired`)).toBe(0)
    })

    it('destroys on touch a session whose cookie has expired', async () => {
      await store.set('touch-expired', sessionWith(60_000))
      const expired = sessionWith(60_000)
      ;(expired.cookie as unknown as { expires: Date }).expires = new Date(Date.now() - 1000)
      await store.touch('touch-expired', expired)
      expect(await client.exists(`${PREFIX}touch-expired`)).toBe(0)
    })

    it('touch resets the TTL to the cookie maxAge without rewriting the value', async () => {
      await store.set('touch', sessionWith(10_000, { v: 'original' }))
      await client.set(
        `${PREFIX}touch`,
        JSON.stringify(sessionWith(10_000, { v: 'other' })),
        'KEEPTTL',
      )
      await viaCallback<void>((cb) => store.touch('touch', sessionWith(600_000, { v: 'new' }), cb))
      expect(Math.abs((await client.pttl(`${PREFIX}touch`)) - 600_000)).toBeLessThan(12_000)
      expect(JSON.parse((await client.get(`${PREFIX}touch`))!).v).toBe('other')
    })

    it('touch does not recreate a session that is gone', async () => {
      await store.touch('never-written', sessionWith(60_000))
      expect(await client.exists(`${PREFIX}never-written`)).toBe(0)
    })

    it('touch does nothing with disableTouch', async () => {
      const noTouch = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        disableTouch: true,
      })
      await noTouch.set('no-touch', sessionWith(10_000))
      await noTouch.touch('no-touch', sessionWith(600_000))
      expect(await client.pttl(`${PREFIX}no-touch`)).toBeLessThanOrEqual(10_000)
    })

    it('touchAfterSeconds skips a touch while the TTL is near full, then touches', async () => {
      const lazy = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        touchAfterSeconds: 60,
      })
      await lazy.set('lazy', sessionWith(600_000))
      // Within 60 s of the full TTL: the touch is skipped, so a TTL set behind its back stays.
      await client.pexpire(`${PREFIX}lazy`, 580_000)
      await lazy.touch('lazy', sessionWith(600_000))
      expect(await client.pttl(`${PREFIX}lazy`)).toBeLessThanOrEqual(580_000)
      // 100 s below full: now the touch renews it.
      await client.pexpire(`${PREFIX}lazy`, 500_000)
      await lazy.touch('lazy', sessionWith(600_000))
      expect(await client.pttl(`${PREFIX}lazy`)).toBeGreaterThan(590_000)
    })

    it('disableTTL writes keys without expiry and makes touch a no-op', async () => {
      const forever = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        disableTTL: true,
      })
      await forever.set('forever', sessionWith(60_000))
      expect(await client.pttl(`${PREFIX}forever`)).toBe(-1)
      await forever.touch('forever', sessionWith(60_000))
      expect(await client.pttl(`${PREFIX}forever`)).toBe(-1)
    })

    it('disableTTL still treats a session whose cookie expired as gone when read', async () => {
      const forever = new RedisSessionStore({
        client: storeClient,
        prefix: PREFIX,
        disableTTL: true,
      })
      const old = sessionWith(60_000)
      ;(old.cookie as unknown as { expires: Date }).expires = new Date(Date.now() - 1000)
      await client.set(`${PREFIX}stale`, JSON.stringify(old))
      expect(await forever.get('stale')).toBeNull()
      expect(await client.exists(`${PREFIX}stale`)).toBe(0)
    })
  })

  describe('RedisSessionStore at scale', () => {
    it('lists and clears 1,000 sessions with SCAN', async () => {
      const small = new RedisSessionStore({ client: storeClient, prefix: PREFIX, scanCount: 50 })
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) => small.set(`bulk-${i}`, sessionWith(60_000, { i }))),
      )
      const all = await small.all()
      expect(all).toHaveLength(1000)
      expect(new Set(all.map((s) => (s as SessionData & { id: string }).id)).size).toBe(1000)
      expect(
        all.every(
          (s) =>
            (s as SessionData & { id: string }).id === `bulk-${(s as unknown as { i: number }).i}`,
        ),
      ).toBe(true)
      expect(await small.length()).toBe(1000)
      await small.clear()
      expect(await small.length()).toBe(0)
      expect(await client.exists(`${PREFIX}bulk-0`, `${PREFIX}bulk-999`)).toBe(0)
    })

    it('loses nothing under concurrent writes to different sessions', async () => {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          viaCallback<void>((cb) => store.set(`conc-${i}`, sessionWith(60_000, { i }), cb)),
        ),
      )
      const read = await Promise.all(Array.from({ length: 200 }, (_, i) => store.get(`conc-${i}`)))
      expect(read.map((s) => (s as unknown as { i: number }).i)).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      )
    })
  })

  describe('RedisSessionStore errors', () => {
    it('gives the callback a parse error for a corrupt value, and keeps serving others', async () => {
      await client.set(`${PREFIX}corrupt`, '{not json')
      await store.set('fine', sessionWith(60_000, { ok: true }))
      const error = await viaCallback((cb) => store.get('corrupt', cb)).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_PARSE' })
      expect((error as Error).cause).toBeInstanceOf(SyntaxError)
      expect(await store.get('fine')).toMatchObject({ ok: true })
      await expect(store.all()).rejects.toMatchObject({ code: 'ERR_TOLLGATE_SESSION_PARSE' })
    })

    it('rejects a value that parses to something other than a session object', async () => {
      await client.set(`${PREFIX}number`, '42')
      await expect(store.get('number')).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_PARSE',
      })
    })

    it('passes a Redis error to the callback', async () => {
      await client.sadd(`${PREFIX}wrongtype`, 'x')
      const error = await viaCallback((cb) => store.get('wrongtype', cb)).catch((e: unknown) => e)
      expect(String(error)).toMatch(/WRONGTYPE/)
      await client.del(`${PREFIX}wrongtype`)
    })
  })

  describe('RedisSessionStore prefix and serializer', () => {
    it('keeps sessions of different prefixes apart, even with glob characters in a prefix', async () => {
      const globby = new RedisSessionStore({
        client: storeClient,
        prefix: 'test-session-store[1]*:',
      })
      const plain = new RedisSessionStore({ client: storeClient, prefix: 'test-session-store1x:' })
      await globby.set('g', sessionWith(60_000))
      await plain.set('p', sessionWith(60_000))
      expect(await client.exists('test-session-store[1]*:g')).toBe(1)
      expect(await globby.ids()).toEqual(['g'])
      await globby.clear()
      expect(await plain.ids()).toEqual(['p'])
      await plain.clear()
    })

    it('awaits an async serializer everywhere', async () => {
      const calls = { parse: 0, stringify: 0 }
      const serializer = {
        async stringify(session: SessionData) {
          calls.stringify++
          return `b64:${Buffer.from(JSON.stringify(session)).toString('base64')}`
        },
        async parse(text: string) {
          calls.parse++
          if (!text.startsWith('b64:')) throw new Error('not mine')
          return JSON.parse(Buffer.from(text.slice(4), 'base64').toString()) as unknown
        },
      }
      const custom = new RedisSessionStore({
        client: storeClient,
        prefix: 'test-session-store-b64:',
        serializer,
      })
      await custom.set('x', sessionWith(60_000, { secret: 'hidden' }))
      expect(await client.get('test-session-store-b64:x')).toMatch(/^b64:/)
      expect(await custom.get('x')).toMatchObject({ secret: 'hidden' })
      expect(await custom.all()).toEqual([expect.objectContaining({ id: 'x', secret: 'hidden' })])
      expect(calls).toEqual({ parse: 2, stringify: 1 })
      await custom.clear()
    })
  })
})
