import { boundedInteger, MAX_TIMER_MS, rejectUnknownOptions, requireObject } from '../options.js'
import { brand } from './brand.js'
import { countOption } from './limits.js'

/** Options of {@link concurrency}. */
export interface ConcurrencyOptions {
  /** Most cost units in flight per key at once, across every process sharing the store. A positive integer. */
  limit: number
  /**
   * Milliseconds after which a lease that was never released (a crashed process) expires and
   * frees its slot. A positive integer up to 2^31 - 1.
   * @default 60_000
   */
  leaseMs?: number
}

/** A concurrency algorithm value (requests in flight), interpreted by stores. */
export interface Concurrency {
  readonly kind: 'concurrency'
  readonly limit: number
  readonly leaseMs: number
}

/**
 * Concurrency: at most `limit` cost units in flight per key. An admitted Decision carries a
 * `lease`; `limiter.release(key, lease)` frees it, and an unreleased lease expires after `leaseMs`.
 *
 * @example
 * const algorithm = concurrency({ limit: 2, leaseMs: 30_000 })
 * const d = await limiter.limit(user)
 * if (d.allowed) try { await upload() } finally { await limiter.release(user, d.lease!) }
 */
export function concurrency(options: ConcurrencyOptions): Concurrency {
  const o = requireObject('concurrency()', options)
  rejectUnknownOptions('concurrency()', o, ['limit', 'leaseMs'])
  return makeConcurrency(o, o.leaseMs === undefined ? 60_000 : o.leaseMs)
}

/** Validates the fields and returns a frozen, branded value. @internal */
export function makeConcurrency(o: Record<string, unknown>, leaseMs: unknown): Concurrency {
  return brand(
    Object.freeze({
      kind: 'concurrency',
      limit: countOption('limit', o.limit),
      leaseMs: boundedInteger('leaseMs', leaseMs, MAX_TIMER_MS),
    }),
  )
}
