import { randomBytes } from 'node:crypto'
import {
  type Algorithm,
  algorithmLimit,
  assertAlgorithm,
  assertNever,
  type Clock,
  type Compound,
  type DecideOptions,
  type Decision,
  describeValue,
  MAX_WINDOW_MS,
  type RateAlgorithm,
  type RateAlgorithmKind,
  type Store,
  TollgateError,
  TollgateRangeError,
  TollgateTypeError,
  validateCost,
} from '@tollgate/core'
import {
  optionalFunction,
  positiveInteger,
  rejectUnknownOptions,
  requireObject,
} from '@tollgate/core/http'
import { Batcher, type Decode, type OpForm } from './batch.js'
import {
  adaptClient,
  type LuaScript,
  luaScript,
  type RedisClient,
  type RedisClientAdapter,
} from './client.js'
import { BLOCK_SUFFIX, KEY_SUFFIX, keyHead, memberSuffix, prefixHasEmptyTag } from './keys.js'
import compoundLua from './scripts/compound.lua'
import concurrencyLua from './scripts/concurrency.lua'
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
   * Redis server's `TIME`, so all app servers share one clock. Each call reads it when issued.
   * @default undefined (Redis TIME)
   */
  clock?: Clock
  /**
   * Send the decisions, peeks, refunds, blocks and releases issued in one event-loop turn as one
   * script call per script and Cluster slot (the scripts loop over them in issue order);
   * `false` sends one call per operation, as it is issued.
   * @default true
   */
  batch?: boolean
}

const KNOWN_OPTIONS: readonly string[] = ['client', 'prefix', 'clock', 'batch']

/** The scripts: one per algorithm kind, each running a batch of ops on that kind. */
export type ScriptKind = RateAlgorithmKind | 'concurrency' | 'compound'

const LUA: Record<ScriptKind, string> = {
  fixedWindow: fixedWindowLua,
  slidingWindow: slidingWindowLua,
  slidingLog: slidingLogLua,
  tokenBucket: tokenBucketLua,
  concurrency: concurrencyLua,
  compound: compoundLua,
}

const SCRIPTS = Object.fromEntries(
  Object.entries(LUA).map(([kind, lua]) => [kind, luaScript(kind, lua)]),
) as Record<ScriptKind, LuaScript>

/**
 * The ioredis command name of an algorithm's script, `tollgate_<kind>_<first 8 hex of its SHA1>`:
 * namespaced, and versioned by the script text, so two tollgate versions on one client never
 * share a name for different scripts.
 */
export function scriptCommandName(kind: ScriptKind): string {
  return SCRIPTS[kind].name
}

/** The kind codes of the compound script's member list. */
const MEMBER_CODE = {
  fixedWindow: 'fw',
  slidingWindow: 'sw',
  slidingLog: 'sl',
  tokenBucket: 'tb',
} as const satisfies Record<RateAlgorithmKind, string>

/**
 * 2^52: the scripts pack an admission only below it (include/prelude.lua), where every client's
 * integer decoder is exact (node-redis and ioredis 6 round within 48 of 2^53) and the split
 * below is exact too; a reply at or above it is not one of ours.
 */
const TWO_POW_52 = 4_503_599_627_370_496

/**
 * Lease ids: 96 random bits per process, then a counter, so no two processes (or stores) ever
 * hand out the same lease. A lease is `<cost>:<id>`, the member of the concurrency sorted set.
 */
const LEASE_PREFIX = randomBytes(12).toString('base64url')
let leaseCounter = 0

function replyError(reply: unknown): TollgateError {
  return new TollgateError(
    'ERR_TOLLGATE_STORE_REPLY',
    `tollgate: RedisStore expected a decision from its script, got ${describeValue(reply)}`,
  )
}

/**
 * Turns one decision reply into a Decision. An admission usually comes back as one integer,
 * `resetMs * (limit + 1) + remaining` (an integer reply is far cheaper for Redis than an array),
 * else as `[remaining, resetMs]`; a denial as `[0, remaining, resetMs, retryAfterMs]`. The limit
 * (or capacity) is the caller's own, so it never travels.
 */
