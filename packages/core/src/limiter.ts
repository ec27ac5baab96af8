import {
  type Algorithm,
  MAX_WINDOW_MS,
  parseAlgorithm,
  type RateAlgorithm,
  validateCost,
  withLimit,
} from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateError, TollgateRangeError, TollgateTypeError } from './errors.js'
import {
  type BreakerEvent,
  breakerChannel,
  type DecisionEvent,
  type DecisionMode,
  decisionChannel,
  type StoreErrorEvent,
  storeErrorChannel,
} from './events.js'
import {
  Breaker,
  degradedDecision,
  type FailureOptions,
  parseFailure,
  type ResolvedFailure,
  timeoutError,
} from './fail-policy.js'
import { defaultPolicyName } from './headers.js'
import { combine, MemoryStore } from './memory-store.js'
import {
  boundedInteger,
  optionalFunction,
  optionNames,
  rejectUnknownOptions,
  requireObject,
} from './options.js'
import type { Store } from './store.js'
import { traitsOf } from './traits.js'

/** Options of {@link createLimiter}. */
export interface LimiterOptions {
  /**
   * The algorithm value: fixedWindow(), slidingWindow(), slidingLog(), tokenBucket() or
   * concurrency(); or an array of rate algorithms, decided all or nothing (a compound limit).
   */
  algorithm: Algorithm | readonly RateAlgorithm[]
  /** Where state lives. @default new MemoryStore() (owned by this limiter) */
  store?: Store
  /**
   * Prepended to every key, so limiters sharing a store keep separate counters.
   * @default '' for the limiter's own MemoryStore, else `${name}:` when named, else the
   * algorithm's signature such as 'fw:100:60000:'
   */
  prefix?: string
  /** Policy name, used by the RateLimit headers (draft-8, draft-11). @default undefined */
  name?: string
  /** What to answer when the store fails or is slow. @default { mode: 'open', timeoutMs: 100, breaker: { failures: 5, cooldownMs: 1000 } } */
  failure?: FailureOptions
  /** Called for every failed store call (error, then the key without prefix). @default undefined */
  onStoreError?: (error: unknown, key: string) => void
  /**
   * Remember denials locally: a key denied until T for a cost (and per-request limit) is answered
   * in-process until T, without a store call, with exactly the numbers the store would give: only
   * denials whose numbers stay exact while they last are kept (any cost on a fixed window, cost 1
   * on the other rate algorithms; never concurrency or compound), and this limiter's own
   * admissions, refunds, blocks and resets drop the entry. On by default for every store but
   * MemoryStore.
   * @default true (false for a MemoryStore)
   */
  denyCache?: boolean
}

/** Options of a single {@link Limiter.limit} call. */
export interface LimitOptions {
  /** Units this request consumes; a positive integer no larger than limit/capacity. @default 1 */
  cost?: number
  /**
   * This request's limit (a token bucket's capacity), a positive integer, replacing the
   * algorithm's for this call only; every limit of one key shares its state. Not for a compound.
   * @default the algorithm's own limit
   */
  limit?: number
  /**
   * Adapter option (`blockDurationMs` of both adapters): a denial of this call also blocks the key
   * for this many milliseconds, in the same store call. @default undefined (no block)
   */
  blockDurationMs?: number
  /**
   * Adapter option: the `mode` reported on the `tollgate:decision` channel. An adapter in shadow
   * mode passes 'shadow' (and then ignores the denial itself). @default 'enforce'
   */
  mode?: DecisionMode
}

/** Options of {@link Limiter.peek}. */
export interface PeekOptions {
  /** Units the request would consume. @default 1 */
  cost?: number
  /** The per-request limit, as in {@link LimitOptions.limit}. @default the algorithm's own limit */
  limit?: number
}

/** Options of {@link Limiter.refund}. */
export interface RefundOptions {
  /** Units to give back (never more than admissions took). @default 1 */
  cost?: number
}

/**
 * The limiter's synchronous entry point, `limiter[LIMIT_NOW](key, options)`: a Decision when the
 * store answers at once (a MemoryStore), else a promise; errors come back as a rejected promise.
 * The HTTP pipeline's fast path; exported from `@tollgate/core/http` for adapters (and the
 * benchmark), not from the package root.
 */
export const LIMIT_NOW: unique symbol = Symbol('tollgate.limitNow')

