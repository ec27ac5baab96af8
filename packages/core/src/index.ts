export * from './algorithms/index.js'
export type { Decision } from './decision.js'
export * from './errors.js'
export {
  type BreakerEvent,
  channels,
  type DecisionEvent,
  type DecisionMode,
  type StoreErrorEvent,
} from './events.js'
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
  type PeekOptions,
  type RefundOptions,
} from './limiter.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export type { Clock, DecideOptions, Store } from './store.js'
export { ALGORITHM_TRAITS, type AlgorithmTraits, traitsOf } from './traits.js'
export { setWarningHandler, type WarningHandler } from './warnings.js'
