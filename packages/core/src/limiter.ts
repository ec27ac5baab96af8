import {
  type Algorithm,
  parseAlgorithm,
  type RateAlgorithm,
  validateCost,
} from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'
import type { DecisionMode } from './events.js'
import {
  Breaker,
  degradedDecision,
  type FailureOptions,
  parseFailure,
  type ResolvedFailure,
  timeoutError,
} from './fail-policy.js'
import { MemoryStore } from './memory-store.js'
import { optionalFunction, rejectUnknownOptions, requireObject } from './options.js'
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
   * Remember denials locally: a key denied until T for a cost is answered in-process until T,
   * without a store call. Exact (a denial cannot end early unless someone resets the key, and
   * `reset()` through this limiter clears it). On by default for every store but MemoryStore.
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
 * The limiter's synchronous entry point for the HTTP pipeline in this package (not exported from
 * the package root): a Decision when the store answers at once, else a promise.
 * @internal
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

const LIMITER_OPTIONS: readonly string[] = Object.keys(LIMITER_OPTION_NAMES)

/** Bound of the deny cache; oldest entries go first when it is full. */
const DENY_CACHE_MAX = 100_000

interface PendingCall {
  resolve: (decision: Decision) => void
  key: string
  storeKey: string
  cost: number
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

  constructor(o: LimiterOptions) {
    this.algorithm = parseAlgorithm(o.algorithm)
    if (
      o.store !== undefined &&
      (typeof o.store !== 'object' ||
        o.store === null ||
        typeof o.store.decide !== 'function' ||
        typeof o.store.reset !== 'function')
    ) {
      throw new TollgateTypeError(
        `store must implement decide() and reset() (the Store interface), got ${describeValue(o.store)}`,
      )
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
    this.breaker = new Breaker(this.failure.breaker, this.storeClock ?? Date.now)
    const denyCache = o.denyCache ?? this.memory === undefined
    this.denied = denyCache ? new Map() : undefined
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
    if (typeof key !== 'string') {
      return Promise.reject(
        new TollgateTypeError(`key must be a non-empty string, got ${describeValue(key)}`),
      )
    }
    if (key.length === 0) {
      return Promise.reject(new TollgateRangeError('key must be a non-empty string, got ""'))
    }
    let cost = 1
    if (options !== undefined && options.cost !== undefined && options.cost !== 1) {
      try {
        cost = validateCost(this.algorithm, options.cost)
      } catch (error) {
        return Promise.reject(error)
      }
    }
    const storeKey = this.prefix + key
    if (this.memory !== undefined) {
      try {
        return this.memory.decideNow(storeKey, this.algorithm, cost)
      } catch (error) {
        return this.failed(error, key, storeKey, cost)
      }
    }
    if (this.denied !== undefined) {
      const hit = this.denied.get(storeKey)
      if (hit !== undefined) {
        const now = this.storeClock === undefined ? Date.now() : this.storeClock()
        if (now < hit.until && hit.cost === cost) return cachedDenial(hit, now)
        if (now >= hit.until) this.denied.delete(storeKey)
      }
    }
    if (!this.breaker.admit()) return this.degraded(storeKey, cost)
    return this.callStore(key, storeKey, cost)
  }

  private callStore(key: string, storeKey: string, cost: number): Promise<Decision> {
    const sentAt = Date.now()
    const storeClock = this.storeClock
    return new Promise<Decision>((resolve) => {
      const call: PendingCall = {
        resolve,
        key,
        storeKey,
        cost,
        sentAt: storeClock === undefined ? sentAt : storeClock(),
        deadline: sentAt + this.failure.timeoutMs,
        prev: this.newest,
        next: undefined,
      }
      let pending: Promise<Decision>
      try {
        pending = this.store.decide(storeKey, this.algorithm, cost)
      } catch (error) {
        pending = Promise.reject(error)
      }
      // Append: every call has the same timeoutMs, so the list stays in deadline order.
      if (this.newest === undefined) this.oldest = call
      else this.newest.next = call
      this.newest = call
      if (this.timer === undefined) this.arm()
      pending.then(
        (decision) => this.answered(call, decision),
        (error: unknown) => this.storeFailed(call, error),
      )
    })
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

  private answered(call: PendingCall, decision: Decision): void {
    // Too late: the fail policy already answered this request.
    if (!this.settle(call)) return
    this.breaker.success()
    if (!decision.allowed && this.denied !== undefined && decision.retryAfterMs > 0) {
      this.remember(call.storeKey, call.cost, call.sentAt, decision)
    }
    call.resolve(decision)
  }

  private storeFailed(call: PendingCall, error: unknown): void {
    // A late failure does not count twice: the timeout already reported this call.
    if (!this.settle(call)) return
    call.resolve(this.failed(error, call.key, call.storeKey, call.cost))
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
      call.resolve(
        this.failed(timeoutError(this.failure.timeoutMs), call.key, call.storeKey, call.cost),
      )
    }
    this.arm()
  }

  private remember(storeKey: string, cost: number, sentAt: number, decision: Decision): void {
    const denied = this.denied!
    if (denied.size >= DENY_CACHE_MAX) {
      // A Map iterates in insertion order: the first entry is the oldest.
      for (const [oldest] of denied) {
        denied.delete(oldest)
        break
      }
    }
    // Measured from when the request was sent, so local time never denies past the store's T.
    denied.set(storeKey, { until: sentAt + decision.retryAfterMs, cost, at: sentAt, decision })
  }

  private failed(error: unknown, key: string, storeKey: string, cost: number): Decision {
    this.breaker.failure()
    if (this.onStoreError !== undefined) {
      try {
        this.onStoreError(error, key)
      } catch {
        // A throwing error hook must not turn a degraded answer into a crash.
      }
    }
    return this.degraded(storeKey, cost)
  }

  private degraded(storeKey: string, cost: number): Decision {
    if (this.failure.mode === 'local') {
      this.localStore ??= new MemoryStore()
      const decision = this.localStore.decideNow(storeKey, this.algorithm, cost)
      decision.degraded = true
      return decision
    }
    return degradedDecision(this.algorithm, this.failure)
  }

  async peek(key: string, options?: PeekOptions): Promise<Decision> {
    return this.store.peek(this.prefix + key, this.algorithm, options?.cost ?? 1)
  }

  async refund(key: string, options?: RefundOptions): Promise<void> {
    await this.store.refund(this.prefix + key, this.algorithm, options?.cost ?? 1)
  }

  async block(key: string, durationMs: number): Promise<void> {
    await this.store.block(this.prefix + key, this.algorithm, durationMs)
  }

  async release(key: string, lease: string): Promise<void> {
    await this.store.release(this.prefix + key, this.algorithm, lease)
  }

  async reset(key: string): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) {
      throw new TollgateTypeError(`key must be a non-empty string, got ${describeValue(key)}`)
    }
    const storeKey = this.prefix + key
    this.denied?.delete(storeKey)
    this.localStore?.reset(storeKey)
    await this.store.reset(storeKey, this.algorithm)
  }
}

function cachedDenial(hit: DenyEntry, now: number): Decision {
  const elapsed = now - hit.at
  const d = hit.decision
  return {
    allowed: false,
    limit: d.limit,
    // A cost-1 denial leaves nothing admissible until T; larger costs keep the store's figure.
    remaining: hit.cost === 1 ? 0 : d.remaining,
    resetMs: Math.max(0, d.resetMs - elapsed),
    retryAfterMs: hit.until - now,
  }
}
