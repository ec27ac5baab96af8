export * from './algorithms/index.js'
export type { Decision } from './decision.js'
export * from './errors.js'
export type { Clock, Store } from './store.js'
