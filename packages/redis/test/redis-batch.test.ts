/**
 * Batched script calls (packages/redis/README.md, "Batching"; issue 9) on a redis-server of this
 * file's own, so INFO commandstats counts only what this file sends: one call per script per
 * event-loop turn, one TIME per call, each caller its own Decision, a failed batch failing each
 * caller (and the fail policy answering each), a slow batch never holding the next, recovery
 * from NOSCRIPT after SCRIPT FLUSH, and odd keys in a batch decided as alone. The stores run on
 * `storeClient` (ioredis here, node-redis in redis-batch.node-redis.test.ts); `client` (ioredis)
 * looks at Redis from outside.
 */
import {
  type Algorithm,
  compound,
  concurrency,
  createLimiter,
  type Decision,
  fixedWindow,
  MemoryStore,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, monitor, type TestClient } from '../../../test/support/clients.js'
import { type RedisServer, startRedisServer } from '../../../test/support/redis-server.js'

let server: RedisServer
let client: Redis
let storeClient: TestClient
let run = 0

/** `INFO commandstats` as { command: calls }, without the stats commands themselves. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await client.info('commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info' && match[1] !== 'config|resetstat') calls[match[1]!] = Number(match[2])
  }
  return calls
}

/** Warms the scripts (the first call of each is EVALSHA, NOSCRIPT, EVAL), then zeroes the stats. */
async function warmAndReset(store: RedisStore, algorithms: Algorithm[]): Promise<void> {
  for (const algorithm of algorithms) await store.peek('warm', algorithm, 1)
  await client.config('RESETSTAT')
}

const fw = fixedWindow({ limit: 3, windowMs: 3_600_000 })
const all: Algorithm[] = [
  fw,
  slidingWindow({ limit: 3, windowMs: 3_600_000 }),
  slidingLog({ limit: 3, windowMs: 3_600_000 }),
  tokenBucket({ capacity: 3, refillRate: 1, refillIntervalMs: 3_600_000 }),
  concurrency({ limit: 3, leaseMs: 3_600_000 }),
  compound([
    fixedWindow({ limit: 3, windowMs: 3_600_000 }),
    slidingLog({ limit: 5, windowMs: 60_000 }),
  ]),
]

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
  storeClient = await connectClient(server.url)
})

afterAll(async () => {
  storeClient?.disconnect()
  client?.disconnect()
  await server?.stop()
})

