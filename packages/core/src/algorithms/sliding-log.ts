import { positiveInteger, rejectUnknownOptions, requireObject } from '../options.js'

/** Options of {@link slidingLog}. */
export interface SlidingLogOptions {
  /** Requests (cost units) admitted in any `windowMs` span. A positive integer. */
  limit: number
  /** Window length in milliseconds. */
  windowMs: number
}

/** An exact sliding-log algorithm value, interpreted by stores. */
export interface SlidingLog {
  readonly kind: 'slidingLog'
  readonly limit: number
  readonly windowMs: number
}

/**
 * Sliding log: remembers every admitted request for `windowMs`, so the limit holds exactly over
 * any span of that length. Memory grows with the limit.
 *
 * @example
 * const algorithm = slidingLog({ limit: 10, windowMs: 1_000 })
 */
export function slidingLog(options: SlidingLogOptions): SlidingLog {
  const o = requireObject('slidingLog()', options)
  rejectUnknownOptions('slidingLog()', o, ['limit', 'windowMs'])
  return Object.freeze({
    kind: 'slidingLog',
    limit: positiveInteger('limit', o.limit),
    windowMs: positiveInteger('windowMs', o.windowMs),
  })
}
