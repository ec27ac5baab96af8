import { type Algorithm, assertAlgorithm, validateCost } from './algorithms/index.js'
import type { Decision } from './decision.js'
import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'
import type { FailureOptions } from './fail-policy.js'
import {
  createHeaderPolicy,
  type HeaderPolicy,
  type HeadersConfig,
  type HeadersOptions,
  parseHeadersOptions,
} from './headers.js'
import { createLimiter, type Limiter, type LimitOptions } from './limiter.js'
import { optionalFunction, rejectUnknownOptions, requireObject } from './options.js'
import type { Store } from './store.js'

/** A body the `message` option may produce: text, or a value sent as JSON. */
export type MessageBody = string | object

/**
 * The options both adapters (`@tollgate/express`, `@tollgate/fastify`) share, parsed by
 * {@link parseHttpOptions}. `Req` is the framework's request type; `Handler` its denial handler.
 */
export interface HttpLimitOptions<Req, Handler> {
  /** The algorithm value (fixedWindow(), slidingWindow(), slidingLog(), tokenBucket()). Exactly one of `algorithm` and `limiter`. */
  algorithm?: Algorithm
  /** Where counters live. @default new MemoryStore() */
  store?: Store
  /** A limiter made by createLimiter(), instead of `algorithm` and its options. */
  limiter?: Limiter
  /**
   * The rate-limit key of a request. Return a string (fast path) or a promise of one.
   * @default the client IP through ipKey() (IPv6 grouped by /56)
   */
  key?: (req: Req) => string | Promise<string>
  /** Units a request consumes: a positive integer, or a function of the request. @default 1 */
  cost?: number | ((req: Req) => number)
  /** Requests for which this returns true are neither counted nor limited. @default undefined */
  skip?: (req: Req) => boolean | Promise<boolean>
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
export interface HttpConfig<Req, Handler> {
  readonly limiter: Limiter
  readonly policy: HeaderPolicy
  readonly headers: HeadersConfig
  /** `undefined`: the adapter uses the client IP through ipKey(). */
  readonly key: ((req: Req) => string | Promise<string>) | undefined
  readonly skip: ((req: Req) => boolean | Promise<boolean>) | undefined
  /** Set when `cost` is a function. */
  readonly costOf: ((req: Req) => number) | undefined
  /** Passed to limiter.limit() when `cost` is a number (undefined for cost 1). */
  readonly limitOptions: LimitOptions | undefined
  readonly statusCode: number
  readonly handler: Handler | undefined
  /** Fail-closed limiter: a degraded denial is a 503. */
  readonly closed: boolean
  readonly message: Message<Req>
}

type Message<Req> =
  | { readonly kind: 'default' }
  | { readonly kind: 'text'; readonly text: string; readonly jsonPrefix: string }
  | { readonly kind: 'json'; readonly json: string }
  | {
      readonly kind: 'function'
      readonly fn: (req: Req, decision: Decision) => MessageBody | Promise<MessageBody>
    }

/** The names parseHttpOptions knows. */
export const HTTP_OPTIONS: readonly string[] = [
  'algorithm',
  'store',
  'limiter',
  'key',
  'cost',
  'skip',
  'headers',
  'statusCode',
  'message',
  'handler',
  'failure',
  'onStoreError',
  'name',
  'prefix',
  'denyCache',
]

/** Options that configure the limiter itself, so they cannot come with a ready `limiter`. */
const LIMITER_OWNED = [
  'algorithm',
  'store',
  'failure',
  'onStoreError',
  'name',
  'prefix',
  'denyCache',
]

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
export function parseHttpOptions<Req, Handler>(
  options: HttpLimitOptions<Req, Handler>,
  where: string,
  extra: readonly string[] = [],
): HttpConfig<Req, Handler> {
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
        `${where} needs an algorithm (fixedWindow(), slidingWindow(), slidingLog(), tokenBucket()) or a limiter, got neither`,
      )
    }
    const limiterOptions: Record<string, unknown> = { algorithm: o.algorithm }
    for (const name of LIMITER_OWNED) {
      if (name !== 'algorithm' && o[name] !== undefined) limiterOptions[name] = o[name]
    }
    limiter = createLimiter(limiterOptions as unknown as Parameters<typeof createLimiter>[0])
  }

  const headers = parseHeadersOptions(o.headers)
  let limitOptions: LimitOptions | undefined
  let costOf: ((req: Req) => number) | undefined
  if (typeof o.cost === 'function') {
    costOf = o.cost as (req: Req) => number
  } else if (o.cost !== undefined) {
    const cost = validateCost(limiter.algorithm, o.cost)
    if (cost !== 1) limitOptions = Object.freeze({ cost })
  }

  return Object.freeze({
    limiter,
    policy: createHeaderPolicy(limiter.algorithm, { name: limiter.name, headers }),
    headers,
    key: optionalFunction<(req: Req) => string | Promise<string>>('key', o.key),
    skip: optionalFunction<(req: Req) => boolean | Promise<boolean>>('skip', o.skip),
    costOf,
    limitOptions,
    statusCode: parseStatusCode(o.statusCode),
    handler: optionalFunction<Handler>('handler', o.handler),
    closed: limiter.failure.mode === 'closed',
    message: parseMessage<Req>(o.message, where),
  })
}

