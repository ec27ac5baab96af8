import { positiveInteger, rejectUnknownOptions, requireObject } from '../options.js'

/** Options of {@link fixedWindow}. */
export interface FixedWindowOptions {
  /** Requests (cost units) admitted per window. A positive integer. */
  limit: number
  /** Window length in milliseconds; windows are aligned to multiples of it on the store's clock. */
  windowMs: number
}

/** A fixed-window algorithm value, interpreted by stores. */
export interface FixedWindow {
  readonly kind: 'fixedWindow'
  readonly limit: number
  readonly windowMs: number
}

/**
 * Fixed window: at most `limit` per epoch-aligned window of `windowMs`.
 *
 * @example
 * const algorithm = fixedWindow({ limit: 100, windowMs: 60_000 })
 */
export function fixedWindow(options: FixedWindowOptions): FixedWindow {
  const o = requireObject('fixedWindow()', options)
  rejectUnknownOptions('fixedWindow()', o, ['limit', 'windowMs'])
  return Object.freeze({
    kind: 'fixedWindow',
    limit: positiveInteger('limit', o.limit),
    windowMs: positiveInteger('windowMs', o.windowMs),
  })
}
