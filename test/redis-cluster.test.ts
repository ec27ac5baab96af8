import { randomUUID } from 'node:crypto'
import { type Algorithm, fixedWindow, slidingLog, slidingWindow, tokenBucket } from '@tollgate/core'
import { conformanceCases, runConformanceCase } from '@tollgate/core/testing'
import { KEY_SUFFIX, RedisStore, stateKey } from '@tollgate/redis'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

// The shared test cluster: every key of this file lives under its own prefix.
const prefix = `t-cluster-${randomUUID()}:`
let cluster: Cluster
/** [first slot, last slot, master port] of every range, from CLUSTER SLOTS. */
let ranges: Array<[number, number, number]>

const kinds = Object.keys(KEY_SUFFIX) as Array<keyof typeof KEY_SUFFIX>
const userKeys = [
  ...Array.from({ length: 44 }, (_, i) => `user-${i}`),
  'with spaces',
  'a{b}c',
  '{tag}rest',
  'ключ-🔑',
  'trailing}brace',
  'x'.repeat(1024),
]

const keyslot = async (key: string) => Number(await cluster.cluster('KEYSLOT', key))
const masterOf = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]

beforeAll(async () => {
  cluster = new Cluster(
    inject('clusterPorts').map((port) => ({ host: '127.0.0.1', port })),
    {
      scaleReads: 'master',
      redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 5000 },
    },
  )
  const slots = await cluster.cluster('SLOTS')
  ranges = slots.map(([from, to, ...nodes]) => [from, to, nodes[0]![1]])
})

afterAll(async () => {
  await cluster.quit()
})

describe('RedisStore on a Redis Cluster', () => {
  it('has 50 keys that spread over every master', async () => {
    expect(userKeys).toHaveLength(50)
    const masters = new Set<number | undefined>()
    for (const key of userKeys)
      masters.add(masterOf(await keyslot(stateKey(prefix, key, 'fixedWindow'))))
    expect([...masters].sort()).toEqual([...inject('clusterPorts')].sort())
  })

  it('puts every key derived from one user key in the slot of its hash tag', async () => {
    for (const key of userKeys) {
      const slots = await Promise.all(kinds.map((kind) => keyslot(stateKey(prefix, key, kind))))
      // The tag is the user key up to its first '}' (Redis hashes the first {...}).
      const tag = key.includes('}') ? key.slice(0, key.indexOf('}')) : key
      expect(new Set(slots).size).toBe(1)
      expect(slots[0]).toBe(await keyslot(tag))
    }
  })

  it('decides every conformance case exactly for 50 keys spread over the slots', async () => {
    // One store (and one injected clock) per key, all keys at once, on one Cluster client.
    await Promise.all(
      userKeys.map(async (key) => {
        let now = 0
        const store = new RedisStore({ client: cluster, prefix, clock: () => now })
        for (const [index, c] of conformanceCases.entries()) {
          const results = await runConformanceCase(
            store,
            (ms) => {
              now = ms
            },
            c,
            `${key}:case-${index}:`,
          )
          expect(results.map((r) => r.got)).toEqual(results.map((r) => r.step.expect))
        }
      }),
    )
  })

  it('decides on the Redis TIME clock of whichever master owns the key', async () => {
    const store = new RedisStore({ client: cluster, prefix })
    const algorithms: Algorithm[] = [
      fixedWindow({ limit: 2, windowMs: 86_400_000 }),
      slidingWindow({ limit: 2, windowMs: 86_400_000 }),
      slidingLog({ limit: 2, windowMs: 86_400_000 }),
      tokenBucket({ capacity: 2, refillRate: 1, refillIntervalMs: 86_400_000 }),
    ]
    await Promise.all(
      userKeys.map(async (key) => {
        for (const algorithm of algorithms) {
          const first = await store.decide(`time:${key}`, algorithm, 2)
          const second = await store.decide(`time:${key}`, algorithm, 1)
          expect([first.allowed, first.remaining, second.allowed]).toEqual([true, 0, false])
          await store.reset(`time:${key}`, algorithm)
          expect((await store.decide(`time:${key}`, algorithm, 2)).allowed).toBe(true)
        }
      }),
    )
  })

  it('works for a user key whose first character closes the tag', async () => {
    // '{}' would be an empty tag (Redis would hash whole keys, and the state and its block would
    // land in different slots): stateKey writes such a key as '\\}...', a non-empty tag.
    const store = new RedisStore({ client: cluster, prefix: '', clock: () => 1_000 })
    const key = `}${randomUUID()}`
    const algorithm = slidingLog({ limit: 1, windowMs: 60_000 })
    expect((await store.decide(key, algorithm, 1)).allowed).toBe(true)
    expect((await store.decide(key, algorithm, 1)).allowed).toBe(false)
    await store.reset(key, algorithm)
    expect(await cluster.exists(stateKey('', key, 'slidingLog'))).toBe(0)
  })
})
