import { rejectUnknownOptions, requireObject } from '../options.js'
import { brand } from './brand.js'
import { countOption, windowOption } from './limits.js'

/** Options of {@link slidingLog}. */
export interface SlidingLogOptions {
  /** Requests (cost units) admitted in any `windowMs` span. A positive integer. */
  limit: number
  /** Window length in milliseconds (at most 366 days). */
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
  return makeSlidingLog(o)
}

/** Validates the fields and returns a frozen, branded value. @internal */
export function makeSlidingLog(o: Record<string, unknown>): SlidingLog {
  return brand(
    Object.freeze({
      kind: 'slidingLog',
      limit: countOption('limit', o.limit),
      windowMs: windowOption('windowMs', o.windowMs),
    }),
  )
}
