/**
 * `pnpm bench:micro` (node --expose-gc): in-process decisions/s of each memory limiter over 1 key
 * and over many keys, heap bytes per tracked key, exactness over many keys, and decisions/s
 * against the bench's own Redis with N in flight next to the floor of each client library (ioredis
 * and node-redis): a raw EVALSHA of `return 1`, one per decision. RedisStore runs with batching on
 * (the default) and off; Redis server CPU per decision comes from INFO's used_cpu_user/sys deltas.
 * Heap figures come from a fresh child process per limiter (`--heap <name>`).
 *
 * The Redis client libraries are imported only by the Redis section, so a memory contender's
 * child has loaded nothing but its own library: with node-redis loaded (and unused) in the same
 * process, V8 stopped inlining MemoryStore's index lookup and tollgate's sync path over 100,000
 * keys measured 1.4-1.5x express-rate-limit instead of 2.0-2.3x (session 8, 3 interleaved
 * children each); express-rate-limit's own figure did not move.
 */
import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import type { createClient } from 'redis'
import { buildPackages } from './build.js'
import { ALGORITHMS } from './contenders.js'
import { describeMachine, measureMachine, median } from './machine.js'
import { HARNESS_COMMANDS, parseCommandStats, startRedis } from './redis.js'
import { writeReports } from './report.js'
import type { MicroResults } from './results.js'

