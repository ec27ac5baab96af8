/**
 * Edges of the client adapter (src/client.ts) that client.test.ts leaves open, each on a real
 * Redis or Cluster: how a client is recognised by its shape (and what each refusal says), an
 * ioredis Cluster's keyPrefix in the slot a batch is grouped by, DEL on one Redis and across
 * slots, a failing script never retried as EVAL, a call with more KEYS than ARGV on node-redis,
 * and hash tags that only a '}' closes. Needs the test Cluster (not in `pnpm mutation:lua`).
 */
import { randomUUID } from 'node:crypto'
import { compound, fixedWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Cluster, Redis } from 'ioredis'
import { createClient, RESP_TYPES } from 'redis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  type ClientKind,
  clientKinds,
  connectClient,
  connectCluster,
  monitor,
  type TestClient,
} from '../../../test/support/clients.js'
import { type RedisCluster, startRedisCluster } from '../../../test/support/redis-server.js'
import { adaptClient, hashSlot, luaScript } from '../src/client.js'

const prefix = `t-client-edges-${randomUUID()}:`
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
  const keys = await admin.keys(`${prefix}*`)
  if (keys.length > 0) await admin.del(...keys)
  await admin.quit()
})

const EXPECTED =
  'tollgate: client must be an ioredis Redis or Cluster, or a connected node-redis v5 createClient() or createCluster() client'
const sendCommand = async () => null
const withTypeMapping = () => null

/** The TypeError `make` throws, checked to be tollgate's own (coded, named option). */
function refusal(make: () => unknown): string {
  try {
    make()
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError)
    expect((error as { code?: string }).code).toBe('ERR_TOLLGATE_INVALID_OPTION')
    return (error as Error).message
  }
  throw new Error('expected a TypeError')
}

describe('adaptClient() recognising a client by its shape', () => {
  it.each([
    ['without a prototype', Object.create(null)],
    ['of an unnamed class', new (class {})()],
    ['whose constructor name is not a string', { constructor: { name: 42 } }],
  ])('describes an object %s as "an object"', (_label, value) => {
    expect(refusal(() => adaptClient(value))).toBe(`${EXPECTED}, got an object`)
  })

  it('refuses a node-redis client older than v5 (sendCommand and isOpen, no withTypeMapping)', () => {
    expect(refusal(() => adaptClient({ isOpen: true, sendCommand }))).toBe(
      `${EXPECTED}, got a node-redis client older than v5`,
    )
  })

  it('refuses a node-redis v4 legacyMode client by its v4 promise interface', () => {
    expect(
      refusal(() => adaptClient({ isOpen: true, sendCommand, withTypeMapping, v4: {} })),
    ).toMatch(/^tollgate: client is a node-redis client in legacy \(callback\) mode;/)
  })

  it('refuses a node-redis v5 client created with the v4 option legacyMode: true, and only that', () => {
    const legacy = createClient({ url: inject('redisUrl'), legacyMode: true } as never)
    expect(refusal(() => adaptClient(legacy))).toMatch(/in legacy \(callback\) mode/)
    const plain = createClient({ url: inject('redisUrl'), legacyMode: false } as never)
    expect(refusal(() => adaptClient(plain))).toMatch(/client that is not open/)
  })

  it('takes an open object with sendCommand and withTypeMapping (and no options) for a node-redis v5 client', () => {
    const adapter = adaptClient({ isOpen: true, sendCommand, withTypeMapping })
    expect([adapter.kind, adapter.cluster]).toEqual(['node-redis', false])
  })
})

