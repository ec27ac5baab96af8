import { withLimit } from '../algorithms/index.js'
import type { Decision } from '../decision.js'
import {
  createHeaderPolicy,
  type HeaderEntry,
  type HeaderPolicy,
  rateLimitHeaders,
} from '../headers.js'
import { ipKey } from '../keys.js'
import { LIMIT_NOW } from '../limiter.js'
import { checkTrustProxy, warn } from '../warnings.js'
import { type DenialResponse, denialResponse, denialStatus } from './denial.js'
import { type HttpConfig, limitOptionsFor } from './options.js'

/**
 * What an adapter reads from its framework's request, for the pipeline. Plain values, built once
 * per request: no getter or other closure that holds the request. With a getter here, V8 came to
 * allocate these objects in old space and every request then outlived its young generation
 * (session 8: 1.2 MB promoted per scavenge instead of 35 KB on Fastify, a third fewer req/s).
 */
export interface RequestFacts {
  /** The client address as the framework resolved it (trust proxy applied): `req.ip`. */
  readonly ip: string | undefined
  /** The request's Accept header, which picks a JSON or text denial body. */
  readonly accept: string | undefined
  /** Whether the request carried an X-Forwarded-For header. */
  readonly forwardedFor: boolean
  /**
   * The framework's trust-proxy setting (Express `app.get('trust proxy')`); `false` when the
   * framework is known to have ignored X-Forwarded-For; `null` when unknown but trusted.
   */
  readonly trustProxy: unknown
}

/** The limiter did not run: mounted twice on one request, or `skip` said so. */
export interface SkipOutcome {
  readonly kind: 'skip'
}

/** The request goes on. */
export interface PassOutcome {
  readonly kind: 'pass'
  readonly decision: Decision
  /** Every limiter that counted this request so far, this one last: keep it on the request. */
  readonly entries: HeaderEntry[]
  /** Headers to set, `[name, value, name, value, ...]` (all of `entries` combined). */
  readonly headers: readonly string[]
  /**
   * Work after the response (a refund rule, a concurrency lease): hand it to {@link settle} when
   * the response finishes or the connection closes. `undefined` when there is none.
   */
  readonly ticket: Ticket | undefined
}

/** What an admitted request leaves to do after its response. */
export interface Ticket {
  readonly key: string
  readonly cost: number
  /** The concurrency lease to release. */
  readonly lease: string | undefined
  /** Set once settled: a ticket is settled at most once. */
  done: boolean
}

/** The request is denied. */
export interface DenyOutcome {
  readonly kind: 'deny'
  readonly decision: Decision
  readonly entries: HeaderEntry[]
  /** Headers to set, `Retry-After` included. */
  readonly headers: readonly string[]
  /** 429 (`statusCode`), or 503 for a fail-closed degraded denial. */
  readonly status: number
  /** The denial to send; `undefined` when the user's `handler` writes the response. */
  readonly response: DenialResponse | undefined
}

/** What the adapter must do with a request. */
export type Outcome = SkipOutcome | PassOutcome | DenyOutcome

const SKIP: SkipOutcome = Object.freeze({ kind: 'skip' })

/**
 * The order of steps of one request, shared by every adapter:
 * double-count guard -> trust-proxy check -> `skip` -> key -> cost -> `limiter.limit()` ->
 * headers -> pass, or deny (status and body, or the user's handler).
 *
 * Answers synchronously whenever every step does (a string key, a boolean `skip`, a MemoryStore),
 * so no promise is made where none is needed. A step that throws makes this throw (or reject);
 * the adapter hands that error to its framework.
 *
 * @param counted - the entries kept on the request by earlier limiters, or `undefined`.
 */
export function handleRequest<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
): Outcome | Promise<Outcome> {
  if (counted !== undefined && countedBy(counted, config)) return SKIP
  checkProxy(config as HttpConfig<unknown, unknown, never>, facts)
  const skip = config.skip
  if (skip !== undefined) {
    const answer = skip(req)
    if (answer === true) return SKIP
    if (isThenable(answer)) {
      return answer.then((a) => (a === true ? SKIP : keyStep(config, req, facts, counted)))
    }
  }
  return keyStep(config, req, facts, counted)
}

function keyStep<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
): Outcome | Promise<Outcome> {
  const key = config.key === undefined ? ipKey(facts.ip, config.ipv6Subnet) : config.key(req)
  if (typeof key !== 'string' && isThenable(key)) {
    return key.then((k) => limitStep(config, req, facts, counted, k))
  }
  return limitStep(config, req, facts, counted, key)
}

