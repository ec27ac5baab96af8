import { type Connection, connection, type SessionRedisClient } from './client.js'
import {
  describeValue,
  SessionOptionRangeError as RangeErr,
  SessionOptionTypeError as TypeErr,
} from './errors.js'
import { SCRIPTS } from './scripts.js'
import type { SessionHook, SessionRecord } from './session-types.js'

/** Turns a session into text and back. Either function may return a promise. */
export interface SessionSerializer {
  /** Text read from Redis -> session object. Throwing (or rejecting) makes the read fail loudly. */
  parse(text: string): unknown
  /** Session object -> text written to Redis. */
  stringify(session: SessionRecord): string | Promise<string>
}

/** Options of {@link RedisSessionStore}. Unknown names throw a TypeError. */
export interface RedisSessionStoreOptions {
  /**
   * A node-redis v5 client (`createClient()` or `createCluster()`, connected, RESP2) or an
   * ioredis `Redis` or `Cluster`. The store never closes it: the caller owns it.
   */
  client: SessionRedisClient
  /**
   * Prepended to every session id to make its Redis key (`sess:<sid>`, as connect-redis writes).
   * Must not be empty: `clear()` deletes every string key that starts with it.
   * @default 'sess:'
   */
  prefix?: string
  /**
   * Lifetime in seconds of a session whose cookie has no expiry (a browser-session cookie), or a
   * function of the session giving it. A cookie with `expires`/`maxAge` always wins. At most
   * 2147483647 (2^31 - 1 seconds, about 68 years).
   * @default 86400 (one day)
   */
  ttl?: number | SessionHook<number>
  /**
   * When true, `touch` does nothing: a session's TTL is renewed only when it is written.
   * @default false
   */
  disableTouch?: boolean
  /**
   * When true, keys are written without expiry and `touch` does nothing; sessions then live until
   * destroyed (or until a read finds their cookie expired).
   * @default false
   */
  disableTTL?: boolean
  /**
   * How sessions are turned into text; `parse` and `stringify` may be async.
   * @default JSON
   */
  serializer?: SessionSerializer
  /**
   * The `COUNT` hint of each `SCAN` step in `all`, `ids`, `length` and `clear`.
   * @default 100
   */
  scanCount?: number
  /**
   * Seconds: a `touch` is skipped while the stored TTL is still within this many seconds of the
   * full TTL, which cuts writes on busy sites (0 touches every time).
   * @default 0
   */
  touchAfterSeconds?: number
  /**
   * Milliseconds a single Redis command may take before the operation fails with
   * `ERR_TOLLGATE_SESSION_TIMEOUT`, so a hung Redis gives an error instead of a hung request.
   * `false` disables the race (then set ioredis `commandTimeout`). At most 2147483647 (2^31 - 1).
   * @default 5000
   */
  timeoutMs?: number | false
  /**
   * Returns the user a session belongs to (or undefined for an anonymous session). When set, the
   * store keeps a per-user index so that `destroyUser(userId)` ends every session of that user.
   */
  userKey?: SessionHook<string | undefined>
}

/** The options after validation, with defaults applied. */
export interface ParsedOptions {
  client: SessionRedisClient
  connection: Connection
  prefix: string
  ttl: number | SessionHook<number>
  disableTouch: boolean
  disableTTL: boolean
  serializer: SessionSerializer
  scanCount: number
  touchAfterMs: number
  timeoutMs: number | false
  userKey: SessionHook<string | undefined> | undefined
}

const KNOWN = [
  'client',
  'prefix',
  'ttl',
  'disableTouch',
  'disableTTL',
  'serializer',
  'scanCount',
  'touchAfterSeconds',
  'timeoutMs',
  'userKey',
] as const

const WHERE = 'RedisSessionStore'

/** The longest timer Node keeps: a larger delay is clamped to 1 ms, so every call would time out. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1
/**
 * The longest session lifetime in seconds (about 68 years). Far below where Redis refuses an
 * expiry (`SET ... PX` past 2^63 ms) or JavaScript prints a number in exponent form.
 */
export const MAX_TTL_SECONDS = 2 ** 31 - 1
/** The largest SCAN COUNT hint accepted; more only makes one SCAN step block Redis longer. */
export const MAX_SCAN_COUNT = 1_000_000

