import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'

/**
 * Throws a TypeError naming the first key of `options` that is not in `known`.
 * A typo such as `windowMS` must not silently fall back to a default.
 */
export function rejectUnknownOptions(
  where: string,
  options: object,
  known: readonly string[],
): void {
  for (const name in options) {
    if (Object.hasOwn(options, name) && !known.includes(name)) {
      throw new TollgateTypeError(
        `unknown option ${JSON.stringify(name)} in ${where}; expected one of ${known.join(', ')}`,
        'ERR_TOLLGATE_UNKNOWN_OPTION',
      )
    }
  }
}

/** Requires a plain object (the options bag). */
export function requireObject(where: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TollgateTypeError(`${where} expects an options object, got ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/**
 * A positive safe integer: wrong type -> TypeError, zero/negative/fraction/NaN/Infinity -> RangeError.
 * The message names the option and the value.
 */
export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TollgateTypeError(`${name} must be a positive integer, got ${describeValue(value)}`)
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TollgateRangeError(`${name} must be a positive integer, got ${describeValue(value)}`)
  }
  return value
}

/** A non-negative finite number (milliseconds and similar). */
export function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `${name} must be a non-negative number, got ${describeValue(value)}`,
    )
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new TollgateRangeError(
      `${name} must be a non-negative number, got ${describeValue(value)}`,
    )
  }
  return value
}

/** A function or undefined. */
export function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') {
    throw new TollgateTypeError(`${name} must be a function, got ${describeValue(value)}`)
  }
  return value as T
}

/** Rejects configurations whose integer arithmetic would leave the exact range of a double. */
export function assertExactProduct(what: string, a: number, b: number): void {
  if (a * b > Number.MAX_SAFE_INTEGER) {
    throw new TollgateRangeError(
      `${what} must stay below 2^53 for exact arithmetic, got ${a} * ${b}`,
    )
  }
}

/** The longest timer Node arms without clamping it to 1 ms: 2^31 - 1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A positive integer no larger than `max`: wrong type -> TypeError, anything else out of range ->
 * RangeError naming the option, the maximum and the value.
 */
export function boundedInteger(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `${name} must be a positive integer no larger than ${max}, got ${describeValue(value)}`,
    )
  }
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new TollgateRangeError(
      `${name} must be a positive integer no larger than ${max}, got ${describeValue(value)}`,
    )
  }
  return value
}

/** The names of an option-name record (`{ limit: true, ... }`), in declaration order. */
export function optionNames(record: Readonly<Record<string, true>>): string[] {
  const names: string[] = []
  for (const name in record) names.push(name)
  return names
}