function limitStep<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
  key: string,
): Outcome | Promise<Outcome> {
  const limitOf = config.limitOf
  if (limitOf !== undefined) {
    const limit = limitOf(req)
    if (isThenable(limit)) {
      return limit.then((l) => decideStep(config, req, facts, counted, key, l))
    }
    return decideStep(config, req, facts, counted, key, limit)
  }
  return decideStep(config, req, facts, counted, key, undefined)
}

function decideStep<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
  key: string,
  limit: number | undefined,
): Outcome | Promise<Outcome> {
  const options = limitOptionsFor(config, req, limit)
  const decision = config.limiter[LIMIT_NOW](key, options)
  const cost = options?.cost ?? 1
  if (decision instanceof Promise) {
    return decision.then((d) => outcomeOf(config, req, facts, counted, key, cost, d))
  }
  return outcomeOf(config, req, facts, counted, key, cost, decision)
}

function outcomeOf<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
  key: string,
  cost: number,
  decision: Decision,
): Outcome | Promise<Outcome> {
  if (!decision.allowed && config.onDenied !== undefined) callOnDenied(config, req, decision)
  // The first limiter of a request makes the list, sized to its entries (a growing [] reserves
  // 17 slots); a later one appends to it.
  let entries: HeaderEntry[]
  const before = counted === undefined ? 0 : counted.length
  const parts = decision.parts
  const members = config.memberPolicies
  if (members !== undefined && parts !== undefined && decision.degraded !== true) {
    // A compound writes one member per part, as stacked limiters would (docs/headers.md).
    entries = counted ?? new Array(parts.length)
    for (let i = 0; i < parts.length; i++) {
      entries[before + i] = { decision: parts[i]!, policy: members[i]!, key, owner: config }
    }
  } else {
    const policy = policyFor(config as HttpConfig<unknown, unknown, never>, decision)
    const entry: HeaderEntry = { decision, policy, key, owner: config }
    if (counted === undefined) entries = [entry]
    else {
      counted.push(entry)
      entries = counted
    }
  }
  const ticket = ticketOf(config, key, cost, decision)
  if (config.shadow) {
    // Counted and reported, never denied; its entries (with header-less policies) still guard
    // against a second count and leave the other limiters' headers to them.
    const headers = before === 0 ? NO_HEADERS : rateLimitHeaders(entries.slice(0, before))
    return { kind: 'pass', decision, entries, headers, ticket }
  }
  const headers = rateLimitHeaders(entries, undefined, decision)
  if (decision.allowed) return { kind: 'pass', decision, entries, headers, ticket }
  if (config.handler !== undefined) {
    const status = denialStatus(config, decision)
    return { kind: 'deny', decision, entries, headers, status, response: undefined }
  }
  const response = denialResponse(config, req, decision, facts.accept)
  if (response instanceof Promise) {
    return response.then((r) => ({
      kind: 'deny',
      decision,
      entries,
      headers,
      status: r.status,
      response: r,
    }))
  }
  return { kind: 'deny', decision, entries, headers, status: response.status, response }
}

const NO_HEADERS: readonly string[] = Object.freeze([])

/** A ticket when the admitted request needs work after its response. */
function ticketOf<Req>(
  config: HttpConfig<Req, unknown, never>,
  key: string,
  cost: number,
  decision: Decision,
): Ticket | undefined {
  // A denial consumed nothing, and a degraded admission consumed nothing in the store.
  if (!config.settles || !decision.allowed || decision.degraded === true) return undefined
  return { key, cost, lease: decision.lease, done: false }
}

function callOnDenied<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  decision: Decision,
): void {
  try {
    config.onDenied!(req, decision)
  } catch (error) {
    // Reported, never breaking the request: the denial is still sent.
    warn(
      WARN_ON_DENIED_THREW,
      `onDenied threw (the request was still denied): ${error instanceof Error ? error.message : String(error)}`,
    )
  }
}

/** Warning code: an `onDenied` callback threw. */
export const WARN_ON_DENIED_THREW = 'WARN_TOLLGATE_ON_DENIED_THREW'

/**
 * The work after a response, for an outcome's ticket: releases a concurrency lease, and refunds
 * the request's cost when `skipFailedRequests` / `skipSuccessfulRequests` say so. Runs at most once
 * per ticket; never throws or rejects (a store failure goes to `onStoreError`).
 *
 * @param status - the response status (used when `requestWasSuccessful` is not given).
 * @param finished - false when the connection closed before the response finished: the request
 *   then counts as failed.
 */
