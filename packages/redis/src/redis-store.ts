import {
  type Algorithm,
  type RateAlgorithmKind as AlgorithmKind,
  algorithmLimit,
  assertNever,
  type Clock,
  type Decision,
  describeValue,
  type Store,
  TollgateError,
  TollgateTypeError,
  validateCost,
} from '@tollgate/core'
import { optionalFunction, rejectUnknownOptions, requireObject } from '@tollgate/core/http'
import {
  adaptClient,
  type LuaScript,
  luaScript,
  type RedisClient,
  type RedisClientAdapter,
} from './client.js'
import { stateKey } from './keys.js'
import fixedWindowLua from './scripts/fixed-window.lua'
import slidingLogLua from './scripts/sliding-log.lua'
import slidingWindowLua from './scripts/sliding-window.lua'
import tokenBucketLua from './scripts/token-bucket.lua'

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster`, or a connected node-redis v5 `createClient()` or
   * `createCluster()` client (RESP2, its default). The store never quits it: the client stays
   * yours. On ioredis it defines its scripts as namespaced commands.
   */
  client: RedisClient
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

const KNOWN_OPTIONS: readonly string[] = ['client', 'prefix', 'clock']

const SCRIPTS: Record<AlgorithmKind, LuaScript> = {
  fixedWindow: luaScript('fixedWindow', fixedWindowLua),
  slidingWindow: luaScript('slidingWindow', slidingWindowLua),
  slidingLog: luaScript('slidingLog', slidingLogLua),
  tokenBucket: luaScript('tokenBucket', tokenBucketLua),
}

/**
 * The ioredis command name of an algorithm's script, `tollgate_<kind>_<first 8 hex of its SHA1>`:
 * namespaced, and versioned by the script text, so two tollgate versions on one client never
 * share a name for different scripts.
 */
export function scriptCommandName(kind: AlgorithmKind): string {
  return SCRIPTS[kind].name
}

/** 2^53: packed replies stay below it, so every number involved is an exact integer. */
const TWO_POW_53 = 9_007_199_254_740_992

/**
 * Turns a script reply into a Decision. An admission usually comes back as one integer,
 * `resetMs * (limit + 1) + remaining` (an integer reply is far cheaper for Redis than an array);
 * anything else as `[allowed (1|0), remaining, resetMs, retryAfterMs]`. The limit (or capacity)
 * is the caller's own, so it never travels.
 */
function toDecision(reply: unknown, limit: number): Decision {
  if (typeof reply === 'number') {
    const m = limit + 1
    if (Number.isSafeInteger(reply) && reply >= 0 && reply < TWO_POW_53 - m) {
      // The float quotient can round up to the next integer; one correction makes it exact.
      let resetMs = Math.floor(reply / m)
      let remaining = reply - resetMs * m
      if (remaining < 0) {
        resetMs -= 1
        remaining += m
      }
      return { allowed: true, limit, remaining, resetMs, retryAfterMs: 0 }
    }
  } else if (Array.isArray(reply) && reply.length === 4) {
    return {
      allowed: reply[0] === 1,
      limit,
      remaining: reply[1],
      resetMs: reply[2],
      retryAfterMs: reply[3],
    }
  }
  throw new TollgateError(
    'ERR_TOLLGATE_STORE_REPLY',
    `tollgate: RedisStore expected a decision from its script, got ${describeValue(reply)}`,
  )
}

/**
 * A Store on Redis or Redis Cluster (ioredis or node-redis). Each decision is one atomic Lua script call
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
  readonly client: RedisClient
  /** The key prefix in use. */
  readonly prefix: string
  readonly #clock: Clock | undefined
  /** The injected clock, if any (read by the limiter's deny cache); undefined = Redis TIME. */
  readonly clock: Clock | undefined
  readonly #redis: RedisClientAdapter

  constructor(options: RedisStoreOptions) {
    const o = requireObject('new RedisStore()', options)
    rejectUnknownOptions('new RedisStore()', o, KNOWN_OPTIONS)
    const redis = adaptClient(o.client)
    const prefix = o.prefix === undefined ? 'tollgate:' : o.prefix
    if (typeof prefix !== 'string') {
      throw new TollgateTypeError(`prefix must be a string, got ${describeValue(prefix)}`)
    }
    const client = o.client as RedisClient
    const clock = optionalFunction<Clock>('clock', o.clock)
    this.client = client
    this.prefix = prefix
    this.#clock = clock
    this.clock = clock
    this.#redis = redis
    // Defined now, so a clash with a user's command of the same name throws here.
    for (const script of Object.values(SCRIPTS)) redis.prepare(script)
  }

  /**
   * Decides one request of `cost` for `key` with one Redis command. Bad input (a cost the
   * algorithm can never admit, a clock that is not integer ms) rejects; nothing throws
   * synchronously.
   */
  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    let reply: Promise<unknown>
    try {
      reply = this.#send(key, algorithm, validateCost(algorithm, cost))
    } catch (error) {
      return Promise.reject(error)
    }
    const limit = algorithmLimit(algorithm)
    return reply.then((value) => toDecision(value, limit))
  }

  #send(key: string, algorithm: Algorithm, cost: number): Promise<unknown> {
    const redis = this.#redis
    // (core-features stub until the redis-lua agent lands these kinds)
    if (algorithm.kind === 'concurrency' || algorithm.kind === 'compound')
      throw notYet(algorithm.kind)
    const keys = [stateKey(this.prefix, key, algorithm.kind)]
    const now = this.#clock === undefined ? undefined : readClock(this.#clock)
    // ARGV carries a time only when a clock was injected.
    switch (algorithm.kind) {
      case 'fixedWindow': {
        const { limit, windowMs } = algorithm
        const args = [limit, windowMs, cost]
        if (now !== undefined) args.push(now)
        return redis.runScript(SCRIPTS.fixedWindow, keys, args)
      }
      case 'slidingWindow': {
        const { limit, windowMs } = algorithm
        const args = [limit, windowMs, cost]
        if (now !== undefined) args.push(now)
        return redis.runScript(SCRIPTS.slidingWindow, keys, args)
      }
      case 'slidingLog': {
        const { limit, windowMs } = algorithm
        const args = [limit, windowMs, cost]
        if (now !== undefined) args.push(now)
        return redis.runScript(SCRIPTS.slidingLog, keys, args)
      }
      case 'tokenBucket': {
        const { capacity, refillRate, refillIntervalMs: interval } = algorithm
        const args = [capacity, refillRate, interval, cost]
        if (now !== undefined) args.push(now)
        return redis.runScript(SCRIPTS.tokenBucket, keys, args)
      }
      default:
        return assertNever(algorithm)
    }
  }

  /** Deletes `key`'s state for `algorithm` (one DEL), returning it to its untouched state. */
  async reset(key: string, algorithm: Algorithm): Promise<void> {
    await this.#redis.del([stateKey(this.prefix, key, algorithm.kind)])
  }

  // (core-features stubs until the redis-lua agent lands them)
  peek(_key: string, _algorithm: Algorithm, _cost: number): Promise<Decision> {
    return Promise.reject(notYet('peek'))
  }
  refund(_key: string, _algorithm: Algorithm, _cost: number): Promise<void> {
    return Promise.reject(notYet('refund'))
  }
  block(_key: string, _algorithm: Algorithm, _durationMs: number): Promise<void> {
    return Promise.reject(notYet('block'))
  }
  release(_key: string, _algorithm: Algorithm, _lease: string): Promise<void> {
    return Promise.reject(notYet('release'))
  }

  /** Nothing to release: the client belongs to the caller, who quits it. */
  async close(): Promise<void> {}
}

/** Reads an injected clock, which must give integer epoch ms (the scripts do integer math). */
function readClock(clock: Clock): number {
  const now = clock()
  if (!Number.isSafeInteger(now)) {
    throw new TollgateTypeError(
      `clock must return integer epoch milliseconds, got ${describeValue(now)}`,
    )
  }
  return now
}

function notYet(what: string): TollgateError {
  return new TollgateError(
    'ERR_TOLLGATE_STORE_REPLY',
    `tollgate: RedisStore ${what} is not implemented yet`,
  )
}