/** A configured limiter: one algorithm over one store, behind the fail policy. */
export interface Limiter {
  readonly algorithm: Algorithm
  readonly name: string | undefined
  readonly prefix: string
  readonly failure: ResolvedFailure
  /** Decides one request. Never rejects because of the store: the fail policy answers instead. */
  limit(key: string, options?: LimitOptions): Promise<Decision>
  /** The Decision limit() would give now, consuming nothing. The fail policy answers as for limit(). */
  peek(key: string, options?: PeekOptions): Promise<Decision>
  /**
   * Gives back up to `cost` admitted units (docs/semantics.md "refund"). A TypeError for a concurrency
   * limiter (use release). Never rejects because of the store: a failure goes to onStoreError.
   */
  refund(key: string, options?: RefundOptions): Promise<void>
  /** Denies every decision of `key` for `durationMs`. Never rejects because of the store. */
  block(key: string, durationMs: number): Promise<void>
  /** Frees a concurrency lease (idempotent). Never rejects because of the store. */
  release(key: string, lease: string): Promise<void>
  /** Returns the key to its untouched state, lifting any block (store and deny cache). */
  reset(key: string): Promise<void>
  /** @internal The HTTP pipeline's synchronous entry (see LIMIT_NOW). */
  [LIMIT_NOW](key: string, options?: LimitOptions): Decision | Promise<Decision>
}

/** Every option of createLimiter, keyed by the type so a new option cannot be left out. */
export const LIMITER_OPTION_NAMES = {
  algorithm: true,
  store: true,
  prefix: true,
  name: true,
  failure: true,
  onStoreError: true,
  denyCache: true,
} as const satisfies Record<keyof LimiterOptions, true>

/** The names createLimiter() knows (the keys of LIMITER_OPTION_NAMES). */
export const LIMITER_OPTIONS: readonly string[] = optionNames(LIMITER_OPTION_NAMES)

/** Bound of the deny cache; oldest entries go first when it is full. */
const DENY_CACHE_MAX = 100_000
/** Bound of the per-request-limit algorithm values kept per limiter (cleared when full). */
const LIMITED_MAX = 256

/** What a store call in flight was for. */
const DECIDE = 0
const PEEK = 1
const REFUND = 2
const BLOCK = 3
const RELEASE = 4
type Op = typeof DECIDE | typeof PEEK | typeof REFUND | typeof BLOCK | typeof RELEASE

interface PendingCall {
  op: Op
  resolve: (value: Decision | undefined) => void
  key: string
  storeKey: string
  /** The algorithm sent (a per-request limit's value, or the limiter's). */
  algorithm: Algorithm
  cost: number
  /** The per-request limit, 0 for the algorithm's own (a deny cache entry is kept per limit). */
  limit: number
  blockDurationMs: number
  mode: DecisionMode
  /** The deny cache's clock when the call was sent. */
  sentAt: number
  /** Date.now() value after which the fail policy answers instead of the store; 0 once answered. */
  deadline: number
  prev: PendingCall | undefined
  next: PendingCall | undefined
}

interface DenyEntry {
  until: number
  cost: number
  limit: number
  at: number
  decision: Decision
}

/**
 * The signature that keeps differently configured limiters apart in a shared store, short
 * because it is part of every stored key: `fw:100:60000` for fixedWindow({ limit: 100,
 * windowMs: 60000 }), `tb:20:5:1000` for tokenBucket({ capacity: 20, refillRate: 5 }).
 */
export function algorithmSignature(algorithm: Algorithm): string {
  return traitsOf(algorithm).signature(algorithm)
}

/**
 * Builds a limiter. Options are checked once, here; a bad one throws a TypeError/RangeError
 * naming it and its value.
 *
 * @example
 * const limiter = createLimiter({ algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }) })
 * const decision = await limiter.limit(ip)
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`)
 */
export function createLimiter(options: LimiterOptions): Limiter {
  const o = requireObject('createLimiter()', options)
  rejectUnknownOptions('createLimiter()', o, LIMITER_OPTIONS)
  return new LimiterImpl(o as unknown as LimiterOptions)
}

const STORE_METHODS = ['decide', 'peek', 'refund', 'block', 'release', 'reset'] as const

/** The parsed options of one limit()/peek() call, or the error to reject with. */
interface CallArgs {
  algorithm: Algorithm
  cost: number
  limit: number
  blockDurationMs: number
  mode: DecisionMode
}

