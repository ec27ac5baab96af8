import { randomUUID } from 'node:crypto'
import { createLimiter, fixedWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Cluster, Redis } from 'ioredis'
import { createClient, createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  type ClientKind,
  clientKinds,
  connectClient,
  connectCluster,
  type TestClient,
} from '../../../test/support/clients.js'
import { adaptClient, hashSlot, luaScript } from '../src/client.js'

const prefix = `t-client-${randomUUID()}:`
let admin: Redis
const clients = new Map<ClientKind, TestClient>()
const clusters = new Map<ClientKind, TestClient>()

beforeAll(async () => {
  admin = new Redis(inject('redisUrl'))
  for (const kind of clientKinds) {
    clients.set(kind, await connectClient(inject('redisUrl'), kind))
    clusters.set(kind, await connectCluster(inject('clusterPorts'), kind))
  }
})

afterAll(async () => {
  for (const c of [...clients.values(), ...clusters.values()]) await c.quit()
  await admin.quit()
})

describe('adaptClient()', () => {
  it('tells the four client kinds apart by their shape', () => {
    const shapes = clientKinds.flatMap((kind) => {
      const single = adaptClient(clients.get(kind)!.client)
      const cluster = adaptClient(clusters.get(kind)!.client)
      return [
        [single.kind, single.cluster],
        [cluster.kind, cluster.cluster],
      ]
    })
    expect(shapes).toEqual([
      ['ioredis', false],
      ['ioredis', true],
      ['node-redis', false],
      ['node-redis', true],
    ])
  })

  it('accepts an ioredis client before it has connected (ioredis queues until ready)', () => {
    const lazy = new Redis(inject('redisUrl'), { lazyConnect: true })
    expect(adaptClient(lazy).kind).toBe('ioredis')
    const lazyCluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
    expect(adaptClient(lazyCluster).cluster).toBe(true)
  })

  it.each([
    [
      undefined,
      /client must be an ioredis Redis or Cluster, or a connected node-redis v5 .*got undefined/,
    ],
    [null, /client must be .*, got null/],
    [5, /client must be .*, got 5/],
    ['redis://127.0.0.1', /client must be .*, got "redis:\/\/127.0.0.1"/],
    [{ get() {} }, /client must be .*, got an object$/],
    [new (class Memcached {})(), /client must be .*, got an object of class Memcached/],
  ])('throws a TypeError naming client for %o', (value, message) => {
    expect(() => adaptClient(value)).toThrow(TypeError)
    expect(() => adaptClient(value)).toThrow(message)
    expect(() => new RedisStore({ client: value as never })).toThrow(message)
  })

  it('throws a TypeError for a node-redis client that was never connected, or was closed', async () => {
    const fresh = createClient({ url: inject('redisUrl') })
    expect(() => new RedisStore({ client: fresh })).toThrow(TypeError)
    expect(() => new RedisStore({ client: fresh })).toThrow(
      /client is a node-redis client that is not open: call client\.connect\(\)/,
    )
    const freshCluster = createCluster({ rootNodes: [{ url: inject('redisUrl') }] })
    expect(() => new RedisStore({ client: freshCluster })).toThrow(
      /client is a node-redis cluster that is not open/,
    )
    const closed = createClient({ url: inject('redisUrl') })
    await closed.connect()
    await closed.close()
    expect(() => new RedisStore({ client: closed })).toThrow(/not open/)
  })

  it('accepts a node-redis client whose connect() is still under way', async () => {
    const connecting = createClient({ url: inject('redisUrl') })
    const connected = connecting.connect()
    const store = new RedisStore({ client: connecting, prefix })
    // node-redis queues the command until the connection is ready.
    expect(
      await store.decide('connecting', fixedWindow({ limit: 2, windowMs: 60_000 }), 1),
    ).toMatchObject({
      allowed: true,
      remaining: 1,
    })
    await connected
    await connecting.close()
  })

  it('throws a TypeError for a node-redis client in RESP3 mode', () => {
    const resp3 = createClient({ url: inject('redisUrl'), RESP: 3 })
    expect(() => new RedisStore({ client: resp3 })).toThrow(TypeError)
    expect(() => new RedisStore({ client: resp3 })).toThrow(
      /client is a node-redis client in RESP3 mode/,
    )
    const resp3Cluster = createCluster({ rootNodes: [{ url: inject('redisUrl') }], RESP: 3 })
    expect(() => new RedisStore({ client: resp3Cluster })).toThrow(/RESP3 mode/)
  })

  it('throws a TypeError for the legacy (callback) interface of a node-redis client', () => {
    const legacy = clients.get('node-redis')!.client as ReturnType<typeof createClient>
    expect(() => new RedisStore({ client: legacy.legacy() as never })).toThrow(TypeError)
    expect(() => new RedisStore({ client: legacy.legacy() as never })).toThrow(
      /client is a node-redis client in legacy \(callback\) mode/,
    )
  })
})

