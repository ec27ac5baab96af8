import { randomUUID } from 'node:crypto'
import {
  type Algorithm,
  compound,
  concurrency,
  fixedWindow,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { conformanceCases, runConformanceCase } from '@tollgate/core/testing'
import { KEY_SUFFIX, RedisStore, stateKey } from '@tollgate/redis'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { connectCluster, monitor, type TestClient } from './support/clients.js'

// The shared test cluster: every key of this file lives under its own prefix.
const prefix = `t-cluster-${randomUUID()}:`
/** Looks at the cluster from outside; the stores run on `storeCluster` (ioredis or node-redis). */
let cluster: Cluster
let storeCluster: TestClient
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
  storeCluster = await connectCluster(inject('clusterPorts'))
  const slots = await cluster.cluster('SLOTS')
  ranges = slots.map(([from, to, ...nodes]) => [from, to, nodes[0]![1]])
})

afterAll(async () => {
  await storeCluster.quit()
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
        const store = new RedisStore({ client: storeCluster.client, prefix, clock: () => now })
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
    const store = new RedisStore({ client: storeCluster.client, prefix })
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
    const store = new RedisStore({ client: storeCluster.client, prefix: '', clock: () => 1_000 })
    const key = `}${randomUUID()}`
    const algorithm = slidingLog({ limit: 1, windowMs: 60_000 })
    expect((await store.decide(key, algorithm, 1)).allowed).toBe(true)
    expect((await store.decide(key, algorithm, 1)).allowed).toBe(false)
    await store.reset(key, algorithm)
    expect(await cluster.exists(stateKey('', key, 'slidingLog'))).toBe(0)
  })

  it('sends a turn of decisions as one script call per slot, each on its own master', async () => {
    const split = `${prefix}split:`
    const store = new RedisStore({ client: cluster, prefix: split, clock: () => 5_000 })
    const algorithm = fixedWindow({ limit: 2, windowMs: 60_000 })
    await store.peek('warm', algorithm, 1)
    // MONITOR each master: the script calls it receives from clients, with their keys.
    const ports = inject('clusterPorts')
    const seen = ports.map(() => [] as string[][])
    const monitors = await Promise.all(
      ports.map((port, i) =>
        monitor(`redis://127.0.0.1:${port}`, (args, source) => {
          if (source !== 'lua') seen[i]!.push(args)
        }),
      ),
    )
    try {
      const keys = userKeys.slice(0, 30)
      const got = await Promise.all(
        keys.flatMap((key) => [1, 2, 3].map(() => store.decide(key, algorithm, 1))),
      )
      expect(got.map((d) => d.allowed)).toEqual(keys.flatMap(() => [true, true, false]))
      // A marker on each master, so every MONITOR has caught up with the calls before it.
      const marker = `marker-${randomUUID()}`
      await Promise.all(
        ports.map(async (port) => {
          const direct = new Redis(port, '127.0.0.1')
          await direct.echo(marker)
          direct.disconnect()
        }),
      )
      for (const lines of seen)
        await expect.poll(() => lines.some((a) => a[1] === marker)).toBe(true)
      for (const [i, port] of ports.entries()) {
        // (An EVALSHA answered NOSCRIPT is sent again as EVAL with the same keys and args: one call.)
        const byArgs = new Map<string, string[]>()
        for (const a of seen[i]!) {
          if (/^eval(sha)?$/i.test(a[0]!) && a[3]?.startsWith(split)) {
            byArgs.set(a.slice(2).join('\u0000'), a)
          }
        }
        const calls = [...byArgs.values()]
        const slots = new Set<number>()
        for (const key of keys) {
          const slot = await keyslot(stateKey(split, key, 'fixedWindow'))
          if (masterOf(slot) === port) slots.add(slot)
        }
        // One call per slot, carrying every op of that slot (3 ops per user key, 2 keys per op).
        expect(calls).toHaveLength(slots.size)
        const callSlots = await Promise.all(calls.map((a) => keyslot(a[3]!)))
        expect(new Set(callSlots)).toEqual(slots)
        for (const call of calls) expect(Number(call[2]) % 6).toBe(0)
      }
    } finally {
      await Promise.all(monitors.map((m) => m.stop()))
    }
  })

  it('decides compounds and concurrency limits exactly on every slot', async () => {
    let now = 7_000_500
    const store = new RedisStore({ client: cluster, prefix: `${prefix}cc-cp:`, clock: () => now })
    const cp = compound([
      fixedWindow({ limit: 2, windowMs: 1000 }),
      slidingLog({ limit: 3, windowMs: 60_000 }),
    ])
    const cc = concurrency({ limit: 2, leaseMs: 10_000 })
    const first = await Promise.all(
      userKeys.flatMap((key) => [
        store.decide(key, cp, 1),
        store.decide(key, cp, 1),
        store.decide(key, cp, 1),
        store.decide(key, cc, 1),
        store.decide(key, cc, 1),
        store.decide(key, cc, 1),
      ]),
    )
    for (let k = 0; k < userKeys.length; k++) {
      const [a, b, c, l1, l2, l3] = first.slice(k * 6, k * 6 + 6)
      expect([a, b, c].map((d) => d!.allowed)).toEqual([true, true, false])
      // The per-second member denied; the log member, untouched by the denial, shows 1 left.
      expect(c!.parts?.map((p) => [p.allowed, p.remaining])).toEqual([
        [false, 0],
        [true, 1],
      ])
      expect([l1, l2, l3].map((d) => d!.allowed)).toEqual([true, true, false])
      expect(l3).toMatchObject({ remaining: 0, retryAfterMs: 10_000 })
      await store.release(userKeys[k]!, cc, l1!.lease!)
    }
    now += 1000
    const second = await Promise.all(
      userKeys.flatMap((key) => [store.decide(key, cp, 1), store.decide(key, cc, 1)]),
    )
    for (let k = 0; k < userKeys.length; k++) {
      expect(second[2 * k]).toMatchObject({ allowed: true, remaining: 0 })
      expect(second[2 * k + 1]).toMatchObject({ allowed: true, remaining: 0 })
    }
    await Promise.all(userKeys.flatMap((key) => [store.reset(key, cp), store.reset(key, cc)]))
    for (const key of userKeys.slice(0, 5)) {
      expect(await cluster.exists(stateKey(`${prefix}cc-cp:`, key, 'concurrency'))).toBe(0)
    }
  })
})
