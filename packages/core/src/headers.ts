import { createHash } from 'node:crypto'
import type { Algorithm } from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'
import { rejectUnknownOptions } from './options.js'
import { traitsOf } from './traits.js'

/** The IETF RateLimit header drafts tollgate can write (docs/headers.md). */
export type StandardHeaders = 'draft-6' | 'draft-7' | 'draft-8' | 'draft-11'

/** The `headers` option of both adapters. */
export interface HeadersOptions {
  /**
   * Which draft of the IETF RateLimit fields to write, or `false` for none.
   * @default 'draft-8'
   */
  standard?: StandardHeaders | false
  /**
   * Also write `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds).
   * @default false
   */
  legacy?: boolean
  /**
   * Add the `pk` (partition key) parameter in draft-11 fields. draft-8 always carries it, as
   * express-rate-limit writes it.
   * @default false
   */
  partitionKey?: boolean
}

/** Parsed, validated `headers` option. */
export interface HeadersConfig {
  readonly standard: StandardHeaders | false
  readonly legacy: boolean
  readonly partitionKey: boolean
}

/** Everything about one limiter's headers that does not depend on a decision, computed once. */
export interface HeaderPolicy {
  readonly standard: StandardHeaders | false
  readonly legacy: boolean
  /** Whether members carry `pk` (always in draft-8; in draft-11 with `partitionKey: true`). */
  readonly partitionKey: boolean
  /** The policy name used in draft-8 and draft-11 members. */
  readonly name: string
  /** The limit or capacity. */
  readonly limit: number
  /** Window seconds (`w`), never 0. */
  readonly windowSeconds: number
  /** `String(limit)`. */
  readonly limitText: string
  /**
   * `RateLimit-Policy` value (draft-6/7) or member without `pk` (draft-8/11), e.g.
   * `"100-in-60s"; q=100; w=60`.
   */
  readonly policyText: string
  /** Start of a `RateLimit` member up to the remaining count, e.g. `"100-in-60s"; r=`. */
  readonly memberPrefix: string
  /** Separator before the reset seconds in a member: `; t=` or `;t=`; `''`: no `t` (concurrency). */
  readonly resetSeparator: string
  /** Separator before the partition key: `; pk=:` or `;pk=:`. */
  readonly pkSeparator: string
}

/** One limiter's outcome on a request, as the header formatter needs it. */
export interface HeaderEntry {
  readonly decision: Decision
  readonly policy: HeaderPolicy
  /** The rate-limit key before the limiter's prefix (the one express-rate-limit hashes for `pk`). */
  readonly key: string
  /** Cache of the partition key, filled by the formatter. */
  pk?: string
  /** Who wrote the entry (the HTTP pipeline's config), so one limiter never counts twice. */
  readonly owner?: object
}

/** The defaults of the `headers` option. */
export const DEFAULT_HEADERS: HeadersConfig = Object.freeze({
  standard: 'draft-8',
  legacy: false,
  partitionKey: false,
})

const NO_HEADERS: HeadersConfig = Object.freeze({
  standard: false,
  legacy: false,
  partitionKey: false,
})

const STANDARDS: readonly unknown[] = ['draft-6', 'draft-7', 'draft-8', 'draft-11', false]

function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new TollgateTypeError(`${name} must be a boolean, got ${describeValue(value)}`)
  }
  return value
}

/**
 * Parses the `headers` option once, at construction. `undefined` gives the defaults; `false` turns
 * every rate-limit header off (Retry-After on a denial stays).
 */
export function parseHeadersOptions(value: unknown, where = 'headers'): HeadersConfig {
  if (value === undefined) return DEFAULT_HEADERS
  if (value === false) return NO_HEADERS
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TollgateTypeError(
      `${where} must be an object like { standard: 'draft-8', legacy: false }, got ${describeValue(value)}`,
    )
  }
  const o = value as Record<string, unknown>
  rejectUnknownOptions(where, o, ['standard', 'legacy', 'partitionKey'])
  const standard = o.standard === undefined ? DEFAULT_HEADERS.standard : o.standard
  if (!STANDARDS.includes(standard)) {
    throw new TollgateTypeError(
      `${where}.standard must be 'draft-6', 'draft-7', 'draft-8', 'draft-11' or false, got ${describeValue(standard)}`,
    )
  }
  return Object.freeze({
    standard: standard as StandardHeaders | false,
    legacy: booleanOption(`${where}.legacy`, o.legacy, false),
    partitionKey: booleanOption(`${where}.partitionKey`, o.partitionKey, false),
  })
}

/** `w` of docs/headers.md: window seconds rounded up, or the seconds to refill an empty bucket. */
export function windowSeconds(algorithm: Algorithm): number {
  return traitsOf(algorithm).windowSeconds(algorithm)
}

