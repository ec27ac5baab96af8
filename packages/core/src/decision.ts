/** The answer of a store for one request. All numbers are integers. */
export interface Decision {
  /** Whether the request is admitted (and its cost consumed). */
  allowed: boolean
  /**
   * The limit or the bucket's capacity that applied to this request (a per-request limit when one
   * was given; for a compound, the limit of the part with the fewest remaining, the first on a tie).
   */
  limit: number
  /** The largest cost still admissible right now, >= 0. */
  remaining: number
  /** Milliseconds until the key is back to its untouched state (full quota); 0 when it is. */
  resetMs: number
  /**
   * 0 when allowed; when denied, the smallest wait in milliseconds after which the same request
   * would be admitted if nothing else arrives.
   */
  retryAfterMs: number
  /** Present (true) only when the store failed and the fail policy answered. */
  degraded?: true
  /** A compound limit's members' Decisions, in member order (docs/semantics.md "Compound"). */
  parts?: Decision[]
  /** An admitted concurrency decision's lease: pass it to `limiter.release(key, lease)`. */
  lease?: string
}