export function parseOptions(input: unknown): ParsedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeErr(`${WHERE} expects an options object, got ${describeValue(input)}`)
  }
  const options = input as Record<string, unknown>
  const unknown = Object.getOwnPropertyNames(options).filter(
    (name) => !(KNOWN as readonly string[]).includes(name),
  )
  if (unknown.length > 0) {
    throw new TypeErr(
      `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${WHERE}; expected ${KNOWN.join(', ')}`,
      'ERR_TOLLGATE_UNKNOWN_OPTION',
    )
  }

  const conn = connection(options.client, Object.values(SCRIPTS))
  const prefix = options.prefix ?? 'sess:'
  if (typeof prefix !== 'string') {
    throw new TypeErr(`prefix must be a non-empty string, got ${describeValue(prefix)}`)
  }
  if (prefix.length === 0) {
    throw new RangeErr('prefix must be a non-empty string, got ""')
  }

  const ttl = options.ttl ?? 86_400
  if (typeof ttl === 'number') {
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL_SECONDS) {
      throw new RangeErr(
        `ttl must be a positive number of seconds at most ${MAX_TTL_SECONDS}, got ${describeValue(ttl)}`,
      )
    }
  } else if (typeof ttl !== 'function') {
    throw new TypeErr(
      `ttl must be a number of seconds or a function of the session, got ${describeValue(ttl)}`,
    )
  }

  const disableTouch = optionalBoolean('disableTouch', options.disableTouch)
  const disableTTL = optionalBoolean('disableTTL', options.disableTTL)

  const serializer = options.serializer ?? JSON
  if (
    typeof serializer !== 'object' ||
    serializer === null ||
    typeof (serializer as Partial<SessionSerializer>).parse !== 'function' ||
    typeof (serializer as Partial<SessionSerializer>).stringify !== 'function'
  ) {
    throw new TypeErr(
      `serializer must be an object with parse and stringify functions, got ${describeValue(serializer)}`,
    )
  }

  const scanCount = options.scanCount ?? 100
  if (typeof scanCount !== 'number') {
    throw new TypeErr(`scanCount must be a positive integer, got ${describeValue(scanCount)}`)
  }
  if (!Number.isSafeInteger(scanCount) || scanCount <= 0 || scanCount > MAX_SCAN_COUNT) {
    throw new RangeErr(
      `scanCount must be a positive integer at most ${MAX_SCAN_COUNT}, got ${describeValue(scanCount)}`,
    )
  }

  const touchAfterSeconds = options.touchAfterSeconds ?? 0
  if (typeof touchAfterSeconds !== 'number') {
    throw new TypeErr(
      `touchAfterSeconds must be a non-negative number, got ${describeValue(touchAfterSeconds)}`,
    )
  }
  if (
    !Number.isFinite(touchAfterSeconds) ||
    touchAfterSeconds < 0 ||
    touchAfterSeconds > MAX_TTL_SECONDS
  ) {
    throw new RangeErr(
      `touchAfterSeconds must be a non-negative number at most ${MAX_TTL_SECONDS}, got ${describeValue(touchAfterSeconds)}`,
    )
  }
  if (touchAfterSeconds > 0 && (disableTouch || disableTTL)) {
    // A touch interval with touching disabled is a contradiction; saying so beats ignoring one.
    throw new RangeErr(
      `touchAfterSeconds (${touchAfterSeconds}) has no effect with ${disableTouch ? 'disableTouch' : 'disableTTL'}: true`,
    )
  }

  const timeoutMs = options.timeoutMs ?? 5000
  if (timeoutMs !== false) {
    if (typeof timeoutMs !== 'number') {
      throw new TypeErr(
        `timeoutMs must be a positive number of milliseconds or false, got ${describeValue(timeoutMs)}`,
      )
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new RangeErr(
        `timeoutMs must be a positive number of milliseconds at most ${MAX_TIMEOUT_MS} or false, got ${describeValue(timeoutMs)}`,
      )
    }
  }

  const userKey = options.userKey
  if (userKey !== undefined && typeof userKey !== 'function') {
    throw new TypeErr(`userKey must be a function of the session, got ${describeValue(userKey)}`)
  }

  return {
    client: options.client as SessionRedisClient,
    connection: conn,
    prefix,
    ttl: ttl as ParsedOptions['ttl'],
    disableTouch,
    disableTTL,
    serializer: serializer as SessionSerializer,
    scanCount,
    touchAfterMs: Math.round(touchAfterSeconds * 1000),
    timeoutMs,
    userKey: userKey as ParsedOptions['userKey'],
  }
}

function optionalBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') {
    throw new TypeErr(`${name} must be a boolean, got ${describeValue(value)}`)
  }
  return value
}
