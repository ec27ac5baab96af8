import {
  type Algorithm,
  assertAlgorithm,
  parseAlgorithm,
  validateCost,
} from '../algorithms/index.js'
import type { Decision } from '../decision.js'
import { describeValue, TollgateRangeError, TollgateTypeError } from '../errors.js'
import type { FailureOptions } from '../fail-policy.js'
import {
  createHeaderPolicies,
  createHeaderPolicy,
  type HeaderPolicy,
  type HeadersConfig,
  type HeadersOptions,
  parseHeadersOptions,
} from '../headers.js'
import { parseIpv6Subnet } from '../keys.js'
import {
  algorithmSignature,
  createLimiter,
  LIMITER_OPTIONS,
  type Limiter,
  type LimiterOptions,
  type LimitOptions,
} from '../limiter.js'
import { optionalFunction, optionNames, rejectUnknownOptions, requireObject } from '../options.js'
import type { Store } from '../store.js'
import { factoryList } from '../traits.js'

/** A body the `message` option may produce: text, or a value sent as JSON. */
export type MessageBody = string | object

/**
 * The options both adapters (`@tollgate/express`, `@tollgate/fastify`) share, parsed by
 * {@link parseHttpOptions}. `Req` is the framework's request type, `Handler` its denial handler,
 * `Res` its response (reply) type.
 */
export interface HttpLimitOptions<Req, Handler, Res = unknown> {
  /**
   * The algorithm value (fixedWindow(), slidingWindow(), slidingLog(), tokenBucket(),
   * concurrency()), or an array of rate algorithms for an all-or-nothing compound limit. Exactly
   * one of `algorithm` and `limiter`.
   */
  algorithm?: Algorithm | readonly Algorithm[]
  /** Where counters live. @default new MemoryStore() */
  store?: Store
  /** A limiter made by createLimiter(), instead of `algorithm` and its options. */
  limiter?: Limiter
  /**
   * The rate-limit key of a request. Return a string (fast path) or a promise of one.
   * @default the client IP through ipKey() (IPv6 grouped by `ipv6Subnet`)
   */
  key?: (req: Req) => string | Promise<string>
  /** Units a request consumes: a positive integer, or a function of the request. @default 1 */
  cost?: number | ((req: Req) => number)
  /**
   * This request's limit (a bucket's capacity): a positive integer, or a function of the request
   * (paid tiers on one limiter). Every limit of one key shares its state, so an upgrade mid-window
   * keeps the count; headers show the limit that applied. Not with a compound algorithm.
   * @default the algorithm's own limit
   */
  limit?: number | ((req: Req) => number | Promise<number>)
  /** Requests for which this returns true are neither counted nor limited. @default undefined */
  skip?: (req: Req) => boolean | Promise<boolean>
  /**
   * Refund a request whose response is a failure (see `requestWasSuccessful`) once it finishes,
   * or when the client hangs up first. express-rate-limit's option of the same name.
   * @default false
   */
  skipFailedRequests?: boolean
  /**
   * Refund a request whose response is a success once it finishes: only failures count (login
   * protection). express-rate-limit's option of the same name.
   * @default false
   */
  skipSuccessfulRequests?: boolean
  /**
   * Whether a finished response counts as a success, for the two refund options.
   * @default status < 400
   */
  requestWasSuccessful?: (req: Req, res: Res) => boolean | Promise<boolean>
  /**
   * A denial by this limiter also blocks the key for this many milliseconds, in every process
   * that shares the store (brute-force lockout). An integer from 1 to 2^31 - 1.
   * @default undefined (no block)
   */
  blockDurationMs?: number
  /**
   * `'shadow'` counts and reports (events, `req.rateLimit`, `onDenied`) but never denies and sets
   * no rate-limit headers: try a new limit on live traffic.
   * @default 'enforce'
   */
  mode?: 'enforce' | 'shadow'
  /**
   * Called once for each denial (in shadow mode, each would-be denial), before the denial is sent.
   * An exception from it is reported as a warning and never breaks the request.
   * @default undefined
   */
  onDenied?: (req: Req, decision: Decision) => void
  /**
   * IPv6 prefix length the default key groups addresses by (an integer from 1 to 128), or
   * `false` for whole addresses. IPv4-mapped IPv6 addresses are keyed as IPv4 unless `false`.
   * @default 56
   */
  ipv6Subnet?: number | false
  /** Which rate-limit headers to write; `false` for none. @default { standard: 'draft-8', legacy: false, partitionKey: false } */
  headers?: HeadersOptions | false
  /** HTTP status of a denial (400-599). Fail-closed denials are always 503. @default 429 */
  statusCode?: number
  /**
   * Body of a denial: a string (text, or `{ error: message, retryAfterMs }` as JSON), an object
   * (sent as JSON), or a function of the request and decision returning either.
   * @default { error: 'Too Many Requests', retryAfterMs } (JSON) or 'Too Many Requests' (text)
   */
  message?: MessageBody | ((req: Req, decision: Decision) => MessageBody | Promise<MessageBody>)
  /** Replaces the whole denial response. Headers and the status are set before it runs. @default undefined */
  handler?: Handler
  /** What to answer when the store fails or is slow (see createLimiter). @default { mode: 'open', timeoutMs: 100, breaker: { failures: 5, cooldownMs: 1000 } } */
  failure?: FailureOptions
  /** Called for every failed store call with the error and the key. @default undefined */
  onStoreError?: (error: unknown, key: string) => void
  /** Policy name in draft-8/11 headers, and the default key prefix in a shared store. @default '<limit>-in-<w>s' */
  name?: string
  /** Prepended to every key in the store. @default see createLimiter */
  prefix?: string
  /** Answer keys known to be denied locally until they may pass (see createLimiter). @default true (false for MemoryStore) */
  denyCache?: boolean
}

