import calculateSlot from 'cluster-key-slot'
import type { Connection, SessionRedisClient } from './client.js'
import { describeValue, SessionOptionTypeError, SessionStoreError } from './errors.js'
import {
  MAX_TTL_SECONDS,
  type ParsedOptions,
  parseOptions,
  type RedisSessionStoreOptions,
} from './options.js'
import { SCRIPTS } from './scripts.js'
import { type SessionRecord, SessionStoreBase } from './session-types.js'

/** A Node-style callback: `(error)` on failure, `(null, value)` on success. */
export type StoreCallback<T> = (error: unknown, value?: T) => void

/** Keys per MGET/UNLINK command; bounds the size of one Redis reply. */
const BATCH = 500
/**
 * Milliseconds an index outlives the session TTL it was last extended for: the session key is
 * written one round trip after its index, so without slack the index could expire first.
 */
const INDEX_SLACK_MS = 60_000
/** Re-reads allowed when a session changes between destroyUser's read and its delete. */
const DESTROY_ATTEMPTS = 10

/**
 * A Redis session store for express-session and @fastify/session, on a node-redis v5 client
 * (`createClient()` / `createCluster()`) or an ioredis `Redis` / `Cluster`. Keys and values are the ones connect-redis writes (`sess:<sid>` holding
 * `JSON.stringify(session)`), so switching from connect-redis keeps users logged in.
 *
 * Every method takes an optional Node-style callback; without one it returns a promise.
 *
 * @example
 * ```ts
 * import session from 'express-session'
 * import { createClient } from 'redis'
 * import { RedisSessionStore } from '@tollgate/session'
 *
 * const client = createClient({ url: process.env.REDIS_URL })
 * await client.connect()
 * const store = new RedisSessionStore({ client })
 * app.use(session({ store, secret: process.env.SESSION_SECRET, resave: false,
 *                   saveUninitialized: false }))
 * ```
 */
export class RedisSessionStore extends SessionStoreBase {
  /** The client the store talks to (owned by the caller, never closed by the store). */
  readonly client: SessionRedisClient
  /** The key prefix, `sess:` unless configured. */
  readonly prefix: string
  readonly #o: ParsedOptions
  readonly #c: Connection

  constructor(options: RedisSessionStoreOptions) {
    super()
    this.#o = parseOptions(options)
    this.client = this.#o.client
    this.#c = this.#o.connection
    this.prefix = this.#o.prefix
  }

