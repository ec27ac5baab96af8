import { createHash, randomBytes } from 'node:crypto'
import { isBranded } from './algorithms/brand.js'
import {
  type Algorithm,
  assertAlgorithm,
  assertNever,
  type RateAlgorithm,
  validateCost,
} from './algorithms/index.js'
import { MAX_WINDOW_MS } from './algorithms/limits.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'
import {
  boundedInteger,
  optionalFunction,
  positiveInteger,
  rejectUnknownOptions,
  requireObject,
} from './options.js'
import type { Clock, DecideOptions, Store } from './store.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most keys tracked at once (one key under one algorithm kind, or one compound member, is one
   * entry). When full, expired keys are reclaimed first, then the least recently used is evicted.
   * @default 1_000_000
   */
  maxKeys?: number
  /** Clock returning integer epoch milliseconds, for tests. @default Date.now */
  clock?: Clock
}

const NONE = -1
/** Background sweep of expired keys; unref'd so it never keeps the process alive. */
const SWEEP_INTERVAL_MS = 60_000
/**
 * Numbers per slot: the state's expiry, the algorithm's numbers A and B, and the end of a block.
 * Four doubles are 32 bytes, so a slot never straddles a cache line.
 */
const STRIDE = 4
/**
 * Keys longer than this many UTF-8 bytes are stored as their SHA-256 (44 base64 characters), so
 * a client sending 8 KB API keys costs what a short key costs (issue 14 item 6). Hashing costs
 * about a microsecond, paid only by such keys.
 */
export const MAX_STORED_KEY_BYTES = 128

/**
 * State namespaces: each algorithm kind keeps its own state for a key, and each compound member
 * its own by position (docs/semantics.md "Keys and expiry"): kind index for a lone algorithm, then
 * `5 + position * 4 + kind index` for compound members.
 */
const KIND_INDEX = {
  fixedWindow: 0,
  slidingWindow: 1,
  slidingLog: 2,
  tokenBucket: 3,
  concurrency: 4,
} as const

const MEMBER_BASE = 5

/**
 * In-process store. One hash index from (namespace, key) to slot number; per slot four doubles of
 * state and two LRU links in typed arrays, interleaved so a decision touches one cache line of
 * each: a tracked key costs its string (at most 128 bytes, longer keys are hashed), its index
 * pair and about 50 bytes, no object per key. Every decision is synchronous and exact per docs/semantics.md.
 *
 * @example
 * const limiter = createLimiter({ algorithm: fixedWindow({ limit: 10, windowMs: 1000 }),
 *                                 store: new MemoryStore({ maxKeys: 100_000 }) })
 */
export class MemoryStore implements Store {
  readonly maxKeys: number
  /** The clock decisions are made on (integer epoch ms): `Date.now` unless one was injected. */
  readonly clock: Clock
  /**
   * The key index: open addressing with linear probing, pairs `[hash, slot + 1]` (0 = empty),
   * kept at most half full. One table for every namespace (the namespace is part of the hash and
   * is compared through `nsOf`). Faster than a Map per namespace by about 2x over 100,000 keys
   * (bench:micro), because a lookup reads two int32 and the key's own string instead of a Map's
   * bucket, entry and chain; the hash is seeded per store, as V8 seeds a Map's.
   */
  private index = new Int32Array(0)
  private indexMask = 0
  /** Namespaces that ever held a key, for reset(key) without an algorithm. */
  private namespaces: number[] = []
  private readonly seed = randomBytes(4).readInt32LE(0)
  private count = 0
  private keys: Array<string | undefined> = []
  /** The namespace of each slot. */
  private nsOf = new Uint8Array(0)
  /**
   * At `slot * 4`: the clock ms at which the slot's state stops mattering (docs/semantics.md "Keys and
   * expiry"; 0 = no state), the algorithm's numbers A and B (see evaluate), and the clock ms a
   * block ends (0 = none). The expiry doubles as the window identity of the window algorithms.
   */
  private st = new Float64Array(0)
  /** Sliding log entries `[t, cost, ...]` or concurrency leases `[expiresAt, cost, id, ...]`. */
  private logs: Array<number[] | undefined> = []
  /** Doubly linked LRU list over slots (head = most recent): prev at `2 * slot`, next at `+ 1`. */
  private links = new Int32Array(0)
  private capacity = 0
  private head = NONE
  private tail = NONE
  private freeSlots: number[] = []
  private used = 0
  /** Lower bound of the smallest expiry among live slots: no sweep can reclaim anything before it. */
  private minExp = Number.POSITIVE_INFINITY
  private timer: NodeJS.Timeout | undefined
  /** Lease ids are this store's random prefix and a counter: unique, and cheap to find again. */
  private readonly leasePrefix = `${randomBytes(6).toString('base64url')}.`
  private leaseCounter = 0

  // Scratch results of evaluate(): numbers of the unchanged state, and after an admission.
  private sOk = false
  private sRem = 0
  private sReset = 0
  private sRetry = 0
  private sRemAfter = 0
  private sResetAfter = 0
  private sLease: string | undefined = undefined

  constructor(options: MemoryStoreOptions = {}) {
    const o = requireObject('MemoryStore', options)
    rejectUnknownOptions('MemoryStore', o, ['maxKeys', 'clock'])
    this.maxKeys = o.maxKeys === undefined ? 1_000_000 : positiveInteger('maxKeys', o.maxKeys)
    this.clock = optionalFunction<Clock>('clock', o.clock) ?? Date.now
  }

  /** Number of states currently tracked (expired ones included until reclaimed). */
  get size(): number {
    return this.count
  }

  decide(
    key: string,
    algorithm: Algorithm,
    cost: number,
    options?: DecideOptions,
  ): Promise<Decision> {
    try {
      const a = checkAlgorithm(algorithm)
      checkKey(key)
      const block = options?.blockDurationMs
      return Promise.resolve(
        this.decideNow(
          key,
          a,
          validateCost(a, cost),
          block === undefined ? 0 : boundedInteger('blockDurationMs', block, MAX_WINDOW_MS),
        ),
      )
    } catch (error) {
      return Promise.reject(error)
    }
  }

