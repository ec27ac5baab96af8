import { describeValue, TollgateRangeError, TollgateTypeError } from '../errors.js'
import { ALGORITHM_KINDS, factoryList, traitsOf } from '../traits.js'
import type { FixedWindow } from './fixed-window.js'
import type { SlidingLog } from './sliding-log.js'
import type { SlidingWindow } from './sliding-window.js'
import type { TokenBucket } from './token-bucket.js'

export * from './fixed-window.js'
export * from './sliding-log.js'
export * from './sliding-window.js'
export * from './token-bucket.js'

/** Every algorithm value a store must interpret. Stores switch on `kind` exhaustively. */
export type Algorithm = FixedWindow | SlidingWindow | SlidingLog | TokenBucket

export type AlgorithmKind = Algorithm['kind']

/** Used by exhaustive switches: a new algorithm kind that a store forgot fails to compile. */
export function assertNever(value: never): never {
  throw new TollgateTypeError(
    `unknown algorithm ${describeValue((value as { kind?: unknown })?.kind)}`,
  )
}

/** Checks that a value is an algorithm made by one of the factories. */
export function assertAlgorithm(value: unknown, name = 'algorithm'): Algorithm {
  const kind = (value as { kind?: unknown } | null)?.kind
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof kind !== 'string' ||
    !(ALGORITHM_KINDS as readonly string[]).includes(kind)
  ) {
    throw new TollgateTypeError(
      `${name} must be made by ${factoryList()}, got ${
        typeof kind === 'string' ? `kind ${JSON.stringify(kind)}` : describeValue(value)
      }`,
    )
  }
  return value as Algorithm
}

/** The limit of a window, or the capacity of a bucket. */
export function algorithmLimit(algorithm: Algorithm): number {
  return traitsOf(algorithm).limit(algorithm)
}

/**
 * Checks a request cost: a positive integer no larger than the limit or capacity (a larger cost
 * could never be admitted). Message names `cost` and the value.
 */
export function validateCost(algorithm: Algorithm, cost: unknown): number {
  if (typeof cost !== 'number') {
    throw new TollgateTypeError(`cost must be a positive integer, got ${describeValue(cost)}`)
  }
  if (!Number.isSafeInteger(cost) || cost <= 0) {
    throw new TollgateRangeError(`cost must be a positive integer, got ${describeValue(cost)}`)
  }
  const max = algorithmLimit(algorithm)
  if (cost > max) {
    throw new TollgateRangeError(
      `cost must not exceed ${traitsOf(algorithm).limitName} ${max}, got ${cost}`,
    )
  }
  return cost
}
