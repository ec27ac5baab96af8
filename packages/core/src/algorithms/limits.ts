import { boundedInteger } from '../options.js'

/**
 * The longest window (and refill interval) an algorithm accepts: 366 days, so a yearly quota fits
 * and every `now + windowMs` stays far inside exact double (and Redis PEXPIRE) range.
 */
export const MAX_WINDOW_MS = 366 * 86_400_000

/** The most members a compound limit takes (each member is one more state per key). */
export const MAX_COMPOUND_MEMBERS = 16

/** A count (limit, capacity, refill rate): a positive safe integer. */
export function countOption(name: string, value: unknown): number {
  return boundedInteger(name, value, Number.MAX_SAFE_INTEGER)
}

/** A window or interval length in ms: a positive integer up to {@link MAX_WINDOW_MS}. */
export function windowOption(name: string, value: unknown): number {
  return boundedInteger(name, value, MAX_WINDOW_MS)
}