class LimiterImpl implements Limiter {
  readonly algorithm: Algorithm
  readonly name: string | undefined
  readonly prefix: string
  readonly failure: ResolvedFailure
  private readonly store: Store
  /** Set when the store is a MemoryStore: decisions skip promises, timers and the breaker. */
  private readonly memory: MemoryStore | undefined
  private readonly onStoreError: ((error: unknown, key: string) => void) | undefined
  private readonly breaker: Breaker
  private localStore: MemoryStore | undefined
  private readonly denied: Map<string, DenyEntry> | undefined
  /**
   * The store's injected clock, if it exposes one: the deny cache then times its entries with it
   * (so a test that moves the store's clock past a retry time is admitted), else with Date.now.
   */
  private readonly storeClock: (() => number) | undefined
  /** Store calls in flight, a doubly linked list, oldest first (see arm()). */
  private oldest: PendingCall | undefined
  private newest: PendingCall | undefined
  private timer: NodeJS.Timeout | undefined
  /** withLimit() values by per-request limit, so a paid tier costs no allocation per request. */
  private readonly limited = new Map<number, Algorithm>()
  private eventName: string | undefined
  /**
   * Set once this limiter sent a per-request limit: a token bucket's state then expires when full
   * under whichever capacity wrote it, so its reset can drop at a moment no cached denial knows.
   */
  private mixedLimits = false
  /** The arguments of a call without options. */
  private readonly args: CallArgs
  /** parse()'s result, overwritten by each call with options (see parse()). */
  private readonly scratch: CallArgs

