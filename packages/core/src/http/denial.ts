import type { Decision } from '../decision.js'
import { describeValue, TollgateTypeError } from '../errors.js'
import type { HttpConfig } from './options.js'

/**
 * Status of a denial: 503 when a fail-closed limiter answered without its store, else the
 * `statusCode` option (429).
 */
export function denialStatus<Req>(
  config: HttpConfig<Req, unknown, never>,
  decision: Decision,
): number {
  return decision.degraded === true && config.closed ? 503 : config.statusCode
}

/** A denial response, ready to send. */
export interface DenialResponse {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** Content-Type of a JSON denial body. */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
/** Content-Type of a text denial body (the client prefers text/plain or text/html). */
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
  config: HttpConfig<Req, unknown, never>,
  req: Req,
  decision: Decision,
  accept: string | undefined,
): DenialResponse | Promise<DenialResponse> {
  // The fail-closed condition, not the status number: a user's `statusCode: 503` keeps its message.
  const failedClosed = decision.degraded === true && config.closed
  const status = failedClosed ? 503 : config.statusCode
  const text = accept !== undefined && prefersText(accept)
  const ms = decision.retryAfterMs
  if (failedClosed) {
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
