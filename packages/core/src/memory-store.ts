import { type Algorithm, assertNever } from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateTypeError } from './errors.js'
import {
  optionalFunction,
  positiveInteger,
  rejectUnknownOptions,
  requireObject,
} from './options.js'
import type { Clock, Store } from './store.js'

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most keys tracked at once. When full, expired keys are reclaimed first, then the least
   * recently used key is evicted.
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
 * In-process store. State lives in typed-array columns indexed by a slot number (a Map from key to
 * slot), so a tracked key costs a Map entry, its string and 44 bytes of columns rather than an
 * object per key. Every decision is synchronous and exact per SEMANTICS.md.
 *
 * @example
 * const limiter = createLimiter({ algorithm: fixedWindow({ limit: 10, windowMs: 1000 }),
 *                                 store: new MemoryStore({ maxKeys: 100_000 }) })
 */
export class MemoryStore implements Store {
  readonly maxKeys: number
  private readonly clock: Clock
  private readonly slots = new Map<string, number>()
  private keys: Array<string | undefined> = []
  // Per-slot state; meaning depends on the algorithm (see decideAt).
  private a = new Float64Array(0)
  private b = new Float64Array(0)
  private c = new Float64Array(0)
  /** Clock ms at which the slot's state stops mattering (SEMANTICS.md "Keys and expiry"). */
  private exp = new Float64Array(0)
  private logs: Array<number[] | undefined> = []
  // Doubly linked LRU list over slots: head = most recently used.
  private prev = new Int32Array(0)
  private next = new Int32Array(0)
  private head = NONE
  private tail = NONE
  private freeSlots: number[] = []
  private used = 0
  /** Lower bound of the smallest `exp` among live slots: no sweep can reclaim anything before it. */
  private minExp = Number.POSITIVE_INFINITY
  private timer: NodeJS.Timeout | undefined

  constructor(options: MemoryStoreOptions = {}) {
    const o = requireObject('MemoryStore', options)
    rejectUnknownOptions('MemoryStore', o, ['maxKeys', 'clock'])
    this.maxKeys = o.maxKeys === undefined ? 1_000_000 : positiveInteger('maxKeys', o.maxKeys)
    this.clock = optionalFunction<Clock>('clock', o.clock) ?? Date.now
  }