const here = dirname(fileURLToPath(import.meta.url))
const resultsDir = process.env.BENCH_RESULTS_DIR ?? join(here, '..', 'results')
const quick = process.env.BENCH_QUICK === '1'
const numberEnv = (name: string, fallback: number) => {
  const raw = process.env[name]
  const value = raw ? Number(raw) : fallback
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be positive, got ${raw}`)
  return value
}
const settings = {
  seconds: numberEnv('BENCH_MICRO_SECONDS', quick ? 0.5 : 2),
  rounds: Math.round(numberEnv('BENCH_ROUNDS', quick ? 1 : 3)),
  manyKeys: Math.round(numberEnv('BENCH_MICRO_KEYS', 100_000)),
  heapKeys: Math.round(numberEnv('BENCH_MICRO_HEAP_KEYS', quick ? 200_000 : 1_000_000)),
  inFlight: Math.round(numberEnv('BENCH_MICRO_IN_FLIGHT', 100)),
  redisKeys: 10_000,
  windowMs: 3_600_000,
}

// Specifiers as variables: the bench type-checks and runs before the tollgate packages are built.
const TOLLGATE_CORE: string = '@tollgate/core'
const TOLLGATE_REDIS: string = '@tollgate/redis'

type Decide = (key: string) => unknown
/** Builds a fresh limiter: `decide` resolves to whether the request was allowed. */
type Factory = (limit: number) => Promise<(key: string) => Promise<boolean>>

// ---------------------------------------------------------------------------------------------
// Memory limiters

async function tollgateMemory(algorithm: string, explicitStore = false): Promise<Factory> {
  const core = (await import(TOLLGATE_CORE)) as Record<string, unknown>
  const createLimiter = core.createLimiter as (o: Record<string, unknown>) => {
    limit(key: string): Promise<{ allowed: boolean }>
  }
  const MemoryStore = core.MemoryStore as new () => unknown
  const factory = core[algorithm] as (o: object) => unknown
  if (typeof createLimiter !== 'function' || typeof factory !== 'function') {
    throw new Error(`@tollgate/core lacks createLimiter or ${algorithm}`)
  }
  return async (limit) => {
    const options =
      algorithm === 'tokenBucket'
        ? { capacity: limit, refillRate: limit, refillIntervalMs: settings.windowMs }
        : { limit, windowMs: settings.windowMs }
    // createLimiter's own MemoryStore (what the adapters use without `store`); with an explicit
    // store the limiter prefixes every key with its signature, which the extra row measures.
    const limiter = createLimiter({
      algorithm: factory(options),
      ...(explicitStore ? { store: new MemoryStore() } : {}),
    })
    return (key) => limiter.limit(key).then((d) => d.allowed)
  }
}

/**
 * The limiter's synchronous entry (`LIMIT_NOW` of `@tollgate/core/http`), which the Express
 * middleware and the Fastify hook call with a MemoryStore: a Decision, no promise. Each decision
 * is taken in a plain loop, as a request handler takes it; the peers' rows await their promises,
 * as their middlewares do.
 */
async function tollgateSyncPath(): Promise<Factory> {
  const core = (await import(TOLLGATE_CORE)) as Record<string, unknown>
  const http = (await import(`${TOLLGATE_CORE}/http`)) as { LIMIT_NOW?: symbol }
  const createLimiter = core.createLimiter as (
    o: Record<string, unknown>,
  ) => Record<symbol, (key: string) => { allowed: boolean } | Promise<{ allowed: boolean }>>
  const sym = http.LIMIT_NOW
  if (typeof sym !== 'symbol') throw new Error('@tollgate/core/http lacks LIMIT_NOW')
  const fixedWindow = core.fixedWindow as (o: object) => unknown
  return async (limit) => {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit, windowMs: settings.windowMs }),
    })
    const now = limiter[sym]!.bind(limiter)
    return ((key: string) => {
      const d = now(key)
      return d instanceof Promise ? d.then((x) => x.allowed) : d.allowed
    }) as unknown as (key: string) => Promise<boolean>
  }
}

const MEMORY: { name: string; library: string; factory: () => Promise<Factory> }[] = [
  {
    name: 'tollgate fixedWindow, sync path (LIMIT_NOW, as the adapters call it)',
    library: 'tollgate',
    factory: tollgateSyncPath,
  },
  ...ALGORITHMS.map((a) => ({
    name: `tollgate MemoryStore ${a}`,
    library: 'tollgate',
    factory: () => tollgateMemory(a),
  })),
  {
    name: 'tollgate fixedWindow, store: new MemoryStore()',
    library: 'tollgate',
    factory: () => tollgateMemory('fixedWindow', true),
  },
  {
    name: 'express-rate-limit MemoryStore.increment',
    library: 'express-rate-limit',
    factory: async () => {
      const { MemoryStore } = await import('express-rate-limit')
      return async (limit) => {
        const store = new MemoryStore()
        store.init({ windowMs: settings.windowMs } as Parameters<typeof store.init>[0])
        return (key) => store.increment(key).then((info) => info.totalHits <= limit)
      }
    },
  },
  {
    name: 'rate-limiter-flexible RateLimiterMemory.consume',
    library: 'rate-limiter-flexible',
    factory: async () => {
      const { RateLimiterMemory } = await import('rate-limiter-flexible')
      return async (limit) => {
        const limiter = new RateLimiterMemory({
          points: limit,
          duration: settings.windowMs / 1000,
        })
        return (key) =>
          limiter.consume(key).then(
            () => true,
            () => false,
          )
      }
    },
  },
  {
    name: '@fastify/rate-limit LocalStore.incr (LRU, cache 5,000)',
    library: '@fastify/rate-limit',
    factory: async () => {
      // Not exported by name; the file the plugin itself uses for its default store.
      const { default: LocalStore } = (await import(
        '@fastify/rate-limit/store/LocalStore.js' as string
      )) as {
        default: new (
          continueExceeding: boolean,
          exponentialBackoff: boolean,
          cache?: number,
        ) => {
          incr(
            key: string,
            cb: (e: Error | null, r: { current: number }) => void,
            timeWindow: number,
            max: number,
          ): void
        }
      }
      return async (limit) => {
        const store = new LocalStore(false, false)
        return (key) =>
          new Promise<boolean>((resolve) =>
            store.incr(key, (_e, r) => resolve(r.current <= limit), settings.windowMs, limit),
          )
      }
    },
  },
]

/**
 * The i-th client's key as a fresh string, the way a request's `req.ip` is a new string every
 * time: a limiter cannot profit from a hash V8 cached on a key string it saw before.
 */
function keyOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
}

/**
 * Sequential decisions over `keys` clients for `seconds`; decisions per second. A promise is
 * awaited; a plain answer (the sync path) is not, as a middleware would not await it.
 */
async function rate(decide: Decide, keys: number, seconds: number): Promise<number> {
  let i = 0
  let count = 0
  const start = performance.now()
  const end = start + seconds * 1000
  for (;;) {
    for (let j = 0; j < 1000; j++) {
      const answer = decide(keyOf(i))
      if (answer instanceof Promise) await answer
      i = i + 1 === keys ? 0 : i + 1
    }
    count += 1000
    const now = performance.now()
    if (now >= end) return (count * 1000) / (now - start)
  }
}

function keyList(count: number, prefix = '10.'): string[] {
  // Shaped like the IPv4 addresses a web limiter keys on.
  return Array.from(
    { length: count },
    (_, i) => `${prefix}${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  )
}

