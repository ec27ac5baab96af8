import { createHash } from 'node:crypto'
import {
  type Algorithm,
  type AlgorithmKind,
  assertNever,
  type Clock,
  type Decision,
  describeValue,
  type Store,
  TollgateError,
  TollgateTypeError,
  validateCost,
} from '@tollgate/core'
import type { Cluster, Redis } from 'ioredis'
import { stateKey } from './keys.js'
import fixedWindowLua from './scripts/fixed-window.lua'
import slidingLogLua from './scripts/sliding-log.lua'
import slidingWindowLua from './scripts/sliding-window.lua'
import tokenBucketLua from './scripts/token-bucket.lua'

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * A connected ioredis `Redis` or `Cluster`. The store defines its scripts on it and never
   * quits it: the client stays yours.
   */
  client: Redis | Cluster
  /**
   * Prepended to every Redis key, before the hash-tagged user key.
   * @default 'tollgate:'
   */
  prefix?: string
  /**
   * A clock returning integer epoch milliseconds, for tests. Without it every script reads the
   * Redis server's `TIME`, so all app servers share one clock.
   * @default undefined (Redis TIME)
   */
  clock?: Clock
}

const KNOWN_OPTIONS = ['client', 'prefix', 'clock']

const SCRIPTS: Record<AlgorithmKind, string> = {
  fixedWindow: fixedWindowLua,
  slidingWindow: slidingWindowLua,
  slidingLog: slidingLogLua,
  tokenBucket: tokenBucketLua,
}

/** ioredis command name of a script: namespaced and versioned by the script's own hash. */
export function scriptCommandName(kind: AlgorithmKind): string {
  const sha = createHash('sha1').update(SCRIPTS[kind]).digest('hex')
  return `tollgate_${kind}_${sha.slice(0, 8)}`
}

type ScriptCommand = (this: Redis | Cluster, ...args: Array<string | number>) => Promise<unknown>

interface ScriptingClient {
  defineCommand(name: string, definition: { lua: string; numberOfKeys: number }): void
  scriptsSet?: Record<string, { lua?: string } | undefined>
  [command: string]: unknown
}

/**
 * Turns a script reply `[allowed, limit, remaining, resetMs, retryAfterMs]` into a Decision.
 * Module-level so that decide() allocates no closure per call.
 */
function toDecision(reply: unknown): Decision {
  if (!Array.isArray(reply) || reply.length !== 5) {
    throw new TollgateError(
      'ERR_TOLLGATE_STORE_REPLY',
      `tollgate: RedisStore expected a 5-integer script reply, got ${describeValue(reply)}`,
    )
  }
  return {
    allowed: reply[0] === 1,
    limit: reply[1],
    remaining: reply[2],
    resetMs: reply[3],
    retryAfterMs: reply[4],
  }
}

/**
 * A Store on Redis or Redis Cluster (ioredis). Each decision is one atomic Lua script call
 * (EVALSHA once the script is cached on the connection); state is one string key per user key
 * and algorithm, expiring the moment it stops mattering.
 *
 * @example
 * import { Redis } from 'ioredis'
 * const store = new RedisStore({ client: new Redis(process.env.REDIS_URL) })
 * const limiter = createLimiter({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), store })
 */
export class RedisStore implements Store {
  /** The client passed in; never quit by the store. */
  readonly client: Redis | Cluster
  /** The key prefix in use. */
  readonly prefix: string
  readonly #clock: Clock | undefined
  readonly #fixedWindow: ScriptCommand
  readonly #slidingWindow: ScriptCommand
  readonly #slidingLog: ScriptCommand
  readonly #tokenBucket: ScriptCommand