  constructor(o: LimiterOptions) {
    this.algorithm = parseAlgorithm(o.algorithm)
    if (o.store !== undefined) {
      const store = o.store as unknown as Record<string, unknown> | null
      const missing =
        typeof store !== 'object' || store === null
          ? 'decide'
          : STORE_METHODS.find((m) => typeof store[m] !== 'function')
      if (missing !== undefined) {
        throw new TollgateTypeError(
          `store must implement ${STORE_METHODS.join(', ')} (the Store interface), got ${
            typeof store === 'object' && store !== null
              ? `an object without ${missing}()`
              : describeValue(store)
          }`,
        )
      }
    }
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) {
      throw new TollgateTypeError(`name must be a non-empty string, got ${describeValue(o.name)}`)
    }
    if (o.prefix !== undefined && typeof o.prefix !== 'string') {
      throw new TollgateTypeError(`prefix must be a string, got ${describeValue(o.prefix)}`)
    }
    if (o.denyCache !== undefined && typeof o.denyCache !== 'boolean') {
      throw new TollgateTypeError(`denyCache must be a boolean, got ${describeValue(o.denyCache)}`)
    }
    const ownStore = o.store === undefined
    this.store = o.store ?? new MemoryStore()
    this.memory = this.store instanceof MemoryStore ? this.store : undefined
    this.name = o.name
    this.prefix =
      o.prefix ??
      (ownStore
        ? ''
        : o.name !== undefined
          ? `${o.name}:`
          : `${algorithmSignature(this.algorithm)}:`)
    this.failure = parseFailure(o.failure)
    this.onStoreError = optionalFunction('onStoreError', o.onStoreError)
    const storeClock = (this.store as { clock?: unknown }).clock
    this.storeClock = typeof storeClock === 'function' ? (storeClock as () => number) : undefined
    // The breaker's cooldown runs on the store's injected clock too, so a test moves it on
    // instead of waiting cooldownMs of real time (timeouts stay on real time).
    this.breaker = new Breaker(
      this.failure.breaker,
      this.storeClock ?? Date.now,
      this.breakerChanged,
    )
    const denyCache = o.denyCache ?? this.memory === undefined
    this.denied = denyCache ? new Map() : undefined
    this.args = Object.freeze({
      algorithm: this.algorithm,
      cost: 1,
      limit: 0,
      blockDurationMs: 0,
      mode: 'enforce',
    })
    this.scratch = { ...this.args }
  }

  limit(key: string, options?: LimitOptions): Promise<Decision> {
    const decision = this[LIMIT_NOW](key, options)
    return decision instanceof Promise ? decision : Promise.resolve(decision)
  }

  /**
   * limit() without a promise when the store answers synchronously (a MemoryStore): the HTTP
   * pipeline's fast path. Errors still come back as a rejected promise, never thrown.
   */
  [LIMIT_NOW](key: string, options?: LimitOptions): Decision | Promise<Decision> {
    const bad = checkKey(key)
    if (bad !== undefined) return Promise.reject(bad)
    let args = this.args
    if (options !== undefined) {
      const parsed = this.parse(options, true)
      if (parsed instanceof Error) return Promise.reject(parsed)
      args = parsed
    }
    const storeKey = this.prefix + key
    let decision: Decision
    if (this.memory !== undefined) {
      try {
        decision = this.memory.decideNow(storeKey, args.algorithm, args.cost, args.blockDurationMs)
      } catch (error) {
        decision = this.failed(error, key, storeKey, args.algorithm, args.cost, DECIDE)
      }
      this.report(key, decision, args.mode)
      return decision
    }
    const hit = this.cached(storeKey, args)
    if (hit !== undefined) {
      this.report(key, hit, args.mode)
      return hit
    }
    if (!this.breaker.admit()) {
      decision = this.degraded(storeKey, args.algorithm, args.cost, DECIDE)
      this.report(key, decision, args.mode)
      return decision
    }
    return this.callStore(DECIDE, key, storeKey, args) as Promise<Decision>
  }

  peek(key: string, options?: PeekOptions): Promise<Decision> {
    const bad = checkKey(key)
    if (bad !== undefined) return Promise.reject(bad)
    let args = this.args
    if (options !== undefined) {
      const parsed = this.parse(options, false)
      if (parsed instanceof Error) return Promise.reject(parsed)
      args = parsed
    }
    const storeKey = this.prefix + key
    if (this.memory !== undefined) {
      try {
        return Promise.resolve(this.memory.peekNow(storeKey, args.algorithm, args.cost))
      } catch (error) {
        return Promise.resolve(this.failed(error, key, storeKey, args.algorithm, args.cost, PEEK))
      }
    }
    const hit = this.cached(storeKey, args)
    if (hit !== undefined) return Promise.resolve(hit)
    if (!this.breaker.admit()) {
      return Promise.resolve(this.degraded(storeKey, args.algorithm, args.cost, PEEK))
    }
    return this.callStore(PEEK, key, storeKey, args) as Promise<Decision>
  }

  refund(key: string, options?: RefundOptions): Promise<void> {
    const bad = checkKey(key)
    if (bad !== undefined) return Promise.reject(bad)
    if (this.algorithm.kind === 'concurrency') {
      return Promise.reject(
        new TollgateTypeError(
          'refund() is not for a concurrency limiter: release(key, lease) frees its slot',
        ),
      )
    }
    let cost = 1
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) {
        return Promise.reject(optionsError(options))
      }
      if (options.cost !== undefined) {
        try {
          cost = validateCost(this.algorithm, options.cost)
        } catch (error) {
          return Promise.reject(error)
        }
      }
    }
    return this.sideCall(REFUND, key, cost, undefined)
  }

  block(key: string, durationMs: number): Promise<void> {
    const bad = checkKey(key)
    if (bad !== undefined) return Promise.reject(bad)
    try {
      boundedInteger('durationMs', durationMs, MAX_WINDOW_MS)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.sideCall(BLOCK, key, durationMs, undefined)
  }

  release(key: string, lease: string): Promise<void> {
    const bad = checkKey(key)
    if (bad !== undefined) return Promise.reject(bad)
    if (this.algorithm.kind !== 'concurrency') {
      return Promise.reject(
        new TollgateTypeError(
          `release() is only for a concurrency limiter, this one is ${this.algorithm.kind}`,
        ),
      )
    }
    if (typeof lease !== 'string' || lease.length === 0) {
      return Promise.reject(
        new TollgateTypeError(`lease must be a non-empty string, got ${describeValue(lease)}`),
      )
    }
    // A lease the fail policy's local store gave out lives there (ids never collide across stores).
    this.localStore?.releaseNow(this.prefix + key, this.algorithm, lease)
    return this.sideCall(RELEASE, key, 0, lease)
  }

  async reset(key: string): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) {
      throw new TollgateTypeError(`key must be a non-empty string, got ${describeValue(key)}`)
    }
    const storeKey = this.prefix + key
    this.denied?.delete(storeKey)
    this.localStore?.resetNow(storeKey, this.algorithm)
    await this.store.reset(storeKey, this.algorithm)
  }

  /**
   * Validates one call's options into a scratch object (read synchronously, then copied into the
   * call in flight, so one per limiter is enough); an Error (to reject with) when one is bad.
   */
  private parse(options: LimitOptions, decide: boolean): CallArgs | Error {
    if (typeof options !== 'object' || options === null) return optionsError(options)
    try {
      const args = this.scratch
      args.algorithm = this.algorithm
      args.limit = 0
      if (options.limit !== undefined) {
        args.algorithm = this.withLimit(options.limit)
        args.limit = options.limit
        if (args.algorithm !== this.algorithm) this.mixedLimits = true
      }
      args.cost = options.cost === undefined ? 1 : validateCost(args.algorithm, options.cost)
      args.blockDurationMs = 0
      args.mode = 'enforce'
      if (decide) {
        if (options.blockDurationMs !== undefined) {
          args.blockDurationMs = boundedInteger(
            'blockDurationMs',
            options.blockDurationMs,
            MAX_WINDOW_MS,
          )
        }
        if (options.mode !== undefined) {
          if (options.mode !== 'enforce' && options.mode !== 'shadow') {
            throw new TollgateTypeError(
              `mode must be 'enforce' or 'shadow', got ${describeValue(options.mode)}`,
            )
          }
          args.mode = options.mode
        }
      }
      return args
    } catch (error) {
      return error as Error
    }
  }

  private withLimit(limit: unknown): Algorithm {
    const known = typeof limit === 'number' ? this.limited.get(limit) : undefined
    if (known !== undefined) return known
    if (this.algorithm.kind === 'compound') {
      throw new TollgateTypeError(
        'limit cannot be set per request on a compound limiter (each member has its own limit)',
      )
    }
    const algorithm = withLimit(this.algorithm, limit as number)
    if (this.limited.size >= LIMITED_MAX) this.limited.clear()
    this.limited.set(limit as number, algorithm)
    return algorithm
  }

  /** An exact answer from the deny cache, or undefined (docs/semantics.md numbers, aged exactly). */
  private cached(storeKey: string, args: CallArgs): Decision | undefined {
    // A call that would set a block on denial must reach the store (the block is its effect).
    if (this.denied === undefined || args.blockDurationMs !== 0) return undefined
    const hit = this.denied.get(storeKey)
    if (hit === undefined) return undefined
    const now = this.storeClock === undefined ? Date.now() : this.storeClock()
    if (now >= hit.until) {
      this.denied.delete(storeKey)
      return undefined
    }
    if (hit.cost !== args.cost || hit.limit !== args.limit || now < hit.at) return undefined
    const d = hit.decision
    const elapsed = now - hit.at
    // A compound's numbers follow from its aged parts, as the stores derive them.
    if (args.algorithm.kind === 'compound') {
      return combine(
        false,
        d.parts!.map((p) => agedDenial(p, elapsed)),
      )
    }
    return agedDenial(d, elapsed)
  }

  private callStore(
    op: Op,
    key: string,
    storeKey: string,
    args: CallArgs,
  ): Promise<Decision | undefined> {
    const sentAt = Date.now()
    const storeClock = this.storeClock
    return new Promise<Decision | undefined>((resolve) => {
      let pending: unknown
      try {
        pending =
          op === DECIDE
            ? args.blockDurationMs === 0
              ? this.store.decide(storeKey, args.algorithm, args.cost)
              : this.store.decide(storeKey, args.algorithm, args.cost, {
                  blockDurationMs: args.blockDurationMs,
                })
            : this.store.peek(storeKey, args.algorithm, args.cost)
      } catch (error) {
        pending = Promise.reject(error)
      }
      if (!isThenable(pending)) {
        // Not a promise: a store failure, answered now (no timer armed, so no timeout later).
        const d = this.failed(
          notAPromise(op, pending),
          key,
          storeKey,
          args.algorithm,
          args.cost,
          op,
        )
        if (op === DECIDE) this.report(key, d, args.mode)
        resolve(d)
        return
      }
      const call: PendingCall = {
        op,
        resolve,
        key,
        storeKey,
        algorithm: args.algorithm,
        cost: args.cost,
        limit: args.limit,
        blockDurationMs: args.blockDurationMs,
        mode: args.mode,
        sentAt: storeClock === undefined ? sentAt : storeClock(),
        deadline: sentAt + this.failure.timeoutMs,
        prev: this.newest,
        next: undefined,
      }
      this.enqueue(call)
      subscribe(
        pending,
        (value) => this.answered(call, value),
        (error) => this.storeFailed(call, error),
      )
    })
  }

  /**
   * refund/block/release: through the timeout and error reporting of every store call, but they
   * resolve (never reject) whatever the store does; the breaker counts their outcome.
   */
  private sideCall(op: Op, key: string, amount: number, lease: string | undefined): Promise<void> {
    const storeKey = this.prefix + key
    const algorithm = this.algorithm
    this.denied?.delete(storeKey)
    if (op === BLOCK) this.localStore?.blockNow(storeKey, algorithm, amount)
    const memory = this.memory
    if (memory !== undefined) {
      try {
        if (op === REFUND) memory.refundNow(storeKey, algorithm, amount)
        else if (op === BLOCK) memory.blockNow(storeKey, algorithm, amount)
        else memory.releaseNow(storeKey, algorithm, lease!)
      } catch (error) {
        this.reportError(error, key)
      }
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      let pending: unknown
      try {
        pending =
          op === REFUND
            ? this.store.refund(storeKey, algorithm, amount)
            : op === BLOCK
              ? this.store.block(storeKey, algorithm, amount)
              : this.store.release(storeKey, algorithm, lease!)
      } catch (error) {
        pending = Promise.reject(error)
      }
      if (!isThenable(pending)) {
        this.breaker.failure()
        this.reportError(notAPromise(op, pending), key)
        resolve()
        return
      }
      const sentAt = Date.now()
      const call: PendingCall = {
        op,
        resolve: () => resolve(),
        key,
        storeKey,
        algorithm,
        cost: amount,
        limit: 0,
        blockDurationMs: 0,
        mode: 'enforce',
        sentAt,
        deadline: sentAt + this.failure.timeoutMs,
        prev: this.newest,
        next: undefined,
      }
      this.enqueue(call)
      subscribe(
        pending,
        (value) => this.answered(call, value),
        (error) => this.storeFailed(call, error),
      )
    })
  }

  private enqueue(call: PendingCall): void {
    // Append: every call has the same timeoutMs, so the list stays in deadline order.
    if (this.newest === undefined) this.oldest = call
    else this.newest.next = call
    this.newest = call
    if (this.timer === undefined) this.arm()
  }

  /** Takes a call out of the in-flight list; false when it was answered already. */
  private settle(call: PendingCall): boolean {
    if (call.deadline === 0) return false
    call.deadline = 0
    if (call.prev === undefined) this.oldest = call.next
    else call.prev.next = call.next
    if (call.next === undefined) this.newest = call.prev
    else call.next.prev = call.prev
    call.prev = call.next = undefined
    return true
  }

  private answered(call: PendingCall, value: unknown): void {
    // Too late: the fail policy already answered this request.
    if (!this.settle(call)) return
    if (call.op >= REFUND) {
      this.breaker.success()
      call.resolve(undefined)
      return
    }
    const problem = replyProblem(value, call.algorithm, call.op === DECIDE)
    if (problem !== undefined) {
      const error = new TollgateError(
        'ERR_TOLLGATE_STORE_REPLY',
        `tollgate: the store's ${call.op === DECIDE ? 'decide' : 'peek'}() answered ${problem}, not a Decision`,
      )
      this.answerFailed(call, error)
      return
    }
    const decision = value as Decision
    this.breaker.success()
    const denied = this.denied
    if (denied !== undefined) {
      if (decision.allowed || call.blockDurationMs !== 0) {
        // This limiter's own admission (or the block its denial just set) changes the state a
        // cached denial was computed from.
        if (call.op === DECIDE) denied.delete(call.storeKey)
      } else if (
        call.blockDurationMs === 0 &&
        !(this.mixedLimits && call.algorithm.kind === 'tokenBucket')
      ) {
        const life = exactFor(call.algorithm, call.cost, decision)
        if (life > 0) this.remember(call, decision, life)
      }
    }
    if (call.op === DECIDE) this.report(call.key, decision, call.mode)
    call.resolve(decision)
  }

  private storeFailed(call: PendingCall, error: unknown): void {
    // A late failure does not count twice: the timeout already reported this call.
    if (!this.settle(call)) return
    this.answerFailed(call, error)
  }

  private answerFailed(call: PendingCall, error: unknown): void {
    if (call.op >= REFUND) {
      this.breaker.failure()
      this.reportError(error, call.key)
      call.resolve(undefined)
      return
    }
    const d = this.failed(error, call.key, call.storeKey, call.algorithm, call.cost, call.op)
    if (call.op === DECIDE) this.report(call.key, d, call.mode)
    call.resolve(d)
  }

  /**
   * One timer for every call in flight instead of one per call: calls sit in a list in deadline
   * order, answered calls leave it at once, and the timer fires at the oldest one's deadline.
   */
  private arm(): void {
    const oldest = this.oldest
    if (oldest === undefined) return
    this.timer = setTimeout(this.expire, Math.max(0, oldest.deadline - Date.now()))
  }

  private readonly expire = (): void => {
    this.timer = undefined
    const now = Date.now()
    for (let call = this.oldest; call !== undefined && call.deadline <= now; call = this.oldest) {
      this.settle(call)
      this.answerFailed(call, timeoutError(this.failure.timeoutMs))
    }
    this.arm()
  }

  /** Keeps a denial for `life` ms from when it was sent (see {@link exactFor}). */
  private remember(call: PendingCall, decision: Decision, life: number): void {
    const denied = this.denied!
    if (denied.size >= DENY_CACHE_MAX && !denied.has(call.storeKey)) {
      // A Map iterates in insertion order: the first entry is the oldest.
      for (const [oldest] of denied) {
        denied.delete(oldest)
        break
      }
    }
    // Measured from when the request was sent, so local time never denies past the store's T.
    denied.set(call.storeKey, {
      until: call.sentAt + life,
      cost: call.cost,
      limit: call.limit,
      at: call.sentAt,
      decision,
    })
  }

  private failed(
    error: unknown,
    key: string,
    storeKey: string,
    algorithm: Algorithm,
    cost: number,
    op: Op,
  ): Decision {
    this.breaker.failure()
    this.reportError(error, key)
    return this.degraded(storeKey, algorithm, cost, op)
  }

  private reportError(error: unknown, key: string): void {
    if (this.onStoreError !== undefined) {
      try {
        this.onStoreError(error, key)
      } catch {
        // A throwing error hook must not turn a degraded answer into a crash.
      }
    }
    if (storeErrorChannel.hasSubscribers) {
      storeErrorChannel.publish({ name: this.policyName(), key, error } satisfies StoreErrorEvent)
    }
  }

  private report(key: string, decision: Decision, mode: DecisionMode): void {
    if (decisionChannel.hasSubscribers) {
      decisionChannel.publish({
        name: this.policyName(),
        key,
        decision,
        mode,
      } satisfies DecisionEvent)
    }
  }

  private readonly breakerChanged = (state: BreakerEvent['state']): void => {
    if (breakerChannel.hasSubscribers) {
      breakerChannel.publish({ name: this.policyName(), state } satisfies BreakerEvent)
    }
  }

  /** The `name` of events: the limiter's name, else its default policy name ('100-in-60s'). */
  private policyName(): string {
    this.eventName ??= this.name ?? defaultPolicyName(this.algorithm)
    return this.eventName
  }

  private degraded(storeKey: string, algorithm: Algorithm, cost: number, op: Op): Decision {
    if (this.failure.mode === 'local') {
      this.localStore ??= new MemoryStore()
      const decision =
        op === DECIDE
          ? this.localStore.decideNow(storeKey, algorithm, cost)
          : this.localStore.peekNow(storeKey, algorithm, cost)
      decision.degraded = true
      return decision
    }
    return degradedDecision(algorithm, this.failure)
  }
}