/** The parsed adapter options: everything a request needs, computed once. */
export interface HttpConfig<Req, Handler, Res = unknown> {
  readonly limiter: Limiter
  readonly policy: HeaderPolicy
  /** A compound limiter's member policies, in member order (one header member each). */
  readonly memberPolicies: readonly HeaderPolicy[] | undefined
  readonly headers: HeadersConfig
  /** `undefined`: the adapter uses the client IP through ipKey(). */
  readonly key: ((req: Req) => string | Promise<string>) | undefined
  /** The `skip` option: a request it returns true for is neither counted nor limited. */
  readonly skip: ((req: Req) => boolean | Promise<boolean>) | undefined
  /** Set when `cost` is a function. */
  readonly costOf: ((req: Req) => number) | undefined
  /** Set when `limit` is a function. */
  readonly limitOf: ((req: Req) => number | Promise<number>) | undefined
  /** The fixed cost (1 unless `cost` is a number). */
  readonly cost: number
  /** Passed to limiter.limit() when nothing depends on the request (undefined: all defaults). */
  readonly limitOptions: LimitOptions | undefined
  readonly statusCode: number
  readonly handler: Handler | undefined
  /** Fail-closed limiter: a degraded denial is a 503. */
  readonly closed: boolean
  readonly message: Message<Req>
  readonly shadow: boolean
  /** The `onDenied` option: called once per denial (or would-be denial in shadow mode). */
  readonly onDenied: ((req: Req, decision: Decision) => void) | undefined
  readonly ipv6Subnet: number | false
  readonly blockDurationMs: number | undefined
  readonly skipFailedRequests: boolean
  readonly skipSuccessfulRequests: boolean
  /** The `requestWasSuccessful` option; undefined means status < 400. */
  readonly requestWasSuccessful: ((req: Req, res: Res) => boolean | Promise<boolean>) | undefined
  /** An admitted request needs work after its response: a refund rule, or a concurrency lease. */
  readonly settles: boolean
  /** Once-only trust-proxy checks done (the one mutable part: warnings fire once per limiter). */
  readonly proxyChecks: { trust: boolean; forwarded: boolean }
}

