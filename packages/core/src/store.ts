import type { Algorithm } from './algorithms/index.js'
import type { Decision } from './decision.js'

/**
 * A place where rate-limit state lives. A store interprets every algorithm value exactly as
 * SEMANTICS.md says; `@tollgate/core/testing` holds the conformance table to check one.
 */
export interface Store {
  /**
   * Decides one request of `cost` for `key` under `algorithm`, atomically. A denied request
   * consumes nothing. `key` is already prefixed by the limiter.
   */
  decide(key: string, algorithm: Algorithm, cost: number): Promise<Decision>
  /** Returns `key` to its untouched state. */
  reset(key: string, algorithm: Algorithm): Promise<void>
  /** Releases timers and connections the store owns (never a client passed in by the user). */
  close?(): Promise<void>
  /**
   * The injected clock a store decides with, if any (integer epoch ms). The limiter's local deny
   * cache times its entries with it, so moving a test clock past a retry time is seen at once.
   */
  readonly clock?: Clock
}

/** A clock returning integer epoch milliseconds. */
export type Clock = () => number
