import { describeValue, TollgateRangeError, TollgateTypeError } from '../errors.js'
import { assertExactProduct, rejectUnknownOptions } from '../options.js'
import { factoryList } from '../traits.js'
import { brand, isBranded } from './brand.js'
import { type Concurrency, makeConcurrency } from './concurrency.js'
import { type FixedWindow, makeFixedWindow } from './fixed-window.js'
import { MAX_COMPOUND_MEMBERS } from './limits.js'
import { makeSlidingLog, type SlidingLog } from './sliding-log.js'
import { makeSlidingWindow, type SlidingWindow } from './sliding-window.js'
import { makeTokenBucket, type TokenBucket } from './token-bucket.js'

export { type Concurrency, type ConcurrencyOptions, concurrency } from './concurrency.js'
export { type FixedWindow, type FixedWindowOptions, fixedWindow } from './fixed-window.js'
export { MAX_COMPOUND_MEMBERS, MAX_WINDOW_MS } from './limits.js'
export { type SlidingLog, type SlidingLogOptions, slidingLog } from './sliding-log.js'
export { type SlidingWindow, type SlidingWindowOptions, slidingWindow } from './sliding-window.js'
export { type TokenBucket, type TokenBucketOptions, tokenBucket } from './token-bucket.js'

/** Members of a compound: the four rate algorithms (no concurrency, no nesting). */
export type RateAlgorithm = FixedWindow | SlidingWindow | SlidingLog | TokenBucket

/**
 * All or nothing over several rate algorithms: admitted only if every member admits, and then
 * every member consumes. Made by {@link compound} (or `createLimiter({ algorithm: [a, b] })`).
 */
export interface Compound {
  readonly kind: 'compound'
  readonly members: readonly RateAlgorithm[]
}

/** Every algorithm value a store must interpret. Stores switch on `kind` exhaustively. */
export type Algorithm = RateAlgorithm | Concurrency | Compound

/** The `kind` of any algorithm value: what stores switch on. */
export type AlgorithmKind = Algorithm['kind']
/** The `kind` of a rate algorithm (one that can be a member of a compound limit). */
export type RateAlgorithmKind = RateAlgorithm['kind']

/** Used by exhaustive switches: a new algorithm kind that a store forgot fails to compile. */
export function assertNever(value: never): never {
  throw new TollgateTypeError(
    `unknown algorithm ${describeValue((value as { kind?: unknown })?.kind)}`,
  )
}

/**
 * Checks that a value is an algorithm. A value from a factory is recognised by its brand (one
 * WeakSet lookup); any other object is validated field by field (a hand-made `{ kind, ... }` with
 * a missing, NaN, string or infinite field is a TypeError/RangeError naming the field) and a
 * frozen, branded copy is returned, so what a store interprets is always valid.
 */
export function assertAlgorithm(value: unknown, name = 'algorithm'): Algorithm {
  if (isBranded(value)) return value as Algorithm
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TollgateTypeError(
      `${name} must be made by ${factoryList()}, got ${describeValue(value)}`,
    )
  }
  const o = value as Record<string, unknown>
  const kind = o.kind
  const known = (fields: string[]): void =>
    rejectUnknownOptions(`${name} (${String(kind)})`, o, ['kind', ...fields])
  switch (kind) {
    case 'fixedWindow':
      known(['limit', 'windowMs'])
      return makeFixedWindow(o)
    case 'slidingWindow':
      known(['limit', 'windowMs'])
      return makeSlidingWindow(o)
    case 'slidingLog':
      known(['limit', 'windowMs'])
      return makeSlidingLog(o)
    case 'tokenBucket':
      known(['capacity', 'refillRate', 'refillIntervalMs'])
      return makeTokenBucket(o, o.refillIntervalMs)
    case 'concurrency':
      known(['limit', 'leaseMs'])
      return makeConcurrency(o, o.leaseMs)
    case 'compound':
      known(['members'])
      return compoundOf(o.members, `${name}.members`)
    default:
      throw new TollgateTypeError(
        `${name} must be made by ${factoryList()}, got ${
          typeof kind === 'string' ? `kind ${JSON.stringify(kind)}` : describeValue(value)
        }`,
      )
  }
}

/**
 * An all-or-nothing compound of rate algorithms, in order. The list must hold 1 to 16 members,
 * none of them a concurrency algorithm or a compound, and no algorithm twice (same kind and same
 * numbers; two fixed windows of different windows are fine): a TypeError names the member.
 *
 * @example
 * const algorithm = compound([
 *   slidingWindow({ limit: 10, windowMs: 1_000 }),
 *   fixedWindow({ limit: 1_000, windowMs: 86_400_000 }),
 * ])
 */
export function compound(members: readonly RateAlgorithm[]): Compound {
  return compoundOf(members, 'members')
}