  /**
   * Reads a session; `null` when there is none (or its cookie has expired). `Data` is the app's
   * session type (express-session's `SessionData`, @fastify/session's `Session`): the store keeps
   * whatever object the framework gave it, so it is the caller's to name.
   */
  get<Data extends object = SessionRecord>(sid: string): Promise<Data | null>
  get<Data extends object = SessionRecord>(sid: string, callback: StoreCallback<Data | null>): void
  get<Data extends object = SessionRecord>(
    sid: string,
    callback?: StoreCallback<Data | null>,
  ): Promise<Data | null> | undefined {
    return this.#settle(
      this.#checked(sid).then(() => this.#get(sid) as Promise<Data | null>),
      callback,
    )
  }

  /** Writes a session with the TTL of its cookie (else `ttl`); an expired one is destroyed. */
  set(sid: string, session: SessionRecord): Promise<void>
  set(sid: string, session: SessionRecord, callback: StoreCallback<void>): void
  set(
    sid: string,
    session: SessionRecord,
    callback?: StoreCallback<void>,
  ): Promise<void> | undefined {
    const work = this.#checked(sid, session).then(() => this.#set(sid, session))
    return this.#settle(abortCommittedResponseOnFailure(work, session), callback)
  }

  /** Deletes a session (and its entry in the user index when `userKey` is set). */
  destroy(sid: string): Promise<void>
  destroy(sid: string, callback: StoreCallback<void>): void
  destroy(sid: string, callback?: StoreCallback<void>): Promise<void> | undefined {
    return this.#settle(
      this.#checked(sid).then(() => this.#destroy(sid)),
      callback,
    )
  }

  /** Resets a session's TTL without rewriting its value; does nothing with `disableTouch`. */
  touch(sid: string, session: SessionRecord): Promise<void>
  touch(sid: string, session: SessionRecord, callback: StoreCallback<void>): void
  touch(
    sid: string,
    session: SessionRecord,
    callback?: StoreCallback<void>,
  ): Promise<void> | undefined {
    return this.#settle(
      this.#checked(sid, session).then(() => this.#touch(sid, session)),
      callback,
    )
  }

  /** Every session, each with its `id` (as connect-redis returns them). Uses SCAN. `Data` as in `get`. */
  all<Data extends object = SessionRecord>(): Promise<Data[]>
  all<Data extends object = SessionRecord>(callback: StoreCallback<Data[]>): void
  all<Data extends object = SessionRecord>(
    callback?: StoreCallback<Data[]>,
  ): Promise<Data[]> | undefined {
    return this.#settle(this.#all() as Promise<Data[]>, callback)
  }

  /** Every session id, without the prefix. Uses SCAN. */
  ids(): Promise<string[]>
  ids(callback: StoreCallback<string[]>): void
  ids(callback?: StoreCallback<string[]>): Promise<string[]> | undefined {
    return this.#settle(this.#ids(), callback)
  }

  /** The number of sessions. Uses SCAN. */
  length(): Promise<number>
  length(callback: StoreCallback<number>): void
  length(callback?: StoreCallback<number>): Promise<number> | undefined {
    return this.#settle(
      this.#ids().then((ids) => ids.length),
      callback,
    )
  }

  /** Deletes every session under the prefix (and every user index). Uses SCAN and UNLINK. */
  clear(): Promise<void>
  clear(callback: StoreCallback<void>): void
  clear(callback?: StoreCallback<void>): Promise<void> | undefined {
    return this.#settle(this.#clear(), callback)
  }

  /**
   * Ends every session of a user at once ("log out everywhere"). Requires `userKey`.
   * Resolves with the number of sessions destroyed. Every session of the user that was written
   * before the call is destroyed; one written while it runs is destroyed or stays listed, so a
   * second call ends it (README, "Log out everywhere").
   */
  async destroyUser(userId: string): Promise<number> {
    const userKey = this.#requireUserKey('destroyUser')
    const indexes = await this.#indexesOf(userId)
    const outcomes = await Promise.all(
      indexes.map((index) => this.#reconcile(index, userId, userKey, true)),
    )
    return outcomes.reduce((sum, outcome) => sum + outcome.destroyed, 0)
  }

  /**
   * The ids of a user's live sessions. Requires `userKey`. Ids whose session expired, was
   * destroyed or now belongs to someone else are pruned from the index on the way.
   */
  async userSessions(userId: string): Promise<string[]> {
    const userKey = this.#requireUserKey('userSessions')
    const indexes = await this.#indexesOf(userId)
    const outcomes = await Promise.all(
      indexes.map((index) => this.#reconcile(index, userId, userKey, false)),
    )
    return outcomes.flatMap((outcome) => outcome.alive)
  }

  /**
   * Reads one index and its sessions, then hands Redis one compare-and-act script: a session is
   * deleted (when `destroy`) or unlisted only if it still holds the exact text that was judged.
   * Sessions that changed meanwhile are read and judged again.
   */
  async #reconcile(
    index: string,
    userId: string,
    userKey: NonNullable<ParsedOptions['userKey']>,
    destroy: boolean,
  ): Promise<{ alive: string[]; destroyed: number }> {
    const alive: string[] = []
    let destroyed = 0
    let pending = (await this.#run(this.#c.call(index, 'SMEMBERS', index))) as string[]
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > DESTROY_ATTEMPTS) {
        throw new SessionStoreError(
          'ERR_TOLLGATE_SESSION_CONFLICT',
          `sessions ${pending.map((sid) => JSON.stringify(sid)).join(', ')} kept changing while ${destroy ? 'destroyUser' : 'userSessions'} read them`,
        )
      }
      const values = await this.#mget(pending.map((sid) => this.prefix + sid))
      const acts: { sid: string; action: 'delete' | 'unlist' | 'absent'; raw: string }[] = []
      for (const [i, sid] of pending.entries()) {
        const raw = values[i] ?? null
        if (raw === null) {
          acts.push({ sid, action: 'absent', raw: '' })
          continue
        }
        let owner: string | undefined
        try {
          owner = this.#userOf(await this.#parse(raw, this.prefix + sid), userKey)
        } catch (error) {
          // An unreadable session listed under this user can serve nobody; logging the user
          // out everywhere includes it. Listing it is an error, as reading it is.
          if (!destroy) throw error
          owner = userId
        }
        if (owner !== userId) acts.push({ sid, action: 'unlist', raw })
        else if (destroy) acts.push({ sid, action: 'delete', raw })
        else alive.push(sid)
      }
      const changed: string[] = []
      for (const batch of chunk(acts, BATCH)) {
        const done = (await this.#run(
          this.#c.run(
            SCRIPTS.indexCompare,
            [index, ...batch.map((act) => this.prefix + act.sid)],
            batch.flatMap((act) => [act.action, act.sid, act.raw]),
          ),
        )) as number[]
        for (const [i, act] of batch.entries()) {
          if (Number(done[i]) !== 1) changed.push(act.sid)
          else if (act.action === 'delete') destroyed++
        }
      }
      pending = changed
    }
    return { alive, destroyed }
  }

  /**
   * The one bridge from the promise world to callbacks. The callback runs on its own tick,
   * outside the promise chain, so it is called exactly once whatever it does. What it throws is
   * the framework's (or the app's) bug, not the store's: it is reported on the store's `error`
   * event (or as a process warning when nobody listens), never as an uncaught exception that
   * would take the whole server down for one request (issue 14, item 2).
   */
  #settle<T>(work: Promise<T>, callback: StoreCallback<T> | undefined): Promise<T> | undefined {
    if (callback === undefined) return work
    const call = (error: unknown, value?: T) => {
      try {
        callback(error, value)
      } catch (thrown) {
        this.#reportCallbackError(thrown)
      }
    }
    work.then(
      (value) => process.nextTick(call, null, value),
      (error: unknown) => process.nextTick(call, error),
    )
  }

  #reportCallbackError(thrown: unknown): void {
    const error = new SessionStoreError(
      'ERR_TOLLGATE_SESSION_CALLBACK',
      `a callback given to the session store threw: ${thrown instanceof Error ? thrown.message : describeValue(thrown)}`,
      { cause: thrown },
    )
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else process.emitWarning(error)
  }

  /** Rejects a session id or session of the wrong kind before anything reaches Redis. */
  async #checked(sid: unknown, ...session: [unknown?]): Promise<void> {
    if (typeof sid !== 'string' || sid.length === 0) {
      throw new SessionOptionTypeError(
        `sid must be a non-empty string, got ${describeValue(sid)}`,
        'ERR_TOLLGATE_SESSION_VALUE',
      )
    }
    if (
      session.length > 0 &&
      (typeof session[0] !== 'object' || session[0] === null || Array.isArray(session[0]))
    ) {
      throw new SessionOptionTypeError(
        `session must be an object, got ${describeValue(session[0])}`,
        'ERR_TOLLGATE_SESSION_VALUE',
      )
    }
  }

  async #get(sid: string): Promise<SessionRecord | null> {
    const key = this.prefix + sid
    const raw = (await this.#run(this.#c.call(key, 'GET', key))) as string | null
    if (raw === null) return null
    const data = await this.#parse(raw, key)
    const expires = cookieExpiresAt(data)
    if (expires !== undefined && expires <= Date.now()) {
      // Only reachable with disableTTL (otherwise Redis expired the key with the cookie).
      await this.#destroy(sid)
      return null
    }
    return data
  }

  async #set(sid: string, data: SessionRecord): Promise<void> {
    const ttlMs = this.#ttlMs(data)
    if (ttlMs <= 0) {
      await this.#destroy(sid)
      return
    }
    const text = await this.#o.serializer.stringify(data)
    if (typeof text !== 'string') {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_HOOK',
        `serializer.stringify must return a string, got ${describeValue(text)}`,
      )
    }
    const userKey = this.#o.userKey
    const user = userKey ? this.#userOf(data, userKey) : undefined
    const key = this.prefix + sid
    if (user === undefined) {
      if (this.#o.disableTTL) await this.#run(this.#c.call(key, 'SET', key, text))
      else await this.#run(this.#c.call(key, 'SET', key, text, 'PX', String(ttlMs)))
      return
    }
    const indexTtl = this.#o.disableTTL ? '0' : String(ttlMs + INDEX_SLACK_MS)
    const index = await this.#listUnder(user, key, indexTtl)
    await this.#run(
      this.#c.run(
        SCRIPTS.sessionSet,
        [key, index],
        [text, this.#o.disableTTL ? '0' : String(ttlMs), sid, indexTtl],
      ),
    )
  }

  async #touch(sid: string, data: SessionRecord): Promise<void> {
    if (this.#o.disableTouch || this.#o.disableTTL) return
    const ttlMs = this.#ttlMs(data)
    if (ttlMs <= 0) {
      await this.#destroy(sid)
      return
    }
    const key = this.prefix + sid
    const userKey = this.#o.userKey
    const user = userKey ? this.#userOf(data, userKey) : undefined
    const ttl = String(ttlMs)
    const after = String(this.#o.touchAfterMs)
    if (user !== undefined) {
      const indexTtl = String(ttlMs + INDEX_SLACK_MS)
      const index = await this.#listUnder(user, key, indexTtl)
      await this.#run(this.#c.run(SCRIPTS.touch, [key, index], [ttl, after, sid, indexTtl]))
    } else if (this.#o.touchAfterMs > 0) {
      await this.#run(this.#c.run(SCRIPTS.touch, [key], [ttl, after]))
    } else {
      await this.#run(this.#c.call(key, 'PEXPIRE', key, ttl))
    }
  }

  async #destroy(sid: string): Promise<void> {
    const key = this.prefix + sid
    const userKey = this.#o.userKey
    if (!userKey) {
      await this.#run(this.#c.call(key, 'DEL', key))
      return
    }
    for (let attempt = 1; attempt <= DESTROY_ATTEMPTS; attempt++) {
      const raw = (await this.#run(this.#c.call(key, 'GET', key))) as string | null
      if (raw === null) return
      let user: string | undefined
      try {
        user = this.#userOf(await this.#parse(raw, key), userKey)
      } catch {
        user = undefined
      }
      if (user === undefined) {
        // Anonymous or unreadable: no index lists it (an unreadable one is pruned on read).
        await this.#run(this.#c.call(key, 'DEL', key))
        return
      }
      // Deleted and unlisted in one step, and only if no save rewrote it since the read: a
      // save racing a logout can never leave a live session outside its user's index.
      const index = this.#indexKey(user, key)
      const done = (await this.#run(
        this.#c.run(SCRIPTS.indexCompare, [index, key], ['delete', sid, raw]),
      )) as number[]
      if (Number(done[0]) === 1) return
    }
    throw new SessionStoreError(
      'ERR_TOLLGATE_SESSION_CONFLICT',
      `session ${JSON.stringify(sid)} kept changing while destroy tried to delete it`,
    )
  }

  /**
   * The index a session of `user` is listed in: on a single Redis `<prefix>user:{<user>}`; on a
   * Cluster the user's index for the session key's slot, `<prefix>user:{<slot tag>}:<user>`,
   * after recording that slot in the user's directory `<prefix>user-slots:{<user>}`. The
   * directory is written first, so a session never lives in a slot the directory does not list
   * (see user-directory-add.session.lua).
   */
  async #listUnder(user: string, sessionKey: string, indexTtl: string): Promise<string> {
    const index = this.#indexKey(user, sessionKey)
    if (this.#c.isCluster) {
      const directory = this.#directoryKey(user)
      await this.#run(
        this.#c.run(
          SCRIPTS.userDirectoryAdd,
          [directory],
          [slotTag(calculateSlot(sessionKey)), indexTtl],
        ),
      )
    }
    return index
  }

  /** Every index of a user: the one index, or one per slot listed in the Cluster directory. */
  async #indexesOf(userId: string): Promise<string[]> {
    if (!this.#c.isCluster) return [this.#singleIndexKey(userId)]
    const directory = this.#directoryKey(userId)
    const tags = (await this.#run(
      this.#c.call(directory, 'ZRANGE', directory, '0', '-1'),
    )) as string[]
    return tags.map((tag) => this.#slotIndexKey(tag, userId))
  }

  #indexKey(user: string, sessionKey: string): string {
    if (!this.#c.isCluster) return this.#singleIndexKey(user)
    const slot = calculateSlot(sessionKey)
    const index = this.#slotIndexKey(slotTag(slot), user)
    if (calculateSlot(index) !== slot) {
      // Only a prefix with an unbalanced brace can do this (its "{" opens the index key's tag).
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_CLUSTER',
        `prefix ${JSON.stringify(this.prefix)} puts a session and its user index in different Cluster slots; use a prefix without "{" or "}", or with a complete hash tag`,
      )
    }
    return index
  }

  #singleIndexKey(user: string): string {
    return `${this.prefix}user:{${user}}`
  }

  #slotIndexKey(tag: string, user: string): string {
    return `${this.prefix}user:{${tag}}:${user}`
  }

  #directoryKey(user: string): string {
    return `${this.prefix}user-slots:{${user}}`
  }

  async #all(): Promise<SessionRecord[]> {
    const seen = new Set<string>()
    const sessions: SessionRecord[] = []
    await this.#scan(`${escapeGlob(this.prefix)}*`, 'string', async (found) => {
      const keys = found.filter((key) => !seen.has(key))
      for (const key of keys) seen.add(key)
      const values = await this.#mget(keys)
      for (const [i, key] of keys.entries()) {
        const raw = values[i]
        // Gone between SCAN and MGET: expired or destroyed meanwhile, so not a session any more.
        if (raw == null) continue
        const data = await this.#parse(raw, key)
        ;(data as SessionRecord & { id: string }).id = key.slice(this.prefix.length)
        sessions.push(data)
      }
    })
    return sessions
  }

  async #ids(): Promise<string[]> {
    const ids = new Set<string>()
    await this.#scan(`${escapeGlob(this.prefix)}*`, 'string', async (keys) => {
      for (const key of keys) ids.add(key.slice(this.prefix.length))
    })
    return [...ids]
  }

  async #clear(): Promise<void> {
    const unlink = async (keys: string[]) => {
      await Promise.all(
        this.#batches(keys).map((batch) =>
          this.#run(this.#c.call(batch[0] as string, 'UNLINK', ...batch)),
        ),
      )
    }
    await this.#scan(`${escapeGlob(this.prefix)}*`, 'string', unlink)
    // User indexes (SETs, user:{…}) and, on a Cluster, user directories (ZSETs, user-slots:{…}).
    await this.#scan(`${escapeGlob(`${this.prefix}user`)}*`, 'set', unlink)
    if (this.#c.isCluster) {
      await this.#scan(`${escapeGlob(`${this.prefix}user-slots:{`)}*`, 'zset', unlink)
    }
  }

  /** SCAN with MATCH and TYPE on the server, or on every master of a Cluster. */
  async #scan(
    pattern: string,
    type: 'string' | 'set' | 'zset',
    onBatch: (keys: string[]) => Promise<void>,
  ): Promise<void> {
    const nodes = await this.#run(this.#c.masters())
    if (nodes.length === 0) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_CLUSTER',
        'the Cluster client knows no master node, so SCAN would miss every session',
      )
    }
    const count = String(this.#o.scanCount)
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = (await this.#run(
          node('SCAN', cursor, 'MATCH', pattern, 'COUNT', count, 'TYPE', type),
        )) as [string, string[]]
        cursor = String(next)
        if (keys.length > 0) await onBatch(keys)
      } while (cursor !== '0')
    }
  }

  /** MGET in single-slot batches; the result lines up with `keys`. */
  async #mget(keys: string[]): Promise<(string | null)[]> {
    const byKey = new Map<string, string | null>()
    await Promise.all(
      this.#batches(keys).map(async (batch) => {
        const values = (await this.#run(this.#c.call(batch[0] as string, 'MGET', ...batch))) as (
          | string
          | null
        )[]
        for (const [i, key] of batch.entries()) byKey.set(key, values[i] ?? null)
      }),
    )
    return keys.map((key) => byKey.get(key) ?? null)
  }

  /** Groups keys so that no command spans two Cluster slots, at most BATCH keys each. */
  #batches(keys: string[]): string[][] {
    if (!this.#c.isCluster) return chunk(keys, BATCH)
    const bySlot = new Map<number, string[]>()
    for (const key of keys) {
      const slot = calculateSlot(key)
      const group = bySlot.get(slot)
      if (group) group.push(key)
      else bySlot.set(slot, [key])
    }
    return [...bySlot.values()].flatMap((group) => chunk(group, BATCH))
  }

  async #parse(raw: string, key: string): Promise<SessionRecord> {
    let data: unknown
    try {
      // JSON.parse makes "__proto__" an own key, which a framework copying the session key by
      // key (@fastify/session) turns into a prototype swap and a TypeError inside the store's
      // callback: such keys never leave the store (issue 14, item 2).
      data =
        this.#o.serializer === JSON
          ? JSON.parse(raw, dropUnsafeKeys)
          : withoutUnsafeKeys(await this.#o.serializer.parse(raw))
    } catch (error) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_PARSE',
        `the value stored at ${JSON.stringify(key)} does not parse`,
        { cause: error },
      )
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_PARSE',
        `the value stored at ${JSON.stringify(key)} is not a session object but ${describeValue(data)}`,
      )
    }
    return data as SessionRecord
  }

  /** Milliseconds the session should live: cookie expiry, else `ttl`. May be <= 0 (expired). */
  #ttlMs(data: SessionRecord): number {
    const expires = cookieExpiresAt(data)
    if (expires !== undefined)
      return boundedTtlMs(Math.ceil(expires - Date.now()), 'cookie.expires')
    const cookie = data?.cookie as { maxAge?: unknown } | undefined
    if (typeof cookie?.maxAge === 'number' && Number.isFinite(cookie.maxAge)) {
      return boundedTtlMs(Math.ceil(cookie.maxAge), 'cookie.maxAge')
    }
    const ttl = this.#o.ttl
    const seconds = typeof ttl === 'function' ? ttl(data) : ttl
    if (typeof seconds !== 'number' || Number.isNaN(seconds) || seconds > MAX_TTL_SECONDS) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_HOOK',
        `ttl(session) must return a number of seconds at most ${MAX_TTL_SECONDS}, got ${describeValue(seconds)}`,
      )
    }
    return Math.ceil(seconds * 1000)
  }

  #userOf(data: SessionRecord, userKey: NonNullable<ParsedOptions['userKey']>): string | undefined {
    const user = userKey(data)
    if (user === undefined) return undefined
    if (typeof user !== 'string' || user.length === 0) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_HOOK',
        `userKey(session) must return a non-empty string or undefined, got ${describeValue(user)}`,
      )
    }
    return user
  }

  #requireUserKey(method: string): NonNullable<ParsedOptions['userKey']> {
    const userKey = this.#o.userKey
    if (!userKey) {
      throw new SessionStoreError(
        'ERR_TOLLGATE_SESSION_NO_USER_KEY',
        `${method} needs the userKey option, which keeps the per-user index`,
      )
    }
    return userKey
  }

  /** Races one Redis command against `timeoutMs`, so a hung server yields an error. */
  #run<T>(command: Promise<T>): Promise<T> {
    const ms = this.#o.timeoutMs
    if (ms === false) return command
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new SessionStoreError(
            'ERR_TOLLGATE_SESSION_TIMEOUT',
            `Redis did not answer within timeoutMs (${ms} ms)`,
          ),
        )
      }, ms)
      // Both handlers stay attached, so the command settling after the timeout is not unhandled.
      command.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}

