import {
  assertExactProduct,
  positiveInteger,
  rejectUnknownOptions,
  requireObject,
} from '../options.js'

/** Options of {@link slidingWindow}. */
export interface SlidingWindowOptions {
  /** Requests (cost units) admitted per sliding window. A positive integer. */
  limit: number
  /** Window length in milliseconds. */
  windowMs: number
}

/** A sliding-window-counter algorithm value, interpreted by stores. */
export interface SlidingWindow {
  readonly kind: 'slidingWindow'
  readonly limit: number
  readonly windowMs: number
}

/**
 * Sliding window counter: the current window's count plus the previous window's, weighted by how
 * much of it still overlaps the sliding window. Two integers of state per key.
 *
 * @example
 * const algorithm = slidingWindow({ limit: 5, windowMs: 60_000 })
 */
export function slidingWindow(options: SlidingWindowOptions): SlidingWindow {
  const o = requireObject('slidingWindow()', options)
  rejectUnknownOptions('slidingWindow()', o, ['limit', 'windowMs'])
  const limit = positiveInteger('limit', o.limit)
  const windowMs = positiveInteger('windowMs', o.windowMs)
  // The weighted count is compared scaled by windowMs; keep it exact in a double (and in Lua).
  assertExactProduct('2 * limit * windowMs', 2 * limit, windowMs)
  return Object.freeze({ kind: 'slidingWindow', limit, windowMs })
}
