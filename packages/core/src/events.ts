import { channel } from 'node:diagnostics_channel'
import type { Decision } from './decision.js'

/**
 * The `node:diagnostics_channel` names tollgate publishes on. Nothing is built when no one
 * subscribes (each publisher checks `hasSubscribers` first).
 * - `decision`: `{ name, key, decision, mode }` for every decision of every limiter.
 * - `storeError`: `{ name, key, error }` for every failed store call.
 * - `breaker`: `{ name, state: 'open' | 'half-open' | 'closed' }` on every breaker transition.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(channels.decision, (m) => counter.inc({ name: m.name, allowed: m.decision.allowed }))
 */
export const channels = Object.freeze({
  decision: 'tollgate:decision',
  storeError: 'tollgate:store-error',
  breaker: 'tollgate:breaker',
} as const)

/** Whether a decision was enforced or only reported (an adapter's `mode: 'shadow'`). */
export type DecisionMode = 'enforce' | 'shadow'

/** The message of `tollgate:decision`. */
export interface DecisionEvent {
  readonly name: string
  /** The caller's key, without the limiter's prefix. */
  readonly key: string
  readonly decision: Decision
  readonly mode: DecisionMode
}

/** The message of `tollgate:store-error`. */
export interface StoreErrorEvent {
  readonly name: string
  readonly key: string
  readonly error: unknown
}

/** The message of `tollgate:breaker`. */
export interface BreakerEvent {
  readonly name: string
  readonly state: 'open' | 'half-open' | 'closed'
}

/** @internal */
export const decisionChannel = channel(channels.decision)
/** @internal */
export const storeErrorChannel = channel(channels.storeError)
/** @internal */
export const breakerChannel = channel(channels.breaker)
