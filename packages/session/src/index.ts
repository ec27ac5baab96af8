export type { NodeRedisClient, NodeRedisCluster, SessionRedisClient } from './client.js'
export {
  type SessionErrorCode,
  SessionOptionRangeError,
  SessionOptionTypeError,
  SessionStoreError,
} from './errors.js'
export type { RedisSessionStoreOptions, SessionSerializer } from './options.js'
export { RedisSessionStore, type StoreCallback } from './redis-session-store.js'
export type {
  ExpressSessionStoreMethods,
  SessionCookie,
  SessionHook,
  SessionRecord,
  SessionRequest,
  SessionStoreConstructor,
} from './session-types.js'