/** The default policy name: `"100-in-60s"` for windows, `"20-per-4s"` for a token bucket. */
export function defaultPolicyName(algorithm: Algorithm, limit?: number): string {
  const traits = traitsOf(algorithm)
  return traits.policyName(algorithm, limit ?? traits.limit(algorithm))
}

/** An RFC 9651 sf-string: printable ASCII only, `"` and `\` escaped. */
function sfString(name: string): string {
  let out = '"'
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) {
      throw new TollgateRangeError(
        `name must contain printable ASCII only (it is sent in RateLimit headers), got ${describeValue(name)}`,
      )
    }
    if (c === 0x22 || c === 0x5c) out += '\\'
    out += name[i]
  }
  return `${out}"`
}

/**
 * Precomputes one limiter's header strings. Called once per limiter (adapter construction or route
 * registration), never per request.
 */
export function createHeaderPolicy(
  algorithm: Algorithm,
  options: { name?: string | undefined; headers?: HeadersConfig } = {},
): HeaderPolicy {
  const headers = options.headers ?? DEFAULT_HEADERS
  const limit = traitsOf(algorithm).limit(algorithm)
  const w = windowSeconds(algorithm)
  const name = options.name ?? defaultPolicyName(algorithm)
  const quoted = sfString(name)
  const standard = headers.standard
  // A concurrency policy counts requests in flight: `qu="concurrent-requests"`, no `w`, no `t`.
  const concurrent = algorithm.kind === 'concurrency'
  let policyText: string
  let memberPrefix = ''
  let resetSeparator = ''
  let pkSeparator = ''
  if (standard === 'draft-8') {
    policyText = concurrent
      ? `${quoted}; q=${limit}; qu="concurrent-requests"`
      : `${quoted}; q=${limit}; w=${w}`
    memberPrefix = `${quoted}; r=`
    resetSeparator = concurrent ? '' : '; t='
    pkSeparator = '; pk=:'
  } else if (standard === 'draft-11') {
    policyText = concurrent
      ? `${quoted};q=${limit};qu="concurrent-requests"`
      : `${quoted};q=${limit};w=${w}`
    memberPrefix = `${quoted};r=`
    resetSeparator = concurrent ? '' : ';t='
    pkSeparator = ';pk=:'
  } else {
    policyText = concurrent ? `${limit}` : `${limit};w=${w}`
  }
  return Object.freeze({
    standard,
    legacy: headers.legacy,
    partitionKey: standard === 'draft-8' || (standard === 'draft-11' && headers.partitionKey),
    name,
    limit,
    windowSeconds: w,
    limitText: String(limit),
    policyText,
    memberPrefix,
    resetSeparator,
    pkSeparator,
  })
}

/**
 * The header policies of an algorithm: one, or for a compound one per member (in member order),
 * each under its member's default name, as stacked limiters would write them.
 */
export function createHeaderPolicies(
  algorithm: Algorithm,
  options: { name?: string | undefined; headers?: HeadersConfig } = {},
): readonly HeaderPolicy[] {
  if (algorithm.kind !== 'compound') return [createHeaderPolicy(algorithm, options)]
  const headers = options.headers ?? DEFAULT_HEADERS
  return algorithm.members.map((member) => createHeaderPolicy(member, { headers }))
}

/** Partition keys of recent keys, cleared when full (a bound, not an LRU: cheap and enough). */
const PK_CACHE_MAX = 65_536
const pkCache = new Map<string, string>()

/**
 * The partition key as express-rate-limit computes it: the first 12 hex characters of the
 * SHA-256 of the key, taken as ASCII and written in base64 (16 characters, no padding).
 */
export function partitionKey(key: string): string {
  let pk = pkCache.get(key)
  if (pk !== undefined) return pk
  // The first 6 digest bytes are the first 12 hex characters.
  const hex = createHash('sha256').update(key).digest().toString('hex', 0, 6)
  pk = Buffer.from(hex, 'latin1').toString('base64')
  // A hash per request costs more than the rest of the headers; active clients repeat their key.
  if (pkCache.size >= PK_CACHE_MAX) pkCache.clear()
  pkCache.set(key, pk)
  return pk
}

/** `Retry-After` seconds of a denial: `ceil(retryAfterMs / 1000)`, at least 1. */
export function retryAfterSeconds(decision: Decision): number {
  const s = Math.ceil(decision.retryAfterMs / 1000)
  return Math.max(s, 1)
}

function pkOf(entry: HeaderEntry): string {
  let pk = entry.pk
  if (pk === undefined) {
    pk = partitionKey(entry.key)
    entry.pk = pk
  }
  return pk
}

