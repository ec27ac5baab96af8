import type { Algorithm } from './algorithms/index.js'
import type { Decision } from './decision.js'

/** Options of {@link Store.decide}. */
export interface DecideOptions {
  /**
   * A denial (not an answer to an existing block) also blocks the key for this many milliseconds,
   * in the same store call; that denial's `retryAfterMs` is at least this long.
   */
  readonly blockDurationMs?: number
}

/**
 * A place where rate-limit state lives. A store interprets every algorithm value exactly as
 * docs/semantics.md says; `@tollgate/core/testing` holds the conformance table to check one. Each
 * algorithm kind keeps its own state per key, each compound member its own (by position), and a
 * block lives beside the state it blocks. `key` is already prefixed by the limiter.
 */
export interface Store {
  /** Decides one request of `cost` for `key` under `algorithm`, atomically. A denial consumes nothing. */
  decide(
    key: string,
    algorithm: Algorithm,
    cost: number,
    options?: DecideOptions,
  ): Promise<Decision>
  /** Exactly the Decision `decide` would give now, consuming (and expiring) nothing; no lease. */
  peek(key: string, algorithm: Algorithm, cost: number): Promise<Decision>
  /** Gives back up to `cost` admitted units (docs/semantics.md "refund"); not for concurrency. */
  refund(key: string, algorithm: Algorithm, cost: number): Promise<void>
  /** Denies every decision of `key` for `durationMs` (a compound: the whole compound); a later end wins. */
  block(key: string, algorithm: Algorithm, durationMs: number): Promise<void>
  /** Frees a concurrency lease; idempotent (an unknown or expired lease is a no-op). */
  release(key: string, algorithm: Algorithm, lease: string): Promise<void>
  /** Returns `key` to its untouched state, lifting any block. */
  reset(key: string, algorithm: Algorithm): Promise<void>
  /** Releases timers and connections the store owns (never a client passed in by the user). */
  close?(): Promise<void>
  /**
   * The injected clock a store decides with, if any (integer epoch ms). The limiter's local deny
   * cache times its entries with it, so moving a test clock past a retry time is seen at once.
   */
  readonly clock?: Clock | undefined
}

/** A clock returning integer epoch milliseconds. */
export type Clock = () => number