/** Child mode: heap bytes per key after `heapKeys` distinct keys, in a fresh process. */
async function heapChild(name: string): Promise<void> {
  const entry = MEMORY.find((m) => m.name === name)!
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with node --expose-gc')
  const decideFactory = await await entry.factory()
  const settle = () => {
    gc()
    gc()
  }
  // The JS heap plus ArrayBuffer backing stores: typed-array state lives outside the heap and
  // must count too.
  const used = () => {
    const m = process.memoryUsage()
    return m.heapUsed + m.arrayBuffers
  }
  settle()
  const before = used()
  const decide = await decideFactory(1_000_000_000)
  for (let i = 0; i < settings.heapKeys; i++) {
    await decide(keyOf(i))
  }
  settle()
  const after = used()
  // Keep the limiter (and its keys) alive until after the measurement.
  await decide('keep-alive')
  process.send?.({ bytesPerKey: (after - before) / settings.heapKeys })
  process.exit(0)
}

/**
 * Child mode: one contender's decisions/s, 1 key and `manyKeys` keys, in a fresh process. Timed in
 * one process, contenders ran on the heap every earlier one left: a store's sweep timer (tollgate's,
 * express-rate-limit's) or a timer per key (rate-limiter-flexible's) keeps every store ever made
 * alive, so each later run paid major GCs over millions of dead keys and the rates fell by up to
 * half from the first round to the last, whatever the contender.
 */
async function rateChild(name: string, withExactness: boolean): Promise<void> {
  const entry = MEMORY.find((m) => m.name === name)!
  const factory = await entry.factory()
  const d1 = await factory(1_000_000_000)
  await rate(d1, 1, Math.min(0.3, settings.seconds))
  const oneKey = await rate(d1, 1, settings.seconds)
  const dn = await factory(1_000_000_000)
  for (let i = 0; i < settings.manyKeys; i++) await dn(keyOf(i)) // every key exists before the measurement
  const manyKeys = await rate(dn, settings.manyKeys, settings.seconds)
  const exact = withExactness ? await exactness(factory, settings.manyKeys) : undefined
  process.send?.({ oneKey, manyKeys, exact })
  process.exit(0)
}

interface RateRun {
  oneKey: number
  manyKeys: number
  exact: string | undefined
}

/** `rateChild` in a fresh process; `withExactness` adds the exactness check after the rates. */
function rateInChild(name: string, withExactness: boolean): Promise<RateRun> {
  return new Promise((resolve, reject) => {
    const args = ['--rate', name, ...(withExactness ? ['--exact'] : [])]
    const child = fork(fileURLToPath(import.meta.url), args, {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    child.once('message', (m: RateRun) => resolve(m))
    child.once('exit', (code) =>
      code ? reject(new Error(`rate child exited ${code}`)) : undefined,
    )
  })
}

function heapInChild(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--heap', name], {
      execArgv: ['--expose-gc', '--max-old-space-size=4096', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    child.once('message', (m: { bytesPerKey: number }) => resolve(m.bytesPerKey))
    child.once('exit', (code) =>
      code ? reject(new Error(`heap child exited ${code}`)) : undefined,
    )
  })
}

async function exactness(factory: Factory, keys: number): Promise<string> {
  const decide = await factory(1)
  let allowed = 0
  for (let i = 0; i < keys; i++) if (await decide(keyOf(i))) allowed++
  let denied = 0
  for (let i = 0; i < keys; i++) if (!(await decide(keyOf(i)))) denied++
  return allowed === keys && denied === keys
    ? 'exact'
    : `NOT exact: pass 1 allowed ${allowed}, pass 2 denied ${denied} of ${keys}`
}

async function memoryBench(): Promise<MicroResults['memory']> {
  const rows = new Map<string, MicroResults['memory'][number]>()
  const oneKeyRates = new Map<string, number[]>()
  const manyKeyRates = new Map<string, number[]>()
  const exactByName = new Map<string, string>()
  const factories = new Map<string, Factory>()
  for (const m of MEMORY) {
    try {
      factories.set(m.name, await m.factory())
    } catch (error) {
      rows.set(m.name, {
        name: m.name,
        oneKey: undefined,
        manyKeys: undefined,
        heapBytesPerKey: undefined,
        exact: undefined,
        skipped: (error as Error).message.split('\n')[0],
      })
      console.log(`  skip ${m.name}: ${rows.get(m.name)!.skipped}`)
    }
  }
  const runnable = MEMORY.filter((m) => factories.has(m.name))
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 ? [...runnable].reverse() : runnable
    for (const m of order) {
      // Each run in a fresh process (see rateChild): no contender pays for another's heap.
      const run = await rateInChild(m.name, round === 0)
      const r1 = run.oneKey
      const rn = run.manyKeys
      if (run.exact !== undefined) exactByName.set(m.name, run.exact)
      oneKeyRates.set(m.name, [...(oneKeyRates.get(m.name) ?? []), r1])
      manyKeyRates.set(m.name, [...(manyKeyRates.get(m.name) ?? []), rn])
      console.log(
        `  [r${round + 1}] ${m.name.padEnd(56)} 1 key ${Math.round(r1).toLocaleString('en-US').padStart(11)}/s   ${settings.manyKeys.toLocaleString('en-US')} keys ${Math.round(rn).toLocaleString('en-US').padStart(11)}/s`,
      )
    }
  }
  for (const m of runnable) {
    const heap = await heapInChild(m.name).catch(() => Number.NaN)
    const exact = exactByName.get(m.name) ?? 'not checked'
    console.log(
      `  ${m.name.padEnd(56)} heap ${Math.round(heap)} B/key (${settings.heapKeys.toLocaleString('en-US')} keys); ${settings.manyKeys.toLocaleString('en-US')} keys at limit 1: ${exact}`,
    )
    rows.set(m.name, {
      name: m.name,
      oneKey: median(oneKeyRates.get(m.name) ?? []),
      manyKeys: median(manyKeyRates.get(m.name) ?? []),
      heapBytesPerKey: heap,
      exact,
    })
  }
  return MEMORY.map((m) => rows.get(m.name)!)
}

