import { rejectUnknownOptions, requireObject } from '../options.js'
import { brand } from './brand.js'
import { countOption, windowOption } from './limits.js'

/** Options of {@link fixedWindow}. */
export interface FixedWindowOptions {
  /** Requests (cost units) admitted per window. A positive integer. */
  limit: number
  /** Window length in milliseconds (at most 366 days); windows are aligned to multiples of it on the store's clock. */
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
  return makeFixedWindow(o)
}

/** Validates the fields and returns a frozen, branded value. @internal */
export function makeFixedWindow(o: Record<string, unknown>): FixedWindow {
  return brand(
    Object.freeze({
      kind: 'fixedWindow',
      limit: countOption('limit', o.limit),
      windowMs: windowOption('windowMs', o.windowMs),
    }),
  )
}