function toDecision(reply: unknown, limit: number): Decision {
  if (typeof reply === 'number') {
    const m = limit + 1
    if (Number.isSafeInteger(reply) && reply >= 0 && reply < TWO_POW_52) {
      // The float quotient can round up to the next integer; one correction makes it exact.
      let resetMs = Math.floor(reply / m)
      let remaining = reply - resetMs * m
      if (remaining < 0) {
        resetMs -= 1
        remaining += m
      }
      return { allowed: true, limit, remaining, resetMs, retryAfterMs: 0 }
    }
  } else if (Array.isArray(reply) && reply.length === 2) {
    return { allowed: true, limit, remaining: reply[0], resetMs: reply[1], retryAfterMs: 0 }
  } else if (Array.isArray(reply) && reply.length === 4) {
    return {
      allowed: reply[0] === 1,
      limit,
      remaining: reply[1],
      resetMs: reply[2],
      retryAfterMs: reply[3],
    }
  }
  throw replyError(reply)
}

/**
 * A compound's parts, `reply[at]` to `reply[at + m - 1]` (one decision reply per member), as a
 * Decision: admitted when every part is (a denied or blocked compound has a denied part), the
 * parts in member order, `remaining` their min, `resetMs` and `retryAfterMs` their max, and
 * `limit` that of the part with the fewest remaining (the first on a tie) (docs/semantics.md,
 * compound limits).
 */
function toCompoundDecision(
  reply: readonly unknown[],
  at: number,
  members: readonly RateAlgorithm[],
): Decision {
  // Sized up front: a growing [] would reserve 17 slots for 2 or 3 parts.
  const parts: Decision[] = new Array(members.length)
  let fewest = 0
  let resetMs = 0
  let retryAfterMs = 0
  let allowed = true
  for (let i = 0; i < members.length; i++) {
    const part = toDecision(reply[at + i], algorithmLimit(members[i]!))
    parts[i] = part
    if (!part.allowed) allowed = false
    if (part.remaining < parts[fewest]!.remaining) fewest = i
    if (part.resetMs > resetMs) resetMs = part.resetMs
    if (part.retryAfterMs > retryAfterMs) retryAfterMs = part.retryAfterMs
  }
  const decision: Decision & { parts: Decision[] } = {
    allowed,
    limit: parts[fewest]!.limit,
    remaining: parts[fewest]!.remaining,
    resetMs,
    retryAfterMs: allowed ? 0 : retryAfterMs,
    parts,
  }
  return decision
}

/** The params a kind's script reads after code, now, cost and n (docs/semantics.md names). */
function rateParams(algorithm: RateAlgorithm, into: Array<string | number>): void {
  switch (algorithm.kind) {
    case 'fixedWindow':
    case 'slidingWindow':
    case 'slidingLog':
      into.push(algorithm.limit, algorithm.windowMs)
      return
    case 'tokenBucket':
      into.push(algorithm.capacity, algorithm.refillRate, algorithm.refillIntervalMs)
      return
    default:
      assertNever(algorithm)
  }
}

/** now, n and the params of a rate op, as the strings the script reads after code and cost. */
function sharedPart(algorithm: RateAlgorithm | Compound, now: number | '', n: number): string[] {
  const params: Array<string | number> = []
  if (algorithm.kind === 'compound') {
    // compound.lua: m, then per member its kind code and that kind's params.
    params.push(algorithm.members.length)
    for (const member of algorithm.members) {
      params.push(MEMBER_CODE[member.kind])
      rateParams(member, params)
    }
  } else {
    rateParams(algorithm, params)
  }
  const out = [now === '' ? '' : String(now), String(n)]
  for (const p of params) out.push(String(p))
  return out
}

const ignore = (): void => {}