// ---------------------------------------------------------------------------------------------
// Redis

type ClientLibrary = 'ioredis' | 'node-redis'
type NodeRedisClient = ReturnType<typeof createClient>
type RedisFactory = (client: Redis | NodeRedisClient) => Promise<(key: string) => Promise<unknown>>

function countCommands(client: Redis): Record<string, number> {
  const counts: Record<string, number> = {}
  const original = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string }, stream?: unknown) => {
    const name = command.name.toLowerCase()
    counts[name] = (counts[name] ?? 0) + 1
    return (original as (c: unknown, s?: unknown) => unknown)(command, stream)
  }) as typeof client.sendCommand
  return counts
}

function tollgateRedis(algorithm: string, batch: boolean): RedisFactory {
  return async (client) => {
    const core = (await import(TOLLGATE_CORE)) as Record<string, unknown>
    const { RedisStore } = (await import(TOLLGATE_REDIS)) as {
      RedisStore: new (o: { client: unknown; batch?: boolean }) => unknown
    }
    const createLimiter = core.createLimiter as (o: Record<string, unknown>) => {
      limit(key: string): Promise<unknown>
    }
    const factory = core[algorithm] as (o: object) => unknown
    const limit = 1_000_000_000
    const limiter = createLimiter({
      algorithm: factory(
        algorithm === 'tokenBucket'
          ? { capacity: limit, refillRate: limit, refillIntervalMs: settings.windowMs }
          : { limit, windowMs: settings.windowMs },
      ),
      store: new RedisStore({ client, batch }),
    })
    return (key: string) => limiter.limit(key)
  }
}

