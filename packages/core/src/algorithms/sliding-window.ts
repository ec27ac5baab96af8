import { assertExactProduct, rejectUnknownOptions, requireObject } from '../options.js'
import { brand } from './brand.js'
import { countOption, windowOption } from './limits.js'

/** Options of {@link slidingWindow}. */
export interface SlidingWindowOptions {
  /** Requests (cost units) admitted per sliding window. A positive integer. */
  limit: number
  /** Window length in milliseconds (at most 366 days). */
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
  return makeSlidingWindow(o)
}

/** Validates the fields and returns a frozen, branded value. @internal */
export function makeSlidingWindow(o: Record<string, unknown>): SlidingWindow {
  const limit = countOption('limit', o.limit)
  const windowMs = windowOption('windowMs', o.windowMs)
  // The weighted count is compared scaled by windowMs; keep it exact in a double (and in Lua).
  assertExactProduct('2 * limit * windowMs', 2 * limit, windowMs)
  return brand(Object.freeze({ kind: 'slidingWindow', limit, windowMs }))
}