describe('the ioredis adapter', () => {
  it('refuses a client that has a function of the script name which defineCommand did not make', () => {
    const client = new Redis(inject('redisUrl'), { lazyConnect: true })
    try {
      const script = luaScript('handmade', 'return 1')
      ;(client as unknown as Record<string, unknown>)[script.name] = () => 'theirs'
      expect(() => adaptClient(client).prepare(script)).toThrow(
        `tollgate: client already defines a command named "${script.name}" that is not tollgate's script`,
      )
    } finally {
      client.disconnect()
    }
  })

  it("rejects (never throws) a script whose name clashes, and never calls the client's own command", async () => {
    const client = new Redis(inject('redisUrl'), { lazyConnect: true })
    try {
      const script = luaScript('clash', 'return 1')
      let calls = 0
      client.defineCommand(script.name, { lua: 'return 2', numberOfKeys: 0 })
      const theirs = (client as unknown as Record<string, () => unknown>)[script.name]!
      ;(client as unknown as Record<string, unknown>)[script.name] = (...args: unknown[]) => {
        calls++
        return theirs.apply(client, args as [])
      }
      const pending = adaptClient(client).runScript(script, [`${prefix}clash`], [])
      await expect(pending).rejects.toThrow(/already defines a command named/)
      expect(calls).toBe(0)
    } finally {
      client.disconnect()
    }
  })

  it("groups a batch by the slot of the key after an ioredis Cluster's own keyPrefix", async () => {
    const nodes = inject('clusterPorts').map((port) => ({ host: '127.0.0.1', port }))
    const prefixed = new Cluster(nodes, { keyPrefix: '{kp}:', scaleReads: 'master' })
    prefixed.on('error', () => {})
    try {
      const adapter = adaptClient(prefixed)
      for (const key of ['tollgate:{a}:fw', 'tollgate:{b}:fw', 'x']) {
        expect(adapter.slot(key)).toBe(hashSlot(`{kp}:${key}`))
        expect(adapter.slot(key)).toBe(hashSlot('kp'))
      }
      expect(adaptClient(clusters.get('ioredis')!.client).slot('tollgate:{a}:fw')).toBe(
        hashSlot('a'),
      )
      // The store on it: every key of the turn lands in the slot of {kp}, and each decides exactly.
      const store = new RedisStore({ client: prefixed, prefix, clock: () => 1_000 })
      const fw = fixedWindow({ limit: 2, windowMs: 60_000 })
      const got = await Promise.all(
        ['a', 'b', 'c', 'a'].map((k) => store.decide(k, fw, 1).then((d) => d.remaining)),
      )
      expect(got).toEqual([1, 1, 1, 0])
      expect(await prefixed.del(`${prefix}{a}:fw`, `${prefix}{b}:fw`, `${prefix}{c}:fw`)).toBe(3)
    } finally {
      prefixed.disconnect()
    }
  })
})

describe('RedisClientAdapter.del()', () => {
  it.each(clientKinds)(
    'deletes keys of several slots with one DEL on a single Redis (%s)',
    async (kind) => {
      const adapter = adaptClient(clients.get(kind)!.client)
      const keys = Array.from({ length: 12 }, (_, i) => `${prefix}{del-${kind}-${i}}`)
      expect(new Set(keys.map(hashSlot)).size).toBeGreaterThan(3)
      for (const key of keys) await admin.set(key, '1')
      const dels: string[][] = []
      const marker = `marker-${randomUUID()}`
      let caughtUp = false
      const watch = await monitor(inject('redisUrl'), (args) => {
        if (args[0]?.toLowerCase() === 'del' && args[1]?.startsWith(prefix)) dels.push(args)
        if (args[1] === marker) caughtUp = true
      })
      try {
        expect(await adapter.del(keys)).toBe(12)
        // A marker after it, so the MONITOR has caught up with the DELs before it.
        await admin.echo(marker)
        await expect.poll(() => caughtUp).toBe(true)
        expect(dels.map((args) => [args[0]!.toUpperCase(), ...args.slice(1)])).toEqual([
          ['DEL', ...keys],
        ])
      } finally {
        await watch.stop()
      }
    },
  )

  it.each(clientKinds)('deletes two keys of different slots on a %s cluster', async (kind) => {
    const cluster = clusters.get(kind)!
    const adapter = adaptClient(cluster.client)
    const write = luaScript('write', "return redis.call('SET', KEYS[1], '1')")
    const keys = [`${prefix}{two-a}`, `${prefix}{two-b}`]
    expect(hashSlot(keys[0]!)).not.toBe(hashSlot(keys[1]!))
    for (const key of keys) await adapter.runScript(write, [key], [])
    expect(await adapter.del(keys)).toBe(2)
  })
})

