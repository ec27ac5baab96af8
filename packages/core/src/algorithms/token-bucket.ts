import { assertExactProduct, rejectUnknownOptions, requireObject } from '../options.js'
import { brand } from './brand.js'
import { countOption, windowOption } from './limits.js'

/** Options of {@link tokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens the bucket holds (the burst). A positive integer. */
  capacity: number
  /** Tokens added every `refillIntervalMs`. A positive integer. */
  refillRate: number
  /** Milliseconds (at most 366 days) over which `refillRate` tokens are added, continuously. @default 1000 */
  refillIntervalMs?: number
}

/** A token-bucket algorithm value, interpreted by stores. */
export interface TokenBucket {
  readonly kind: 'tokenBucket'
  readonly capacity: number
  readonly refillRate: number
  readonly refillIntervalMs: number
}

/**
 * Token bucket: bursts up to `capacity`, refilled continuously at `refillRate` tokens per
 * `refillIntervalMs`, kept in integer units of 1/refillIntervalMs token so nothing drifts.
 *
 * @example
 * const algorithm = tokenBucket({ capacity: 20, refillRate: 5 }) // 5 tokens per second
 */
export function tokenBucket(options: TokenBucketOptions): TokenBucket {
  const o = requireObject('tokenBucket()', options)
  rejectUnknownOptions('tokenBucket()', o, ['capacity', 'refillRate', 'refillIntervalMs'])
  return makeTokenBucket(o, o.refillIntervalMs === undefined ? 1000 : o.refillIntervalMs)
}

/** Validates the fields and returns a frozen, branded value. @internal */
export function makeTokenBucket(o: Record<string, unknown>, interval: unknown): TokenBucket {
  const capacity = countOption('capacity', o.capacity)
  const refillRate = countOption('refillRate', o.refillRate)
  const refillIntervalMs = windowOption('refillIntervalMs', interval)
  // Tokens are counted in 1/refillIntervalMs units; the full bucket must stay an exact integer.
  assertExactProduct('capacity * refillIntervalMs', capacity, refillIntervalMs)
  return brand(Object.freeze({ kind: 'tokenBucket', capacity, refillRate, refillIntervalMs }))
}
