export * from './algorithms/index.js'
export type { Decision } from './decision.js'
export * from './errors.js'
export type { FailureMode, FailureOptions, ResolvedFailure } from './fail-policy.js'
export {
  defaultPolicyName,
  type HeadersOptions,
  type StandardHeaders,
  windowSeconds,
} from './headers.js'
export type { HttpLimitOptions, MessageBody } from './http/options.js'
export { ipKey, UNKNOWN_IP_KEY } from './keys.js'
export {
  algorithmSignature,
  createLimiter,
  type Limiter,
  type LimiterOptions,
  type LimitOptions,
} from './limiter.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export type { Clock, Store } from './store.js'
export { ALGORITHM_TRAITS, type AlgorithmTraits, traitsOf } from './traits.js'
export { setWarningHandler, type WarningHandler } from './warnings.js'
