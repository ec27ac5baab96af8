export * from './algorithms/index.js'
export type { Decision } from './decision.js'
export * from './errors.js'
export {
  type FailureMode,
  type FailureOptions,
  parseFailure,
  type ResolvedFailure,
} from './fail-policy.js'
export * from './headers.js'
export * from './http.js'
export * from './keys.js'
export {
  algorithmSignature,
  createLimiter,
  type Limiter,
  type LimiterOptions,
  type LimitOptions,
} from './limiter.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export * from './options.js'
export type { Clock, Store } from './store.js'