function checkKey(key: unknown): Error | undefined {
  if (typeof key !== 'string') {
    return new TollgateTypeError(`key must be a non-empty string, got ${describeValue(key)}`)
  }
  if (key.length === 0) return new TollgateRangeError('key must be a non-empty string, got ""')
  return undefined
}

function optionsError(options: unknown): TollgateTypeError {
  return new TollgateTypeError(`options must be an object, got ${describeValue(options)}`)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/** Attaches both handlers; a thenable whose then() throws counts as a rejection. */
function subscribe(
  pending: PromiseLike<unknown>,
  onValue: (value: unknown) => void,
  onError: (error: unknown) => void,
): void {
  try {
    pending.then(onValue, onError)
  } catch (error) {
    onError(error)
  }
}

const OP_NAMES = ['decide', 'peek', 'refund', 'block', 'release'] as const

function notAPromise(op: Op, value: unknown): TollgateError {
  return new TollgateError(
    'ERR_TOLLGATE_STORE_REPLY',
    `tollgate: the store's ${OP_NAMES[op]}() returned ${describeValue(value)}, not a promise`,
  )
}

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * Why a store's reply is not a Decision for `algorithm` (undefined when it is one): a bad reply is
 * a store failure, answered by the fail policy (issue 14 item 1), never a crash or a NaN header.
 * `leased`: an admitted concurrency decision must carry its lease (a peek carries none).
 */
function replyProblem(value: unknown, algorithm: Algorithm, leased: boolean): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return describeValue(value)
  }
  const d = value as Record<string, unknown>
  if (typeof d.allowed !== 'boolean') return `allowed ${describeValue(d.allowed)}`
  if (!isCount(d.limit) || d.limit === 0) return `limit ${describeValue(d.limit)}`
  if (!isCount(d.remaining)) return `remaining ${describeValue(d.remaining)}`
  if (!isCount(d.resetMs)) return `resetMs ${describeValue(d.resetMs)}`
  if (!isCount(d.retryAfterMs)) return `retryAfterMs ${describeValue(d.retryAfterMs)}`
  if (algorithm.kind === 'compound') {
    const parts = d.parts
    if (!Array.isArray(parts) || parts.length !== algorithm.members.length) {
      return `parts ${describeValue(parts)} for ${algorithm.members.length} members`
    }
    for (let i = 0; i < parts.length; i++) {
      const problem = replyProblem(parts[i], algorithm.members[i]!, false)
      if (problem !== undefined) return `parts[${i}] ${problem}`
    }
  } else if (leased && algorithm.kind === 'concurrency' && d.allowed === true) {
    if (typeof d.lease !== 'string' || d.lease.length === 0) {
      return `an admission with lease ${describeValue(d.lease)}`
    }
  }
  return undefined
}