type Message<Req> =
  | { readonly kind: 'default' }
  | { readonly kind: 'text'; readonly text: string; readonly jsonPrefix: string }
  | { readonly kind: 'json'; readonly json: string }
  | {
      readonly kind: 'function'
      readonly fn: (req: Req, decision: Decision) => MessageBody | Promise<MessageBody>
    }

/**
 * Every option name of {@link HttpLimitOptions}, as a record keyed by the type: `tsc` fails when an
 * option is added to the interface and not here (express-rate-limit's KeysEnum pattern).
 */
const HTTP_OPTION_NAMES = {
  algorithm: true,
  store: true,
  limiter: true,
  key: true,
  cost: true,
  limit: true,
  skip: true,
  skipFailedRequests: true,
  skipSuccessfulRequests: true,
  requestWasSuccessful: true,
  blockDurationMs: true,
  mode: true,
  onDenied: true,
  ipv6Subnet: true,
  headers: true,
  statusCode: true,
  message: true,
  handler: true,
  failure: true,
  onStoreError: true,
  name: true,
  prefix: true,
  denyCache: true,
} as const satisfies Record<keyof HttpLimitOptions<unknown, unknown, unknown>, true>

/** The names parseHttpOptions knows. */
export const HTTP_OPTIONS: readonly string[] = optionNames(HTTP_OPTION_NAMES)

/** The adapter options that build the limiter (every createLimiter option). */
export const LIMITER_OWNED: readonly string[] = LIMITER_OPTIONS

const DEFAULT_MESSAGE = { kind: 'default' } as const

function parseMessage<Req>(value: unknown, where: string): Message<Req> {
  if (value === undefined) return DEFAULT_MESSAGE
  if (typeof value === 'string') {
    return {
      kind: 'text',
      text: value,
      jsonPrefix: `{"error":${JSON.stringify(value)},"retryAfterMs":`,
    }
  }
  if (typeof value === 'function') {
    return { kind: 'function', fn: value as (req: Req, d: Decision) => MessageBody }
  }
  if (typeof value === 'object' && value !== null) {
    // Serialized once: the object is a constant of the configuration.
    return { kind: 'json', json: JSON.stringify(value) }
  }
  throw new TollgateTypeError(
    `${where}: message must be a string, an object or a function, got ${describeValue(value)}`,
  )
}

function parseStatusCode(value: unknown): number {
  if (value === undefined) return 429
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `statusCode must be an integer from 400 to 599, got ${describeValue(value)}`,
    )
  }
  if (!Number.isInteger(value) || value < 400 || value > 599) {
    throw new TollgateRangeError(`statusCode must be an integer from 400 to 599, got ${value}`)
  }
  return value
}

function assertLimiter(value: unknown): Limiter {
  const l = value as Partial<Limiter> | null
  if (
    typeof value !== 'object' ||
    l === null ||
    typeof l.limit !== 'function' ||
    typeof l.failure !== 'object'
  ) {
    throw new TollgateTypeError(
      `limiter must be made by createLimiter(), got ${describeValue(value)}`,
    )
  }
  assertAlgorithm(l.algorithm, 'limiter.algorithm')
  return value as Limiter
}

/**
 * Parses the options of an adapter once, at construction: unknown names and bad values throw a
 * TypeError/RangeError naming them; the limiter is built (unless given) and every header string
 * that does not depend on a request is precomputed.
 *
 * @param where - how the caller is named in messages, e.g. 'rateLimit()'.
 * @param extra - option names the adapter reads itself (such as Fastify's `global`); accepted and
 *   otherwise ignored here.
 */