  /** Number of keys currently tracked (expired ones included until reclaimed). */
  get size(): number {
    return this.slots.size
  }

  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision> {
    try {
      return Promise.resolve(this.decideNow(key, algorithm, cost))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  reset(key: string, _algorithm?: Algorithm): Promise<void> {
    const slot = this.slots.get(key)
    if (slot !== undefined) this.release(slot)
    return Promise.resolve()
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.slots.clear()
    this.keys = []
    this.logs = []
    this.freeSlots = []
    this.head = this.tail = NONE
    this.used = 0
    this.minExp = Number.POSITIVE_INFINITY
    this.a = this.b = this.c = this.exp = new Float64Array(0)
    this.prev = this.next = new Int32Array(0)
    return Promise.resolve()
  }

  /**
   * The synchronous decision, for callers that can skip a promise (the limiter's hot path).
   * @internal
   */
  decideNow(key: string, algorithm: Algorithm, cost: number): Decision {
    const now = this.clock()
    if (!Number.isSafeInteger(now)) {
      throw new TollgateTypeError(
        `clock must return integer epoch milliseconds, got ${describeValue(now)}`,
      )
    }
    let slot = this.slots.get(key)
    if (slot !== undefined && this.exp[slot]! <= now) {
      // Expired state is the same as no state; reuse the slot.
      this.clearState(slot)
    }
    switch (algorithm.kind) {
      case 'fixedWindow': {
        const { limit, windowMs } = algorithm
        const i = Math.floor(now / windowMs)
        const end = (i + 1) * windowMs
        const count =
          slot !== undefined && this.a[slot] === i && this.exp[slot]! > 0 ? this.b[slot]! : 0
        if (count + cost <= limit) {
          const after = count + cost
          slot ??= this.allocate(key, now)
          this.a[slot] = i
          this.b[slot] = after
          this.setExp(slot, end)
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
          remaining: limit - count,
          resetMs: count > 0 ? end - now : 0,
          retryAfterMs: end - now,
        }
      }
      case 'slidingWindow': {
        const { limit: L, windowMs: W } = algorithm
        const i = Math.floor(now / W)
        const start = i * W
        const e = now - start
        let curr = 0
        let prev = 0
        if (slot !== undefined && this.exp[slot]! > 0) {
          const si = this.a[slot]!
          if (si === i) {
            curr = this.b[slot]!
            prev = this.c[slot]!
          } else if (si === i - 1) {
            prev = this.b[slot]!
          }
        }
        const used = prev * (W - e) + curr * W
        if (used + cost * W <= L * W) {
          curr += cost
          const usedAfter = used + cost * W
          slot ??= this.allocate(key, now)
          this.a[slot] = i
          this.b[slot] = curr
          this.c[slot] = prev
          this.setExp(slot, start + 2 * W)
          this.touch(slot)
          return {
            allowed: true,
            limit: L,
            remaining: Math.max(0, Math.floor((L * W - usedAfter) / W)),
            resetMs: start + 2 * W - now,
            retryAfterMs: 0,
          }
        }
        if (slot !== undefined) this.touch(slot)
        const free = L - curr - cost
        let retryAfterMs: number
        if (free >= 0 && prev > 0) {
          retryAfterMs = W - Math.floor((free * W) / prev) - e
        } else {
          retryAfterMs =
            start + W - now + (curr > 0 ? Math.max(0, W - Math.floor(((L - cost) * W) / curr)) : 0)
        }
        return {
          allowed: false,
          limit: L,
          remaining: Math.max(0, Math.floor((L * W - used) / W)),
          resetMs: curr > 0 ? start + 2 * W - now : prev > 0 ? start + W - now : 0,
          retryAfterMs,
        }
      }
      case 'slidingLog': {
        const { limit: L, windowMs: W } = algorithm
        let log = slot !== undefined ? this.logs[slot] : undefined
        let used = 0
        if (log !== undefined) {
          // Entries are [t0, cost0, t1, cost1, ...], oldest first; keep those with t > now - W.
          let drop = 0
          while (drop < log.length && log[drop]! <= now - W) drop += 2
          if (drop > 0) log.splice(0, drop)
          for (let k = 1; k < log.length; k += 2) used += log[k]!
        }
        if (used + cost <= L) {
          slot ??= this.allocate(key, now)
          if (log === undefined) {
            log = []
            this.logs[slot] = log
          }
          log.push(now, cost)
          this.setExp(slot, now + W)
          this.touch(slot)
          return {
            allowed: true,
            limit: L,
            remaining: L - used - cost,
            resetMs: W,
            retryAfterMs: 0,
          }
        }
        if (slot !== undefined) this.touch(slot)
        // Denied: the oldest entries leave first; find the first whose departure makes room.
        let left = used
        let retryAfterMs = 0
        for (let k = 0; log !== undefined && k < log.length; k += 2) {
          left -= log[k + 1]!
          if (left + cost <= L) {
            retryAfterMs = log[k]! + W - now
            break
          }
        }
        const newest = log !== undefined && log.length > 0 ? log[log.length - 2]! : undefined
        return {
          allowed: false,
          limit: L,
          remaining: L - used,
          resetMs: newest === undefined ? 0 : newest + W - now,
          retryAfterMs,
        }
      }
      case 'tokenBucket': {
        const { capacity: C, refillRate: R, refillIntervalMs: I } = algorithm
        const full = C * I
        let units = full
        if (slot !== undefined && this.exp[slot]! > 0) {
          // A clock that steps back refills nothing rather than draining the bucket.
          units = Math.min(full, this.a[slot]! + Math.max(0, now - this.b[slot]!) * R)
        }
        const need = cost * I
        const allowed = units >= need
        if (allowed) units -= need
        const resetMs = Math.ceil((full - units) / R)
        if (allowed) {
          // units < full here: an admitted request always takes at least one token's units.
          slot ??= this.allocate(key, now)
          this.a[slot] = units
          this.b[slot] = now
          this.setExp(slot, now + resetMs)
          this.touch(slot)
        } else if (slot !== undefined) {
          // A denial writes nothing (as the Lua script): the stored state refills to the same
          // balance later, and a clock that stepped back cannot re-grant refill already counted.
          this.touch(slot)
        }
        return {
          allowed,
          limit: C,
          remaining: Math.floor(units / I),
          resetMs,
          retryAfterMs: allowed ? 0 : Math.ceil((need - units) / R),
        }
      }
      default:
        return assertNever(algorithm)
    }
  }

  private setExp(slot: number, at: number): void {
    this.exp[slot] = at
    if (at < this.minExp) this.minExp = at
  }

  private clearState(slot: number): void {
    this.exp[slot] = 0
    this.a[slot] = this.b[slot] = this.c[slot] = 0
    this.logs[slot] = undefined
  }

  private allocate(key: string, now: number): number {
    if (this.slots.size >= this.maxKeys) {
      if (now >= this.minExp) this.sweep(now)
      if (this.slots.size >= this.maxKeys) this.release(this.tail)
    }
    let slot = this.freeSlots.pop()
    if (slot === undefined) {
      slot = this.used++
      if (slot >= this.exp.length) this.grow()
    }
    this.slots.set(key, slot)
    this.keys[slot] = key
    this.clearState(slot)
    this.prev[slot] = NONE
    this.next[slot] = this.head
    if (this.head !== NONE) this.prev[this.head] = slot
    this.head = slot
    if (this.tail === NONE) this.tail = slot
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(this.clock()), SWEEP_INTERVAL_MS)
      this.timer.unref()
    }
    return slot
  }

