export type { IoredisClient, NodeRedisClient, RedisClient } from './client.js'
export { blockKey, KEY_SUFFIX, memberKey, type StateKind, stateKey } from './keys.js'
export {
  RedisStore,
  type RedisStoreOptions,
  type ScriptKind,
  scriptCommandName,
} from './redis-store.js'
