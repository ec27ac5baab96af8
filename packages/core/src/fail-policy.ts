import { type Algorithm, algorithmLimit } from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateError, TollgateRangeError, TollgateTypeError } from './errors.js'
import {
  boundedInteger,
  MAX_TIMER_MS,
  nonNegativeNumber,
  rejectUnknownOptions,
  requireObject,
} from './options.js'

/** What a limiter answers when its store fails, times out, or the breaker is open. */
export type FailureMode = 'open' | 'local' | 'closed'

/** Options of the fail policy (`failure` of createLimiter and both adapters). */
export interface FailureOptions {
  /**
   * `open` admits (marked degraded), `local` decides from an in-process MemoryStore with the same
   * algorithm (marked degraded), `closed` denies (adapters answer 503).
   * @default 'open'
   */
  mode?: FailureMode
  /** A store call slower than this many milliseconds counts as failed. @default 100 */
  timeoutMs?: number
  /**
   * Circuit breaker: after `failures` consecutive failed calls, stop calling the store for
   * `cooldownMs` milliseconds, then let one call probe it. `false` disables it.
   * @default { failures: 5, cooldownMs: 1000 }
   */
  breaker?: { failures?: number; cooldownMs?: number } | false
}

/** The parsed fail policy. */
export interface ResolvedFailure {
  readonly mode: FailureMode
  readonly timeoutMs: number
  readonly breaker: { readonly failures: number; readonly cooldownMs: number } | false
}

export function parseFailure(value: unknown): ResolvedFailure {
  if (value === undefined) return DEFAULT_FAILURE
  const o = requireObject('failure', value)
  rejectUnknownOptions('failure', o, ['mode', 'timeoutMs', 'breaker'])
  const mode = o.mode ?? 'open'
  if (mode !== 'open' && mode !== 'local' && mode !== 'closed') {
    throw new TollgateTypeError(
      `failure.mode must be 'open', 'local' or 'closed', got ${describeValue(mode)}`,
    )
  }
  // Node clamps a timer of 2^31 ms or more to 1 ms: a larger timeout would re-arm every ms.
  const timeoutMs =
    o.timeoutMs === undefined ? 100 : boundedInteger('failure.timeoutMs', o.timeoutMs, MAX_TIMER_MS)
  let breaker: ResolvedFailure['breaker'] = DEFAULT_FAILURE.breaker
  if (o.breaker === false) breaker = false
  else if (o.breaker !== undefined) {
    const b = requireObject('failure.breaker', o.breaker)
    rejectUnknownOptions('failure.breaker', b, ['failures', 'cooldownMs'])
    breaker = Object.freeze({
      failures:
        b.failures === undefined
          ? 5
          : boundedInteger('failure.breaker.failures', b.failures, MAX_BREAKER_FAILURES),
      cooldownMs: b.cooldownMs === undefined ? 1000 : cooldownOption(b.cooldownMs),
    })
  }
  return Object.freeze({ mode, timeoutMs, breaker })
}

/** The most consecutive failures a breaker may wait for. */
export const MAX_BREAKER_FAILURES = 1_000_000

/** A cooldown: 0 to 2^31 - 1 ms (it becomes a Retry-After, and a longer one is no cooldown). */
function cooldownOption(value: unknown): number {
  const ms = nonNegativeNumber('failure.breaker.cooldownMs', value)
  if (ms > MAX_TIMER_MS) {
    throw new TollgateRangeError(
      `failure.breaker.cooldownMs must be a non-negative number no larger than ${MAX_TIMER_MS}, got ${describeValue(value)}`,
    )
  }
  return ms
}

const DEFAULT_FAILURE: ResolvedFailure = Object.freeze({
  mode: 'open',
  timeoutMs: 100,
  breaker: Object.freeze({ failures: 5, cooldownMs: 1000 }),
})

/**
 * Circuit breaker state. `failures` counts consecutive failed store calls; a success resets it.
 * Open: calls are answered at once without the store. After the cooldown one call probes; its
 * outcome closes or reopens the breaker.
 */
export class Breaker {
  private consecutive = 0
  private openUntil = 0
  private probing = false

  constructor(
    private readonly config: ResolvedFailure['breaker'],
    private readonly now: () => number = Date.now,
    /** Told every transition (the limiter publishes it on `tollgate:breaker`). */
    private readonly changed?: (state: 'open' | 'half-open' | 'closed') => void,
  ) {}

  /** Whether the store may be called now; marks the call as the probe when half-open. */
  admit(): boolean {
    if (this.config === false || this.openUntil === 0) return true
    if (this.now() < this.openUntil || this.probing) return false
    this.probing = true
    this.changed?.('half-open')
    return true
  }

  /** True while calls are answered without the store (cooldown, or a probe in flight). */
  get isOpen(): boolean {
    return this.config !== false && this.openUntil !== 0
  }

  success(): void {
    this.consecutive = 0
    if (this.openUntil !== 0) {
      this.openUntil = 0
      this.probing = false
      this.changed?.('closed')
    }
  }

  failure(): void {
    if (this.config === false) return
    this.consecutive++
    if (this.probing || this.consecutive >= this.config.failures) {
      const wasOpen = this.openUntil !== 0 && !this.probing
      this.openUntil = this.now() + this.config.cooldownMs
      this.probing = false
      // A failure while already open (a late answer) restarts the cooldown, not a transition.
      if (!wasOpen) this.changed?.('open')
    }
  }
}

/** The degraded decision of modes `open` and `closed` (mode `local` asks its MemoryStore). */
export function degradedDecision(algorithm: Algorithm, failure: ResolvedFailure): Decision {
  const limit = algorithmLimit(algorithm)
  if (failure.mode === 'closed') {
    const retryAfterMs = failure.breaker === false ? 1000 : Math.max(1, failure.breaker.cooldownMs)
    return {
      allowed: false,
      limit,
      remaining: 0,
      resetMs: retryAfterMs,
      retryAfterMs,
      degraded: true,
    }
  }
  return { allowed: true, limit, remaining: limit, resetMs: 0, retryAfterMs: 0, degraded: true }
}

export function timeoutError(timeoutMs: number): TollgateError {
  return new TollgateError(
    'ERR_TOLLGATE_STORE_TIMEOUT',
    `tollgate: store did not answer within failure.timeoutMs (${timeoutMs} ms)`,
  )
}