/** A rate op's answer: its one reply element as a Decision under `limit`. */
const decodeRate: Decode<Decision, number> = (reply, at, limit) => toDecision(reply[at], limit)

/** A compound op's answer: its m reply elements, one per member. */
const decodeCompound: Decode<Decision, readonly RateAlgorithm[]> = toCompoundDecision

/** A concurrency decide's answer: an admission carries the lease the op was sent with. */
const decodeLease: Decode<Decision, { readonly limit: number; readonly lease: string }> = (
  reply,
  at,
  { limit, lease },
) => {
  const decision = toDecision(reply[at], limit)
  return decision.allowed ? Object.assign(decision, { lease }) : decision
}

/** The op codes, short form (lower case) and long form (upper case), of include/ops.lua. */
type OpCode = 'd' | 'p' | 'r' | 'b' | 'l'

/** The codes of rate and compound ops; a release (`l`) is concurrency's alone, always long. */
type FormCode = Exclude<OpCode, 'l'>

const LONG_CODE: Record<OpCode, string> = { d: 'D', p: 'P', r: 'R', b: 'B', l: 'L' }

/** A cost as the string ioredis and node-redis would make of it, without a String() per op. */
function costArg(cost: number | ''): string {
  return cost === 1 ? '1' : cost === '' ? '' : String(cost)
}