/** Fewest remaining wins; on a tie, the longer reset (docs/headers.md, several limits). */
function beats(a: Decision, b: Decision): boolean {
  return a.remaining < b.remaining || (a.remaining === b.remaining && a.resetMs > b.resetMs)
}

function writeSingle(out: string[], entry: HeaderEntry): void {
  const { decision: d, policy: p } = entry
  const reset = Math.ceil(d.resetMs / 1000)
  if (p.standard === 'draft-6') {
    out.push(
      'RateLimit-Policy',
      p.policyText,
      'RateLimit-Limit',
      p.limitText,
      'RateLimit-Remaining',
      String(d.remaining),
      'RateLimit-Reset',
      String(reset),
    )
  } else {
    out.push(
      'RateLimit-Policy',
      p.policyText,
      'RateLimit',
      `limit=${p.limitText}, remaining=${d.remaining}, reset=${reset}`,
    )
  }
}

function policyMember(entry: HeaderEntry): string {
  const p = entry.policy
  return p.partitionKey ? `${p.policyText}${p.pkSeparator}${pkOf(entry)}:` : p.policyText
}

function rateLimitMember(entry: HeaderEntry): string {
  const p = entry.policy
  const d = entry.decision
  const member =
    p.resetSeparator === ''
      ? `${p.memberPrefix}${d.remaining}`
      : `${p.memberPrefix}${d.remaining}${p.resetSeparator}${Math.ceil(d.resetMs / 1000)}`
  // draft-8 (as express-rate-limit writes it) puts pk in RateLimit-Policy only; draft-11 in both.
  return p.partitionKey && p.standard === 'draft-11'
    ? `${member}${p.pkSeparator}${pkOf(entry)}:`
    : member
}

function writeLegacy(out: string[], entry: HeaderEntry, now: number): void {
  const d = entry.decision
  out.push(
    'X-RateLimit-Limit',
    entry.policy.limitText,
    'X-RateLimit-Remaining',
    String(d.remaining),
    'X-RateLimit-Reset',
    String(Math.ceil((now + d.resetMs) / 1000)),
  )
}

/**
 * The response headers for the limiters that ran on one request, in the order they ran, as a flat
 * `[name, value, name, value, ...]` list. Degraded decisions contribute nothing. When the last
 * decision is a denial, `Retry-After` is included (degraded or not).
 *
 * Several limiters: draft-8/11 members are appended in order (`, `); draft-6/7 and legacy fields
 * come from the limiter with the fewest remaining (tie: longer reset). When stacked limiters mix
 * draft-6/7 with draft-8/11, the list fields are written last and win the shared field names.
 *
 * @param now - epoch milliseconds used for `X-RateLimit-Reset`; defaults to `Date.now()`.
 * @param final - the decision that answers the request, when it is not the last entry's (a
 *   compound limit writes one entry per member): its denial gives `Retry-After`.
 */
export function rateLimitHeaders(
  entries: readonly HeaderEntry[],
  now?: number,
  final?: Decision,
): string[] {
  const out: string[] = []
  const n = entries.length
  if (n === 1) {
    const entry = entries[0]!
    if (entry.decision.degraded !== true) {
      const p = entry.policy
      const standard = p.standard
      if (standard === 'draft-8' || standard === 'draft-11') {
        out.push('RateLimit-Policy', policyMember(entry), 'RateLimit', rateLimitMember(entry))
      } else if (standard !== false) {
        writeSingle(out, entry)
      }
      if (p.legacy) writeLegacy(out, entry, now ?? Date.now())
    }
  } else if (n > 1) {
    let single: HeaderEntry | undefined
    let legacy: HeaderEntry | undefined
    let policyList = ''
    let memberList = ''
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!
      const d = entry.decision
      if (d.degraded === true) continue
      const p = entry.policy
      const standard = p.standard
      if (standard === 'draft-8' || standard === 'draft-11') {
        if (policyList === '') {
          policyList = policyMember(entry)
          memberList = rateLimitMember(entry)
        } else {
          policyList += `, ${policyMember(entry)}`
          memberList += `, ${rateLimitMember(entry)}`
        }
      } else if (standard !== false && (single === undefined || beats(d, single.decision))) {
        single = entry
      }
      if (p.legacy && (legacy === undefined || beats(d, legacy.decision))) legacy = entry
    }
    if (single !== undefined) writeSingle(out, single)
    if (policyList !== '') out.push('RateLimit-Policy', policyList, 'RateLimit', memberList)
    if (legacy !== undefined) writeLegacy(out, legacy, now ?? Date.now())
  }
  const last = final ?? (n > 0 ? entries[n - 1]!.decision : undefined)
  if (last !== undefined && !last.allowed) {
    out.push('Retry-After', String(retryAfterSeconds(last)))
  }
  return out
}
