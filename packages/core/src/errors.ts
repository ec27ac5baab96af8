/**
 * Error codes thrown by tollgate. Every code is listed in the core README.
 * - `ERR_TOLLGATE_INVALID_OPTION`: an option has the wrong type or value (a TypeError/RangeError
 *   carries the same code).
 * - `ERR_TOLLGATE_UNKNOWN_OPTION`: an option name tollgate does not know (a typo such as windowMS).
 * - `ERR_TOLLGATE_STORE_TIMEOUT`: a store call took longer than `failure.timeoutMs`.
 * - `ERR_TOLLGATE_STORE_REPLY`: a store answered something that is not a decision.
 */
export type TollgateErrorCode =
  | 'ERR_TOLLGATE_INVALID_OPTION'
  | 'ERR_TOLLGATE_UNKNOWN_OPTION'
  | 'ERR_TOLLGATE_STORE_TIMEOUT'
  | 'ERR_TOLLGATE_STORE_REPLY'
  // @tollgate/session's codes: one vocabulary for every package (docs/errors.md).
  | 'ERR_TOLLGATE_SESSION_TIMEOUT'
  | 'ERR_TOLLGATE_SESSION_PARSE'
  | 'ERR_TOLLGATE_SESSION_HOOK'
  | 'ERR_TOLLGATE_SESSION_CONFLICT'
  | 'ERR_TOLLGATE_SESSION_CLUSTER'
  | 'ERR_TOLLGATE_SESSION_NO_USER_KEY'
  | 'ERR_TOLLGATE_SESSION_VALUE'
  | 'ERR_TOLLGATE_SESSION_CALLBACK'
  | 'ERR_TOLLGATE_SESSION_CLIENT'

/** A runtime error raised by tollgate itself, with a stable `code`. */
export class TollgateError extends Error {
  readonly code: TollgateErrorCode
  constructor(code: TollgateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TollgateError'
    this.code = code
  }
}

/** A configuration value of the wrong type (for example a string where a number belongs). */
export class TollgateTypeError extends TypeError {
  readonly code: TollgateErrorCode
  constructor(message: string, code: TollgateErrorCode = 'ERR_TOLLGATE_INVALID_OPTION') {
    super(`tollgate: ${message}`)
    this.name = 'TypeError'
    this.code = code
  }
}

/** A configuration value of the right type but outside its range (0, negative, fractional...). */
export class TollgateRangeError extends RangeError {
  readonly code: TollgateErrorCode = 'ERR_TOLLGATE_INVALID_OPTION'
  constructor(message: string) {
    super(`tollgate: ${message}`)
    this.name = 'RangeError'
  }
}

/** Formats a received value for an error message: strings quoted, everything else as written. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  return 'an object'
}