/**
 * How long (ms from when it was sent) a denial's numbers stay exact, aged by the clock alone (if
 * nothing else arrives); 0: do not cache it. A single algorithm's denial is exact for its whole
 * `retryAfterMs` when {@link exactWhileDenied} says so. A compound's denial (cost 1 only) is exact
 * until the first of its parts changes: a denied part when its own `retryAfterMs` ends (it may
 * admit then), a part that would admit when its numbers would move. Only a fixed window's do not
 * move before `resetMs` (its count is constant inside the window, since the compound consumes
 * nothing); a sliding or refilling part that would admit may gain `remaining` any millisecond, so
 * such a denial is not cached.
 */
function exactFor(algorithm: Algorithm, cost: number, decision: Decision): number {
  if (decision.retryAfterMs <= 0) return 0
  if (algorithm.kind !== 'compound') {
    return exactWhileDenied(algorithm, cost, decision) ? decision.retryAfterMs : 0
  }
  const parts = decision.parts
  if (cost !== 1 || parts === undefined) return 0
  let life = decision.retryAfterMs
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const lasts = part.allowed
      ? algorithm.members[i]!.kind === 'fixedWindow'
        ? part.resetMs
        : 0
      : part.retryAfterMs
    if (lasts < life) life = lasts
  }
  return life
}

