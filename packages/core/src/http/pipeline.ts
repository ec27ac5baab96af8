import type { Decision } from '../decision.js'
import { type HeaderEntry, type HeaderPolicy, rateLimitHeaders } from '../headers.js'
import { ipKey } from '../keys.js'
import { LIMIT_NOW } from '../limiter.js'
import { checkTrustProxy } from '../warnings.js'
import { type DenialResponse, denialResponse, denialStatus } from './denial.js'
import { type HttpConfig, limitOptionsFor } from './options.js'

/** What an adapter reads from its framework's request, for the pipeline. */
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
  config: HttpConfig<Req, unknown>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
): Outcome | Promise<Outcome> {
  if (counted !== undefined && countedBy(counted, config.policy)) return SKIP
  checkProxy(config as HttpConfig<unknown, unknown>, facts)
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
  config: HttpConfig<Req, unknown>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
): Outcome | Promise<Outcome> {
  const key = config.key === undefined ? ipKey(facts.ip) : config.key(req)
  if (typeof key !== 'string' && isThenable(key)) {
    return key.then((k) => limitStep(config, req, facts, counted, k))
  }
  return limitStep(config, req, facts, counted, key)
}

function limitStep<Req>(
  config: HttpConfig<Req, unknown>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
  key: string,
): Outcome | Promise<Outcome> {
  const decision = config.limiter[LIMIT_NOW](key, limitOptionsFor(config, req))
  if (decision instanceof Promise) {
    return decision.then((d) => outcomeOf(config, req, facts, counted, key, d))
  }
  return outcomeOf(config, req, facts, counted, key, decision)
}

function outcomeOf<Req>(
  config: HttpConfig<Req, unknown>,
  req: Req,
  facts: RequestFacts,
  counted: HeaderEntry[] | undefined,
  key: string,
  decision: Decision,
): Outcome | Promise<Outcome> {
  const entry: HeaderEntry = { decision, policy: config.policy, key }
  let entries: HeaderEntry[]
  if (counted === undefined) entries = [entry]
  else {
    entries = counted
    entries.push(entry)
  }
  const headers = rateLimitHeaders(entries)
  if (decision.allowed) return { kind: 'pass', decision, entries, headers }
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

/** Whether this limiter (its policy object) already counted the request: mounted twice. */
function countedBy(entries: readonly HeaderEntry[], policy: HeaderPolicy): boolean {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.policy === policy) return true
  return false
}

function checkProxy(config: HttpConfig<unknown, unknown>, facts: RequestFacts): void {
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