  private grow(): void {
    const size = Math.min(this.maxKeys, Math.max(1024, this.exp.length * 2))
    const widen = (old: Float64Array) => {
      const wider = new Float64Array(size)
      wider.set(old)
      return wider
    }
    const widenInt = (old: Int32Array) => {
      const wider = new Int32Array(size)
      wider.set(old)
      return wider
    }
    this.a = widen(this.a)
    this.b = widen(this.b)
    this.c = widen(this.c)
    this.exp = widen(this.exp)
    this.prev = widenInt(this.prev)
    this.next = widenInt(this.next)
  }

  /** Moves a slot to the head of the LRU list. */
  private touch(slot: number): void {
    if (this.head === slot) return
    const p = this.prev[slot]!
    const n = this.next[slot]!
    if (p !== NONE) this.next[p] = n
    if (n !== NONE) this.prev[n] = p
    if (this.tail === slot) this.tail = p
    this.prev[slot] = NONE
    this.next[slot] = this.head
    if (this.head !== NONE) this.prev[this.head] = slot
    this.head = slot
  }

  private release(slot: number): void {
    const key = this.keys[slot]
    if (key === undefined) return
    this.slots.delete(key)
    this.keys[slot] = undefined
    this.clearState(slot)
    const p = this.prev[slot]!
    const n = this.next[slot]!
    if (p !== NONE) this.next[p] = n
    else this.head = n
    if (n !== NONE) this.prev[n] = p
    else this.tail = p
    this.freeSlots.push(slot)
  }

  /** Reclaims every expired slot and recomputes the lower bound of live expiries. */
  private sweep(now: number): void {
    let min = Number.POSITIVE_INFINITY
    for (let slot = 0; slot < this.used; slot++) {
      if (this.keys[slot] === undefined) continue
      const at = this.exp[slot]!
      if (at <= now) this.release(slot)
      else if (at < min) min = at
    }
    this.minExp = min
  }
}
