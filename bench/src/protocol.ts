/**
 * What the harness (run.ts) and a contender server child (servers/*.ts) say to each other over
 * the IPC channel of `child_process.fork`. The child never writes measurements to stdout, so its
 * output cannot disturb the load generator.
 */

export type Framework = 'express' | 'fastify'
export type Library =
  | 'bare'
  | 'tollgate'
  | 'express-rate-limit'
  | 'rate-limiter-flexible'
  | '@fastify/rate-limit'
export type StoreKind = 'none' | 'memory' | 'redis'
export type AlgorithmName = 'fixedWindow' | 'slidingWindow' | 'slidingLog' | 'tokenBucket'

export interface Contender {
  /** Stable id, e.g. `express/tollgate-redis/fixedWindow`. */
  id: string
  /** Short label for tables and the chart. */
  label: string
  framework: Framework
  library: Library
  store: StoreKind
  /** tollgate only; the peers all count fixed windows. */
  algorithm?: AlgorithmName
  /**
   * `defaultHeaders`: the library's own default headers instead of the legacy X-RateLimit-* all
   * other contenders send; `compound` (tollgate): two fixed windows as one all-or-nothing limit.
   */
  variant?: Variant
}

export type Variant = 'defaultHeaders' | 'compound'

/** What one server child is asked to build. */
export interface ServerConfig {
  contender: Contender
  /** Requests allowed per key and window (token bucket: capacity, refilled per window). */
  limit: number
  /** Window length in ms (token bucket: refill interval). */
  windowMs: number
  /** Honour X-Forwarded-For from the loopback load generator (Express `trust proxy`). */
  trustProxy: boolean
  redisUrl: string
}

export type ChildMessage =
  | { type: 'ready'; port: number }
  /** The contender cannot be built here (e.g. a tollgate package has not landed yet). */
  | { type: 'skip'; reason: string }
  | { type: 'started' }
  | { type: 'stats'; stats: ServerStats }

export type ParentMessage = { type: 'start' } | { type: 'stop' }

export interface ServerStats {
  /** process.cpuUsage() delta between `start` and `stop`, µs. */
  cpuUserUs: number
  cpuSystemUs: number
  /** Commands the server's ioredis client sent between `start` and `stop`, by name. */
  redisCommands: Record<string, number>
  /**
   * Script calls (EVALSHA/EVAL) by number of keys, bucketed ('1', '2', ... '8', '9-16', ...,
   * '257-512', '>512'): with tollgate's batching, how many decisions travelled together.
   */
  scriptKeysPerCall?: Record<string, number>
  /** Requests answered with a degraded decision (tollgate's fail policy). */
  degraded: number
  /** Failed store calls reported through tollgate's `onStoreError`. */
  storeErrors: number
  heapUsedBytes: number
  rssBytes: number
}