export function parseHttpOptions<Req, Handler, Res = unknown>(
  options: HttpLimitOptions<Req, Handler, Res>,
  where: string,
  extra: readonly string[] = [],
): HttpConfig<Req, Handler, Res> {
  const o = requireObject(where, options)
  rejectUnknownOptions(where, o, extra.length === 0 ? HTTP_OPTIONS : [...HTTP_OPTIONS, ...extra])

  let limiter: Limiter
  if (o.limiter !== undefined) {
    const conflicting = LIMITER_OWNED.filter((name) => o[name] !== undefined)
    if (conflicting.length > 0) {
      throw new TollgateTypeError(
        `${where}: ${conflicting.join(', ')} cannot be combined with limiter; pass ${
          conflicting.length > 1 ? 'them' : 'it'
        } to createLimiter() instead`,
      )
    }
    limiter = assertLimiter(o.limiter)
  } else {
    if (o.algorithm === undefined) {
      throw new TollgateTypeError(
        `${where} needs an algorithm (${factoryList()}) or a limiter, got neither`,
      )
    }
    const limiterOptions: Record<string, unknown> = { algorithm: o.algorithm }
    for (const name of LIMITER_OWNED) {
      if (name !== 'algorithm' && o[name] !== undefined) limiterOptions[name] = o[name]
    }
    limiter = createLimiter(limiterOptions as unknown as Parameters<typeof createLimiter>[0])
  }
  const algorithm = limiter.algorithm

  const mode = o.mode ?? 'enforce'
  if (mode !== 'enforce' && mode !== 'shadow') {
    throw new TollgateTypeError(`mode must be 'enforce' or 'shadow', got ${describeValue(mode)}`)
  }
  const shadow = mode === 'shadow'
  // Shadow mode sets no rate-limit headers: its policy writes none.
  const headers = shadow ? parseHeadersOptions(false) : parseHeadersOptions(o.headers)
  if (shadow) parseHeadersOptions(o.headers)

  let costOf: ((req: Req) => number) | undefined
  let cost = 1
  if (typeof o.cost === 'function') costOf = o.cost as (req: Req) => number
  else if (o.cost !== undefined) cost = validateCost(algorithm, o.cost)

  let limitOf: ((req: Req) => number | Promise<number>) | undefined
  let limit: number | undefined
  if (o.limit !== undefined) {
    if (algorithm.kind === 'compound') {
      throw new TollgateTypeError(
        `limit cannot be combined with a compound algorithm (each member keeps its own limit), got ${describeValue(o.limit)}`,
      )
    }
    if (typeof o.limit === 'function') limitOf = o.limit as (req: Req) => number
    else limit = requestLimit(o.limit, cost)
  }

  const blockDurationMs = parseBlockDuration(o.blockDurationMs)
  const skipFailedRequests = booleanOption('skipFailedRequests', o.skipFailedRequests)
  const skipSuccessfulRequests = booleanOption('skipSuccessfulRequests', o.skipSuccessfulRequests)
  const requestWasSuccessful = optionalFunction<(req: Req, res: Res) => boolean | Promise<boolean>>(
    'requestWasSuccessful',
    o.requestWasSuccessful,
  )

  let limitOptions: LimitOptions | undefined
  if (cost !== 1 || limit !== undefined || blockDurationMs !== undefined || shadow) {
    const fixed: { -readonly [K in keyof LimitOptions]: LimitOptions[K] } = {}
    if (cost !== 1) fixed.cost = cost
    if (limit !== undefined) fixed.limit = limit
    if (blockDurationMs !== undefined) fixed.blockDurationMs = blockDurationMs
    if (shadow) fixed.mode = 'shadow'
    limitOptions = Object.freeze(fixed)
  }

  return Object.freeze({
    limiter,
    policy: createHeaderPolicy(algorithm, { name: limiter.name, headers }),
    memberPolicies:
      algorithm.kind === 'compound'
        ? createHeaderPolicies(algorithm, { name: limiter.name, headers })
        : undefined,
    headers,
    key: optionalFunction<(req: Req) => string | Promise<string>>('key', o.key),
    skip: optionalFunction<(req: Req) => boolean | Promise<boolean>>('skip', o.skip),
    costOf,
    limitOf,
    cost,
    limitOptions,
    statusCode: parseStatusCode(o.statusCode),
    handler: optionalFunction<Handler>('handler', o.handler),
    closed: limiter.failure.mode === 'closed',
    message: parseMessage<Req>(o.message, where),
    shadow,
    onDenied: optionalFunction<(req: Req, decision: Decision) => void>('onDenied', o.onDenied),
    ipv6Subnet: parseIpv6Subnet(o.ipv6Subnet),
    blockDurationMs,
    skipFailedRequests,
    skipSuccessfulRequests,
    requestWasSuccessful,
    settles: skipFailedRequests || skipSuccessfulRequests || algorithm.kind === 'concurrency',
    proxyChecks: { trust: false, forwarded: false },
  })
}