/** `limiter.limit()` options for a request: the fixed cost, or the `cost` function's answer. */
export function limitOptionsFor<Req>(
  config: HttpConfig<Req, unknown>,
  req: Req,
): LimitOptions | undefined {
  return config.costOf === undefined ? config.limitOptions : { cost: config.costOf(req) }
}

/**
 * Status of a denial: 503 when a fail-closed limiter answered without its store, else the
 * `statusCode` option (429).
 */
export function denialStatus<Req>(config: HttpConfig<Req, unknown>, decision: Decision): number {
  return decision.degraded === true && config.closed ? 503 : config.statusCode
}

/** A denial response, ready to send. */
export interface DenialResponse {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8'

const TOO_MANY_JSON = '{"error":"Too Many Requests","retryAfterMs":'
const UNAVAILABLE_JSON = '{"error":"Service Unavailable","retryAfterMs":'

function fromBody(
  status: number,
  body: unknown,
  text: boolean,
  retryAfterMs: number,
): DenialResponse {
  if (typeof body === 'string') {
    return text
      ? { status, contentType: TEXT_CONTENT_TYPE, body }
      : {
          status,
          contentType: JSON_CONTENT_TYPE,
          body: `{"error":${JSON.stringify(body)},"retryAfterMs":${retryAfterMs}}`,
        }
  }
  if (typeof body === 'object' && body !== null) {
    return { status, contentType: JSON_CONTENT_TYPE, body: JSON.stringify(body) }
  }
  throw new TollgateTypeError(
    `message function must return a string or an object, got ${describeValue(body)}`,
  )
}

/**
 * The default denial response: status (429 or 503), and a JSON body unless the request's Accept
 * header prefers text/plain or text/html over application/json. A `message` function returning
 * a promise makes the result a promise; every other case answers synchronously.
 */
export function denialResponse<Req>(
  config: HttpConfig<Req, unknown>,
  req: Req,
  decision: Decision,
  accept: string | undefined,
): DenialResponse | Promise<DenialResponse> {
  const status = decision.degraded === true && config.closed ? 503 : config.statusCode
  const text = accept !== undefined && prefersText(accept)
  const ms = decision.retryAfterMs
  if (status === 503) {
    return text
      ? { status, contentType: TEXT_CONTENT_TYPE, body: 'Service Unavailable' }
      : { status, contentType: JSON_CONTENT_TYPE, body: `${UNAVAILABLE_JSON}${ms}}` }
  }
  const message = config.message
  switch (message.kind) {
    case 'default':
      return text
        ? { status, contentType: TEXT_CONTENT_TYPE, body: 'Too Many Requests' }
        : { status, contentType: JSON_CONTENT_TYPE, body: `${TOO_MANY_JSON}${ms}}` }
    case 'text':
      return text
        ? { status, contentType: TEXT_CONTENT_TYPE, body: message.text }
        : { status, contentType: JSON_CONTENT_TYPE, body: `${message.jsonPrefix}${ms}}` }
    case 'json':
      return { status, contentType: JSON_CONTENT_TYPE, body: message.json }
    case 'function': {
      const body = message.fn(req, decision)
      if (body instanceof Promise) {
        return body.then((b: unknown) => fromBody(status, b, text, ms))
      }
      return fromBody(status, body, text, ms)
    }
  }
}

/**
 * Whether an Accept header prefers text/plain or text/html over application/json, honouring
 * quality values and wildcards (the most specific matching range gives a type its quality).
 * Equal preference, or no match for any of them, answers JSON.
 */
export function prefersText(accept: string): boolean {
  // Most clients send one of these; answer them without parsing.
  if (accept === '*/*' || accept === 'application/json' || accept === '') return false
  if (accept === 'text/plain' || accept === 'text/html') return true
  let json = -1
  let jsonSpecificity = -1
  let plain = -1
  let plainSpecificity = -1
  let html = -1
  let htmlSpecificity = -1
  let start = 0
  const length = accept.length
  while (start < length) {
    let end = accept.indexOf(',', start)
    if (end === -1) end = length
    const semi = accept.indexOf(';', start)
    const rangeEnd = semi !== -1 && semi < end ? semi : end
    const range = accept.slice(start, rangeEnd).trim().toLowerCase()
    const q = rangeEnd < end ? quality(accept.slice(rangeEnd + 1, end)) : 1
    start = end + 1
    let specificity: number
    let matchesJson = false
    let matchesPlain = false
    let matchesHtml = false
    if (range === '*/*') {
      specificity = 0
      matchesJson = matchesPlain = matchesHtml = true
    } else if (range === 'text/*') {
      specificity = 1
      matchesPlain = matchesHtml = true
    } else if (range === 'application/*') {
      specificity = 1
      matchesJson = true
    } else {
      specificity = 2
      matchesJson = range === 'application/json'
      matchesPlain = range === 'text/plain'
      matchesHtml = range === 'text/html'
    }
    if (matchesJson && specificity > jsonSpecificity) {
      json = q
      jsonSpecificity = specificity
    }
    if (matchesPlain && specificity > plainSpecificity) {
      plain = q
      plainSpecificity = specificity
    }
    if (matchesHtml && specificity > htmlSpecificity) {
      html = q
      htmlSpecificity = specificity
    }
  }
  const best = Math.max(plain, html)
  return best > 0 && best > Math.max(json, 0)
}

/** The `q` parameter among `;`-separated media range parameters; 1 when absent or malformed. */
function quality(params: string): number {
  let i = 0
  while (i < params.length) {
    let end = params.indexOf(';', i)
    if (end === -1) end = params.length
    const param = params.slice(i, end).trim()
    if ((param.charCodeAt(0) | 0x20) === 0x71 && param.charCodeAt(1) === 0x3d) {
      // "q=" or "Q="
      const q = Number(param.slice(2))
      return Number.isFinite(q) && q >= 0 && q <= 1 ? q : 1
    }
    i = end + 1
  }
  return 1
}

/** Receives tollgate warnings: a stable code and a human message. */
export type WarningHandler = (code: string, message: string) => void

const defaultWarningHandler: WarningHandler = (code, message) => {
  console.warn(`tollgate ${code}: ${message}`)
}

let warningHandler: WarningHandler | null = defaultWarningHandler
const warned = new Set<string>()

/**
 * Emits a warning the first time its code is seen in this process (misconfiguration visible only
 * at request time, such as `trust proxy`). Goes to console.warn unless {@link setWarningHandler}
 * installed another handler.
 */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  warningHandler?.(code, message)
}