  constructor(options: RedisStoreOptions) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new TollgateTypeError(
        `new RedisStore() expects an options object, got ${describeValue(options)}`,
      )
    }
    for (const name of Object.keys(options)) {
      if (!KNOWN_OPTIONS.includes(name)) {
        throw new TollgateTypeError(
          `unknown option ${JSON.stringify(name)} in new RedisStore(); expected one of ${KNOWN_OPTIONS.join(', ')}`,
          'ERR_TOLLGATE_UNKNOWN_OPTION',
        )
      }
    }
    const { client, prefix = 'tollgate:', clock } = options
    const scripting = client as unknown as ScriptingClient | undefined
    if (
      typeof scripting !== 'object' ||
      scripting === null ||
      typeof scripting.defineCommand !== 'function'
    ) {
      throw new TollgateTypeError(
        `client must be an ioredis Redis or Cluster instance, got ${describeValue(client)}`,
      )
    }
    if (typeof prefix !== 'string') {
      throw new TollgateTypeError(`prefix must be a string, got ${describeValue(prefix)}`)
    }
    if (clock !== undefined && typeof clock !== 'function') {
      throw new TollgateTypeError(`clock must be a function, got ${describeValue(clock)}`)
    }
    this.client = client
    this.prefix = prefix
    this.#clock = clock
    this.#fixedWindow = defineScript(scripting, 'fixedWindow')
    this.#slidingWindow = defineScript(scripting, 'slidingWindow')
    this.#slidingLog = defineScript(scripting, 'slidingLog')
    this.#tokenBucket = defineScript(scripting, 'tokenBucket')
  }

  /** Decides one request of `cost` for `key` with one Redis command. */
  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    validateCost(algorithm, cost)
    const client = this.client
    const redisKey = stateKey(this.prefix, key, algorithm.kind)
    const clock = this.#clock
    let reply: Promise<unknown>
    switch (algorithm.kind) {
      case 'fixedWindow':
        reply =
          clock === undefined
            ? this.#fixedWindow.call(client, redisKey, algorithm.limit, algorithm.windowMs, cost)
            : this.#fixedWindow.call(
                client,
                redisKey,
                algorithm.limit,
                algorithm.windowMs,
                cost,
                clock(),
              )
        break
      case 'slidingWindow':
        reply =
          clock === undefined
            ? this.#slidingWindow.call(client, redisKey, algorithm.limit, algorithm.windowMs, cost)
            : this.#slidingWindow.call(
                client,
                redisKey,
                algorithm.limit,
                algorithm.windowMs,
                cost,
                clock(),
              )
        break
      case 'slidingLog':
        reply =
          clock === undefined
            ? this.#slidingLog.call(client, redisKey, algorithm.limit, algorithm.windowMs, cost)
            : this.#slidingLog.call(
                client,
                redisKey,
                algorithm.limit,
                algorithm.windowMs,
                cost,
                clock(),
              )
        break
      case 'tokenBucket': {
        const { capacity, refillRate, refillIntervalMs } = algorithm
        reply =
          clock === undefined
            ? this.#tokenBucket.call(client, redisKey, capacity, refillRate, refillIntervalMs, cost)
            : this.#tokenBucket.call(
                client,
                redisKey,
                capacity,
                refillRate,
                refillIntervalMs,
                cost,
                clock(),
              )
        break
      }
      default:
        return assertNever(algorithm)
    }
    return reply.then(toDecision)
  }

  /** Deletes `key`'s state for `algorithm` (one DEL), returning it to its untouched state. */
  async reset(key: string, algorithm: Algorithm): Promise<void> {
    await this.client.del(stateKey(this.prefix, key, algorithm.kind))
  }

  /** Nothing to release: the client belongs to the caller, who quits it. */
  async close(): Promise<void> {}
}

/**
 * Defines `kind`'s script on the client under its namespaced name, unless that name is already
 * defined (by another RedisStore on the same client). A different command of that name is never
 * overwritten.
 */
function defineScript(client: ScriptingClient, kind: AlgorithmKind): ScriptCommand {
  const name = scriptCommandName(kind)
  const lua = SCRIPTS[kind]
  if (typeof client[name] !== 'function') {
    client.defineCommand(name, { lua, numberOfKeys: 1 })
  } else if (client.scriptsSet?.[name]?.lua !== lua) {
    throw new TollgateTypeError(
      `client already defines a command named ${JSON.stringify(name)} that is not tollgate's ${kind} script`,
    )
  }
  return client[name] as ScriptCommand
}
