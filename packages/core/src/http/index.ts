/**
 * `@tollgate/core/http`: the kit adapters and stores are built from. An application needs none of
 * it; `@tollgate/express` and `@tollgate/fastify` (and third-party adapters or stores) do.
 *
 * @packageDocumentation
 */
export {
  createHeaderPolicy,
  DEFAULT_HEADERS,
  type HeaderEntry,
  type HeaderPolicy,
  type HeadersConfig,
  parseHeadersOptions,
  partitionKey,
  rateLimitHeaders,
  retryAfterSeconds,
} from '../headers.js'
export { LIMIT_NOW } from '../limiter.js'
export {
  assertExactProduct,
  nonNegativeNumber,
  optionalFunction,
  positiveInteger,
  rejectUnknownOptions,
  requireObject,
} from '../options.js'
export {
  checkTrustProxy,
  resetWarnings,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
  WARN_PERMISSIVE_TRUST_PROXY,
  warnOnce,
} from '../warnings.js'
export {
  type DenialResponse,
  denialResponse,
  denialStatus,
  JSON_CONTENT_TYPE,
  prefersText,
  TEXT_CONTENT_TYPE,
} from './denial.js'
export {
  HTTP_OPTIONS,
  type HttpConfig,
  LIMITER_OWNED,
  limitOptionsFor,
  parseHttpOptions,
  requestLimit,
  routeOptions,
  validateHttpOptions,
} from './options.js'
export {
  asError,
  type DenyOutcome,
  handleRequest,
  type Outcome,
  type PassOutcome,
  type RequestFacts,
  type SkipOutcome,
  settle,
  type Ticket,
  WARN_ON_DENIED_THREW,
  WARN_SETTLE_FAILED,
  WARN_SUCCESS_CHECK_THREW,
} from './pipeline.js'