/**
 * A cached denial (or a compound's part) `elapsed` ms on: `remaining` as stored, `resetMs` and
 * `retryAfterMs` less the time elapsed; a compound's part that would admit keeps no wait.
 */
function agedDenial(d: Decision, elapsed: number): Decision {
  return {
    allowed: d.allowed,
    limit: d.limit,
    remaining: d.remaining,
    resetMs: Math.max(0, d.resetMs - elapsed),
    retryAfterMs: d.allowed ? 0 : d.retryAfterMs - elapsed,
  }
}

/**
 * Whether a denial's numbers stay exact while it lasts, aged by the clock alone (if nothing else
 * arrives): `remaining` constant, `resetMs` and `retryAfterMs` falling one per millisecond, whether
 * or not a block is behind it. A cost-1 denial leaves 0 admissible until it ends in every rate
 * algorithm, blocked or not. A fixed window's count does not move inside its window, so a larger
 * cost is exact too when `remaining > 0` (which a blocked answer never shows: a block that ends
 * before the window would change `remaining`). A larger cost on a sliding or refilling state
 * would see `remaining` grow before the denial ends. Concurrency denials end whenever another
 * process releases, so they are not cached; compounds: {@link exactFor}.
 */
function exactWhileDenied(algorithm: Algorithm, cost: number, decision: Decision): boolean {
  switch (algorithm.kind) {
    case 'fixedWindow':
      return cost === 1 || decision.remaining > 0
    case 'slidingWindow':
    case 'slidingLog':
    case 'tokenBucket':
      return cost === 1
    default:
      return false
  }
}
