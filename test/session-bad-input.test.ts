/**
 * Issue 14, items 2, 7 and 8 (session part): hostile stored values, out-of-range lifetimes and
 * values that are not sessions, each pinned by the defect it was.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { cookieHeader, expressApp, fastifyApp } from '../packages/session/test/support/apps.js'

const PREFIX = 'test-session-bad-input:'
let client: Redis
let store: RedisSessionStore

function sessionWith(extra: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    ...extra,
  } as unknown as SessionData
}

/** The stored session of `sid` rewritten as raw JSON text with hostile keys at every level. */
async function poison(sid: string): Promise<void> {
  const stored = (await client.get(`${PREFIX}${sid}`))!
  const text = stored.replace(
    /^\{/,
    '{"__proto__":{"polluted":"yes","user":{"id":"intruder"}},"constructor":{"prototype":{"polluted":"yes"}},"nested":{"__proto__":{"polluted":"yes"},"constructor":"x","ok":1},',
  )
  await client.set(`${PREFIX}${sid}`, text, 'KEEPTTL')
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
  store = new RedisSessionStore({ client, prefix: PREFIX })
})

beforeEach(async () => {
  await store.clear()
})

afterAll(async () => {
  await store.clear()
  await client.quit()
})

describe('a stored session with a "__proto__" or "constructor" key cannot crash a Fastify server', () => {
  it('get() drops those keys at every depth and keeps the rest', async () => {
    await client.set(
      `${PREFIX}raw`,
      '{"cookie":{"path":"/"},"__proto__":{"a":1},"constructor":{"b":2},"user":{"id":"u","__proto__":{"c":3}},"list":[{"constructor":1,"d":4}]}',
    )
    const read = (await store.get('raw')) as unknown as Record<string, unknown>
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype)
    expect(Object.keys(read).sort()).toEqual(['cookie', 'list', 'user'])
    expect(Object.hasOwn(read.user as object, '__proto__')).toBe(false)
    expect(read.list).toEqual([{ d: 4 }])
    expect((read as { a?: unknown }).a).toBeUndefined()
  })

  it('drops them from a custom serializer’s result too', async () => {
    const custom = new RedisSessionStore({
      client,
      prefix: PREFIX,
      serializer: { parse: (text) => JSON.parse(text), stringify: (s) => JSON.stringify(s) },
    })
    await client.set(
      `${PREFIX}custom`,
      '{"cookie":{},"__proto__":{"a":1},"nested":{"constructor":1}}',
    )
    const read = (await custom.get('custom')) as unknown as Record<string, unknown>
    expect(Object.keys(read).sort()).toEqual(['cookie', 'nested'])
    expect(read.nested).toEqual({})
  })

  it('fastify (inject and a real socket) answers the session as if the keys were never there', async () => {
    const app = await fastifyApp(store)
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      payload: { id: 'p', name: 'P' },
    })
    const cookie = cookieHeader(login.headers['set-cookie'])
    const sid = decodeURIComponent(cookie.replace(/^sessionId=/, '')).split('.')[0]!
    await poison(sid)

    const injected = await app.inject({ method: 'GET', url: '/me', headers: { cookie } })
    expect(injected.statusCode).toBe(200)
    expect(injected.json()).toEqual({ id: 'p', name: 'P' })

    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const response = await fetch(`${address}/me`, { headers: { cookie } })
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ id: 'p', name: 'P' })
    } finally {
      await app.close()
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it('express answers the session as if the keys were never there', async () => {
    const app = expressApp(store)
    const login = await request(app).post('/login').send({ id: 'e', name: 'E' }).expect(200)
    const cookie = cookieHeader(login.headers['set-cookie'])
    const sid = decodeURIComponent(cookie)
      .replace(/^connect\.sid=s:/, '')
      .split('.')[0]!
    await poison(sid)
    await request(app).get('/me').set('Cookie', cookie).expect(200, { id: 'e', name: 'E' })
  })
})

describe('set(sid, null) and other values that are not a session are rejected before they are stored', () => {
  it.each([
    ['null', null],
    ['a string', 'session'],
    ['an array', [1, 2]],
    ['a number', 42],
    ['undefined', undefined],
  ])('set(sid, %s) is a coded TypeError and writes nothing', async (_name, value) => {
    const error = await store.set('bad', value as unknown as SessionData).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_VALUE' })
    expect((error as Error).message).toMatch(/session must be an object/)
    expect(await client.exists(`${PREFIX}bad`)).toBe(0)
  })

  it('reaches a callback as the same error', async () => {
    const error = await new Promise((resolve) =>
      store.set('bad', null as unknown as SessionData, (e) => resolve(e)),
    )
    expect(error).toMatchObject({ code: 'ERR_TOLLGATE_SESSION_VALUE' })
  })

  it('an empty or non-string session id is rejected by every method', async () => {
    for (const sid of ['', 5, null]) {
      const bad = sid as unknown as string
      await expect(store.get(bad)).rejects.toMatchObject({ code: 'ERR_TOLLGATE_SESSION_VALUE' })
      await expect(store.set(bad, sessionWith())).rejects.toThrow(/sid must be a non-empty string/)
      await expect(store.destroy(bad)).rejects.toThrow(TypeError)
      await expect(store.touch(bad, sessionWith())).rejects.toThrow(TypeError)
    }
    // The prefix alone was never written as a session key.
    expect(await client.exists(PREFIX)).toBe(0)
  })
})

describe('a lifetime too large for Redis is an error naming its maximum, not a failing set', () => {
  it('ttl() returning 1e300 rejects the set and writes nothing', async () => {
    const huge = new RedisSessionStore({ client, prefix: PREFIX, ttl: () => 1e300 })
    const noExpiry = { cookie: { originalMaxAge: null, path: '/' } } as unknown as SessionData
    await expect(huge.set('huge', noExpiry)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_HOOK',
      message: expect.stringMatching(/ttl\(session\) .* at most 2147483647, got 1e\+300/),
    })
    expect(await client.exists(`${PREFIX}huge`)).toBe(0)
  })

  it('a cookie maxAge of 1e300 rejects the set and writes nothing', async () => {
    const forever = { cookie: { originalMaxAge: 1e300, maxAge: 1e300, path: '/' } }
    await expect(store.set('forever', forever as unknown as SessionData)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_VALUE',
      message: expect.stringMatching(/cookie\.maxAge .* maximum of 2147483647000 ms/),
    })
    expect(await client.exists(`${PREFIX}forever`)).toBe(0)
  })
})