/** JSON.parse reviver: drops the keys that would reach a prototype when copied. */
function dropUnsafeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' ? undefined : value
}

/** The same for a custom serializer's result: plain objects and arrays, walked in place. */
function withoutUnsafeKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (const item of value) withoutUnsafeKeys(item)
  } else if (typeof value === 'object' && value !== null) {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return value
    for (const key of ['__proto__', 'constructor']) {
      if (Object.hasOwn(value, key)) delete (value as Record<string, unknown>)[key]
    }
    for (const item of Object.values(value)) withoutUnsafeKeys(item)
  }
  return value
}

/** A cookie-derived lifetime, refused when Redis (or JavaScript's number format) could not take it. */
function boundedTtlMs(ms: number, source: string): number {
  if (ms > MAX_TTL_SECONDS * 1000) {
    throw new SessionStoreError(
      'ERR_TOLLGATE_SESSION_VALUE',
      `the session's ${source} gives a lifetime of ${ms} ms, above the maximum of ${MAX_TTL_SECONDS * 1000} ms`,
    )
  }
  return ms
}

/**
 * express-session saves a modified session from its `res.end` hook after it has already written
 * the status line and all but the last byte of the body, then finishes the response whatever the
 * store answers: a failed save would reach the client as a complete 200. When a write fails after
 * the headers went out, the store ends the connection instead, so the client sees a broken
 * response, never a success (issue 14, item 4). A save whose response is not yet committed (an
 * explicit `req.session.save(cb)`) is left alone: the app answers the error itself.
 */
