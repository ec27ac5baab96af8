export type { IoredisClient, NodeRedisClient, RedisClient } from './client.js'
export { KEY_SUFFIX, stateKey } from './keys.js'
export { RedisStore, type RedisStoreOptions, scriptCommandName } from './redis-store.js'