describe('RedisClientAdapter.runScript() errors and shapes', () => {
  it.each(clientKinds)(
    'runs a failing script once: its error reply is never retried as EVAL (%s)',
    async (kind) => {
      const adapter = adaptClient(clients.get(kind)!.client)
      const key = `${prefix}fails-once-${kind}`
      const failing = luaScript(
        `failsOnce${kind === 'ioredis' ? 'I' : 'N'}`,
        "redis.call('INCR', KEYS[1]) return redis.error_reply('TOLLGATE broken')",
      )
      await expect(adapter.runScript(failing, [key], [])).rejects.toThrow(/TOLLGATE broken/)
      // The first call was EVALSHA, NOSCRIPT, EVAL: the script ran once there too.
      expect(await admin.get(key)).toBe('1')
      await expect(adapter.runScript(failing, [key], [])).rejects.toThrow(/TOLLGATE broken/)
      expect(await admin.get(key)).toBe('2')
    },
  )

  it.each(clientKinds)('sends a call with more KEYS than ARGV (%s)', async (kind) => {
    const adapter = adaptClient(clients.get(kind)!.client)
    const count = luaScript('countKeys', 'return { #KEYS, #ARGV }')
    const keys = Array.from({ length: 10 }, (_, i) => `${prefix}many-${i}`)
    expect(await adapter.runScript(count, keys, [])).toEqual([10, 0])
    expect(await adapter.runScript(count, keys, ['a'])).toEqual([10, 1])
  })

  it.each(clientKinds)(
    'decides a turn of 20 compound ops (60 KEYS, 49 ARGV) on %s',
    async (kind) => {
      const store = new RedisStore({
        client: clients.get(kind)!.client,
        prefix,
        clock: () => 1_000,
      })
      const algorithm = compound([
        fixedWindow({ limit: 100, windowMs: 60_000 }),
        fixedWindow({ limit: 50, windowMs: 3_600_000 }),
      ])
      const got = await Promise.all(
        Array.from({ length: 20 }, () => store.decide(`compound-${kind}`, algorithm, 1)),
      )
      expect(got.map((d) => d.parts!.map((p) => p.remaining))).toEqual(
        Array.from({ length: 20 }, (_, i) => [99 - i, 49 - i]),
      )
    },
  )
})

describe('node-redis replies in default types', () => {
  it('decides exactly on a client whose own commandOptions map numbers to strings and strings to Buffers', async () => {
    const mapped = createClient({
      url: inject('redisUrl'),
      commandOptions: {
        typeMapping: { [RESP_TYPES.NUMBER]: String, [RESP_TYPES.BLOB_STRING]: Buffer },
      },
    })
    mapped.on('error', () => {})
    await mapped.connect()
    try {
      // The user's mapping holds for the user's own commands...
      expect(await mapped.sendCommand(['EVAL', 'return 1', '0'])).toBe('1')
      // ...and never for the store's, which reads integers and strings.
      const store = new RedisStore({ client: mapped, prefix, clock: () => 1_000 })
      const fw = fixedWindow({ limit: 2, windowMs: 60_000 })
      expect(await store.decide('mapped', fw, 1)).toMatchObject({ allowed: true, remaining: 1 })
      expect(await store.decide('mapped', fw, 1)).toMatchObject({ allowed: true, remaining: 0 })
      expect(await store.decide('mapped', fw, 1)).toMatchObject({ allowed: false, remaining: 0 })
    } finally {
      await mapped.close()
    }
  })
})

describe('node-redis cluster routing of a key whose first tag is empty', () => {
  // A Cluster of this test's own, so INFO errorstats counts only the MOVED replies it causes.
  let own: RedisCluster | undefined
  afterAll(async () => {
    await own?.stop()
  })

  /** MOVED error replies so far, summed over the masters. */
  async function movedReplies(ports: readonly number[]): Promise<number> {
    let moved = 0
    for (const port of ports) {
      const node = new Redis(port, '127.0.0.1')
      const info = await node.info('errorstats')
      node.disconnect()
      moved += Number(/^errorstat_MOVED:count=(\d+)/m.exec(info)?.[1] ?? 0)
    }
    return moved
  }

  it('sends each such key straight to the master of its slot: not one MOVED', async () => {
    own = await startRedisCluster()
    const cluster = await connectCluster(own.ports, 'node-redis')
    try {
      const adapter = adaptClient(cluster.client)
      const write = luaScript('write', "return redis.call('SET', KEYS[1], ARGV[1])")
      // node-redis would hash these as the text up to the second '}'; Redis hashes them whole.
      // The '{' first, second and later: each position the check looks at.
      const keys = Array.from(
        { length: 40 },
        (_, i) => [`{}route-${i}}:x`, `x{}route-${i}}:x`, `abc{}route-${i}}`][i % 3]!,
      )
      const before = await movedReplies(own.ports)
      for (const key of keys) {
        expect(await adapter.runScript(write, [key], ['1'])).toBe('OK')
      }
      expect(await adapter.del(keys)).toBe(keys.length)
      expect(await movedReplies(own.ports)).toBe(before)
    } finally {
      await cluster.quit()
    }
  })
})

describe('hashSlot() on keys with a } before any {', () => {
  it('matches CLUSTER KEYSLOT: a } before the first { closes no tag', async () => {
    const node = new Redis(inject('clusterPorts')[0]!, '127.0.0.1')
    try {
      for (const key of ['a}b', 'ab}c', '}', 'a}b{c}', 'x}{}y']) {
        expect(hashSlot(key), key).toBe(Number(await node.cluster('KEYSLOT', key)))
      }
    } finally {
      node.disconnect()
    }
  })
})
