import { createHash } from 'node:crypto'
import type { Algorithm, AlgorithmKind, RateAlgorithm } from './algorithms/index.js'

/**
 * The facts about one algorithm kind that code outside the stores needs: how it is named in
 * messages, keys and headers, and which of its numbers is "the limit". Stores interpret the
 * algorithm values themselves (an exhaustive switch on `kind`); everything else reads this table,
 * so a new kind is one row here, and the compiler names the row until it exists.
 */
export interface AlgorithmTraits<A extends Algorithm = Algorithm> {
  /** The factory that makes values of this kind, as messages name it: `'fixedWindow()'`. */
  readonly factory: string
  /** Short code in default key prefixes and Redis key suffixes: `'fw'`. */
  readonly code: string
  /** The option that holds the limit: `'limit'` or `'capacity'`. */
  readonly limitName: 'limit' | 'capacity'
  /** The limit (or a bucket's capacity). */
  limit(algorithm: A): number
  /** `w` of docs/headers.md: window seconds, never 0. */
  windowSeconds(algorithm: A): number
  /** The default policy name for a given limit: `'100-in-60s'`, `'20-per-4s'`. */
  policyName(algorithm: A, limit: number): string
  /** What keeps differently configured limiters apart in a shared store: `'fw:100:60000'`. */
  signature(algorithm: A): string
}

type TraitsTable = {
  readonly [K in AlgorithmKind]: AlgorithmTraits<Extract<Algorithm, { kind: K }>>
}

const windowSecondsOf = (a: { windowMs: number }): number =>
  Math.max(1, Math.ceil(a.windowMs / 1000))

/** One row per algorithm kind. */
export const ALGORITHM_TRAITS = {
  fixedWindow: {
    factory: 'fixedWindow()',
    code: 'fw',
    limitName: 'limit',
    limit: (a) => a.limit,
    windowSeconds: windowSecondsOf,
    policyName: (a, limit) => `${limit}-in-${windowSecondsOf(a)}s`,
    signature: (a) => `fw:${a.limit}:${a.windowMs}`,
  },
  slidingWindow: {
    factory: 'slidingWindow()',
    code: 'sw',
    limitName: 'limit',
    limit: (a) => a.limit,
    windowSeconds: windowSecondsOf,
    policyName: (a, limit) => `${limit}-in-${windowSecondsOf(a)}s`,
    signature: (a) => `sw:${a.limit}:${a.windowMs}`,
  },
  slidingLog: {
    factory: 'slidingLog()',
    code: 'sl',
    limitName: 'limit',
    limit: (a) => a.limit,
    windowSeconds: windowSecondsOf,
    policyName: (a, limit) => `${limit}-in-${windowSecondsOf(a)}s`,
    signature: (a) => `sl:${a.limit}:${a.windowMs}`,
  },
  tokenBucket: {
    factory: 'tokenBucket()',
    code: 'tb',
    limitName: 'capacity',
    limit: (a) => a.capacity,
    // ceil(capacity / refillRate * refillIntervalMs / 1000), in integers so nothing rounds wrongly.
    windowSeconds: (a) => bucketSeconds(a.capacity, a.refillRate, a.refillIntervalMs),
    policyName: (a, capacity) =>
      `${capacity}-per-${bucketSeconds(capacity, a.refillRate, a.refillIntervalMs)}s`,
    signature: (a) => `tb:${a.capacity}:${a.refillRate}:${a.refillIntervalMs}`,
  },
  // (rows added by core-features for the new kinds; the lead may refine them)
  concurrency: {
    factory: 'concurrency()',
    code: 'cc',
    limitName: 'limit',
    limit: (a) => a.limit,
    // docs/headers.md: a concurrency policy has no `w`; the lease is the nearest meaning.
    windowSeconds: (a) => Math.max(1, Math.ceil(a.leaseMs / 1000)),
    policyName: (_a, limit) => `${limit}-concurrent`,
    signature: (a) => `cc:${a.limit}:${a.leaseMs}`,
  },
  compound: {
    factory: 'compound()',
    code: 'cp',
    limitName: 'limit',
    limit: (a) => memberTraits(a.members[0]!).limit(a.members[0]!),
    windowSeconds: (a) => memberTraits(a.members[0]!).windowSeconds(a.members[0]!),
    policyName: (a) =>
      a.members.map((m) => memberTraits(m).policyName(m, memberTraits(m).limit(m))).join(', '),
    // A digest of the members' signatures, not the signatures themselves: a compound's prefix
    // is in each of its keys (one per member plus the block, every request), and two spelled-out
    // signatures made them ~70 bytes, which cost the Node side ~4,000 instructions per decision
    // (ioredis measures and copies every key, Redis hashes each). 72 bits keep configurations
    // apart; every process derives the same digest.
    signature: (a) =>
      `cp:${createHash('sha256')
        .update(a.members.map((m) => memberTraits(m).signature(m)).join('+'))
        .digest('base64url')
        .slice(0, 12)}`,
  },
} as const satisfies TraitsTable

function memberTraits(member: RateAlgorithm): AlgorithmTraits<RateAlgorithm> {
  return ALGORITHM_TRAITS[member.kind] as unknown as AlgorithmTraits<RateAlgorithm>
}

function bucketSeconds(capacity: number, refillRate: number, refillIntervalMs: number): number {
  const num = BigInt(capacity) * BigInt(refillIntervalMs)
  const den = BigInt(refillRate) * 1000n
  return Math.max(1, Number((num + den - 1n) / den))
}

/** The kinds a store must interpret, in the table's order. */
export const ALGORITHM_KINDS: readonly AlgorithmKind[] = kindsOf(ALGORITHM_TRAITS)

function kindsOf(table: TraitsTable): AlgorithmKind[] {
  const kinds: AlgorithmKind[] = []
  for (const kind in table) kinds.push(kind as AlgorithmKind)
  return kinds
}

/** The traits of an algorithm value's kind. */
export function traitsOf<A extends Algorithm>(algorithm: A): AlgorithmTraits<A> {
  return ALGORITHM_TRAITS[algorithm.kind] as unknown as AlgorithmTraits<A>
}

/** `fixedWindow(), slidingWindow(), slidingLog() or tokenBucket()`: for error messages. */
export function factoryList(): string {
  const names = ALGORITHM_KINDS.map((kind) => ALGORITHM_TRAITS[kind].factory)
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}