describe('RedisClientAdapter.runScript()', () => {
  const probe = luaScript(
    'probe',
    // Every reply type a script can give, one of each.
    "return { 42, -7, 'text', { 1, { 'nested' } }, 3.99, false, true, redis.call('EXISTS', KEYS[1]), ARGV[1], #ARGV }",
  )

  it.each(clientKinds)('gives the same reply types on %s as on ioredis', async (kind) => {
    const got = await adaptClient(clients.get(kind)!.client).runScript(
      probe,
      [`${prefix}probe`],
      ['a b', 7],
    )
    // Lua numbers are truncated to integers, false is nil, true is 1.
    expect(got).toEqual([42, -7, 'text', [1, ['nested']], 3, null, 1, 0, 'a b', 2])
  })

  it.each(clientKinds)('rejects with the error reply of a failing script on %s', async (kind) => {
    const failing = luaScript('failing', "return redis.error_reply('TOLLGATE broken')")
    await expect(
      adaptClient(clients.get(kind)!.client).runScript(failing, [`${prefix}x`], []),
    ).rejects.toThrow(/TOLLGATE broken/)
  })

  it.each(clientKinds)(
    'sends EVAL once after SCRIPT FLUSH, then EVALSHA again, on %s',
    async (kind) => {
      const adapter = adaptClient(clients.get(kind)!.client)
      const counter = luaScript('counter', "return redis.call('INCR', KEYS[1])")
      const key = `${prefix}counter-${kind}`
      await adapter.runScript(counter, [key], [])
      await admin.script('FLUSH')
      expect(await adapter.runScript(counter, [key], [])).toBe(2)
      expect(await admin.script('EXISTS', counter.sha)).toEqual([1])
      expect(await adapter.runScript(counter, [key], [])).toBe(3)
    },
  )

  it('never redefines a command an ioredis user (or another tollgate) already defined', async () => {
    const client = clients.get('ioredis')!.client as Redis
    const script = luaScript('mine', 'return 1')
    const adapter = adaptClient(client)
    adapter.prepare(script)
    const defined = (client as unknown as Record<string, unknown>)[script.name]
    adaptClient(client).prepare(script)
    expect((client as unknown as Record<string, unknown>)[script.name]).toBe(defined)
    client.defineCommand('tollgate_theirs_00000000', { lua: 'return 2', numberOfKeys: 0 })
    expect(() =>
      adapter.prepare({ name: 'tollgate_theirs_00000000', lua: 'return 1', sha: script.sha }),
    ).toThrow(/already defines a command named "tollgate_theirs_00000000"/)
    expect(await client.call('EVAL', 'return 1', '0')).toBe(1)
  })

  it('calls a same-text command defined with a fixed key count (another tollgate copy) correctly', async () => {
    const client = new Redis(inject('redisUrl'))
    try {
      const script = luaScript('fixedKeys', 'return {KEYS[1], ARGV[1]}')
      client.defineCommand(script.name, { lua: script.lua, numberOfKeys: 1 })
      const adapter = adaptClient(client)
      expect(await adapter.runScript(script, ['k'], ['v'])).toEqual(['k', 'v'])
      await expect(adapter.runScript(script, ['k', 'j'], ['v'])).rejects.toThrow(/for 1 key/)
    } finally {
      client.disconnect()
    }
  })
})

describe('a closed client', () => {
  it.each(clientKinds)('on %s, a decision answers from the fail policy at once', async (kind) => {
    const own = await connectClient(inject('redisUrl'), kind)
    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
      store: new RedisStore({ client: own.client, prefix }),
      failure: { mode: 'open', timeoutMs: 5_000, breaker: false },
      onStoreError: (error) => errors.push(error),
      denyCache: false,
    })
    expect((await limiter.limit('closed')).degraded).toBeUndefined()
    await own.quit()
    const started = performance.now()
    expect(await limiter.limit('closed')).toMatchObject({ allowed: true, degraded: true })
    // Far below timeoutMs: the client rejected, it did not queue the command.
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(errors).toHaveLength(1)
  })
})

describe('hashSlot()', () => {
  const keys = [
    '',
    'a',
    '123456789',
    'tollgate:{fw:100:60000:1.2.3.4}:fw',
    '{user1000}.following',
    'foo{}{bar}',
    'foo{{bar}}zap',
    'foo{bar}{zap}',
    '}{x}',
    '{',
    'ключ-🔑-鍵',
    'p:{ключ}:sl',
    'x'.repeat(1024),
    ...Array.from({ length: 40 }, (_, i) => `user-${i}`),
  ]

  it('matches CLUSTER KEYSLOT for tags, empty tags, UTF-8 and long keys', async () => {
    const node = new Redis(inject('clusterPorts')[0]!, '127.0.0.1')
    try {
      for (const key of keys) {
        expect(hashSlot(key), key).toBe(Number(await node.cluster('KEYSLOT', key)))
      }
    } finally {
      node.disconnect()
    }
  })

  it.each(clientKinds)(
    'sends a key with an empty tag to its master on a %s cluster',
    async (kind) => {
      // Redis hashes '{}a}b' whole; cluster-key-slot (node-redis) would hash 'a'.
      const adapter = adaptClient(clusters.get(kind)!.client)
      const write = luaScript('write', "return redis.call('SET', KEYS[1], ARGV[1])")
      for (let i = 0; i < 20; i++) {
        const key = `{}${prefix}${i}}:x`
        expect(await adapter.runScript(write, [key], ['1'])).toBe('OK')
        expect(await adapter.del([key])).toBe(1)
      }
    },
  )

  it.each(clientKinds)('lets del() remove keys of several slots on a %s cluster', async (kind) => {
    const cluster = clusters.get(kind)!
    const adapter = adaptClient(cluster.client)
    const keys = Array.from({ length: 12 }, (_, i) => `${prefix}{del-${i}}`)
    expect(new Set(keys.map((k) => adapter.slot(k))).size).toBeGreaterThan(3)
    const write = luaScript('write', "return redis.call('SET', KEYS[1], '1')")
    for (const key of keys) await adapter.runScript(write, [key], [])
    expect(await adapter.del(keys)).toBe(12)
    expect(await adapter.del(keys)).toBe(0)
  })
})