export function settle<Req, Res>(
  config: HttpConfig<Req, unknown, Res>,
  ticket: Ticket,
  req: Req,
  res: Res,
  status: number,
  finished: boolean,
): void {
  if (ticket.done) return
  ticket.done = true
  const limiter = config.limiter
  if (ticket.lease !== undefined) quietly(() => limiter.release(ticket.key, ticket.lease!))
  if (!config.skipFailedRequests && !config.skipSuccessfulRequests) return
  const refund = (success: boolean) => {
    if (success ? config.skipSuccessfulRequests : config.skipFailedRequests) {
      quietly(() => limiter.refund(ticket.key, { cost: ticket.cost }))
    }
  }
  const judge = config.requestWasSuccessful
  if (!finished || judge === undefined) {
    refund(finished && status < 400)
    return
  }
  let answer: boolean | Promise<boolean>
  try {
    answer = judge(req, res)
  } catch (error) {
    warn(
      WARN_SUCCESS_CHECK_THREW,
      `requestWasSuccessful threw; the request counts as failed: ${String(error)}`,
    )
    refund(false)
    return
  }
  if (isThenable(answer)) {
    answer.then(
      (a) => refund(a === true),
      (error: unknown) => {
        warn(
          WARN_SUCCESS_CHECK_THREW,
          `requestWasSuccessful rejected; the request counts as failed: ${String(error)}`,
        )
        refund(false)
      },
    )
  } else {
    refund(answer === true)
  }
}

/**
 * Runs post-response work that must never crash the process: the limiter's refund and release
 * resolve even when the store fails (onStoreError hears of it); anything else is a warning.
 */
function quietly(work: () => Promise<unknown>): void {
  const report = (error: unknown) =>
    warn(WARN_SETTLE_FAILED, `a refund or release failed after the response: ${String(error)}`)
  try {
    work().catch(report)
  } catch (error) {
    report(error)
  }
}

/** Warning code: a refund or lease release failed outside the store's fail policy. */
export const WARN_SETTLE_FAILED = 'WARN_TOLLGATE_SETTLE_FAILED'

/** Warning code: a `requestWasSuccessful` callback threw or rejected. */
export const WARN_SUCCESS_CHECK_THREW = 'WARN_TOLLGATE_SUCCESS_CHECK_THREW'

/** Whether this limiter already counted the request: mounted twice. */
function countedBy(entries: readonly HeaderEntry[], owner: object): boolean {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.owner === owner) return true
  return false
}

/** Header policies of per-request limits, per config, built once per distinct limit. */
const tierPolicies = new WeakMap<object, Map<number, HeaderPolicy>>()
const TIER_POLICIES_MAX = 64

/**
 * The header policy of a decision: the config's own, or, under a per-request limit, one whose
 * `q` and default name show the limit that applied (docs/headers.md).
 */
function policyFor(config: HttpConfig<unknown, unknown, never>, decision: Decision): HeaderPolicy {
  const policy = config.policy
  if (
    decision.limit === policy.limit ||
    decision.degraded === true ||
    (config.limitOf === undefined && config.limitOptions?.limit === undefined)
  ) {
    return policy
  }
  let tiers = tierPolicies.get(config)
  if (tiers === undefined) {
    tiers = new Map()
    tierPolicies.set(config, tiers)
  }
  let tier = tiers.get(decision.limit)
  if (tier === undefined) {
    tier = createHeaderPolicy(withLimit(config.limiter.algorithm, decision.limit), {
      name: config.limiter.name,
      headers: config.headers,
    })
    // Limits come from the application's own plan table; bound it all the same.
    if (tiers.size >= TIER_POLICIES_MAX) tiers.clear()
    tiers.set(decision.limit, tier)
  }
  return tier
}

function checkProxy(config: HttpConfig<unknown, unknown, never>, facts: RequestFacts): void {
  const state = config.proxyChecks
  if (!state.trust) {
    state.trust = true
    checkTrustProxy(facts.trustProxy, false)
  }
  if (!state.forwarded && facts.forwardedFor) {
    state.forwarded = true
    checkTrustProxy(facts.trustProxy, true)
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * Turns anything thrown into an Error for a framework's error path: `next(undefined)` or
 * `next('route')` from a thrown falsy value or string would let a request through unlimited.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown
  return new Error(
    `tollgate: a rate-limit option function threw a non-Error value: ${String(thrown)}`,
    {
      cause: thrown,
    },
  )
}
