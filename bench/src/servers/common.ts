/**
 * The part every contender server shares: read the config, build the app, listen on an
 * ephemeral loopback port, and answer the harness's `start` / `stop` with CPU time and the Redis
 * commands this process sent in between.
 */
import type { Server } from 'node:http'
import type { Redis as RedisClient } from 'ioredis'
import type { ChildMessage, ParentMessage, ServerConfig } from '../protocol.js'

export function readConfig(): ServerConfig {
  const raw = process.env.BENCH_SERVER_CONFIG
  if (!raw) throw new Error('BENCH_SERVER_CONFIG is not set: servers are started by src/run.ts')
  return JSON.parse(raw) as ServerConfig
}

export function send(message: ChildMessage): void {
  process.send?.(message)
}

/**
 * Responses answered by a degraded decision (tollgate's fail policy answered because the store
 * failed, timed out or the breaker was open) and failed store calls (tollgate's `onStoreError`),
 * since the last `start`. The peers turn store errors into 5xx, which the load generator counts.
 */
export const failures = { degraded: 0, storeErrors: 0 }

/** Counts a request whose `rateLimit` decision is degraded; the same check in every handler. */
export function noteDecision(request: { rateLimit?: unknown }): void {
  if ((request.rateLimit as { degraded?: boolean } | null | undefined)?.degraded)
    failures.degraded++
}

/** Commands sent by the counted client since the last `start`, by lower-case name. */
const commandCounts: Record<string, number> = Object.create(null)
/** Script calls since the last `start` by key count (see ServerStats.scriptKeysPerCall). */
const keysPerCall: Record<string, number> = Object.create(null)

function keysBucket(keys: number): string {
  if (keys <= 8) return String(keys)
  let high = 16
  while (keys > high && high < 512) high *= 2
  return keys > 512 ? '>512' : `${high / 2 + 1}-${high}`
}

/**
 * One ioredis client, as the peers' READMEs create it, connected before the server listens.
 * Its `sendCommand` is wrapped to count commands: a counter per call, the same small cost for every
 * Redis contender, and the only way to tell commands a client sent from commands a Lua script ran
 * (Redis's INFO commandstats counts both).
 */
export async function connectRedis(url: string): Promise<RedisClient> {
  const { Redis } = await import('ioredis')
  const client = new Redis(url)
  const original = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string }, stream?: unknown) => {
    const name = command.name.toLowerCase()
    commandCounts[name] = (commandCounts[name] ?? 0) + 1
    if (name === 'evalsha' || name === 'eval') {
      // ioredis script commands carry [sha or lua, numkeys, ...keys, ...argv].
      const bucket = keysBucket(Number((command as { args?: unknown[] }).args?.[1]))
      keysPerCall[bucket] = (keysPerCall[bucket] ?? 0) + 1
    }
    return (original as (c: unknown, s?: unknown) => unknown)(command, stream)
  }) as typeof client.sendCommand
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve)
    client.once('error', reject)
  })
  return client
}

/** Marks a contender as not runnable here (a missing package) and exits. */
export function skip(reason: string): never {
  send({ type: 'skip', reason })
  process.exit(0)
}

/** Imports a module, turning a failure (not built, not landed) into a clean skip. */
export async function importOrSkip<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T
  } catch (error) {
    skip(`cannot import ${specifier}: ${(error as Error).message.split('\n')[0]}`)
  }
}

export function serve(server: Server | { port: number }): void {
  const port =
    'port' in server
      ? server.port
      : (() => {
          const address = (server as Server).address()
          return typeof address === 'object' && address ? address.port : 0
        })()
  let cpuStart = process.cpuUsage()
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'start') {
      for (const name of Object.keys(commandCounts)) delete commandCounts[name]
      for (const bucket of Object.keys(keysPerCall)) delete keysPerCall[bucket]
      failures.degraded = 0
      failures.storeErrors = 0
      cpuStart = process.cpuUsage()
      send({ type: 'started' })
    } else if (message.type === 'stop') {
      const cpu = process.cpuUsage(cpuStart)
      const memory = process.memoryUsage()
      send({
        type: 'stats',
        stats: {
          cpuUserUs: cpu.user,
          cpuSystemUs: cpu.system,
          redisCommands: { ...commandCounts },
          scriptKeysPerCall: { ...keysPerCall },
          degraded: failures.degraded,
          storeErrors: failures.storeErrors,
          heapUsedBytes: memory.heapUsed,
          rssBytes: memory.rss,
        },
      })
    }
  })
  // The harness going away (or closing the channel) ends the server.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready', port })
}

export function tollgateAlgorithm(core: Record<string, unknown>, config: ServerConfig): unknown {
  const name = config.contender.algorithm ?? 'fixedWindow'
  const factory = core[name] as ((options: Record<string, number>) => unknown) | undefined
  if (typeof factory !== 'function') skip(`@tollgate/core has no export ${name}`)
  if (config.contender.variant === 'compound') {
    // Two fixed windows that both hold the scenario's limit (per window, and per 24 windows):
    // the same answers as one window, at the cost of a compound (issue 11's figure).
    return [
      factory({ limit: config.limit, windowMs: config.windowMs }),
      factory({ limit: config.limit, windowMs: config.windowMs * 24 }),
    ]
  }
  // A token bucket of `limit` tokens refilled fully once per window admits the same steady rate.
  return name === 'tokenBucket'
    ? factory({
        capacity: config.limit,
        refillRate: config.limit,
        refillIntervalMs: config.windowMs,
      })
    : factory({ limit: config.limit, windowMs: config.windowMs })
}

/**
 * Options every tollgate contender shares: the header mode every limited contender uses (legacy
 * X-RateLimit-*, the one all peers share) and a failure counter. The fail policy stays at its
 * defaults (open, 100 ms timeout, breaker) as a user would have it.
 */
export const TOLLGATE_OPTIONS = {
  headers: { standard: false, legacy: true },
  onStoreError: () => {
    failures.storeErrors++
  },
} as const

/** TOLLGATE_OPTIONS, without `headers` for the default-headers variant. */
export function tollgateOptions(config: ServerConfig): Record<string, unknown> {
  if (config.contender.variant !== 'defaultHeaders') return TOLLGATE_OPTIONS
  const { headers: _legacy, ...rest } = TOLLGATE_OPTIONS
  return rest
}

/** A rate-limiter-flexible limiter on the bench's Redis (or in memory), as its README builds one. */
export async function rateLimiterFlexible(
  config: ServerConfig,
  redis: RedisClient | undefined,
): Promise<{
  consume(key: string): Promise<{ remainingPoints: number; msBeforeNext: number }>
  isRejection(value: unknown): value is { remainingPoints: number; msBeforeNext: number }
  limit: string
}> {
  const { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } = await import(
    'rate-limiter-flexible'
  )
  const options = { points: config.limit, duration: Math.ceil(config.windowMs / 1000) }
  const limiter = redis
    ? new RateLimiterRedis({ storeClient: redis, ...options })
    : new RateLimiterMemory(options)
  return {
    consume: (key) => limiter.consume(key),
    isRejection: (value): value is { remainingPoints: number; msBeforeNext: number } =>
      value instanceof RateLimiterRes,
    limit: String(config.limit),
  }
}
