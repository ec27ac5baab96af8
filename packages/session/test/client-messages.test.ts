import { Cluster, Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { RedisSessionStore, type RedisSessionStoreOptions } from '../src/index.js'
import { thrown } from './support/thrown.js'

// The package README ("Which clients"): the client is recognised by what it can do; an ioredis
// keyPrefix and a RESP3 client are RangeErrors, a legacy-mode client and anything else a
// TypeError naming `client` and what it got. These pin each message whole and the duck-typing
// each recognition relies on. Never connected: the client is checked in the constructor.
const EXPECTED =
  'an ioredis Redis or Cluster, or a node-redis v5 client (createClient() or createCluster())'

const make = (client: unknown) =>
  new RedisSessionStore({ client } as unknown as RedisSessionStoreOptions)

const LEGACY =
  'client is a node-redis legacy-mode client (legacyMode or client.legacy()), whose commands take callbacks; pass the client from createClient() itself'
const RESP3 =
  'client uses RESP3 (RESP: 3); create it with the default RESP 2, which this store reads'

describe('RedisSessionStore client errors, word for word', () => {
  it('names the ioredis keyPrefix and the prefix to use instead, on a Redis and on a Cluster', () => {
    const redis = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
    const error = thrown(() => make(redis))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.message).toBe(
      `tollgate: client has keyPrefix "app:"; use the store's prefix option instead (prefix: "app:sess:")`,
    )
    redis.disconnect()
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
      redisOptions: { keyPrefix: 'c:' },
    })
    expect(thrown(() => make(cluster)).message).toMatch(/keyPrefix "c:".*\(prefix: "c:sess:"\)/)
    cluster.disconnect()
  })

  it('accepts an ioredis client whose keyPrefix is empty', () => {
    const redis = new Redis({ lazyConnect: true, keyPrefix: '' })
    expect(make(redis).client).toBe(redis)
    redis.disconnect()
  })

  it.each([
    [
      'legacyMode: true in options',
      { sendCommand() {}, isOpen: false, options: { legacyMode: true } },
      TypeError,
      LEGACY,
    ],
    [
      'legacyMode: true in _options',
      { sendCommand() {}, isOpen: false, _options: { legacyMode: true } },
      TypeError,
      LEGACY,
    ],
    ['no boolean isOpen (client.legacy())', { sendCommand() {} }, TypeError, LEGACY],
    [
      'RESP: 3 in options',
      { sendCommand() {}, isOpen: false, options: { RESP: 3 } },
      RangeError,
      RESP3,
    ],
    [
      'RESP: 3 in _options',
      { sendCommand() {}, isOpen: false, _options: { RESP: 3 } },
      RangeError,
      RESP3,
    ],
    [
      'mGet without sendCommand',
      { mGet() {} },
      TypeError,
      `client must be ${EXPECTED}, got an object that looks like a node-redis client but has no sendCommand (node-redis older than v4?)`,
    ],
    [
      'scanIterator without sendCommand',
      { scanIterator() {} },
      TypeError,
      `client must be ${EXPECTED}, got an object that looks like a node-redis client but has no sendCommand (node-redis older than v4?)`,
    ],
    [
      'a boolean isCluster without defineCommand',
      { isCluster: false },
      TypeError,
      `client must be ${EXPECTED}, got an object`,
    ],
    [
      'defineCommand without a boolean isCluster',
      { defineCommand() {} },
      TypeError,
      `client must be ${EXPECTED}, got an object`,
    ],
    ['a number', 42, TypeError, `client must be ${EXPECTED}, got 42`],
    ['undefined', undefined, TypeError, `client must be ${EXPECTED}, got undefined`],
  ])('%s: %o is a %o', (_what, client, kind, message) => {
    const error = thrown(() => make(client))
    expect(error).toBeInstanceOf(kind)
    expect(error.message).toBe(`tollgate: ${message}`)
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
  })

  it('takes an object with sendCommand and a boolean isOpen as a node-redis client, with masters and nodeClient as a cluster', async () => {
    const single = { sendCommand: async () => 'x', isOpen: false, options: { RESP: 2 } }
    expect(make(single).client).toBe(single)
    const cluster = { sendCommand: async () => 'x', isOpen: false, masters: [], nodeClient() {} }
    const store = make(cluster)
    // A cluster connection asks isOpen before SCAN: not connected is the store's own error.
    await expect(store.ids()).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_CLIENT',
      message:
        'tollgate: the node-redis client is not connected: call `await client.connect()` before using the store',
    })
  })
})