function abortCommittedResponseOnFailure<T>(work: Promise<T>, session: unknown): Promise<T> {
  return work.catch((error: unknown) => {
    const res = (session as { req?: { res?: CommittedResponse } } | null)?.req?.res
    if (
      res?.headersSent === true &&
      res.writableEnded === false &&
      typeof res.destroy === 'function'
    ) {
      res.destroy()
    }
    throw error
  })
}

interface CommittedResponse {
  headersSent?: unknown
  writableEnded?: unknown
  destroy?: () => void
}

/** Epoch ms at which the session's cookie expires, when it has a valid `expires`. */
function cookieExpiresAt(data: SessionRecord): number | undefined {
  const expires = (data?.cookie as { expires?: unknown } | undefined)?.expires
  if (!(expires instanceof Date) && typeof expires !== 'string' && typeof expires !== 'number') {
    return undefined
  }
  const at = new Date(expires).getTime()
  return Number.isFinite(at) ? at : undefined
}

/** Escapes SCAN MATCH glob characters so a prefix like `app[1]:` matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

/** Hash tags by slot: SLOT_TAGS[slot] is a short string whose CRC16 slot is `slot`. */
let SLOT_TAGS: string[] | undefined

/**
 * A hash tag that lands in `slot`, so that a Cluster user index can be put beside a session key
 * that has no tag of its own (`sess:<sid>`, as connect-redis writes it). The table of all 16384
 * is built once, on first use (base-36 counters, about 170,000 CRC16s, a few milliseconds).
 */
function slotTag(slot: number): string {
  if (SLOT_TAGS === undefined) {
    const tags = new Array<string>(16384)
    let filled = 0
    for (let i = 0; filled < 16384; i++) {
      const tag = i.toString(36)
      const at = calculateSlot(tag)
      if (tags[at] === undefined) {
        tags[at] = tag
        filled++
      }
    }
    SLOT_TAGS = tags
  }
  return SLOT_TAGS[slot] as string
}
