import type { AlgorithmKind, RateAlgorithmKind } from '@tollgate/core'

/** Every kind of state a RedisStore keeps (the four rate algorithms, concurrency, compound). */
export type StateKind = AlgorithmKind

/**
 * The suffix after the hash-tagged user key, one per algorithm kind, so algorithms never share
 * state. A compound's members live under `:c<position>` + their own suffix, its block under
 * `:c:block`.
 */
export const KEY_SUFFIX = {
  fixedWindow: ':fw',
  slidingWindow: ':sw',
  slidingLog: ':sl',
  tokenBucket: ':tb',
  concurrency: ':cc',
  compound: ':c',
} as const satisfies Record<StateKind, string>

/**
 * The Redis key holding `key`'s state under an algorithm: `<prefix>{<key>}<suffix>`. The user key
 * is the Cluster hash tag, so every key tollgate derives from one user key maps to one slot (a
 * key starting with `}` or `\` is written `\<key>`, see below).
 *
 * @example
 * stateKey('tollgate:', 'fixedWindow:100:60000:1.2.3.4', 'fixedWindow')
 * // 'tollgate:{fixedWindow:100:60000:1.2.3.4}:fw'
 */
export function stateKey(prefix: string, key: string, kind: StateKind): string {
  return keyHead(prefix, key) + KEY_SUFFIX[kind]
}

/**
 * What every key derived from `key` starts with: `<prefix>{<key>}` (the hash tag). The store
 * builds it once per op and appends each key's suffix.
 *
 * @example
 * keyHead('tollgate:', 'k') // 'tollgate:{k}'
 */
export function keyHead(prefix: string, key: string): string {
  return `${prefix}{${tag(key)}}`
}

/**
 * The user key as it goes inside the braces. A key that starts with `}` would make an empty hash
 * tag (Redis then hashes the whole key, and the keys derived from it would land in different
 * slots), so it gets a leading backslash; so does a key that starts with a backslash, which keeps
 * the mapping one-to-one.
 */
function tag(key: string): string {
  const first = key.charCodeAt(0)
  return first === 0x7d || first === 0x5c ? `\\${key}` : key
}

/**
 * The state key of a compound's member at `position` (0-based): `<prefix>{<key>}:c<position><suffix>`.
 * Members keep their state by position, so two members of one kind never share a counter, and
 * none shares the state of the same algorithm used alone.
 *
 * @example
 * memberKey('tollgate:', 'k', 1, 'fixedWindow') // 'tollgate:{k}:c1:fw'
 */
export function memberKey(
  prefix: string,
  key: string,
  position: number,
  kind: RateAlgorithmKind,
): string {
  return keyHead(prefix, key) + memberSuffix(position, kind)
}

/** A member's state-key suffix by position and kind, `:c<position><suffix>`, built once each. */
const MEMBER_SUFFIXES: Array<Record<RateAlgorithmKind, string>> = []

/** What follows the key head in a compound member's state key (see {@link memberKey}). */
export function memberSuffix(position: number, kind: RateAlgorithmKind): string {
  let byKind = MEMBER_SUFFIXES[position]
  if (byKind === undefined) {
    byKind = {
      fixedWindow: `:c${position}${KEY_SUFFIX.fixedWindow}`,
      slidingWindow: `:c${position}${KEY_SUFFIX.slidingWindow}`,
      slidingLog: `:c${position}${KEY_SUFFIX.slidingLog}`,
      tokenBucket: `:c${position}${KEY_SUFFIX.tokenBucket}`,
    }
    MEMBER_SUFFIXES[position] = byKind
  }
  return byKind[kind]
}

/**
 * The key of a block (docs/semantics.md, "block") beside the state it blocks: `<state key>:block`
 * (for a compound, `<prefix>{<key>}:c:block`, one block for the whole compound). Its value is
 * the block's end in epoch ms; it expires when the block does.
 *
 * @example
 * blockKey('tollgate:', 'k', 'slidingLog') // 'tollgate:{k}:sl:block'
 */
export function blockKey(prefix: string, key: string, kind: StateKind): string {
  return keyHead(prefix, key) + BLOCK_SUFFIX[kind]
}

/** What follows the key head in a block key (see {@link blockKey}). */
export const BLOCK_SUFFIX = {
  fixedWindow: `${KEY_SUFFIX.fixedWindow}:block`,
  slidingWindow: `${KEY_SUFFIX.slidingWindow}:block`,
  slidingLog: `${KEY_SUFFIX.slidingLog}:block`,
  tokenBucket: `${KEY_SUFFIX.tokenBucket}:block`,
  concurrency: `${KEY_SUFFIX.concurrency}:block`,
  compound: `${KEY_SUFFIX.compound}:block`,
} as const satisfies Record<StateKind, string>

/**
 * Whether `prefix` leaves the hash tag to tollgate: a prefix holding an empty tag `{}` first
 * would make Redis hash whole keys, so the keys of one user key could span slots.
 */
export function prefixHasEmptyTag(prefix: string): boolean {
  const open = prefix.indexOf('{')
  return open !== -1 && prefix.indexOf('}', open + 1) === open + 1
}
