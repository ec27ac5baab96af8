import type { AlgorithmKind } from '@tollgate/core'

/** The suffix after the hash-tagged user key, one per algorithm, so algorithms never share state. */
export const KEY_SUFFIX = {
  fixedWindow: ':fw',
  slidingWindow: ':sw',
  slidingLog: ':sl',
  tokenBucket: ':tb',
  // (core-features placeholders so the widened Algorithm type checks; redis-lua owns these)
  concurrency: ':cc',
  compound: ':cp',
} as const satisfies Record<AlgorithmKind, string>

/**
 * The Redis key holding `key`'s state under an algorithm: `<prefix>{<key>}<suffix>`. The user key
 * is the Cluster hash tag, so every key tollgate derives from one user key maps to one slot.
 *
 * @example
 * stateKey('tollgate:', 'fixedWindow:100:60000:1.2.3.4', 'fixedWindow')
 * // 'tollgate:{fixedWindow:100:60000:1.2.3.4}:fw'
 */
export function stateKey(prefix: string, key: string, kind: AlgorithmKind): string {
  return `${prefix}{${key}}${KEY_SUFFIX[kind]}`
}