/**
 * A Store on Redis or Redis Cluster (ioredis or node-redis). Every operation is one atomic Lua script call
 * (EVALSHA once the script is cached), and with `batch` (the default) the operations issued in
 * one event-loop turn share one call per script and Cluster slot. State is one key per user key
 * and algorithm (a compound: one per member), expiring the moment it stops mattering; a block is
 * one more key beside it.
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
  /** Whether operations of one event-loop turn share script calls. */
  readonly batch: boolean
  readonly #clock: Clock | undefined
  /** The injected clock, if any (read by the limiter's deny cache); undefined = Redis TIME. */
  readonly clock: Clock | undefined
  readonly #redis: RedisClientAdapter
  readonly #batcher: Batcher
  readonly #forms = new WeakMap<RateAlgorithm | Compound, Map<number, Record<FormCode, OpForm>>>()

  constructor(options: RedisStoreOptions) {
    const o = requireObject('new RedisStore()', options)
    rejectUnknownOptions('new RedisStore()', o, KNOWN_OPTIONS)
    const redis = adaptClient(o.client)
    const prefix = o.prefix === undefined ? 'tollgate:' : o.prefix
    if (typeof prefix !== 'string') {
      throw new TollgateTypeError(`prefix must be a string, got ${describeValue(prefix)}`)
    }
    if (prefixHasEmptyTag(prefix)) {
      // Redis would hash whole keys: a state and its block could land in different slots.
      throw new TollgateRangeError(
        `prefix must not hold an empty hash tag "{}", got ${JSON.stringify(prefix)}`,
      )
    }
    const batch = o.batch === undefined ? true : o.batch
    if (typeof batch !== 'boolean') {
      throw new TollgateTypeError(`batch must be a boolean, got ${describeValue(batch)}`)
    }
    const client = o.client as RedisClient
    const clock = optionalFunction<Clock>('clock', o.clock)
    this.client = client
    this.prefix = prefix
    this.batch = batch
    this.#clock = clock
    this.clock = clock
    this.#redis = redis
    // Defined now, so a clash with a user's command of the same name throws here.
    for (const script of Object.values(SCRIPTS)) redis.prepare(script)
    this.#batcher = new Batcher(
      (script, keys, args) => redis.runScript(script, keys, args),
      redis.cluster ? (key) => redis.slot(key) : undefined,
      batch,
    )
  }

  /**
   * Decides one request of `cost` for `key`. Bad input (a cost the algorithm can never admit, a
   * clock that is not integer ms) rejects; nothing throws synchronously.
   */
  decide(
    key: string,
    algorithm: Algorithm,
    cost: number,
    options?: DecideOptions,
  ): Promise<Decision> {
    try {
      const n =
        options?.blockDurationMs === undefined
          ? 0
          : duration('blockDurationMs', options.blockDurationMs)
      return this.#decision('d', key, algorithm, cost, n)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** The Decision `decide` would give now, storing nothing. */
  peek(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    try {
      return this.#decision('p', key, algorithm, cost, 0)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Gives back up to `cost` admitted units (docs/semantics.md, "refund"); not for concurrency. */
  refund(key: string, algorithm: Algorithm, cost: number): Promise<void> {
    try {
      if (algorithm.kind === 'concurrency') {
        throw new TollgateTypeError(
          'refund() is not for a concurrency algorithm; release its lease instead',
        )
      }
      algorithm = assertAlgorithm(algorithm)
      validateCost(algorithm, cost)
      return this.#submit('r', key, algorithm, cost, 0, '', ignore, undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Denies every decision and peek of `key` until now + `durationMs` (a later end wins), beside
   * the state, which stays untouched; `reset` lifts it. A compound is blocked as a whole.
   */
  block(key: string, algorithm: Algorithm, durationMs: number): Promise<void> {
    try {
      algorithm = assertAlgorithm(algorithm)
      const n = duration('durationMs', durationMs)
      return this.#submit('b', key, algorithm, '', n, '', ignore, undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Frees a concurrency lease if it is still held (idempotent). */
  release(key: string, algorithm: Algorithm, lease: string): Promise<void> {
    try {
      if (algorithm.kind !== 'concurrency') {
        throw new TollgateTypeError(
          `release() is only for a concurrency algorithm, got ${JSON.stringify(algorithm.kind)}`,
        )
      }
      if (typeof lease !== 'string' || lease === '') {
        throw new TollgateTypeError(`lease must be a non-empty string, got ${describeValue(lease)}`)
      }
      return this.#submit('l', key, assertAlgorithm(algorithm), '', 0, lease, ignore, undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Returns `key` to its untouched state and lifts its block: one DEL of every key the algorithm
   * keeps. Operations still queued in this turn are sent first, so they stay before it.
   */
  async reset(key: string, algorithm: Algorithm): Promise<void> {
    const keys = this.#keys(key, assertAlgorithm(algorithm))
    this.#batcher.flush()
    await this.#redis.del(keys)
  }

  /** Sends what is still queued; the client belongs to the caller, who quits it. */
  async close(): Promise<void> {
    this.#batcher.flush()
  }

  #decision(
    code: 'd' | 'p',
    key: string,
    algorithm: Algorithm,
    cost: number,
    n: number,
  ): Promise<Decision> {
    // A factory value passes by one WeakSet lookup; a hand-made object is checked field by field.
    algorithm = assertAlgorithm(algorithm)
    validateCost(algorithm, cost)
    switch (algorithm.kind) {
      case 'compound':
        return this.#submit(code, key, algorithm, cost, n, '', decodeCompound, algorithm.members)
      case 'concurrency':
        if (code === 'd') {
          const lease = `${cost}:${LEASE_PREFIX}${(leaseCounter++).toString(36)}`
          const context = { limit: algorithm.limit, lease }
          return this.#submit(code, key, algorithm, cost, n, lease, decodeLease, context)
        }
        return this.#submit(code, key, algorithm, cost, n, '', decodeRate, algorithm.limit)
      default:
        return this.#submit(
          code,
          key,
          algorithm,
          cost,
          n,
          '',
          decodeRate,
          algorithmLimit(algorithm),
        )
    }
  }

  /**
   * The ARGV forms of a rate or compound op on the server's clock (include/ops.lua), one set per
   * algorithm value, block duration n and op code: ops of one limiter in one turn share them, so
   * a batch sends their short form and an op carries nothing but its keys and cost.
   */
  #form(algorithm: RateAlgorithm | Compound, n: number, code: FormCode): OpForm {
    let byN = this.#forms.get(algorithm)
    if (byN === undefined) {
      byN = new Map()
      this.#forms.set(algorithm, byN)
    }
    let forms = byN.get(n)
    if (forms === undefined) {
      const shared = sharedPart(algorithm, '', n)
      const form = (c: FormCode): OpForm => ({ code: c, longCode: LONG_CODE[c], shared })
      forms = { d: form('d'), p: form('p'), r: form('r'), b: form('b') }
      // A few block durations per limiter at most; a caller varying it per request stays bounded.
      if (byN.size < 16) byN.set(n, forms)
    }
    return forms[code]
  }

  /** Every Redis key an op on `key` under `algorithm` names, in the order its script reads them. */
  #keys(key: string, algorithm: Algorithm): string[] {
    if (typeof key !== 'string' || key === '') {
      throw new TollgateTypeError(`key must be a non-empty string, got ${describeValue(key)}`)
    }
    const head = keyHead(this.prefix, key)
    if (algorithm.kind !== 'compound') {
      return [head + KEY_SUFFIX[algorithm.kind], head + BLOCK_SUFFIX[algorithm.kind]]
    }
    const { members } = algorithm
    const m = members.length
    const keys: string[] = new Array(m + 1)
    for (let i = 0; i < m; i++) keys[i] = head + memberSuffix(i, members[i]!.kind)
    keys[m] = head + BLOCK_SUFFIX.compound
    return keys
  }

  /**
   * Queues one op (see the comment block that opens each script for its KEYS and ARGV): an op on
   * the server's clock goes by its cached form and cost; one with an injected clock's now, and
   * every concurrency op (each carries its own lease), by its whole ARGV.
   */
  #submit<T, C>(
    code: OpCode,
    key: string,
    algorithm: Algorithm,
    cost: number | '',
    n: number,
    lease: string,
    decode: Decode<T, C>,
    context: C,
  ): Promise<T> {
    const keys = this.#keys(key, algorithm)
    // A compound's decide or peek answers with one reply element per member; every other op, one.
    const width =
      algorithm.kind === 'compound' && (code === 'd' || code === 'p') ? algorithm.members.length : 1
    const now = this.#clock === undefined ? '' : readClock(this.#clock)
    const c = costArg(cost)
    if (algorithm.kind === 'concurrency') {
      const args = [LONG_CODE[code], c, now, n, algorithm.limit, algorithm.leaseMs, lease]
      return this.#batcher.submit(
        SCRIPTS.concurrency,
        keys,
        args,
        undefined,
        c,
        decode,
        context,
        width,
      )
    }
    const script = SCRIPTS[algorithm.kind]
    if (now !== '') {
      // An injected clock gives each op its own now: only the long form then.
      const args: string[] = [LONG_CODE[code], c]
      for (const arg of sharedPart(algorithm, now, n)) args.push(arg)
      return this.#batcher.submit(script, keys, args, undefined, c, decode, context, width)
    }
    // A release (`l`) is concurrency's, sent above.
    const form = this.#form(algorithm, n, code as FormCode)
    return this.#batcher.submit(script, keys, undefined, form, c, decode, context, width)
  }
}

/** A block duration: a positive integer of ms, at most MAX_WINDOW_MS (as MemoryStore takes). */
function duration(name: string, value: unknown): number {
  const ms = positiveInteger(name, value)
  if (ms > MAX_WINDOW_MS) {
    throw new TollgateRangeError(`${name} must be at most ${MAX_WINDOW_MS} ms, got ${ms}`)
  }
  return ms
}

/** Reads an injected clock, which must give integer epoch ms (the scripts do integer math). */
function readClock(clock: Clock): number {
  const now = clock()
  if (!Number.isSafeInteger(now)) {
    throw new TollgateTypeError(
      `clock must return integer epoch milliseconds, got ${describeValue(now)}`,
    )
  }
  // Refused as MemoryStore refuses it (time 0 is its "no block" marker): both stores take the same clocks.
  if (now < 0) throw new TollgateRangeError(`clock must return epoch milliseconds >= 0, got ${now}`)
  return now
}
