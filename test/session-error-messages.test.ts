import { RedisSessionStore } from '@tollgate/session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

// packages/session/README.md, "Error codes": each runtime error carries a code and says what went
// wrong with which value. These pin the messages whole, and that nothing is written when a hook
// returns something unusable. On the suite's real Redis.
const PREFIX = 'test-session-error-messages:'
let client: Redis

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

/** A session with no cookie expiry: its lifetime comes from the ttl option. */
const browserSession = (extra: Record<string, unknown> = {}) =>
  ({ cookie: { originalMaxAge: null }, ...extra }) as never

describe('RedisSessionStore runtime errors, word for word', () => {
  it('a serializer.stringify that returns no string is ERR_TOLLGATE_SESSION_HOOK, nothing written', async () => {
    const store = new RedisSessionStore({
      client,
      prefix: PREFIX,
      serializer: { parse: JSON.parse, stringify: () => 5 as never },
    })
    await expect(store.set('stringify', browserSession())).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_HOOK',
      message: 'tollgate: serializer.stringify must return a string, got 5',
    })
    expect(await client.exists(`${PREFIX}stringify`)).toBe(0)
  })

  it.each([
    ['"soon"', () => 'soon'],
    ['NaN', () => Number.NaN],
    ['2147483648', () => 2 ** 31],
  ])('a ttl() returning %s is ERR_TOLLGATE_SESSION_HOOK, nothing written', async (shown, ttl) => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, ttl: ttl as never })
    await expect(store.set('ttl-hook', browserSession())).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_HOOK',
      message: `tollgate: ttl(session) must return a number of seconds at most 2147483647, got ${shown}`,
    })
    expect(await client.exists(`${PREFIX}ttl-hook`)).toBe(0)
  })

  it('a ttl() returning the maximum itself is written with that lifetime', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX, ttl: () => 2 ** 31 - 1 })
    await store.set('ttl-max', browserSession())
    const pttl = await client.pttl(`${PREFIX}ttl-max`)
    expect(pttl).toBeGreaterThan((2 ** 31 - 1) * 1000 - 60_000)
    await client.del(`${PREFIX}ttl-max`)
  })

  it.each([
    ['""', ''],
    ['5', 5],
  ])(
    'a userKey() returning %s is ERR_TOLLGATE_SESSION_HOOK, nothing written',
    async (shown, user) => {
      const store = new RedisSessionStore({ client, prefix: PREFIX, userKey: () => user as never })
      await expect(store.set('user-hook', browserSession())).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_HOOK',
        message: `tollgate: userKey(session) must return a non-empty string or undefined, got ${shown}`,
      })
      expect(await client.exists(`${PREFIX}user-hook`)).toBe(0)
    },
  )

  it.each([
    ['not json', 'does not parse'],
    ['5', 'is not a session object but 5'],
    ['[1]', 'is not a session object but an array'],
    ['null', 'is not a session object but null'],
    ['"text"', 'is not a session object but "text"'],
  ])('a stored %s is ERR_TOLLGATE_SESSION_PARSE naming the key', async (raw, says) => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    await client.set(`${PREFIX}parse`, raw)
    await expect(store.get('parse')).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_PARSE',
      message: `tollgate: the value stored at "${PREFIX}parse" ${says}`,
    })
    await client.del(`${PREFIX}parse`)
  })

  it('a cookie lifetime above the maximum is ERR_TOLLGATE_SESSION_VALUE naming the cookie field', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    const cookie = { originalMaxAge: 2 ** 31 * 1000, maxAge: 2 ** 31 * 1000 }
    await expect(store.set('cookie', { cookie } as never)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_VALUE',
      message:
        "tollgate: the session's cookie.maxAge gives a lifetime of 2147483648000 ms, above the maximum of 2147483647000 ms",
    })
    const expires = new Date(Date.now() + 2 ** 32 * 1000)
    await expect(store.set('cookie', { cookie: { expires } } as never)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_VALUE',
      message: expect.stringMatching(
        /^tollgate: the session's cookie\.expires gives a lifetime of \d+ ms, above the maximum of 2147483647000 ms$/,
      ),
    })
    expect(await client.exists(`${PREFIX}cookie`)).toBe(0)
  })

  it('destroyUser and userSessions without userKey name the method and the option', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    for (const method of ['destroyUser', 'userSessions'] as const) {
      await expect(store[method]('u')).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_NO_USER_KEY',
        message: `tollgate: ${method} needs the userKey option, which keeps the per-user index`,
      })
    }
  })

  it('a throwing callback is reported with its message', async () => {
    const store = new RedisSessionStore({ client, prefix: PREFIX })
    const reported = new Promise<Error>((resolve) => store.once('error', resolve))
    store.get('missing', () => {
      throw new Error('user callback failed')
    })
    expect((await reported).message).toBe(
      'tollgate: a callback given to the session store threw: user callback failed',
    )
    const again = new Promise<Error>((resolve) => store.once('error', resolve))
    store.get('missing', () => {
      throw 42
    })
    expect((await again).message).toBe('tollgate: a callback given to the session store threw: 42')
  })
})

describe('RedisSessionStore on a frozen Redis', () => {
  let server: RedisServer
  let own: Redis

  beforeAll(async () => {
    server = await startRedisServer()
    own = new Redis(server.url)
    await own.ping()
  })

  afterAll(async () => {
    server?.thaw()
    own?.disconnect()
    await server?.stop()
  })

  it('says which timeoutMs ran out', async () => {
    const store = new RedisSessionStore({ client: own, prefix: PREFIX, timeoutMs: 50 })
    server.freeze()
    try {
      await expect(store.get('any')).rejects.toMatchObject({
        code: 'ERR_TOLLGATE_SESSION_TIMEOUT',
        message: 'tollgate: Redis did not answer within timeoutMs (50 ms)',
      })
    } finally {
      server.thaw()
      await own.ping()
    }
  })
})