describe('batched RedisStore', () => {
  it('sends the 100 decisions of one turn as one EVALSHA with one TIME, each caller its own Decision', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `one-turn-${++run}:` })
    await warmAndReset(store, [fw])
    // 20 keys, 5 calls each, interleaved: every key admits 3 (remaining 2, 1, 0), then denies.
    const pending = Array.from({ length: 100 }, (_, i) => store.decide(`k${i % 20}`, fw, 1))
    const got = await Promise.all(pending)
    for (let key = 0; key < 20; key++) {
      const mine = got.filter((_, i) => i % 20 === key)
      expect(mine.map((x) => [x.allowed, x.remaining])).toEqual([
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
        [false, 0],
      ])
    }
    expect(await commandCalls()).toMatchObject({ evalsha: 1, time: 1 })
  })

  it('sends one call per script when a turn mixes algorithms, peeks, refunds, blocks and releases', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `mixed-${++run}:` })
    await warmAndReset(store, all)
    const c = all[4]!
    const held = await store.decide('held', c, 1)
    await client.config('RESETSTAT')
    const ops: Array<Promise<unknown>> = []
    for (const algorithm of all) {
      ops.push(store.decide('m', algorithm, 1), store.peek('m', algorithm, 1))
      if (algorithm.kind !== 'concurrency') ops.push(store.refund('m', algorithm, 1))
      ops.push(store.block('other', algorithm, 1000))
    }
    ops.push(store.release('held', c, held.lease!))
    await Promise.all(ops)
    const calls = await commandCalls()
    expect(calls.evalsha).toBe(all.length)
    expect(calls.time).toBe(all.length)
  })

  it("sends a limiter's further ops of one call in the short form, and the long form at each change of limiter", async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `short-${++run}:` })
    const other = fixedWindow({ limit: 5, windowMs: 3_600_000 })
    await warmAndReset(store, [fw])
    const calls: string[][] = []
    const watch = await monitor(server.url, (args, source) => {
      if (source !== 'lua' && args[0]?.toLowerCase() === 'evalsha') calls.push(args)
    })
    try {
      // fw, fw, other, other, fw: long, short, long, short, long (the scripts' ARGV forms).
      const got = await Promise.all([
        store.decide('a', fw, 1),
        store.decide('b', fw, 1),
        store.decide('c', other, 1),
        store.decide('d', other, 2),
        store.decide('e', fw, 1),
      ])
      expect(got.map((d) => [d.allowed, d.limit, d.remaining])).toEqual([
        [true, 3, 2],
        [true, 3, 2],
        [true, 5, 4],
        [true, 5, 3],
        [true, 3, 2],
      ])
      await expect.poll(() => calls.length).toBe(1)
      const [, , keyCount, ...rest] = calls[0]!
      expect(Number(keyCount)).toBe(10)
      expect(rest.slice(10)).toEqual([
        ...['D', '1', '', '0', '3', '3600000'],
        ...['d', '1'],
        ...['D', '1', '', '0', '5', '3600000'],
        ...['d', '2'],
        ...['D', '1', '', '0', '3', '3600000'],
      ])
    } finally {
      await watch.stop()
    }
  })

  it("sends a compound's further ops of one call in the short form too", async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `short-compound-${++run}:` })
    const both = compound([
      fixedWindow({ limit: 3, windowMs: 3_600_000 }),
      fixedWindow({ limit: 10, windowMs: 86_400_000 }),
    ])
    await warmAndReset(store, [both])
    const calls: string[][] = []
    const watch = await monitor(server.url, (args, source) => {
      if (source !== 'lua' && args[0]?.toLowerCase() === 'evalsha') calls.push(args)
    })
    try {
      const got = await Promise.all([store.decide('a', both, 1), store.decide('a', both, 2)])
      expect(got.map((d) => [d.allowed, d.parts?.map((p) => p.remaining)])).toEqual([
        [true, [2, 9]],
        [true, [0, 7]],
      ])
      await expect.poll(() => calls.length).toBe(1)
      const [, , keyCount, ...rest] = calls[0]!
      expect(Number(keyCount)).toBe(6)
      expect(rest.slice(6)).toEqual([
        ...['D', '1', '', '0', '2', 'fw', '3', '3600000', 'fw', '10', '86400000'],
        ...['d', '2'],
      ])
    } finally {
      await watch.stop()
    }
  })

  it('sends a run of cost-1 decides of one limiter as x, count: two arguments for the whole run', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `run-${++run}:` })
    const both = compound([
      fixedWindow({ limit: 3, windowMs: 3_600_000 }),
      fixedWindow({ limit: 10, windowMs: 86_400_000 }),
    ])
    await warmAndReset(store, [fw, both])
    // Blocked, and the last op of a run: the script finds every op's block key in a run too.
    await store.block('z', both, 60_000)
    const calls: string[][] = []
    const watch = await monitor(server.url, (args, source) => {
      if (source !== 'lua' && args[0]?.toLowerCase() === 'evalsha') calls.push(args)
    })
    try {
      // fw: long, then 4 cost-1 decides, a cost-2 decide, a peek, 2 cost-1 decides, 1 more
      // after the peek; the compound: long, then 4 cost-1 decides.
      const got = await Promise.all([
        store.decide('a', fw, 1),
        store.decide('b', fw, 1),
        store.decide('a', fw, 1),
        store.decide('a', fw, 1),
        store.decide('a', fw, 1),
        store.decide('c', fw, 2),
        store.peek('b', fw, 1),
        store.decide('b', fw, 1),
        store.decide('b', fw, 1),
        store.decide('c', both, 1),
        store.decide('c', both, 1),
        store.decide('c', both, 1),
        store.decide('c', both, 1),
        store.decide('z', both, 1),
      ])
      const blocked = got.pop()!
      expect(blocked.allowed).toBe(false)
      expect(blocked.retryAfterMs).toBeGreaterThan(55_000)
      expect(got.map((d) => [d.allowed, d.remaining])).toEqual([
        [true, 2],
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
        [true, 1],
        [true, 1],
        [true, 1],
        [true, 0],
        [true, 2],
        [true, 1],
        [true, 0],
        [false, 0],
      ])
      expect(got.slice(9).map((d) => d.parts?.map((p) => p.remaining))).toEqual([
        [2, 9],
        [1, 8],
        [0, 7],
        [0, 7],
      ])
      await expect.poll(() => calls.length).toBe(2)
      const byKeys = new Map(calls.map((c) => [Number(c[2]), c.slice(3)]))
      // 9 fixed-window ops: 18 KEYS; 5 compound ops: 15 KEYS.
      expect(byKeys.get(18)!.slice(18)).toEqual([
        ...['D', '1', '', '0', '3', '3600000'],
        ...['x', '4'],
        ...['d', '2'],
        ...['p', '1'],
        ...['x', '2'],
      ])
      expect(byKeys.get(15)!.slice(15)).toEqual([
        ...['D', '1', '', '0', '2', 'fw', '3', '3600000', 'fw', '10', '86400000'],
        ...['x', '4'],
      ])
    } finally {
      await watch.stop()
    }
  })

  it('decides seeded turns of runs, other costs, peeks, refunds and blocks on the server clock as MemoryStore does', async () => {
    // The production path: Redis's own clock, where every run of cost-1 decides goes as x, count.
    // Windows of a year (the longest allowed): no window, refill or block ends within the test,
    // so allowed and remaining do not depend on when it runs; resetMs does, and is not compared.
    const year = 366 * 86_400_000
    const algorithms: Algorithm[] = [
      fixedWindow({ limit: 6, windowMs: year }),
      fixedWindow({ limit: 9, windowMs: year }),
      slidingLog({ limit: 5, windowMs: year }),
      tokenBucket({ capacity: 7, refillRate: 1, refillIntervalMs: year }),
      compound([
        fixedWindow({ limit: 8, windowMs: year }),
        slidingLog({ limit: 6, windowMs: year }),
      ]),
    ]
    const redis = new RedisStore({ client: storeClient.client, prefix: `seeded-run-${++run}:` })
    const memory = new MemoryStore({ clock: () => 1_800_000_000_000 })
    let seed = 20_261_202
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed % n
    }
    type Op = {
      kind: 'decide' | 'peek' | 'refund' | 'block'
      key: string
      a: Algorithm
      cost: number
    }
    const apply = (store: RedisStore | MemoryStore, op: Op): Promise<unknown> =>
      op.kind === 'decide'
        ? store.decide(op.key, op.a, op.cost)
        : op.kind === 'peek'
          ? store.peek(op.key, op.a, op.cost)
          : op.kind === 'refund'
            ? store.refund(op.key, op.a, op.cost)
            : store.block(op.key, op.a, year)
    const shape = (x: unknown) => {
      if (x === undefined) return undefined
      const d = x as Decision
      return [d.allowed, d.limit, d.remaining, d.parts?.map((p) => [p.allowed, p.remaining])]
    }
    const runs: number[] = []
    const watch = await monitor(server.url, (args, source) => {
      if (source !== 'lua' && args[0]?.toLowerCase() === 'evalsha') {
        for (let i = 3; i < args.length; i++) if (args[i] === 'x') runs.push(Number(args[i + 1]))
      }
    })
    try {
      let ops = 0
      for (let turn = 0; turn < 80; turn++) {
        const batch: Op[] = []
        const size = 1 + random(40)
        // Mostly one limiter per turn, as on a server with one route; sometimes several.
        const few = algorithms.filter(() => random(3) === 0)
        const pool = few.length > 0 ? few : [algorithms[random(algorithms.length)]!]
        for (let i = 0; i < size; i++) {
          const a = pool[random(pool.length)]!
          const roll = random(40)
          const kind = roll < 30 ? 'decide' : roll < 34 ? 'peek' : roll < 39 ? 'refund' : 'block'
          const key = `k${random(turn < 40 ? 6 : 40)}`
          batch.push({ kind, key, a, cost: roll % 7 === 0 ? 2 : 1 })
        }
        const fromRedis = await Promise.all(batch.map((op) => apply(redis, op)))
        const fromMemory: unknown[] = []
        for (const op of batch) fromMemory.push(await apply(memory, op))
        expect(fromRedis.map(shape), `turn ${turn}`).toEqual(fromMemory.map(shape))
        ops += batch.length
      }
      expect(ops).toBeGreaterThan(1000)
      // The run form was really exercised, long runs included.
      await expect.poll(() => runs.length).toBeGreaterThan(50)
      expect(Math.max(...runs)).toBeGreaterThan(5)
    } finally {
      await watch.stop()
    }
  })

  it("checks a batch's block keys with one EXISTS, and reads each op's block only when one exists", async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `exists-${++run}:` })
    await warmAndReset(store, [fw])
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.decide(`k${i}`, fw, 1)))
    const clear = await commandCalls()
    expect(clear).toMatchObject({ evalsha: 1, exists: 1 })
    expect(clear.get).toBeUndefined()

    await store.block('k7', fw, 60_000)
    await client.config('RESETSTAT')
    const got = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.decide(`k${i}`, fw, 1)),
    )
    // The blocked key answers blocked; the others count on (their second admission).
    expect(got[7]).toMatchObject({ allowed: false, remaining: 0 })
    expect(got.filter((d) => d.allowed).map((d) => d.remaining)).toEqual(Array(49).fill(1))
    expect(await commandCalls()).toMatchObject({ evalsha: 1, exists: 1, get: 50 })
  })

  it('a compound of fixed windows counts each member with one HINCRBY and reads nothing; one EXISTS for its block keys', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `c-fast-${++run}:` })
    const both = compound([
      fixedWindow({ limit: 3, windowMs: 3_600_000 }),
      fixedWindow({ limit: 10, windowMs: 86_400_000 }),
    ])
    await warmAndReset(store, [both])
    // A call of one op reads its block key with a GET.
    expect((await store.decide('alone', both, 1)).allowed).toBe(true)
    expect(await commandCalls()).toEqual({
      evalsha: 1,
      time: 1,
      get: 1,
      hincrby: 2,
      hlen: 2,
      pexpire: 2,
    })
    await client.config('RESETSTAT')
    // First admissions of each member's window: the TTL is set (HLEN finds no other window).
    const first = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.decide(`k${i}`, both, 1)),
    )
    expect(first.map((d) => [d.allowed, d.parts?.map((p) => p.remaining)])).toEqual(
      Array(20).fill([true, [2, 9]]),
    )
    expect(await commandCalls()).toEqual({
      evalsha: 1,
      time: 1,
      exists: 1,
      hincrby: 40,
      hlen: 40,
      pexpire: 40,
    })
    await client.config('RESETSTAT')
    const again = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.decide(`k${i}`, both, 2)),
    )
    expect(again.map((d) => d.parts?.map((p) => p.remaining))).toEqual(Array(20).fill([0, 7]))
    expect(await commandCalls()).toEqual({ evalsha: 1, time: 1, exists: 1, hincrby: 40 })
    // A denial (the first member is full) takes its count back and reads the other member.
    await client.config('RESETSTAT')
    const denied = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.decide(`k${i}`, both, 1)),
    )
    expect(denied.map((d) => [d.allowed, d.parts?.map((p) => p.remaining)])).toEqual(
      Array(20).fill([false, [0, 7]]),
    )
    expect(await commandCalls()).toEqual({
      evalsha: 1,
      time: 1,
      exists: 1,
      hincrby: 40,
      hget: 20,
    })
  })

  it('batch: false sends one EVALSHA per operation, as it is issued', async () => {
    const store = new RedisStore({
      client: storeClient.client,
      prefix: `unbatched-${++run}:`,
      batch: false,
    })
    await warmAndReset(store, [fw])
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.decide(`k${i % 3}`, fw, 1)))
    expect(await commandCalls()).toMatchObject({ evalsha: 30, time: 30 })
  })

  it('answers as one call per operation would, for every algorithm (batched vs batch: false)', async () => {
    let now = 1_800_000_000_000
    const clock = () => now
    const batched = new RedisStore({
      client: storeClient.client,
      prefix: `same-b-${++run}:`,
      clock,
    })
    const single = new RedisStore({
      client: storeClient.client,
      prefix: `same-u-${run}:`,
      clock,
      batch: false,
    })
    for (const algorithm of all) {
      const issue = (store: RedisStore) =>
        Array.from({ length: 24 }, (_, i) => {
          now = 1_800_000_000_000 + i * 997
          return store.decide(`k${i % 4}`, algorithm, 1 + (i % 2))
        })
      const strip = (x: Decision) => ({ ...x, lease: typeof x.lease })
      const fromBatched = (await Promise.all(issue(batched))).map(strip)
      const fromSingle: Decision[] = []
      for (const p of issue(single)) fromSingle.push(await p)
      expect(fromBatched).toEqual(fromSingle.map(strip))
    }
  })

  it("fails every caller of a failed batch, and the limiter's fail policy answers each one", async () => {
    const prefix = `failing-${++run}:`
    const store = new RedisStore({ client: storeClient.client, prefix })
    await warmAndReset(store, [fw])
    // The state of one key is a list: HINCRBY raises WRONGTYPE and the whole script call fails.
    await client.rpush(`${prefix}{lim:bad}:fw`, 'x')
    const errors: Array<[unknown, string]> = []
    const limiter = createLimiter({
      algorithm: fw,
      store,
      prefix: 'lim:',
      failure: { mode: 'open', timeoutMs: 5000, breaker: false },
      onStoreError: (error, key) => errors.push([error, key]),
      denyCache: false,
    })
    const keys = ['a', 'b', 'bad', 'c', 'd']
    const got = await Promise.all(keys.map((k) => limiter.limit(k)))
    expect(got.every((x) => x.allowed && x.degraded === true)).toBe(true)
    expect(errors.map(([, key]) => key)).toEqual(keys)
    expect(String(errors[0]![0])).toMatch(/WRONGTYPE/)
    expect((await commandCalls()).evalsha).toBe(1)
    // (Redis does not roll a script back: the ops before the failing one did run, as the ops
    // of any call whose reply is lost may have.) The next turn is healthy again.
    await client.del(`${prefix}{lim:bad}:fw`)
    expect((await limiter.limit('bad')).degraded).toBeUndefined()
  })

  it('sends the next turn while an earlier batch is still waiting for Redis', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `slow-${++run}:` })
    await warmAndReset(store, [fw])
    const sent: string[] = []
    // Both libraries write every command through the client's sendCommand: an ioredis Command
    // (its name) or a node-redis argument array (its first word).
    const target = storeClient.client as unknown as { sendCommand: (...args: unknown[]) => unknown }
    const original = target.sendCommand
    target.sendCommand = function (this: unknown, ...args: unknown[]) {
      const first = args[0]
      sent.push(
        Array.isArray(first) ? String(first[0]).toLowerCase() : (first as { name: string }).name,
      )
      return original.apply(this, args)
    }
    server.freeze()
    try {
      const first = store.decide('a', fw, 1)
      await new Promise((r) => setImmediate(r))
      const second = store.decide('b', fw, 1)
      await new Promise((r) => setImmediate(r))
      // Both calls are on the wire although Redis has answered neither.
      expect(sent).toEqual(['evalsha', 'evalsha'])
      server.thaw()
      expect((await first).allowed).toBe(true)
      expect((await second).allowed).toBe(true)
    } finally {
      server.thaw()
      target.sendCommand = original
    }
  })

  it('recovers from NOSCRIPT when the script cache is flushed right before a batch', async () => {
    let now = 1_900_000_000_000
    const store = new RedisStore({
      client: storeClient.client,
      prefix: `noscript-${++run}:`,
      clock: () => now,
    })
    const reference = new RedisStore({
      client: storeClient.client,
      prefix: `noscript-ref-${run}:`,
      clock: () => now,
      batch: false,
    })
    for (const algorithm of all) {
      await store.decide('k', algorithm, 1)
      await reference.decide('k', algorithm, 1)
    }
    now += 1000
    // SCRIPT FLUSH goes out on the stores' connection before the batch (sent at the end of this
    // turn): every script answers NOSCRIPT and is sent again with EVAL.
    const pending = all.flatMap((algorithm) => [
      store.decide('k', algorithm, 1),
      store.decide('k', algorithm, 1),
      store.peek('k', algorithm, 1),
    ])
    await storeClient.command(['SCRIPT', 'FLUSH'])
    const got = await Promise.all(pending)
    const expected: Decision[] = []
    for (const algorithm of all) {
      expected.push(await reference.decide('k', algorithm, 1))
      expected.push(await reference.decide('k', algorithm, 1))
      expected.push(await reference.peek('k', algorithm, 1))
    }
    const strip = (x: Decision) => ({ ...x, lease: typeof x.lease })
    expect(got.map(strip)).toEqual(expected.map(strip))
  })

  it('decides a key with braces, a newline or 1 KB in a batch with others as it would alone', async () => {
    let now = 2_000_000_000_000
    const clock = () => now
    const batched = new RedisStore({ client: storeClient.client, prefix: `odd-b-${++run}:`, clock })
    const single = new RedisStore({
      client: storeClient.client,
      prefix: `odd-u-${run}:`,
      clock,
      batch: false,
    })
    const keys = ['plain', 'a{b}c', '{tag}', '}closed', 'line\nbreak', 'x'.repeat(1024), 'ключ 🔑']
    for (const algorithm of all) {
      const issue = (store: RedisStore) =>
        Array.from({ length: keys.length * 4 }, (_, i) =>
          store.decide(keys[i % keys.length]!, algorithm, 1),
        )
      const strip = (x: Decision) => ({ ...x, lease: typeof x.lease })
      const fromBatched = (await Promise.all(issue(batched))).map(strip)
      const fromSingle: Decision[] = []
      for (const p of issue(single)) fromSingle.push(await p)
      expect(fromBatched).toEqual(fromSingle.map(strip))
      // Each key's state is under its own documented key.
      if (algorithm.kind !== 'compound') {
        for (const key of keys) {
          expect(await client.exists(stateKey(`odd-b-${run}:`, key, algorithm.kind))).toBe(1)
        }
      }
      now += 1
    }
  })

  it('flushes queued operations before a reset, so issue order holds', async () => {
    const store = new RedisStore({ client: storeClient.client, prefix: `reset-${++run}:` })
    const first = store.decide('k', fw, 3)
    const reset = store.reset('k', fw)
    await Promise.all([first, reset])
    expect(await store.decide('k', fw, 1)).toMatchObject({ allowed: true, remaining: 2 })
  })
})