/** 2^31 - 1: the longest duration a Node timer (and so a block) is given in. */
const MAX_DURATION_MS = 2_147_483_647

function parseBlockDuration(value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `blockDurationMs must be an integer from 1 to ${MAX_DURATION_MS}, got ${describeValue(value)}`,
    )
  }
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_DURATION_MS) {
    throw new TollgateRangeError(
      `blockDurationMs must be an integer from 1 to ${MAX_DURATION_MS}, got ${describeValue(value)}`,
    )
  }
  return value
}

function booleanOption(name: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') {
    throw new TollgateTypeError(`${name} must be a boolean, got ${describeValue(value)}`)
  }
  return value
}

/** A `cost` function's answer: a positive integer (the limiter checks it against the limit). */
function requestCost(value: unknown): number {
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `cost function must return a positive integer, got ${describeValue(value)}`,
    )
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TollgateRangeError(
      `cost function must return a positive integer, got ${describeValue(value)}`,
    )
  }
  return value
}

/**
 * A per-request limit: a positive safe integer, at least the request's cost (a smaller one could
 * never admit it). Used at construction and for each answer of a `limit` function.
 */
export function requestLimit(value: unknown, cost: number): number {
  if (typeof value !== 'number') {
    throw new TollgateTypeError(`limit must be a positive integer, got ${describeValue(value)}`)
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TollgateRangeError(`limit must be a positive integer, got ${describeValue(value)}`)
  }
  if (cost > value) {
    throw new TollgateRangeError(`limit must be at least the cost ${cost}, got ${value}`)
  }
  return value
}

/**
 * `limiter.limit()` options for a request whose cost or limit depends on it, given the limit the
 * `limit` function answered (if any). Checked here, not defaulted: a cost function answering
 * undefined is a bug, not cost 1.
 */
export function limitOptionsFor<Req>(
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  limit?: number,
): LimitOptions | undefined {
  if (config.costOf === undefined && limit === undefined) return config.limitOptions
  const cost = config.costOf === undefined ? config.cost : requestCost(config.costOf(req))
  const options: { -readonly [K in keyof LimitOptions]: LimitOptions[K] } = { cost }
  const fixed = config.limitOptions
  if (limit !== undefined) options.limit = requestLimit(limit, cost)
  else if (fixed?.limit !== undefined) options.limit = fixed.limit
  if (fixed?.blockDurationMs !== undefined) options.blockDurationMs = fixed.blockDurationMs
  if (fixed?.mode !== undefined) options.mode = fixed.mode
  return options
}

/**
 * Checks the options a plugin registration gives for its routes to inherit, when it builds no
 * limiter of its own (Fastify `global: false`): every value present is validated now, as
 * {@link parseHttpOptions} will when a route inherits it, so a bad plugin-level `statusCode` or
 * `algorithm` fails at registration and not at the first route.
 */