  peek(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    try {
      const a = checkAlgorithm(algorithm)
      checkKey(key)
      return Promise.resolve(this.peekNow(key, a, validateCost(a, cost)))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  refund(key: string, algorithm: Algorithm, cost: number): Promise<void> {
    try {
      const a = checkAlgorithm(algorithm)
      checkKey(key)
      this.refundNow(key, a, validateCost(a, cost))
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  block(key: string, algorithm: Algorithm, durationMs: number): Promise<void> {
    try {
      const a = checkAlgorithm(algorithm)
      checkKey(key)
      this.blockNow(key, a, boundedInteger('durationMs', durationMs, MAX_WINDOW_MS))
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  release(key: string, algorithm: Algorithm, lease: string): Promise<void> {
    try {
      const a = checkAlgorithm(algorithm)
      checkKey(key)
      this.releaseNow(key, a, lease)
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Returns the key to its untouched state and lifts its block; without `algorithm`, under every algorithm. */
  reset(key: string, algorithm?: Algorithm): Promise<void> {
    try {
      this.resetNow(key, algorithm === undefined ? undefined : checkAlgorithm(algorithm))
      return Promise.resolve()
    } catch (error) {
      return Promise.reject(error)
    }
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.index = new Int32Array(0)
    this.indexMask = 0
    this.namespaces = []
    this.count = 0
    this.keys = []
    this.logs = []
    this.freeSlots = []
    this.head = this.tail = NONE
    this.used = 0
    this.capacity = 0
    this.minExp = Number.POSITIVE_INFINITY
    this.st = new Float64Array(0)
    this.links = new Int32Array(0)
    this.nsOf = new Uint8Array(0)
    return Promise.resolve()
  }

  /**
   * The synchronous decision, for callers that can skip a promise (the limiter's hot path).
   * Arguments are trusted (the limiter validated them); only the clock is checked.
   * @internal
   */
  decideNow(key: string, algorithm: Algorithm, cost: number, blockDurationMs = 0): Decision {
    const now = this.clock()
    if (!Number.isSafeInteger(now) || now < 0) throw clockError(now)
    const k = key.length <= 42 && key.charCodeAt(0) !== 0 ? key : storedKey(key)
    const kind = algorithm.kind
    if (kind === 'compound') {
      return this.decideCompound(k, algorithm.members, now, cost, blockDurationMs, true)
    }
    if (kind === 'concurrency') return this.decideSlow(k, algorithm, now, cost, blockDurationMs)
    const slot = this.slotOf(KIND_INDEX[kind], k)
    let base = NONE
    if (slot !== undefined) {
      base = slot * STRIDE
      const st = this.st
      // A live block (or one ended but not yet swept) takes the general path.
      if (st[base + 3] !== 0) return this.decideSlow(k, algorithm, now, cost, blockDurationMs)
      if (st[base]! <= now) {
        // Expired state is the same as no state; the slot is reused.
        st[base] = st[base + 1] = st[base + 2] = 0
        this.logs[slot] = undefined
        base = NONE
      }
    }
    // The hot path, one algorithm kind inline: read, decide, write, answer.
    const d = this.fast(slot, base, k, algorithm, now, cost)
    if (!d.allowed && blockDurationMs > 0) {
      const at = this.slotOf(KIND_INDEX[kind], k) ?? this.allocate(KIND_INDEX[kind], k, now)
      this.setBlock(at, now + blockDurationMs)
      return blockedDecision(d.limit, d.remaining, d.resetMs, d.retryAfterMs, blockDurationMs)
    }
    return d
  }

  /** decideNow for the four rate algorithms on a key without a block. */
  private fast(
    slot: number | undefined,
    base: number,
    k: string,
    algorithm: RateAlgorithm,
    now: number,
    cost: number,
  ): Decision {
    const st = this.st
    switch (algorithm.kind) {
      case 'fixedWindow': {
        // A = count; the state belongs to this window iff it expires at this window's end.
        const { limit, windowMs } = algorithm
        const end = (Math.floor(now / windowMs) + 1) * windowMs
        const count = base !== NONE && st[base] === end ? st[base + 1]! : 0
        if (count + cost <= limit) {
          const after = count + cost
          slot ??= this.allocate(KIND_INDEX.fixedWindow, k, now)
          const at = slot * STRIDE
          this.setExp(at, end)
          this.st[at + 1] = after
          this.touch(slot)
          return {
            allowed: true,
            limit,
            remaining: limit - after,
            resetMs: end - now,
            retryAfterMs: 0,
          }
        }
        if (slot !== undefined) this.touch(slot)
        return {
          allowed: false,
          limit,
          remaining: Math.max(0, limit - count),
          resetMs: count > 0 ? end - now : 0,
          retryAfterMs: end - now,
        }
      }
      case 'slidingWindow': {
        const { limit: L, windowMs: W } = algorithm
        const start = Math.floor(now / W) * W
        const e = now - start
        let curr = 0
        let prev = 0
        if (base !== NONE) {
          const expiresAt = st[base]!
          if (expiresAt === start + 2 * W) {
            curr = st[base + 1]!
            prev = st[base + 2]!
          } else if (expiresAt === start + W) {
            prev = st[base + 1]!
          }
        }
        const used = prev * (W - e) + curr * W
        if (used + cost * W <= L * W) {
          slot ??= this.allocate(KIND_INDEX.slidingWindow, k, now)
          const at = slot * STRIDE
          this.setExp(at, start + 2 * W)
          this.st[at + 1] = curr + cost
          this.st[at + 2] = prev
          this.touch(slot)
          return {
            allowed: true,
            limit: L,
            remaining: Math.max(0, Math.floor((L * W - used - cost * W) / W)),
            resetMs: start + 2 * W - now,
            retryAfterMs: 0,
          }
        }
        if (slot !== undefined) this.touch(slot)
        const free = L - curr - cost
        const retryAfterMs =
          free >= 0 && prev > 0
            ? W - Math.floor((free * W) / prev) - e
            : start +
              W -
              now +
              (curr > 0 ? Math.max(0, W - Math.floor(((L - cost) * W) / curr)) : 0)
        return {
          allowed: false,
          limit: L,
          remaining: Math.max(0, Math.floor((L * W - used) / W)),
          resetMs: curr > 0 ? start + 2 * W - now : prev > 0 ? start + W - now : 0,
          retryAfterMs,
        }
      }
      case 'tokenBucket': {
        const { capacity: C, refillRate: R, refillIntervalMs: I } = algorithm
        const full = C * I
        let units = full
        if (base !== NONE) {
          // A clock that steps back refills nothing rather than draining the bucket.
          units = Math.min(full, st[base + 1]! + Math.max(0, now - st[base + 2]!) * R)
        }
        const need = cost * I
        if (units >= need) {
          units -= need
          const resetMs = Math.ceil((full - units) / R)
          slot ??= this.allocate(KIND_INDEX.tokenBucket, k, now)
          const at = slot * STRIDE
          this.setExp(at, now + resetMs)
          this.st[at + 1] = units
          this.st[at + 2] = now
          this.touch(slot)
          return {
            allowed: true,
            limit: C,
            remaining: Math.floor(units / I),
            resetMs,
            retryAfterMs: 0,
          }
        }
        // A denial writes nothing (as the Lua script): the stored state refills to the same
        // balance later, and a clock that stepped back cannot re-grant refill already counted.
        if (slot !== undefined) this.touch(slot)
        return {
          allowed: false,
          limit: C,
          remaining: Math.floor(units / I),
          resetMs: Math.ceil((full - units) / R),
          retryAfterMs: Math.ceil((need - units) / R),
        }
      }
      default: {
        // slidingLog: evaluate() and commit() already touch only the live entries.
        const L = algorithm.limit
        this.evaluate(slot, algorithm, L, now, cost)
        if (this.sOk) {
          slot ??= this.allocate(KIND_INDEX.slidingLog, k, now)
          this.commit(slot, algorithm, L, now, cost)
          this.touch(slot)
          return {
            allowed: true,
            limit: L,
            remaining: this.sRemAfter,
            resetMs: this.sResetAfter,
            retryAfterMs: 0,
          }
        }
        if (slot !== undefined) this.touch(slot)
        return {
          allowed: false,
          limit: L,
          remaining: this.sRem,
          resetMs: this.sReset,
          retryAfterMs: this.sRetry,
        }
      }
    }
  }

  /** decideNow's general path: a block, concurrency, or a denial that sets a block. */
  private decideSlow(
    k: string,
    algorithm: Exclude<Algorithm, { kind: 'compound' }>,
    now: number,
    cost: number,
    blockDurationMs: number,
  ): Decision {
    const ns = KIND_INDEX[algorithm.kind]
    const L = algorithm.kind === 'tokenBucket' ? algorithm.capacity : algorithm.limit
    let slot = this.slotOf(ns, k)
    const blockedUntil = slot === undefined ? 0 : this.prepare(slot, now)
    this.evaluate(slot, algorithm, L, now, cost)
    if (blockedUntil > now) {
      if (slot !== undefined) this.touch(slot)
      return blockedDecision(
        L,
        this.sRem,
        this.sReset,
        this.sOk ? 0 : this.sRetry,
        blockedUntil - now,
      )
    }
    if (this.sOk) {
      slot ??= this.allocate(ns, k, now)
      this.commit(slot, algorithm, L, now, cost)
      this.touch(slot)
      const d: Decision = {
        allowed: true,
        limit: L,
        remaining: this.sRemAfter,
        resetMs: this.sResetAfter,
        retryAfterMs: 0,
      }
      if (this.sLease !== undefined) d.lease = this.sLease
      return d
    }
    if (blockDurationMs > 0) {
      slot ??= this.allocate(ns, k, now)
      this.setBlock(slot, now + blockDurationMs)
      this.touch(slot)
      return blockedDecision(L, this.sRem, this.sReset, this.sRetry, blockDurationMs)
    }
    if (slot !== undefined) this.touch(slot)
    return {
      allowed: false,
      limit: L,
      remaining: this.sRem,
      resetMs: this.sReset,
      retryAfterMs: this.sRetry,
    }
  }

  /** Exactly what decideNow would answer, storing and expiring nothing (no lease). @internal */
  peekNow(key: string, algorithm: Algorithm, cost: number): Decision {
    const now = this.now()
    const k = storedKey(key)
    if (algorithm.kind === 'compound') {
      return this.decideCompound(k, algorithm.members, now, cost, 0, false)
    }
    const ns = KIND_INDEX[algorithm.kind]
    const L = algorithm.kind === 'tokenBucket' ? algorithm.capacity : algorithm.limit
    const slot = this.slotOf(ns, k)
    const blockedUntil = slot === undefined ? 0 : this.st[slot * STRIDE + 3]!
    this.evaluate(slot, algorithm, L, now, cost)
    if (blockedUntil > now) {
      return blockedDecision(
        L,
        this.sRem,
        this.sReset,
        this.sOk ? 0 : this.sRetry,
        blockedUntil - now,
      )
    }
    if (this.sOk) {
      return {
        allowed: true,
        limit: L,
        remaining: this.sRemAfter,
        resetMs: this.sResetAfter,
        retryAfterMs: 0,
      }
    }
    return {
      allowed: false,
      limit: L,
      remaining: this.sRem,
      resetMs: this.sReset,
      retryAfterMs: this.sRetry,
    }
  }

  /** docs/semantics.md "refund", synchronously. A TypeError for concurrency. @internal */
  refundNow(key: string, algorithm: Algorithm, cost: number): void {
    if (algorithm.kind === 'concurrency') {
      throw new TollgateTypeError(
        'refund is not for a concurrency algorithm: release the lease instead',
      )
    }
    const now = this.now()
    const k = storedKey(key)
    if (algorithm.kind === 'compound') {
      const members = algorithm.members
      for (let p = 0; p < members.length; p++) {
        this.refundOne(memberNs(p, members[p]!), k, members[p]!, now, cost)
      }
      return
    }
    this.refundOne(KIND_INDEX[algorithm.kind], k, algorithm, now, cost)
  }

  /** Blocks the key until now + durationMs (a later end wins). @internal */
  blockNow(key: string, algorithm: Algorithm, durationMs: number): void {
    const now = this.now()
    const k = storedKey(key)
    const until = now + durationMs
    if (algorithm.kind === 'compound') {
      const members = algorithm.members
      for (let p = 0; p < members.length; p++) {
        const ns = memberNs(p, members[p]!)
        const slot = this.slotOf(ns, k)
        if (slot !== undefined) this.prepare(slot, now)
        this.setBlock(slot ?? this.allocate(ns, k, now), until)
      }
      return
    }
    const ns = KIND_INDEX[algorithm.kind]
    const slot = this.slotOf(ns, k)
    if (slot !== undefined) this.prepare(slot, now)
    this.setBlock(slot ?? this.allocate(ns, k, now), until)
  }

  /** Frees a concurrency lease if it is still held; anything else is a no-op. @internal */
  releaseNow(key: string, algorithm: Algorithm, lease: string): void {
    if (algorithm.kind !== 'concurrency') {
      throw new TollgateTypeError(
        `release is only for a concurrency algorithm, got ${algorithm.kind}`,
      )
    }
    if (typeof lease !== 'string') {
      throw new TollgateTypeError(`lease must be a string, got ${describeValue(lease)}`)
    }
    if (!lease.startsWith(this.leasePrefix)) return
    const digits = lease.slice(this.leasePrefix.length)
    const id = Number(digits)
    if (!Number.isSafeInteger(id) || String(id) !== digits) return
    const slot = this.slotOf(KIND_INDEX.concurrency, storedKey(key))
    if (slot === undefined) return
    const now = this.now()
    this.prepare(slot, now)
    const leases = this.logs[slot]
    if (leases === undefined) return
    for (let j = 0; j < leases.length; j += 3) {
      if (leases[j + 2] === id) {
        leases.splice(j, 3)
        this.restateLeases(slot, leases, now)
        return
      }
    }
  }

  /** @internal */
  resetNow(key: string, algorithm: Algorithm | undefined): void {
    const k = storedKey(key)
    if (algorithm === undefined) {
      for (const ns of this.namespaces) {
        const slot = this.slotOf(ns, k)
        if (slot !== undefined) this.releaseSlot(slot)
      }
      return
    }
    if (algorithm.kind === 'compound') {
      const members = algorithm.members
      for (let p = 0; p < members.length; p++) {
        const slot = this.slotOf(memberNs(p, members[p]!), k)
        if (slot !== undefined) this.releaseSlot(slot)
      }
      return
    }
    const slot = this.slotOf(KIND_INDEX[algorithm.kind], k)
    if (slot !== undefined) this.releaseSlot(slot)
  }

  private now(): number {
    const now = this.clock()
    if (!Number.isSafeInteger(now) || now < 0) throw clockError(now)
    return now
  }

  /**
   * Drops an expired state (keeping a live block) and returns the end of the slot's block.
   * Dropping changes no Decision: an expired state answers as no state.
   */
  private prepare(slot: number, now: number): number {
    const st = this.st
    const base = slot * STRIDE
    const exp = st[base]!
    if (exp !== 0 && exp <= now) {
      st[base] = st[base + 1] = st[base + 2] = 0
      this.logs[slot] = undefined
    }
    const blockedUntil = st[base + 3]!
    // An ended block is forgotten, so the key is back on decideNow's fast path.
    if (blockedUntil !== 0 && blockedUntil <= now) st[base + 3] = 0
    return blockedUntil
  }

  /**
   * One algorithm's answer for `cost` at `now` from the slot's state (absent or expired = none),
   * into the scratch fields: `sOk`, the unchanged state's `sRem`/`sReset`, the wait `sRetry`
   * when denied, and `sRemAfter`/`sResetAfter` after an admission. Writes nothing.
   */
  private evaluate(
    slot: number | undefined,
    algorithm: Exclude<Algorithm, { kind: 'compound' }>,
    L: number,
    now: number,
    cost: number,
  ): void {
    const st = this.st
    let base = NONE
    if (slot !== undefined) {
      base = slot * STRIDE
      if (st[base]! <= now) base = NONE
    }
    this.sLease = undefined
    switch (algorithm.kind) {
      case 'fixedWindow': {
        // A = count; the state belongs to this window iff it expires at this window's end.
        const W = algorithm.windowMs
        const end = (Math.floor(now / W) + 1) * W
        const count = base !== NONE && st[base] === end ? st[base + 1]! : 0
        this.sOk = count + cost <= L
        this.sRem = Math.max(0, L - count)
        this.sReset = count > 0 ? end - now : 0
        this.sRetry = end - now
        this.sRemAfter = L - count - cost
        this.sResetAfter = end - now
        return
      }
      case 'slidingWindow': {
        // A = the count of the state's window, B = the count of the window before it; the
        // state's window is the one whose state expires (start + 2W) at the stored expiry.
        const W = algorithm.windowMs
        const start = Math.floor(now / W) * W
        const e = now - start
        let curr = 0
        let prev = 0
        if (base !== NONE) {
          const expiresAt = st[base]!
          if (expiresAt === start + 2 * W) {
            curr = st[base + 1]!
            prev = st[base + 2]!
          } else if (expiresAt === start + W) {
            prev = st[base + 1]!
          }
        }
        const used = prev * (W - e) + curr * W
        this.sOk = used + cost * W <= L * W
        this.sRem = Math.max(0, Math.floor((L * W - used) / W))
        this.sReset = curr > 0 ? start + 2 * W - now : prev > 0 ? start + W - now : 0
        this.sRemAfter = Math.max(0, Math.floor((L * W - used - cost * W) / W))
        this.sResetAfter = start + 2 * W - now
        const free = L - curr - cost
        if (free >= 0 && prev > 0) {
          this.sRetry = W - Math.floor((free * W) / prev) - e
        } else {
          this.sRetry =
            start + W - now + (curr > 0 ? Math.max(0, W - Math.floor(((L - cost) * W) / curr)) : 0)
        }
        return
      }
      case 'slidingLog': {
        // A = sum of the live entries' costs; the newest entry's t is the expiry - W. One entry
        // lives inline (B = its cost); from the second distinct millisecond on, entries live in
        // logs[slot] as [t0, cost0, t1, cost1, ...], oldest first, and B = the first live index.
        const W = algorithm.windowMs
        let used = 0
        let newest = 0
        const log = base !== NONE ? this.logs[slot!] : undefined
        let head = 0
        if (base !== NONE) {
          used = st[base + 1]!
          newest = st[base]! - W
          if (log !== undefined) {
            head = st[base + 2]!
            while (log[head]! <= now - W) {
              used -= log[head + 1]!
              head += 2
            }
          }
        }
        this.sOk = used + cost <= L
        this.sRem = Math.max(0, L - used)
        this.sReset = used > 0 ? newest + W - now : 0
        this.sRemAfter = L - used - cost
        this.sResetAfter = W
        if (!this.sOk) {
          // The oldest entries leave first; the first whose departure makes room gives the wait.
          // (One inline entry: once it leaves, the log is empty and any cost <= limit fits.)
          let retry = newest + W - now
          if (log !== undefined) {
            let left = used
            for (let j = head; j < log.length; j += 2) {
              left -= log[j + 1]!
              if (left + cost <= L) {
                retry = log[j]! + W - now
                break
              }
            }
          }
          this.sRetry = retry
        }
        return
      }
      case 'tokenBucket': {
        // A = balance in units of 1/I token, B = clock ms the balance was written
        const { refillRate: R, refillIntervalMs: I } = algorithm
        const full = L * I
        let units = full
        if (base !== NONE) {
          // A clock that steps back refills nothing rather than draining the bucket.
          units = Math.min(full, st[base + 1]! + Math.max(0, now - st[base + 2]!) * R)
        }
        const need = cost * I
        this.sOk = units >= need
        this.sRem = Math.floor(units / I)
        this.sReset = Math.ceil((full - units) / R)
        this.sRetry = Math.ceil((need - units) / R)
        this.sRemAfter = Math.floor((units - need) / I)
        this.sResetAfter = Math.ceil((full - units + need) / R)
        return
      }
      case 'concurrency': {
        // A = cost units held by live leases; logs[slot] = [expiresAt, cost, id, ...] by
        // expiresAt, oldest first; the state expires with its last lease.
        let used = 0
        let last = 0
        const leases = base !== NONE ? this.logs[slot!] : undefined
        let first = 0
        if (leases !== undefined) {
          used = st[base + 1]!
          last = st[base]!
          while (first < leases.length && leases[first]! <= now) {
            used -= leases[first + 1]!
            first += 3
          }
        }
        this.sOk = used + cost <= L
        this.sRem = Math.max(0, L - used)
        this.sReset = used > 0 ? last - now : 0
        this.sRemAfter = L - used - cost
        this.sResetAfter = Math.max(last, now + algorithm.leaseMs) - now
        if (!this.sOk) {
          let left = used
          this.sRetry = last - now
          for (let j = first; leases !== undefined && j < leases.length; j += 3) {
            left -= leases[j + 1]!
            if (left + cost <= L) {
              this.sRetry = leases[j]! - now
              break
            }
          }
        }
        return
      }
      default:
        assertNever(algorithm)
    }
  }

  /** Writes an admission that evaluate() just approved for the same slot, now and cost. */
  private commit(
    slot: number,
    algorithm: Exclude<Algorithm, { kind: 'compound' }>,
    L: number,
    now: number,
    cost: number,
  ): void {
    const st = this.st
    const at = slot * STRIDE
    // An expired state was cleared by prepare() (or allocate()): exp is 0 or live.
    const live = st[at]! > now
    switch (algorithm.kind) {
      case 'fixedWindow': {
        const W = algorithm.windowMs
        const end = (Math.floor(now / W) + 1) * W
        st[at + 1] = (live && st[at] === end ? st[at + 1]! : 0) + cost
        this.setExp(at, end)
        return
      }
      case 'slidingWindow': {
        const W = algorithm.windowMs
        const start = Math.floor(now / W) * W
        let curr = 0
        let prev = 0
        if (live) {
          if (st[at] === start + 2 * W) {
            curr = st[at + 1]!
            prev = st[at + 2]!
          } else if (st[at] === start + W) {
            prev = st[at + 1]!
          }
        }
        st[at + 1] = curr + cost
        st[at + 2] = prev
        this.setExp(at, start + 2 * W)
        return
      }
      case 'slidingLog': {
        const W = algorithm.windowMs
        const log = live ? this.logs[slot] : undefined
        if (log !== undefined) {
          let used = st[at + 1]!
          let head = st[at + 2]!
          while (log[head]! <= now - W) {
            used -= log[head + 1]!
            head += 2
          }
          if (head > 64 && head * 2 > log.length) {
            // Compact now and then: each entry is copied O(1) times on average.
            log.copyWithin(0, head)
            log.length -= head
            head = 0
          }
          // Requests in the same millisecond share one entry.
          if (log[log.length - 2] === now) log[log.length - 1]! += cost
          else log.push(now, cost)
          st[at + 1] = used + cost
          st[at + 2] = head
        } else if (!live) {
          st[at + 1] = cost
          st[at + 2] = cost
        } else if (st[at]! - W === now) {
          st[at + 1]! += cost
          st[at + 2]! += cost
        } else {
          this.logs[slot] = [st[at]! - W, st[at + 2]!, now, cost]
          st[at + 1]! += cost
          st[at + 2] = 0
        }
        this.setExp(at, now + W)
        return
      }
      case 'tokenBucket': {
        const { refillRate: R, refillIntervalMs: I } = algorithm
        const full = L * I
        let units = full
        if (live) units = Math.min(full, st[at + 1]! + Math.max(0, now - st[at + 2]!) * R)
        units -= cost * I
        // units < full here: an admitted request always takes at least one token's units.
        st[at + 1] = units
        st[at + 2] = now
        this.setExp(at, now + Math.ceil((full - units) / R))
        return
      }
      case 'concurrency': {
        let leases = live ? this.logs[slot] : undefined
        if (leases === undefined) {
          leases = []
          this.logs[slot] = leases
        }
        let first = 0
        while (first < leases.length && leases[first]! <= now) first += 3
        if (first > 0) leases.splice(0, first)
        const id = this.leaseCounter++
        const expiresAt = now + algorithm.leaseMs
        // Kept by expiresAt; only a clock that stepped back inserts before the end.
        let j = leases.length
        while (j > 0 && leases[j - 3]! > expiresAt) j -= 3
        leases.splice(j, 0, expiresAt, cost, id)
        this.restateLeases(slot, leases, now)
        this.sLease = this.leasePrefix + id
        return
      }
      default:
        assertNever(algorithm)
    }
  }

  /** Sets A (units held) and the expiry (the last lease's) from the lease list. */
  private restateLeases(slot: number, leases: number[], now: number): void {
    const at = slot * STRIDE
    if (leases.length === 0) {
      this.dropState(slot, now)
      return
    }
    let used = 0
    for (let j = 1; j < leases.length; j += 3) used += leases[j]!
    this.st[at + 1] = used
    this.setExp(at, leases[leases.length - 3]!)
  }

  private decideCompound(
    k: string,
    members: readonly RateAlgorithm[],
    now: number,
    cost: number,
    blockDurationMs: number,
    write: boolean,
  ): Decision {
    const n = members.length
    const slots: Array<number | undefined> = new Array(n)
    const parts: Decision[] = new Array(n)
    let all = true
    let blocked = false
    for (let p = 0; p < n; p++) {
      const member = members[p]!
      const ns = memberNs(p, member)
      const slot = this.slotOf(ns, k)
      slots[p] = slot
      let blockedUntil = 0
      if (slot !== undefined) {
        blockedUntil = write ? this.prepare(slot, now) : this.st[slot * STRIDE + 3]!
      }
      const L = member.kind === 'tokenBucket' ? member.capacity : member.limit
      this.evaluate(slot, member, L, now, cost)
      if (blockedUntil > now) {
        blocked = true
        parts[p] = blockedDecision(
          L,
          this.sRem,
          this.sReset,
          this.sOk ? 0 : this.sRetry,
          blockedUntil - now,
        )
        continue
      }
      if (!this.sOk) all = false
      parts[p] = this.sOk
        ? { allowed: true, limit: L, remaining: this.sRem, resetMs: this.sReset, retryAfterMs: 0 }
        : {
            allowed: false,
            limit: L,
            remaining: this.sRem,
            resetMs: this.sReset,
            retryAfterMs: this.sRetry,
          }
    }
    if (all && !blocked) {
      // Every member admits: each consumes (or, for a peek, shows what consuming would leave).
      for (let p = 0; p < n; p++) {
        const member = members[p]!
        const L = member.kind === 'tokenBucket' ? member.capacity : member.limit
        const ns = memberNs(p, member)
        // Looked up again: allocating an earlier member may have evicted this one's slot.
        let slot = write ? this.slotOf(ns, k) : slots[p]
        this.evaluate(slot, member, L, now, cost)
        if (write) {
          slot ??= this.allocate(ns, k, now)
          this.commit(slot, member, L, now, cost)
          this.touch(slot)
        }
        parts[p] = {
          allowed: true,
          limit: L,
          remaining: this.sRemAfter,
          resetMs: this.sResetAfter,
          retryAfterMs: 0,
        }
      }
      return combine(true, parts)
    }
    if (write) {
      if (!blocked && blockDurationMs > 0) {
        // A denial (not a blocked answer) blocks the whole compound in the same step.
        for (let p = 0; p < n; p++) {
          const ns = memberNs(p, members[p]!)
          const slot = this.slotOf(ns, k) ?? this.allocate(ns, k, now)
          this.setBlock(slot, now + blockDurationMs)
          const d = parts[p]!
          parts[p] = blockedDecision(
            d.limit,
            d.remaining,
            d.resetMs,
            d.retryAfterMs,
            blockDurationMs,
          )
        }
      }
      for (let p = 0; p < n; p++) {
        const slot = this.slotOf(memberNs(p, members[p]!), k)
        if (slot !== undefined) this.touch(slot)
      }
    }
    return combine(false, parts)
  }

  private refundOne(
    ns: number,
    k: string,
    algorithm: RateAlgorithm,
    now: number,
    cost: number,
  ): void {
    const slot = this.slotOf(ns, k)
    if (slot === undefined) return
    this.prepare(slot, now)
    const st = this.st
    const at = slot * STRIDE
    if (st[at] === 0) return
    switch (algorithm.kind) {
      case 'fixedWindow': {
        const W = algorithm.windowMs
        if (st[at] !== (Math.floor(now / W) + 1) * W) return
        const count = Math.max(0, st[at + 1]! - cost)
        if (count === 0) this.dropState(slot, now)
        else st[at + 1] = count
        return
      }
      case 'slidingWindow': {
        const W = algorithm.windowMs
        const start = Math.floor(now / W) * W
        let curr = 0
        let prev = 0
        if (st[at] === start + 2 * W) {
          curr = st[at + 1]!
          prev = st[at + 2]!
        } else if (st[at] === start + W) {
          prev = st[at + 1]!
        } else return // A later window's state (the clock stepped back): nothing to refund yet.
        const c = Math.min(curr, cost)
        curr -= c
        prev = Math.max(0, prev - (cost - c))
        if (curr > 0) {
          st[at + 1] = curr
          st[at + 2] = prev
          this.setExp(at, start + 2 * W)
        } else if (prev > 0) {
          // Stored as the previous window's state: it stops mattering when this window ends.
          st[at + 1] = prev
          st[at + 2] = 0
          this.setExp(at, start + W)
        } else {
          this.dropState(slot, now)
        }
        return
      }
      case 'slidingLog': {
        const W = algorithm.windowMs
        const log = this.logs[slot]
        if (log === undefined) {
          const left = st[at + 2]! - cost
          if (left <= 0) this.dropState(slot, now)
          else st[at + 1] = st[at + 2] = left
          return
        }
        let used = st[at + 1]!
        let head = st[at + 2]!
        while (log[head]! <= now - W) {
          used -= log[head + 1]!
          head += 2
        }
        let left = cost
        while (left > 0 && log.length > head) {
          const c = log[log.length - 1]!
          if (c <= left) {
            left -= c
            used -= c
            log.length -= 2
          } else {
            log[log.length - 1] = c - left
            used -= left
            left = 0
          }
        }
        if (log.length <= head) {
          this.dropState(slot, now)
          return
        }
        st[at + 1] = used
        st[at + 2] = head
        // The newest entry changed: the state now expires with it (never later than before).
        this.setExp(at, log[log.length - 2]! + W)
        return
      }
      case 'tokenBucket': {
        const { capacity: C, refillRate: R, refillIntervalMs: I } = algorithm
        const full = C * I
        const units = Math.min(
          full,
          Math.min(full, st[at + 1]! + Math.max(0, now - st[at + 2]!) * R) + cost * I,
        )
        if (units >= full) {
          this.dropState(slot, now)
          return
        }
        st[at + 1] = units
        st[at + 2] = now
        this.setExp(at, now + Math.ceil((full - units) / R))
        return
      }
      default:
        assertNever(algorithm)
    }
  }

  /** Clears the state (it is untouched again) but keeps a live block; a slot with neither is freed. */
  private dropState(slot: number, now: number): void {
    const at = slot * STRIDE
    if (this.st[at + 3]! > now) {
      this.st[at] = this.st[at + 1] = this.st[at + 2] = 0
      this.logs[slot] = undefined
    } else {
      this.releaseSlot(slot)
    }
  }

  private setBlock(slot: number, until: number): void {
    const at = slot * STRIDE
    if (until > this.st[at + 3]!) this.st[at + 3] = until
    if (until < this.minExp) this.minExp = until
  }

  private setExp(at: number, expiresAt: number): void {
    this.st[at] = expiresAt
    if (expiresAt < this.minExp) this.minExp = expiresAt
  }

  private allocate(ns: number, key: string, now: number): number {
    if (this.count >= this.maxKeys) {
      if (now >= this.minExp) this.sweep(now)
      if (this.count >= this.maxKeys) this.releaseSlot(this.tail)
    }
    let slot = this.freeSlots.pop()
    if (slot === undefined) {
      slot = this.used++
      if (slot >= this.capacity) this.grow()
    }
    if (!this.namespaces.includes(ns)) this.namespaces.push(ns)
    this.count++
    if (this.count * 2 > this.index.length >> 1) this.rehash()
    this.insert(hashKey(key, ns, this.seed), slot)
    this.keys[slot] = key
    this.nsOf[slot] = ns
    this.st.fill(0, slot * STRIDE, slot * STRIDE + STRIDE)
    this.logs[slot] = undefined
    const links = this.links
    links[2 * slot] = NONE
    links[2 * slot + 1] = this.head
    if (this.head !== NONE) links[2 * this.head] = slot
    this.head = slot
    if (this.tail === NONE) this.tail = slot
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(this.clock()), SWEEP_INTERVAL_MS)
      this.timer.unref()
    }
    return slot
  }

  /** The slot of `k` in namespace `ns`, or undefined. */
  private slotOf(ns: number, k: string): number | undefined {
    const index = this.index
    const mask = this.indexMask
    if (mask === 0) return undefined
    const h = hashKey(k, ns, this.seed)
    let p = h & mask
    for (;;) {
      const s1 = index[2 * p + 1]!
      if (s1 === 0) return undefined
      const slot = s1 - 1
      if (index[2 * p] === h && this.keys[slot] === k && this.nsOf[slot] === ns) return slot
      p = (p + 1) & mask
    }
  }

  private insert(h: number, slot: number): void {
    const index = this.index
    const mask = this.indexMask
    let p = h & mask
    while (index[2 * p + 1] !== 0) p = (p + 1) & mask
    index[2 * p] = h
    index[2 * p + 1] = slot + 1
  }

  /** Removes `slot` (hash `h`) from the index: backward-shift deletion, so no tombstones. */
  private unindex(h: number, slot: number): void {
    const index = this.index
    const mask = this.indexMask
    let p = h & mask
    while (index[2 * p + 1] !== slot + 1) p = (p + 1) & mask
    // Move later entries of the probe run back into the hole when their home is at or before it.
    let hole = p
    let q = (p + 1) & mask
    for (;;) {
      const s1 = index[2 * q + 1]!
      if (s1 === 0) break
      const home = index[2 * q]! & mask
      // q's entry may fill the hole iff its home is not in the cyclic interval (hole, q].
      if (hole <= q ? home <= hole || home > q : home <= hole && home > q) {
        index[2 * hole] = index[2 * q]!
        index[2 * hole + 1] = s1
        hole = q
      }
      q = (q + 1) & mask
    }
    index[2 * hole] = 0
    index[2 * hole + 1] = 0
  }

  /** Doubles the index (at least 2,048 pairs) and reinserts every tracked key. */
  private rehash(): void {
    const size = Math.max(2048, (this.index.length >> 1) * 2)
    this.index = new Int32Array(size * 2)
    this.indexMask = size - 1
    for (let slot = 0; slot < this.used; slot++) {
      const key = this.keys[slot]
      if (key !== undefined) this.insert(hashKey(key, this.nsOf[slot]!, this.seed), slot)
    }
  }

  private grow(): void {
    const capacity = Math.min(this.maxKeys, Math.max(1024, this.capacity * 2))
    const st = new Float64Array(capacity * STRIDE)
    st.set(this.st)
    const links = new Int32Array(capacity * 2)
    links.set(this.links)
    const nsOf = new Uint8Array(capacity)
    nsOf.set(this.nsOf)
    this.st = st
    this.links = links
    this.nsOf = nsOf
    this.capacity = capacity
  }

  /** Moves a slot to the head of the LRU list. */
  private touch(slot: number): void {
    const head = this.head
    if (head === slot) return
    const links = this.links
    const p = links[2 * slot]!
    const n = links[2 * slot + 1]!
    // slot is not the head, so it has a predecessor.
    links[2 * p + 1] = n
    if (n !== NONE) links[2 * n] = p
    else this.tail = p
    links[2 * slot] = NONE
    links[2 * slot + 1] = head
    links[2 * head] = slot
    this.head = slot
  }

  private releaseSlot(slot: number): void {
    const key = this.keys[slot]
    if (key === undefined) return
    this.unindex(hashKey(key, this.nsOf[slot]!, this.seed), slot)
    this.count--
    this.keys[slot] = undefined
    this.st.fill(0, slot * STRIDE, slot * STRIDE + STRIDE)
    this.logs[slot] = undefined
    const links = this.links
    const p = links[2 * slot]!
    const n = links[2 * slot + 1]!
    if (p !== NONE) links[2 * p + 1] = n
    else this.head = n
    if (n !== NONE) links[2 * n] = p
    else this.tail = p
    this.freeSlots.push(slot)
  }

  /** Reclaims every slot whose state and block have both ended; recomputes the lower bound. */
  private sweep(now: number): void {
    let min = Number.POSITIVE_INFINITY
    const st = this.st
    for (let slot = 0; slot < this.used; slot++) {
      if (this.keys[slot] === undefined) continue
      const at = slot * STRIDE
      const end = Math.max(st[at]!, st[at + 3]!)
      if (end <= now) this.releaseSlot(slot)
      else if (end < min) min = end
    }
    this.minExp = min
  }
}

/**
 * The index's hash of a stored key in a namespace: seeded per store (a client choosing keys cannot
 * aim them at one probe run of another process), a multiply-xorshift step per UTF-16 unit, then
 * murmur3's finalizer so the low bits (the bucket) depend on every unit. Stored keys are at most
 * 44 units (longer ones are hashed first), so this is a short loop. Exported for the white-box
 * index tests of test/mutants only (not from the package).
 */
export function hashKey(k: string, ns: number, seed: number): number {
  let h = seed ^ Math.imul(ns + 1, 0x9e3779b1)
  for (let i = 0; i < k.length; i++) {
    h = Math.imul(h ^ k.charCodeAt(i), 0x5bd1e995)
    h ^= h >>> 15
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h
}

function memberNs(position: number, member: RateAlgorithm): number {
  return MEMBER_BASE + position * 4 + KIND_INDEX[member.kind]
}

/** A key as stored: itself, or its SHA-256 when longer than MAX_STORED_KEY_BYTES. */
function storedKey(key: string): string {
  // 42 UTF-16 units are at most 126 UTF-8 bytes. A stored hash starts with "\0", so a short key
  // starting with "\0" is hashed too: no short key can pose as another key's hash.
  if (key.length <= 42 && key.charCodeAt(0) !== 0) return key
  if (key.charCodeAt(0) !== 0 && Buffer.byteLength(key) <= MAX_STORED_KEY_BYTES) return key
  return `\0${createHash('sha256').update(key).digest('base64')}`
}

/**
 * A clock before the epoch is refused: time 0 is the store's "no block" marker, so a negative now
 * would read every key as blocked.
 */
function clockError(now: unknown): TollgateTypeError | TollgateRangeError {
  if (Number.isSafeInteger(now)) {
    return new TollgateRangeError(`clock must return epoch milliseconds >= 0, got ${now}`)
  }
  return new TollgateTypeError(
    `clock must return integer epoch milliseconds, got ${describeValue(now)}`,
  )
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string') {
    throw new TollgateTypeError(`key must be a string, got ${describeValue(key)}`)
  }
}

function checkAlgorithm(algorithm: Algorithm): Algorithm {
  return isBranded(algorithm) ? algorithm : assertAlgorithm(algorithm)
}

/**
 * docs/semantics.md "block": denied, nothing admissible, the wait covers both the block and what the
 * state alone needs (`r`, 0 if it would admit), the reset covers the block.
 */
function blockedDecision(
  limit: number,
  _remaining: number,
  resetMs: number,
  r: number,
  blockLeft: number,
): Decision {
  return {
    allowed: false,
    limit,
    remaining: 0,
    resetMs: Math.max(resetMs, blockLeft),
    retryAfterMs: Math.max(blockLeft, r),
  }
}

/** A compound's Decision from its parts (docs/semantics.md "Compound"); the limiter's deny cache ages one with it too. @internal */
export function combine(allowed: boolean, parts: Decision[]): Decision {
  let fewest = parts[0]!
  let resetMs = 0
  let retryAfterMs = 0
  for (const part of parts) {
    if (part.remaining < fewest.remaining) fewest = part
    if (part.resetMs > resetMs) resetMs = part.resetMs
    if (part.retryAfterMs > retryAfterMs) retryAfterMs = part.retryAfterMs
  }
  return {
    allowed,
    limit: fewest.limit,
    remaining: fewest.remaining,
    resetMs,
    retryAfterMs: allowed ? 0 : retryAfterMs,
    parts,
  }
}