/**
 * Replaces where warnings go; `null` silences them (tests). Returns the previous handler.
 * @example
 * setWarningHandler((code, message) => logger.warn({ code }, message))
 */
export function setWarningHandler(handler: WarningHandler | null): WarningHandler | null {
  const previous = warningHandler
  warningHandler = handler
  return previous
}

/** Forgets which warnings were emitted, so each can fire once more (tests). */
export function resetWarnings(): void {
  warned.clear()
}

/** Warning code: X-Forwarded-For arrived but the framework does not trust proxies. */
export const WARN_FORWARDED_WITHOUT_TRUST_PROXY = 'WARN_TOLLGATE_FORWARDED_WITHOUT_TRUST_PROXY'
/** Warning code: trust proxy is `true`, so any client can choose its own IP. */
export const WARN_PERMISSIVE_TRUST_PROXY = 'WARN_TOLLGATE_PERMISSIVE_TRUST_PROXY'

/**
 * Checks a framework's trust-proxy setting against what a request shows, warning once:
 * - X-Forwarded-For arrived while proxies are not trusted: every client behind that proxy shares
 *   the proxy's IP (one counter for all), unless the app is reachable directly;
 * - trust proxy is `true`: any client can set its own IP with X-Forwarded-For and escape limits.
 *
 * @param trustProxy - Express `app.get('trust proxy')`, Fastify `trustProxy`.
 */
export function checkTrustProxy(trustProxy: unknown, hasForwardedFor: boolean): void {
  if (trustProxy === true) {
    warnOnce(
      WARN_PERMISSIVE_TRUST_PROXY,
      'trust proxy is true, so any client can choose its IP (and rate-limit key) with X-Forwarded-For; trust only your proxies (a hop count or their addresses).',
    )
  } else if (hasForwardedFor && (trustProxy === false || trustProxy === undefined)) {
    warnOnce(
      WARN_FORWARDED_WITHOUT_TRUST_PROXY,
      'a request has an X-Forwarded-For header but trust proxy is off, so every client behind that proxy shares the proxy IP as its rate-limit key; set trust proxy to your proxy hop count or addresses.',
    )
  }
}