const REDIS: { name: string; client: ClientLibrary; factory: RedisFactory }[] = [
  {
    name: 'floor: ioredis EVALSHA of `return 1`',
    client: 'ioredis',
    factory: async (client) => {
      const redis = client as Redis
      const sha = (await redis.script('LOAD', 'return 1')) as string
      return () => redis.evalsha(sha, 0)
    },
  },
  {
    name: 'floor: node-redis EVALSHA of `return 1`',
    client: 'node-redis',
    factory: async (client) => {
      const redis = client as NodeRedisClient
      const sha = await redis.scriptLoad('return 1')
      return () => redis.evalSha(sha, { keys: [], arguments: [] })
    },
  },
  ...ALGORITHMS.map((algorithm) => ({
    name: `tollgate RedisStore ${algorithm}`,
    client: 'ioredis' as const,
    factory: tollgateRedis(algorithm, true),
  })),
  {
    name: 'tollgate RedisStore fixedWindow, batch: false',
    client: 'ioredis',
    factory: tollgateRedis('fixedWindow', false),
  },
  {
    name: 'tollgate RedisStore fixedWindow (node-redis)',
    client: 'node-redis',
    factory: tollgateRedis('fixedWindow', true),
  },
  {
    name: 'tollgate RedisStore fixedWindow, batch: false (node-redis)',
    client: 'node-redis',
    factory: tollgateRedis('fixedWindow', false),
  },
  {
    name: 'rate-limit-redis RedisStore.increment',
    client: 'ioredis',
    factory: async (client) => {
      const redis = client as Redis
      const { RedisStore } = await import('rate-limit-redis')
      const store = new RedisStore({
        sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as never,
      })
      store.init({ windowMs: settings.windowMs } as Parameters<typeof store.init>[0])
      return (key) => store.increment(key)
    },
  },
  {
    name: 'rate-limiter-flexible RateLimiterRedis.consume',
    client: 'ioredis',
    factory: async (client) => {
      const { RateLimiterRedis } = await import('rate-limiter-flexible')
      const limiter = new RateLimiterRedis({
        storeClient: client,
        points: 1_000_000_000,
        duration: settings.windowMs / 1000,
      })
      return (key) => limiter.consume(key)
    },
  },
  {
    name: '@fastify/rate-limit RedisStore.incr',
    client: 'ioredis',
    factory: async (client) => {
      const { default: RedisStore } = (await import(
        '@fastify/rate-limit/store/RedisStore.js' as string
      )) as {
        default: new (
          continueExceeding: boolean,
          exponentialBackoff: boolean,
          redis: Redis,
        ) => {
          incr(key: string, cb: (e: Error | null) => void, windowMs: number, max: number): void
        }
      }
      const store = new RedisStore(false, false, client as Redis)
      return (key) =>
        new Promise<void>((resolve, reject) =>
          store.incr(key, (e) => (e ? reject(e) : resolve()), settings.windowMs, 1_000_000_000),
        )
    },
  },
]

/** Redis server CPU (user + system) in microseconds, from INFO cpu. */
async function redisCpuUsec(admin: Redis): Promise<number> {
  const info = await admin.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1])
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}

async function connect(
  url: string,
  library: ClientLibrary,
): Promise<{
  client: Redis | NodeRedisClient
  close(): void
}> {
  if (library === 'ioredis') {
    const { Redis } = await import('ioredis')
    const client = new Redis(url)
    return { client, close: () => client.disconnect() }
  }
  const { createClient } = await import('redis')
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  return { client, close: () => client.destroy() }
}

/** `inFlight` workers, each awaiting its decisions back to back, for `seconds`. */
async function concurrentRate(
  decide: (key: string) => Promise<unknown>,
  keys: string[],
  seconds: number,
): Promise<{ rate: number; count: number }> {
  let count = 0
  let i = 0
  const start = performance.now()
  const end = start + seconds * 1000
  const worker = async () => {
    while (performance.now() < end) {
      await decide(keys[i]!)
      i = i + 1 === keys.length ? 0 : i + 1
      count++
    }
  }
  await Promise.all(Array.from({ length: settings.inFlight }, worker))
  return { rate: (count * 1000) / (performance.now() - start), count }
}

