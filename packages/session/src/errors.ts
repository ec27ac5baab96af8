import {
  describeValue,
  type TollgateErrorCode,
  TollgateRangeError,
  TollgateTypeError,
} from '@tollgate/core'

/**
 * Error codes raised by @tollgate/session (listed in the package README):
 * - `ERR_TOLLGATE_INVALID_OPTION`: an option has the wrong type (TypeError) or value (RangeError).
 * - `ERR_TOLLGATE_UNKNOWN_OPTION`: an option name the store does not know (a typo such as `ttL`).
 * - `ERR_TOLLGATE_SESSION_TIMEOUT`: a Redis command took longer than `timeoutMs`.
 * - `ERR_TOLLGATE_SESSION_PARSE`: a stored value did not parse into a session object.
 * - `ERR_TOLLGATE_SESSION_HOOK`: `serializer.stringify`, `ttl()` or `userKey()` returned something
 *   unusable (a function that throws passes its own error through instead).
 * - `ERR_TOLLGATE_SESSION_CONFLICT`: `destroyUser` could not delete a session that kept changing.
 * - `ERR_TOLLGATE_SESSION_CLUSTER`: a Cluster client knows no master node to SCAN.
 * - `ERR_TOLLGATE_SESSION_NO_USER_KEY`: `destroyUser`/`userSessions` called without `userKey`.
 * - `ERR_TOLLGATE_SESSION_VALUE`: a method got a session id or a session of the wrong kind
 *   (`set(sid, null)`); nothing is stored.
 * - `ERR_TOLLGATE_SESSION_CALLBACK`: a callback given to the store threw; the error (its `cause`)
 *   is reported on the store's `error` event, else as a process warning, never thrown again.
 * - `ERR_TOLLGATE_SESSION_CLIENT`: the client cannot take commands (a node-redis client that is
 *   not connected).
 */
/** The codes of TollgateErrorCode that @tollgate/session raises (listed above). */
export type SessionErrorCode = Extract<
  TollgateErrorCode,
  | 'ERR_TOLLGATE_INVALID_OPTION'
  | 'ERR_TOLLGATE_UNKNOWN_OPTION'
  | 'ERR_TOLLGATE_SESSION_TIMEOUT'
  | 'ERR_TOLLGATE_SESSION_PARSE'
  | 'ERR_TOLLGATE_SESSION_HOOK'
  | 'ERR_TOLLGATE_SESSION_CONFLICT'
  | 'ERR_TOLLGATE_SESSION_CLUSTER'
  | 'ERR_TOLLGATE_SESSION_NO_USER_KEY'
  | 'ERR_TOLLGATE_SESSION_VALUE'
  | 'ERR_TOLLGATE_SESSION_CALLBACK'
  | 'ERR_TOLLGATE_SESSION_CLIENT'
>

/** A runtime failure of the session store with a stable `code`; the Redis error, if any, is `cause`. */
export class SessionStoreError extends Error {
  readonly code: SessionErrorCode
  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(`tollgate: ${message}`, options)
    this.name = 'SessionStoreError'
    this.code = code
  }
}

/**
 * An option (or a method argument) of the wrong type, or an unknown option name: core's
 * TollgateTypeError, so tollgate has one error vocabulary (`instanceof TollgateTypeError` and
 * `code` work alike in every package).
 */
export class SessionOptionTypeError extends TollgateTypeError {
  declare readonly code: SessionErrorCode
  constructor(message: string, code: SessionErrorCode = 'ERR_TOLLGATE_INVALID_OPTION') {
    super(message, code)
  }
}

/** An option of the right type but outside its range: core's TollgateRangeError. */
export class SessionOptionRangeError extends TollgateRangeError {}

/** Formats a received value for an error message (core's, so every message reads alike). */
export { describeValue }