export function validateHttpOptions(
  options: unknown,
  where: string,
  extra: readonly string[] = [],
): void {
  const o = requireObject(where, options)
  rejectUnknownOptions(where, o, [...HTTP_OPTIONS, ...extra])
  const algorithm = o.algorithm === undefined ? undefined : parseAlgorithm(o.algorithm)
  if (o.limiter !== undefined) assertLimiter(o.limiter)
  // The limiter options are checked by the code that will check them on a route: createLimiter.
  if (o.algorithm !== undefined && o.limiter === undefined) {
    const limiterOptions: Record<string, unknown> = {}
    for (const name of LIMITER_OWNED) if (o[name] !== undefined) limiterOptions[name] = o[name]
    createLimiter(limiterOptions as unknown as LimiterOptions)
  } else {
    for (const name of LIMITER_OWNED) {
      if (o[name] === undefined || name === 'algorithm') continue
      // Without an algorithm, check each value with a stand-in one: the same rules apply.
      createLimiter({
        algorithm: STAND_IN,
        [name]: o[name],
      } as unknown as LimiterOptions)
    }
  }
  parseHeadersOptions(o.headers)
  parseStatusCode(o.statusCode)
  parseMessage(o.message, where)
  optionalFunction('key', o.key)
  optionalFunction('skip', o.skip)
  optionalFunction('handler', o.handler)
  optionalFunction('onDenied', o.onDenied)
  optionalFunction('requestWasSuccessful', o.requestWasSuccessful)
  booleanOption('skipFailedRequests', o.skipFailedRequests)
  booleanOption('skipSuccessfulRequests', o.skipSuccessfulRequests)
  parseBlockDuration(o.blockDurationMs)
  parseIpv6Subnet(o.ipv6Subnet)
  if (o.mode !== undefined && o.mode !== 'enforce' && o.mode !== 'shadow') {
    throw new TollgateTypeError(`mode must be 'enforce' or 'shadow', got ${describeValue(o.mode)}`)
  }
  if (o.limit !== undefined && typeof o.limit !== 'function') requestLimit(o.limit, 1)
  if (typeof o.cost !== 'function' && o.cost !== undefined) {
    if (algorithm !== undefined) validateCost(algorithm, o.cost)
    else if (typeof o.cost !== 'number' || !Number.isSafeInteger(o.cost) || o.cost <= 0) {
      validateCost(STAND_IN, o.cost)
    }
  }
}

/** Only used to validate limiter options given without an algorithm. */
const STAND_IN: Algorithm = Object.freeze({
  kind: 'fixedWindow',
  limit: Number.MAX_SAFE_INTEGER,
  windowMs: 1000,
})

/**
 * The options of a route's own limiter (Fastify `config.rateLimit`): the route's options over the
 * inherited plugin options. A route inherits every plugin option but the plugin's `limiter`,
 * `name` and `prefix`; a route bringing its own `limiter` takes none of the limiter-building
 * ones. In a shared store the route gets its own counter: its route name joins the key prefix.
 *
 * @param routeName - e.g. `'GET /search'`, part of the default prefix and of messages.
 */
export function routeOptions<Req, Handler>(
  plugin: Readonly<Record<string, unknown>>,
  route: unknown,
  routeName: string,
): HttpLimitOptions<Req, Handler> {
  const where = `config.rateLimit of ${routeName}`
  if (typeof route !== 'object' || route === null || Array.isArray(route)) {
    throw new TollgateTypeError(
      `${where} must be an options object or false, got ${describeValue(route)}`,
    )
  }
  const own = route as Record<string, unknown>
  const merged: Record<string, unknown> = {}
  const ownLimiter = own.limiter !== undefined
  for (const name of HTTP_OPTIONS) {
    if (plugin[name] === undefined || name === 'limiter' || name === 'name' || name === 'prefix') {
      continue
    }
    if (ownLimiter && name !== 'limiter' && LIMITER_OWNED.includes(name)) continue
    merged[name] = plugin[name]
  }
  Object.assign(merged, own)
  if (!ownLimiter && merged.algorithm === undefined && plugin.limiter !== undefined) {
    throw new TollgateTypeError(
      `${where} needs its own algorithm or limiter: the plugin's limiter cannot be shared by a route with its own counter`,
    )
  }
  if (!ownLimiter && merged.prefix === undefined && merged.store !== undefined) {
    const algorithm = parseAlgorithm(merged.algorithm)
    merged.prefix = `${typeof own.name === 'string' ? own.name : algorithmSignature(algorithm)}:${routeName}:`
  }
  return merged as HttpLimitOptions<Req, Handler>
}
