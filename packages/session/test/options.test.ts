import session from 'express-session'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisSessionStore, type RedisSessionStoreOptions } from '../src/index.js'

// Never connected: option parsing happens in the constructor, before any command.
const client = new Redis({ lazyConnect: true })

afterAll(() => {
  client.disconnect()
})

const make = (options: Record<string, unknown>) =>
  new RedisSessionStore({ client, ...options } as unknown as RedisSessionStoreOptions)

describe('RedisSessionStore options', () => {
  it('accepts an ioredis Redis and a Cluster with the connect-redis defaults', () => {
    const store = new RedisSessionStore({ client })
    expect(store.prefix).toBe('sess:')
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
    expect(new RedisSessionStore({ client: cluster }).client).toBe(cluster)
    cluster.disconnect()
  })

  it("extends express-session's Store when express-session is installed (its middleware calls regenerate, load and createSession)", () => {
    const store = new RedisSessionStore({ client })
    expect(store).toBeInstanceOf(session.Store)
    expect(store.createSession).toBe(session.Store.prototype.createSession)
  })

  it('names an unknown option (a typo) in a TypeError', () => {
    expect(() => make({ ttL: 60 })).toThrow(TypeError)
    expect(() => make({ ttL: 60 })).toThrow(/"ttL"/)
    expect(() => make({ ttL: 60, perfix: 'x' })).toThrow(/"ttL", "perfix"/)
  })

  it.each([
    ['prefix', 5, TypeError, /prefix .* got 5/],
    ['prefix', '', RangeError, /prefix .* got ""/],
    ['ttl', '60', TypeError, /ttl .* got "60"/],
    ['ttl', 0, RangeError, /ttl .* got 0/],
    ['ttl', -5, RangeError, /ttl .* got -5/],
    ['ttl', Number.NaN, RangeError, /ttl .* got NaN/],
    ['disableTouch', 'yes', TypeError, /disableTouch .* got "yes"/],
    ['disableTTL', 1, TypeError, /disableTTL .* got 1/],
    ['serializer', {}, TypeError, /serializer .* got an object/],
    ['scanCount', 1.5, RangeError, /scanCount .* got 1.5/],
    ['scanCount', '100', TypeError, /scanCount .* got "100"/],
    ['touchAfterSeconds', -1, RangeError, /touchAfterSeconds .* got -1/],
    ['timeoutMs', 0, RangeError, /timeoutMs .* got 0/],
    ['timeoutMs', true, TypeError, /timeoutMs .* got true/],
    ['userKey', 'user.id', TypeError, /userKey .* got "user.id"/],
    // Issue 14, item 7: values past a maximum used to be accepted, then failed every call.
    ['timeoutMs', 2 ** 31, RangeError, /timeoutMs .* at most 2147483647 .* got 2147483648/],
    ['ttl', 1e300, RangeError, /ttl .* at most 2147483647, got 1e\+300/],
    ['ttl', 2 ** 31, RangeError, /ttl .* at most 2147483647, got 2147483648/],
    ['touchAfterSeconds', 1e300, RangeError, /touchAfterSeconds .* at most 2147483647/],
    ['scanCount', 2 ** 40, RangeError, /scanCount .* at most 1000000/],
  ])('rejects %s = %o with a message naming it and the value', (name, value, kind, message) => {
    expect(() => make({ [name]: value })).toThrow(kind)
    expect(() => make({ [name]: value })).toThrow(message)
  })

  it('accepts the maximum timeoutMs and ttl themselves', () => {
    expect(() => make({ timeoutMs: 2 ** 31 - 1, ttl: 2 ** 31 - 1 })).not.toThrow()
  })

  it('rejects touchAfterSeconds together with disableTouch or disableTTL', () => {
    expect(() => make({ touchAfterSeconds: 60, disableTouch: true })).toThrow(RangeError)
    expect(() => make({ touchAfterSeconds: 60, disableTTL: true })).toThrow(/disableTTL/)
  })

  it('rejects a missing client, a node-redis client and an ioredis keyPrefix', () => {
    expect(() => new RedisSessionStore({} as RedisSessionStoreOptions)).toThrow(
      /client .* undefined/,
    )
    const nodeRedisLike = { get() {}, set() {}, mGet() {}, scanIterator() {} }
    expect(() => make({ client: nodeRedisLike })).toThrow(/node-redis/)
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
    expect(() => new RedisSessionStore({ client: prefixed })).toThrow(/keyPrefix "app:"/)
    prefixed.disconnect()
  })

  it('carries stable error codes', () => {
    expect(() => make({ nope: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_TOLLGATE_UNKNOWN_OPTION' }),
    )
    expect(() => make({ ttl: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_TOLLGATE_INVALID_OPTION' }),
    )
  })

  it('does not mutate the options object', () => {
    const options = Object.freeze({ client, prefix: 'p:', ttl: 60 })
    expect(() => new RedisSessionStore(options)).not.toThrow()
    expect(options).toEqual({ client, prefix: 'p:', ttl: 60 })
  })

  it('defines its scripts once per client and never redefines them', () => {
    new RedisSessionStore({ client })
    const commands = client as unknown as Record<string, unknown>
    const names = Object.keys(commands).filter((k) => /^tollgate_session_\w+_[0-9a-f]{8}$/.test(k))
    expect(names).toHaveLength(4)
    const before = names.map((name) => commands[name])
    new RedisSessionStore({ client, prefix: 'other:' })
    expect(names.map((name) => commands[name])).toEqual(before)
    expect(names.every((name, i) => commands[name] === before[i])).toBe(true)
  })
})

describe('RedisSessionStore client (issue 13)', () => {
  it('accepts a node-redis client and cluster, recognised without instanceof', () => {
    const single = createClient({ url: 'redis://127.0.0.1:1' })
    expect(new RedisSessionStore({ client: single }).client).toBe(single)
    const cluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] })
    expect(new RedisSessionStore({ client: cluster }).client).toBe(cluster)
  })

  it('rejects a node-redis client in RESP3 mode with a RangeError naming client', () => {
    const resp3 = createClient({ url: 'redis://127.0.0.1:1', RESP: 3 })
    expect(() => new RedisSessionStore({ client: resp3 })).toThrow(RangeError)
    expect(() => new RedisSessionStore({ client: resp3 })).toThrow(/client uses RESP3/)
  })

  it('rejects a node-redis legacy-mode client with a TypeError naming client', () => {
    const legacy = createClient({ url: 'redis://127.0.0.1:1' }).legacy()
    expect(() => make({ client: legacy })).toThrow(TypeError)
    expect(() => make({ client: legacy })).toThrow(/client is a node-redis legacy-mode client/)
  })

  it.each([
    [42, /client must be .* got 42/],
    ['redis://127.0.0.1', /client must be .* got "redis:\/\/127.0.0.1"/],
    [{}, /client must be .* got an object/],
    [null, /client must be .* got null/],
    [() => {}, /client must be .* got a function/],
  ])('rejects client = %o with a TypeError naming client and what it got', (value, message) => {
    expect(() => make({ client: value })).toThrow(TypeError)
    expect(() => make({ client: value })).toThrow(message)
  })

  it('answers at once with ERR_TOLLGATE_SESSION_CLIENT while a node-redis client is not connected', async () => {
    for (const client of [
      createClient({ url: 'redis://127.0.0.1:1' }),
      createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }),
    ]) {
      // No timeout race: the answer must come from the store itself, not from timeoutMs.
      const store = new RedisSessionStore({ client, userKey: () => 'u', timeoutMs: false })
      const session = { cookie: { originalMaxAge: 60_000 } } as never
      const started = performance.now()
      const errors = await Promise.all([
        new Promise((resolve) => store.get('sid', resolve)),
        store.set('sid', session).catch((e: unknown) => e),
        store.all().catch((e: unknown) => e),
        store.destroyUser('u').catch((e: unknown) => e),
      ])
      for (const error of errors) {
        expect(error).toMatchObject({
          code: 'ERR_TOLLGATE_SESSION_CLIENT',
          message: expect.stringMatching(/not connected: call `await client.connect\(\)`/),
        })
      }
      expect(performance.now() - started).toBeLessThan(1000)
    }
  })
})
