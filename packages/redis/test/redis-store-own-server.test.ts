import { type Algorithm, fixedWindow, slidingLog, slidingWindow, tokenBucket } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, type TestClient } from '../../../test/support/clients.js'
import { type RedisServer, startRedisServer } from '../../../test/support/redis-server.js'

// CONFIG RESETSTAT, SCRIPT FLUSH and kill/restart need a Redis nobody else uses.
let server: RedisServer
/** Looks at Redis from outside; the stores run on `storeClient` (ioredis or node-redis). */
let client: Redis
let storeClient: TestClient
let store: RedisStore

const algorithms: Algorithm[] = [
  fixedWindow({ limit: 1000, windowMs: 60_000 }),
  slidingWindow({ limit: 1000, windowMs: 60_000 }),
  slidingLog({ limit: 1000, windowMs: 60_000 }),
  tokenBucket({ capacity: 1000, refillRate: 1 }),
]

/** `INFO commandstats` as { command: calls }. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await client.info('commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1]!] = Number(match[2])
  }
  return calls
}

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
  storeClient = await connectClient(server.url)
  store = new RedisStore({ client: storeClient.client })
})

afterAll(async () => {
  storeClient?.disconnect()
  client?.disconnect()
  await server?.stop()
})

describe('RedisStore on its own server', () => {
  it('sends exactly one EVALSHA per decision once the scripts are cached', async () => {
    // The first call of a script on a connection is an EVAL (ioredis loads it), then EVALSHA.
    for (const algorithm of algorithms) await store.decide('warm', algorithm, 1)
    // MONITOR tells commands sent by clients from those a script ran (source "lua").
    const monitor = await new Redis(server.url).monitor()
    const fromClients: string[] = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') fromClients.push(String(args[0]).toLowerCase())
    })
    await client.config('RESETSTAT')
    const N = 40
    for (let k = 0; k < N; k++) {
      const got = await store.decide(`count-${k % 5}`, algorithms[k % 4]!, 1)
      expect(got.allowed).toBe(true)
    }
    const calls = await commandCalls()
    // MONITOR output is asynchronous: wait until it has seen our INFO, the last command sent.
    await expect.poll(() => fromClients.at(-1)).toBe('info')
    monitor.disconnect()

    // (MONITOR never shows CONFIG, an admin command.)
    expect(fromClients).toEqual([...Array<string>(N).fill('evalsha'), 'info'])
    // commandstats also counts what the scripts called: one TIME per decision among them.
    expect(calls.evalsha).toBe(N)
    expect(calls.time).toBe(N)
  })

  it.each([
    // A steady-state admission of each script: the commands it runs inside Redis (plus TIME
    // without an injected clock, counted above), each after one GET of the block key. With the
    // injected clock used here the fixed window restates its TTL on every admission (on the
    // server's clock only the first does).
    ['fixedWindow', { get: 1, hincrby: 1, pexpire: 1 }],
    ['slidingWindow', { get: 2, set: 1 }],
    ['slidingLog', { get: 1, lindex: 1, rpush: 1, pexpire: 1 }],
    ['tokenBucket', { get: 2, set: 1 }],
  ] as const)('runs %s with %j per admission', async (kind, perDecision) => {
    const algorithm = algorithms.find((a) => a.kind === kind)!
    let now = 1_700_000_000_000
    const clocked = new RedisStore({
      client: storeClient.client,
      prefix: 'steady:',
      clock: () => now++,
    })
    // Three admissions first: the window's first admission sets the TTL.
    for (let k = 0; k < 3; k++) await clocked.decide(kind, algorithm, 1)
    await client.config('RESETSTAT')
    const N = 20
    for (let k = 0; k < N; k++) {
      expect((await clocked.decide(kind, algorithm, 1)).allowed).toBe(true)
    }
    const { 'config|resetstat': _, ...calls } = await commandCalls()
    expect(calls).toEqual({
      evalsha: N,
      ...Object.fromEntries(Object.entries(perDecision).map(([name, n]) => [name, n * N])),
    })
  })

  it('keeps the sliding log at the same commands per decision after 5,000 admissions', async () => {
    // A limit that is never reached and an hour-long window: the log only grows.
    const algorithm = slidingLog({ limit: 1_000_000_000, windowMs: 3_600_000 })
    let now = 1_700_000_000_000
    const clocked = new RedisStore({
      client: storeClient.client,
      prefix: 'flat:',
      clock: () => now,
    })
    const perDecision = async (count: number) => {
      await client.config('RESETSTAT')
      for (let k = 0; k < count; k++) {
        now += 1
        expect((await clocked.decide('log', algorithm, 1)).allowed).toBe(true)
      }
      const { 'config|resetstat': _, ...calls } = await commandCalls()
      return Object.fromEntries(Object.entries(calls).map(([name, n]) => [name, n / count]))
    }
    await perDecision(3)
    const early = await perDecision(100)
    // The 4,900 between only grow the log: issued together (each reads the clock when issued, so
    // each has its own instant), they go as a few batched calls instead of 4,900 round trips, which
    // took longer than the test's timeout on a loaded machine.
    await Promise.all(
      Array.from({ length: 4_900 }, () => {
        now += 1
        return clocked.decide('log', algorithm, 1).then((d) => expect(d.allowed).toBe(true))
      }),
    )
    const late = await perDecision(100)
    // No TIME with an injected clock; the block check, then the same list operations, one of each.
    expect(early).toEqual({ evalsha: 1, get: 1, lindex: 1, rpush: 1, pexpire: 1 })
    expect(late).toEqual(early)
    // One element per admission.
    expect(await client.llen('flat:{log}:sl')).toBe(5_103)
    const ttl = await client.pttl('flat:{log}:sl')
    expect(ttl).toBeLessThanOrEqual(3_600_000)
    expect(ttl).toBeGreaterThan(3_600_000 - 1000)
    // An hour later the first 100 entries have left: one LTRIM drops them all (after LRANGE
    // chunks of 4, 16, 64 and 256 found where they end), and the running sum is still exact.
    await client.config('RESETSTAT')
    now += 3_600_000 + 100 - 5_103
    expect(await clocked.decide('log', algorithm, 1)).toEqual({
      allowed: true,
      limit: 1_000_000_000,
      remaining: 1_000_000_000 - 5_003 - 1,
      resetMs: 3_600_000,
      retryAfterMs: 0,
    })
    const { 'config|resetstat': _, ...calls } = await commandCalls()
    expect(calls).toEqual({
      evalsha: 1,
      get: 1,
      lindex: 1,
      lrange: 4,
      ltrim: 1,
      rpush: 1,
      pexpire: 1,
    })
    expect(await client.llen('flat:{log}:sl')).toBe(5_004)
  })

  it('a sliding-log denial with nothing left to drop only reads; one that finds expired entries drops them once', async () => {
    const algorithm = slidingLog({ limit: 2, windowMs: 10_000 })
    const t0 = 1_700_000_000_000
    let now = t0
    const clocked = new RedisStore({ client, prefix: 'deny:', clock: () => now })
    await clocked.peek('warm', algorithm, 1) // loads the script: every call below is one EVALSHA
    /** The commands Redis ran for one denial of `cost` at `at`. */
    const denialAt = async (at: number, cost: number) => {
      now = at
      await client.config('RESETSTAT')
      expect((await clocked.decide('log', algorithm, cost)).allowed).toBe(false)
      const { 'config|resetstat': _, ...calls } = await commandCalls()
      return calls
    }
    for (const at of [t0, t0 + 1_000]) {
      now = at
      expect((await clocked.decide('log', algorithm, 1)).allowed).toBe(true)
    }
    // The block check, the newest entry, one LRANGE for retryAfterMs: nothing written.
    const readsOnly = { evalsha: 1, get: 1, lindex: 1, lrange: 1 }
    expect(await denialAt(t0 + 5_000, 1)).toEqual(readsOnly)
    // At +10,500 the entry of +0 has left (used = 1, a cost of 2 is denied): the denial stores the
    // log without it, one LTRIM and the newest entry restated, so later decisions skip the scan.
    expect(await denialAt(t0 + 10_500, 2)).toEqual({ ...readsOnly, lrange: 2, ltrim: 1, lset: 1 })
    expect(await client.llen('deny:{log}:sl')).toBe(1)
    expect(await denialAt(t0 + 10_500, 2)).toEqual(readsOnly)
  })

  it('a block ending at or before the current one writes nothing; a later one is one SET', async () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
    const t0 = 1_700_000_000_000
    let now = t0
    const clocked = new RedisStore({ client, prefix: 'block-writes:', clock: () => now })
    await clocked.peek('warm', algorithm, 1) // loads the script: every call below is one EVALSHA
    const blockCalls = async (at: number, durationMs: number) => {
      now = at
      await client.config('RESETSTAT')
      await clocked.block('k', algorithm, durationMs)
      const { 'config|resetstat': _, ...calls } = await commandCalls()
      return calls
    }
    expect(await blockCalls(t0, 10_000)).toEqual({ evalsha: 1, get: 1, set: 1 })
    // Ends at t0 + 10,000 too: the same blockedUntil is no later, so it is left as it is.
    expect(await blockCalls(t0 + 4_000, 6_000)).toEqual({ evalsha: 1, get: 1 })
    expect(await blockCalls(t0 + 4_000, 1_000)).toEqual({ evalsha: 1, get: 1 })
    expect(await blockCalls(t0 + 4_000, 6_001)).toEqual({ evalsha: 1, get: 1, set: 1 })
    expect(await client.get('block-writes:{k}:fw:block')).toBe(String(t0 + 10_001))
  })

  it("a window's first admission runs HINCRBY, HLEN and PEXPIRE; DEL and HSET only over another window's field", async () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
    const t0 = 1_700_000_080_000 // 40 s into a minute (1_700_000_040_000 is a minute boundary)
    let now = t0
    const clocked = new RedisStore({ client, prefix: 'fw-first:', clock: () => now })
    await clocked.peek('warm', algorithm, 1) // loads the script: every call below is one EVALSHA
    const admissionCalls = async (at: number) => {
      now = at
      await client.config('RESETSTAT')
      expect((await clocked.decide('k', algorithm, 1)).allowed).toBe(true)
      const { 'config|resetstat': _, ...calls } = await commandCalls()
      return calls
    }
    const first = { evalsha: 1, get: 1, hincrby: 1, hlen: 1, pexpire: 1 }
    expect(await admissionCalls(t0)).toEqual(first)
    // 30 s later (next window, as the injected clock sees it) Redis still holds the old field.
    expect(await admissionCalls(t0 + 30_000)).toEqual({ ...first, del: 1, hset: 1 })
    expect(await client.hgetall('fw-first:{k}:fw')).toEqual({
      [String(Math.floor((t0 + 30_000) / 60_000))]: '1',
    })
  })

  it('reset() is a single DEL', async () => {
    await client.config('RESETSTAT')
    await store.reset('count-0', algorithms[0]!)
    const calls = await commandCalls()
    expect(calls.del).toBe(1)
    expect(
      Object.keys(calls).filter((n) => n !== 'del' && n !== 'config|resetstat' && n !== 'info'),
    ).toEqual([])
  })

  it('keeps deciding correctly after SCRIPT FLUSH between two calls', async () => {
    for (const algorithm of algorithms) {
      const key = `flush-${algorithm.kind}`
      expect(await store.decide(key, algorithm, 10)).toMatchObject({
        allowed: true,
        remaining: 990,
      })
      await client.script('FLUSH')
      // NOSCRIPT makes the client resend the script itself; the state survives the flush.
      expect(await store.decide(key, algorithm, 10)).toMatchObject({
        allowed: true,
        remaining: 980,
      })
    }
    // The resend loaded the script again.
    expect(await client.info('memory')).toMatch(/^number_of_cached_scripts:[1-9]/m)
  })

  it('keeps deciding after redis-server is killed and restarted on the same port', async () => {
    for (const algorithm of algorithms) {
      expect((await store.decide(`restart-${algorithm.kind}`, algorithm, 1)).allowed).toBe(true)
    }
    await server.kill()
    await server.restart()
    // The clients reconnect by themselves; PING answers once they have.
    expect(await client.ping()).toBe('PONG')
    expect(await storeClient.ping()).toBe('PONG')
    for (const algorithm of algorithms) {
      // The new process has neither the scripts nor the state (no persistence in this test).
      expect(await store.decide(`restart-${algorithm.kind}`, algorithm, 1)).toMatchObject({
        allowed: true,
        remaining: 999,
      })
    }
  })
})

describe('TTL under an injected clock', () => {
  it.each([
    ['fixedWindow', fixedWindow({ limit: 100, windowMs: 60_000 }), 'fw', 1],
    ['slidingWindow', slidingWindow({ limit: 100, windowMs: 60_000 }), 'sw', 2],
  ] as const)(
    '%s restates the TTL from each admission, never past the state’s end',
    async (_kind, algorithm, suffix, windowsUntilGone) => {
      const W = 60_000
      let now = 1_700_000_000_000 + 5_000
      const start = Math.floor(now / W) * W
      const clocked = new RedisStore({
        client: storeClient.client,
        prefix: 'ttl-injected:',
        clock: () => now,
      })
      await clocked.decide('k', algorithm, 1)
      now += 15_000 // later in the same window, as the caller's clock sees it
      await clocked.decide('k', algorithm, 1)
      const untilGone = start + windowsUntilGone * W - now
      const pttl = await client.pttl(`ttl-injected:{k}:${suffix}`)
      expect(pttl).toBeLessThanOrEqual(untilGone)
      expect(pttl).toBeGreaterThan(untilGone - 200)
    },
  )
})