/** compound() with the name error messages use for the list. */
function compoundOf(members: unknown, name: string): Compound {
  if (!Array.isArray(members)) {
    throw new TollgateTypeError(
      `${name} must be an array of rate algorithms, got ${describeValue(members)}`,
    )
  }
  if (members.length === 0) {
    throw new TollgateTypeError(`${name} must list at least one algorithm, got an empty array`)
  }
  if (members.length > MAX_COMPOUND_MEMBERS) {
    throw new TollgateRangeError(
      `${name} must list at most ${MAX_COMPOUND_MEMBERS} algorithms, got ${members.length}`,
    )
  }
  const checked: RateAlgorithm[] = []
  for (let i = 0; i < members.length; i++) {
    const where = `${name}[${i}]`
    const raw: unknown = members[i]
    if (Array.isArray(raw)) {
      throw new TollgateTypeError(`${where} is an array: compound limits do not nest`)
    }
    const member = assertAlgorithm(raw, where)
    if (member.kind === 'compound') {
      throw new TollgateTypeError(`${where} is a compound: compound limits do not nest`)
    }
    if (member.kind === 'concurrency') {
      throw new TollgateTypeError(
        `${where} is a concurrency algorithm, which cannot be a member of a compound limit`,
      )
    }
    for (let j = 0; j < checked.length; j++) {
      if (sameAlgorithm(checked[j]!, member)) {
        throw new TollgateTypeError(
          `${where} repeats ${name}[${j}] (${describeAlgorithm(member)}): list each algorithm once`,
        )
      }
    }
    checked.push(member)
  }
  return brand(Object.freeze({ kind: 'compound', members: Object.freeze(checked) }))
}

function sameAlgorithm(a: RateAlgorithm, b: RateAlgorithm): boolean {
  if (a.kind !== b.kind) return false
  if (a.kind === 'tokenBucket') {
    const t = b as TokenBucket
    return (
      a.capacity === t.capacity &&
      a.refillRate === t.refillRate &&
      a.refillIntervalMs === t.refillIntervalMs
    )
  }
  const w = b as FixedWindow
  return a.limit === w.limit && a.windowMs === w.windowMs
}

/** `fixedWindow({ limit: 10, windowMs: 1000 })`, for messages. */
export function describeAlgorithm(algorithm: Algorithm): string {
  switch (algorithm.kind) {
    case 'tokenBucket':
      return `tokenBucket({ capacity: ${algorithm.capacity}, refillRate: ${algorithm.refillRate}, refillIntervalMs: ${algorithm.refillIntervalMs} })`
    case 'concurrency':
      return `concurrency({ limit: ${algorithm.limit}, leaseMs: ${algorithm.leaseMs} })`
    case 'compound':
      return `[${algorithm.members.map(describeAlgorithm).join(', ')}]`
    default:
      return `${algorithm.kind}({ limit: ${algorithm.limit}, windowMs: ${algorithm.windowMs} })`
  }
}

/**
 * The limit of a window or a concurrency algorithm, or the capacity of a bucket. For a compound,
 * the first member's (a compound Decision's own `limit` is that of its most restrictive part).
 */
export function algorithmLimit(algorithm: Algorithm): number {
  switch (algorithm.kind) {
    case 'tokenBucket':
      return algorithm.capacity
    case 'compound':
      return algorithmLimit(algorithm.members[0]!)
    default:
      return algorithm.limit
  }
}

/**
 * The same algorithm value with its limit (a bucket's capacity) replaced: how a per-request limit
 * reaches a store. State and keys depend on the kind (and member position) only, so every limit
 * of one key shares its state. A compound takes no per-request limit (TypeError). Returns the
 * algorithm itself when the limit is unchanged.
 *
 * @example
 * store.decide(key, withLimit(fixedWindow({ limit: 100, windowMs: 60_000 }), 500), 1)
 */
export function withLimit<A extends Algorithm>(algorithm: A, limit: number): A {
  const a = assertAlgorithm(algorithm) as Algorithm
  if (a.kind === 'compound') {
    throw new TollgateTypeError(
      'limit cannot be set per request on a compound limit (each member has its own limit)',
    )
  }
  if (typeof limit !== 'number') {
    throw new TollgateTypeError(`limit must be a positive integer, got ${describeValue(limit)}`)
  }
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new TollgateRangeError(`limit must be a positive integer, got ${describeValue(limit)}`)
  }
  switch (a.kind) {
    case 'tokenBucket':
      if (a.capacity === limit) return a as A
      assertExactProduct('capacity * refillIntervalMs', limit, a.refillIntervalMs)
      return brand(Object.freeze({ ...a, capacity: limit })) as A
    case 'slidingWindow':
      if (a.limit === limit) return a as A
      assertExactProduct('2 * limit * windowMs', 2 * limit, a.windowMs)
      return brand(Object.freeze({ ...a, limit })) as A
    default:
      if (a.limit === limit) return a as A
      return brand(Object.freeze({ ...a, limit })) as A
  }
}

/**
 * Checks a request cost: a positive integer no larger than the limit or capacity (a larger cost
 * could never be admitted; for a compound, than any member's). Message names `cost` and the value.
 */
export function validateCost(algorithm: Algorithm, cost: unknown): number {
  if (typeof cost !== 'number') {
    throw new TollgateTypeError(`cost must be a positive integer, got ${describeValue(cost)}`)
  }
  if (!Number.isSafeInteger(cost) || cost <= 0) {
    throw new TollgateRangeError(`cost must be a positive integer, got ${describeValue(cost)}`)
  }
  if (algorithm.kind === 'compound') {
    for (const member of algorithm.members) validateCost(member, cost)
    return cost
  }
  const max = algorithmLimit(algorithm)
  if (cost > max) {
    const what = algorithm.kind === 'tokenBucket' ? 'capacity' : 'limit'
    throw new TollgateRangeError(`cost must not exceed ${what} ${max}, got ${cost}`)
  }
  return cost
}

/**
 * The `algorithm` option as createLimiter and the adapters take it: one algorithm value, or an
 * array of rate algorithms (a compound, see {@link compound}). Returns a validated value.
 */
export function parseAlgorithm(value: unknown, name = 'algorithm'): Algorithm {
  return Array.isArray(value) ? compoundOf(value, name) : assertAlgorithm(value, name)
}
