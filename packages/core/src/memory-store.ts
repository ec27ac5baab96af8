import { type Algorithm, assertNever } from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateError, TollgateTypeError } from './errors.js'
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
/** Numbers of state per slot: the expiry, then A and B (their meaning depends on the algorithm). */
const STRIDE = 3

/**
 * In-process store. A Map from key to slot number, and per slot three doubles of state and two
 * LRU links in typed arrays, interleaved so a decision touches one cache line of each: a tracked
 * key costs its Map entry, its string and 32 bytes, no object per key. Every decision is
 * synchronous and exact per docs/semantics.md.
 *
 * @example
 * const limiter = createLimiter({ algorithm: fixedWindow({ limit: 10, windowMs: 1000 }),
 *                                 store: new MemoryStore({ maxKeys: 100_000 }) })
 */
export class MemoryStore implements Store {
  readonly maxKeys: number
  /** The clock decisions are made on (integer epoch ms): `Date.now` unless one was injected. */
  readonly clock: Clock
  private readonly slots = new Map<string, number>()
  private keys: Array<string | undefined> = []
  /**
   * At `slot * 3`: the clock ms at which the slot's state stops mattering (docs/semantics.md "Keys
   * and expiry"; 0 = no state), then the algorithm's numbers A and B (see decideNow). The expiry
   * doubles as the window identity of the window algorithms.
   */
  private st = new Float64Array(0)
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
    if (slot !== undefined) this.releaseSlot(slot)
    return Promise.resolve()
  }

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

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.slots.clear()
    this.keys = []
    this.logs = []
    this.freeSlots = []
    this.head = this.tail = NONE
    this.used = 0
    this.capacity = 0
    this.minExp = Number.POSITIVE_INFINITY
    this.st = new Float64Array(0)
    this.links = new Int32Array(0)
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
    const st = this.st
    let slot = this.slots.get(key)
    // `base` indexes the slot's state; -1 when the key has no live state (absent or expired).
    let base = NONE
    if (slot !== undefined) {
      base = slot * STRIDE
      if (st[base]! <= now) {
        // Expired state is the same as no state; the slot is reused.
        this.clearState(slot)
        base = NONE
      }
    }
    switch (algorithm.kind) {
      case 'fixedWindow': {
        // A = count; the state belongs to this window iff it expires at this window's end.
        const { limit, windowMs } = algorithm
        const i = Math.floor(now / windowMs)
        const end = (i + 1) * windowMs
        const count = base !== NONE && st[base] === end ? st[base + 1]! : 0
        if (count + cost <= limit) {
          const after = count + cost
          slot ??= this.allocate(key, now)
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
          remaining: limit - count,
          resetMs: count > 0 ? end - now : 0,
          retryAfterMs: end - now,
        }
      }
      case 'slidingWindow': {
        // A = the count of the state's window, B = the count of the window before it; the
        // state's window is the one whose state expires (start + 2W) at the stored expiry.
        const { limit: L, windowMs: W } = algorithm
        const i = Math.floor(now / W)
        const start = i * W
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
          curr += cost
          const usedAfter = used + cost * W
          slot ??= this.allocate(key, now)
          const at = slot * STRIDE
          this.setExp(at, start + 2 * W)
          this.st[at + 1] = curr
          this.st[at + 2] = prev
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
        // A = sum of the live entries' costs; the newest entry's t is the expiry - W. One entry
        // lives inline (B = its cost); from the second distinct millisecond on, entries live in
        // logs[slot] as [t0, cost0, t1, cost1, ...], oldest first, and B = the first live index.
        const { limit: L, windowMs: W } = algorithm
        const log = base !== NONE ? this.logs[slot!] : undefined
        let used = 0
        let head = 0
        if (log !== undefined) {
          used = st[base + 1]!
          head = st[base + 2]!
          const before = head
          while (log[head]! <= now - W) {
            used -= log[head + 1]!
            head += 2
          }
          if (head !== before) {
            if (head > 64 && head * 2 > log.length) {
              // Compact now and then: each entry is copied O(1) times on average.
              log.copyWithin(0, head)
              log.length -= head
              head = 0
            }
            st[base + 1] = used
            st[base + 2] = head
          }
        } else if (base !== NONE) {
          // The inline entry is live: it is the newest, and the state expires with it.
          used = st[base + 1]!
        }
        if (used + cost <= L) {
          slot ??= this.allocate(key, now)
          // allocate() may have grown (replaced) the state array.
          const sa = this.st
          const at = slot * STRIDE
          if (log !== undefined) {
            // Requests in the same millisecond share one entry.
            if (log[log.length - 2] === now) log[log.length - 1]! += cost
            else log.push(now, cost)
          } else if (base === NONE) {
            sa[at + 2] = cost
          } else if (sa[at]! - W === now) {
            sa[at + 2]! += cost
          } else {
            this.logs[slot] = [sa[at]! - W, sa[at + 2]!, now, cost]
            sa[at + 2] = 0
          }
          sa[at + 1] = used + cost
          this.setExp(at, now + W)
          this.touch(slot)
          return {
            allowed: true,
            limit: L,
            remaining: L - used - cost,
            resetMs: W,
            retryAfterMs: 0,
          }
        }
        // Denied (so the key has state): the oldest entries leave first; the first whose
        // departure makes room gives the wait.
        this.touch(slot!)
        const newest = st[base]! - W
        let retryAfterMs = newest + W - now
        if (log !== undefined) {
          let left = used
          for (let k = head; k < log.length; k += 2) {
            left -= log[k + 1]!
            if (left + cost <= L) {
              retryAfterMs = log[k]! + W - now
              break
            }
          }
        }
        // (One inline entry: once it leaves, the log is empty and any cost <= limit fits.)
        return {
          allowed: false,
          limit: L,
          remaining: L - used,
          resetMs: newest + W - now,
          retryAfterMs,
        }
      }
      case 'tokenBucket': {
        // A = balance in units of 1/I token, B = clock ms of the last admitted request
        const { capacity: C, refillRate: R, refillIntervalMs: I } = algorithm
        const full = C * I
        let units = full
        if (base !== NONE) {
          // A clock that steps back refills nothing rather than draining the bucket.
          units = Math.min(full, st[base + 1]! + Math.max(0, now - st[base + 2]!) * R)
        }
        const need = cost * I
        const allowed = units >= need
        if (allowed) units -= need
        const resetMs = Math.ceil((full - units) / R)
        if (allowed) {
          // units < full here: an admitted request always takes at least one token's units.
          slot ??= this.allocate(key, now)
          const at = slot * STRIDE
          this.setExp(at, now + resetMs)
          this.st[at + 1] = units
          this.st[at + 2] = now
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
      case 'concurrency':
      case 'compound':
        throw new TollgateError(
          'ERR_TOLLGATE_STORE_REPLY',
          `tollgate: MemoryStore does not implement ${algorithm.kind} yet`,
        )
      default:
        return assertNever(algorithm)
    }
  }

  private setExp(at: number, expiresAt: number): void {
    this.st[at] = expiresAt
    if (expiresAt < this.minExp) this.minExp = expiresAt
  }

  private clearState(slot: number): void {
    this.st.fill(0, slot * STRIDE, slot * STRIDE + STRIDE)
    this.logs[slot] = undefined
  }

  private allocate(key: string, now: number): number {
    if (this.slots.size >= this.maxKeys) {
      if (now >= this.minExp) this.sweep(now)
      if (this.slots.size >= this.maxKeys) this.releaseSlot(this.tail)
    }
    let slot = this.freeSlots.pop()
    if (slot === undefined) {
      slot = this.used++
      if (slot >= this.capacity) this.grow()
    }
    this.slots.set(key, slot)
    this.keys[slot] = key
    this.clearState(slot)
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

  private grow(): void {
    const capacity = Math.min(this.maxKeys, Math.max(1024, this.capacity * 2))
    const st = new Float64Array(capacity * STRIDE)
    st.set(this.st)
    const links = new Int32Array(capacity * 2)
    links.set(this.links)
    this.st = st
    this.links = links
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
    this.slots.delete(key)
    this.keys[slot] = undefined
    this.clearState(slot)
    const links = this.links
    const p = links[2 * slot]!
    const n = links[2 * slot + 1]!
    if (p !== NONE) links[2 * p + 1] = n
    else this.head = n
    if (n !== NONE) links[2 * n] = p
    else this.tail = p
    this.freeSlots.push(slot)
  }

  /** Reclaims every expired slot and recomputes the lower bound of live expiries. */
  private sweep(now: number): void {
    let min = Number.POSITIVE_INFINITY
    const st = this.st
    for (let slot = 0; slot < this.used; slot++) {
      if (this.keys[slot] === undefined) continue
      const expiresAt = st[slot * STRIDE]!
      if (expiresAt <= now) this.releaseSlot(slot)
      else if (expiresAt < min) min = expiresAt
    }
    this.minExp = min
  }
}

function notYet(method: string): TollgateError {
  return new TollgateError(
    'ERR_TOLLGATE_STORE_REPLY',
    `tollgate: MemoryStore.${method} is not implemented yet`,
  )
}