async function redisBench(url: string): Promise<MicroResults['redis']> {
  const { Redis } = await import('ioredis')
  const admin = new Redis(url)
  const keys = keyList(settings.redisKeys, 'micro:10.')
  const series = new Map<string, Record<string, number[]>>()
  const push = (name: string, field: string, value: number) => {
    const row = series.get(name) ?? {}
    row[field] = [...(row[field] ?? []), value]
    series.set(name, row)
  }
  const skipped = new Map<string, string>()
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 ? [...REDIS].reverse() : REDIS
    for (const r of order) {
      if (skipped.has(r.name)) continue
      const { client, close } = await connect(url, r.client)
      try {
        let decide: (key: string) => Promise<unknown>
        try {
          decide = await r.factory(client)
          await decide(keys[0]!)
        } catch (error) {
          skipped.set(r.name, (error as Error).message.split('\n')[0]!)
          console.log(`  skip ${r.name}: ${skipped.get(r.name)}`)
          continue
        }
        await concurrentRate(decide, keys, Math.min(0.5, settings.seconds))
        // ioredis: counted in the client; node-redis: its top-level EVALSHA/EVAL from commandstats.
        const counts = r.client === 'ioredis' ? countCommands(client as Redis) : undefined
        await admin.config('RESETSTAT')
        const cpuBefore = await redisCpuUsec(admin)
        const nodeBefore = process.cpuUsage()
        const { rate: measured, count } = await concurrentRate(decide, keys, settings.seconds)
        const node = process.cpuUsage(nodeBefore)
        const cpuAfter = await redisCpuUsec(admin)
        const stats = parseCommandStats(await admin.info('commandstats'))
        const topLevel =
          counts ??
          Object.fromEntries(
            ['evalsha', 'eval'].filter((n) => stats[n]).map((n) => [n, stats[n]!.calls]),
          )
        let topUsec = 0
        let topCalls = 0
        for (const name of Object.keys(topLevel)) {
          const stat = stats[name]
          if (stat && !HARNESS_COMMANDS.has(name)) {
            topUsec += stat.usec
            topCalls += stat.calls
          }
        }
        const sent = Object.values(topLevel).reduce((a, b) => a + b, 0)
        // Two INFO calls and the harness's own commands are in the delta too: a few µs in total.
        const redisCpu = (cpuAfter - cpuBefore) / count
        const nodeCpu = (node.user + node.system) / count
        push(r.name, 'rate', measured)
        push(r.name, 'usec', topCalls ? topUsec / topCalls : Number.NaN)
        push(r.name, 'usecPerDecision', topUsec / count)
        push(r.name, 'commands', sent / count)
        push(r.name, 'redisCpu', redisCpu)
        push(r.name, 'nodeCpu', nodeCpu)
        console.log(
          `  [r${round + 1}] ${r.name.padEnd(58)} ${Math.round(measured).toLocaleString('en-US').padStart(9)}/s  ${(sent / count).toFixed(3)} cmd/decision  ${(topUsec / topCalls).toFixed(2)} µs/call  Redis CPU ${redisCpu.toFixed(2)} µs/decision  Node CPU ${nodeCpu.toFixed(2)} µs/decision`,
        )
      } finally {
        close()
      }
    }
  }
  await admin.quit()
  const floors = new Map(
    REDIS.filter((r) => r.name.startsWith('floor')).map((r) => [
      r.client,
      median(series.get(r.name)?.rate ?? []),
    ]),
  )
  return REDIS.map((r) => {
    const row = series.get(r.name)
    if (skipped.has(r.name) || !row) {
      return {
        name: r.name,
        client: r.client,
        decisionsPerSec: undefined,
        ratioToFloor: undefined,
        redisUsecPerCall: undefined,
        commandsPerDecision: undefined,
        skipped: skipped.get(r.name) ?? 'not run',
      }
    }
    const rate = median(row.rate!)
    return {
      name: r.name,
      client: r.client,
      decisionsPerSec: rate,
      ratioToFloor: rate / floors.get(r.client)!,
      redisUsecPerCall: median(row.usec!),
      redisUsecPerDecision: median(row.usecPerDecision!),
      commandsPerDecision: median(row.commands!),
      redisCpuUsecPerDecision: median(row.redisCpu!),
      nodeCpuUsecPerDecision: median(row.nodeCpu!),
    }
  })
}

async function main(): Promise<void> {
  if (process.env.BENCH_NO_BUILD !== '1') buildPackages(join(here, '..', '..'))
  const redis = await startRedis()
  const machine = await measureMachine(redis.version)
  console.log(`machine: ${describeMachine(machine)}`)
  console.log(
    `memory limiters: ${settings.rounds} round(s) × ${settings.seconds}s, 1 key and ${settings.manyKeys.toLocaleString('en-US')} keys`,
  )
  let memory: MicroResults['memory']
  let redisRows: MicroResults['redis']
  try {
    memory = await memoryBench()
    console.log(
      `Redis: ${settings.inFlight} in flight, ${settings.rounds} round(s) × ${settings.seconds}s`,
    )
    redisRows = await redisBench(redis.url)
  } finally {
    await redis.stop()
  }
  const results: MicroResults = {
    kind: 'micro',
    machine,
    settings: { ...settings, quick },
    memory,
    redis: redisRows,
  }
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, 'micro.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\nwrote ${join(resultsDir, 'micro.json')}, ${writeReports(resultsDir).join(', ')}`)
}

const heapIndex = process.argv.indexOf('--heap')
const rateIndex = process.argv.indexOf('--rate')
if (heapIndex >= 0) {
  await heapChild(process.argv[heapIndex + 1]!)
} else if (rateIndex >= 0) {
  await rateChild(process.argv[rateIndex + 1]!, process.argv.includes('--exact'))
} else {
  await main()
}
