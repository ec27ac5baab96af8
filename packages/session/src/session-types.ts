import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'

// The types a session store needs, declared here instead of imported from express-session: a
// @fastify/session user installs neither express-session nor its types (issue 12, item 4). Each is
// structural, so express-session's `SessionData`/`Store` and @fastify/session's `Session`/
// `SessionStore` fit them as they are.

/** The cookie fields the store reads to pick a TTL (express-session's `Cookie` and @fastify/session's cookie fit). */
export interface SessionCookie {
  /** When the cookie expires: a `Date`, or its ISO string once the session went through JSON. */
  expires?: Date | string | null | undefined
  /** Milliseconds the cookie lives from now. */
  maxAge?: number | null | undefined
}

/**
 * A session as the store reads and writes it: an object whose `cookie` decides its TTL, with the
 * app's own fields beside it. express-session's `SessionData` and @fastify/session's `Session` are
 * both assignable to it. To type your own fields in `ttl` and `userKey`, annotate the hook's
 * parameter with your framework's session type, or augment this interface:
 *
 * @example
 * ```ts
 * declare module '@tollgate/session' {
 *   interface SessionRecord {
 *     user?: { id: string }
 *   }
 * }
 * ```
 */
export interface SessionRecord {
  /** The session cookie, as the framework stores it. */
  cookie?: SessionCookie | undefined
}

/** The request express-session hands its store's `regenerate` and `createSession`. */
export interface SessionRequest {
  /** The id of the request's session. */
  sessionID: string
}

/**
 * A hook option of the store (`ttl`, `userKey`, `serializer.stringify`). Its parameter is checked
 * bivariantly, as a method's is, so a hook annotated with the framework's own session type
 * (express-session's `SessionData`, @fastify/session's `Session`) is accepted.
 */
export type SessionHook<Result> = {
  /** The hook, given the session (written as a method: methods' parameters are bivariant). */
  bivarianceHack(session: SessionRecord): Result
}['bivarianceHack']

/**
 * What express-session's middleware calls on a store besides get/set/destroy/touch. The store
 * inherits them from express-session's own `Store` class, which builds express-session's `Session`
 * and `Cookie` objects; they exist when express-session is installed (the only framework that calls
 * them). @fastify/session calls get, set and destroy only.
 */
export interface ExpressSessionStoreMethods {
  /** Destroys the request's session and generates a new one (express-session's `Store#regenerate`). */
  regenerate(req: SessionRequest, callback: (error?: unknown) => void): void
  /** Reads a session and turns it into the framework's session object (`Store#load`). */
  load<Session extends object = SessionRecord>(
    sid: string,
    callback: (error: unknown, session?: Session) => void,
  ): void
  /**
   * Turns stored session data into the framework's session object on `req` (`Store#createSession`).
   * `Session` is that object's type (express-session: `Session & SessionData`).
   */
  createSession<Session extends object = SessionRecord>(
    req: SessionRequest,
    session: SessionRecord,
  ): Session
}

/** The constructor a session store class extends. */
export type SessionStoreConstructor = new () => EventEmitter & ExpressSessionStoreMethods

/**
 * express-session's `Store` when express-session can be loaded (an optional peer dependency), else
 * a plain EventEmitter. Resolved from this package, so the app's own express-session is the one used.
 */
function loadStoreBase(): SessionStoreConstructor {
  try {
    const loaded = createRequire(import.meta.url)('express-session') as { Store?: unknown }
    if (typeof loaded.Store === 'function') return loaded.Store as SessionStoreConstructor
  } catch {
    // Not installed: a @fastify/session app.
  }
  return EventEmitter as unknown as SessionStoreConstructor
}

/** The base class of RedisSessionStore: express-session's `Store` when installed, else EventEmitter. */
export const SessionStoreBase: SessionStoreConstructor = loadStoreBase()
