import type { Decision, HttpLimitOptions } from '@tollgate/core'
import {
  asError,
  type HeaderEntry,
  handleRequest,
  type Outcome,
  parseHttpOptions,
  type RequestFacts,
  settle,
} from '@tollgate/core/http'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

declare global {
  namespace Express {
    interface Request {
      /** The decision of the last tollgate limiter that ran on this request. */
      rateLimit?: Decision
    }
  }
}

/**
 * Replaces the whole denial response. Rate-limit headers, `Retry-After` and the status (429, or
 * 503 when fail-closed) are already set when it runs; it must end the response (or call `next`).
 */
export type RateLimitHandler = (
  req: Request,
  res: Response,
  next: NextFunction,
  decision: Decision,
) => unknown

/** Options of {@link rateLimit}: the options both adapters share (see `@tollgate/core`). */
export interface RateLimitOptions extends HttpLimitOptions<Request, RateLimitHandler, Response> {}

/** The limiters that counted a request, in order: stacked limiters combine their headers. */
const kEntries: unique symbol = Symbol('tollgate.entries')
type TrackedRequest = Request & { [kEntries]?: HeaderEntry[] }

/**
 * Express middleware that rate-limits requests with a tollgate limiter. The order of steps is
 * core's (`handleRequest`); this only reads the request and writes the outcome.
 *
 * @example
 * import express from 'express'
 * import { fixedWindow } from '@tollgate/core'
 * import { rateLimit } from '@tollgate/express'
 *
 * const app = express()
 * app.use(rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) }))
 */
export function rateLimit(options: RateLimitOptions): RequestHandler {
  const config = parseHttpOptions<Request, RateLimitHandler, Response>(options, 'rateLimit()')

  function write(outcome: Outcome, req: Request, res: Response, next: NextFunction): void {
    if (outcome.kind === 'skip') {
      next()
      return
    }
    ;(req as TrackedRequest)[kEntries] = outcome.entries
    req.rateLimit = outcome.decision
    // next() is called outside every try: an error thrown further down the stack must not come
    // back here and reach next() a second time.
    let done: unknown
    try {
      const h = outcome.headers
      for (let i = 0; i < h.length; i += 2) res.setHeader(h[i]!, h[i + 1]!)
      if (outcome.kind === 'deny') {
        res.statusCode = outcome.status
        const denial = outcome.response
        if (denial !== undefined) {
          res.setHeader('Content-Type', denial.contentType)
          res.end(denial.body)
          return
        }
        done = config.handler!(req, res, next, outcome.decision)
      }
    } catch (error) {
      next(asError(error))
      return
    }
    if (outcome.kind === 'pass') {
      const ticket = outcome.ticket
      if (ticket !== undefined) {
        // Refund or release once the response is done: finished, or the client hung up first.
        res.once('finish', () => settle(config, ticket, req, res, res.statusCode, true))
        res.once('close', () => settle(config, ticket, req, res, res.statusCode, false))
      }
      next()
      return
    }
    if (done instanceof Promise) done.catch((error: unknown) => next(asError(error)))
  }

  return function tollgateRateLimit(req: Request, res: Response, next: NextFunction): void {
    let outcome: Outcome | Promise<Outcome>
    try {
      outcome = handleRequest(config, req, facts(req), (req as TrackedRequest)[kEntries])
    } catch (error) {
      next(asError(error))
      return
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => write(o, req, res, next),
        (error: unknown) => next(asError(error)),
      )
    } else {
      write(outcome, req, res, next)
    }
  }
}

function facts(req: Request): RequestFacts {
  return {
    ip: req.ip,
    accept: req.headers.accept,
    forwardedFor: req.headers['x-forwarded-for'] !== undefined,
    // A value, not a getter (see RequestFacts in @tollgate/core/http).
    trustProxy: req.app.get('trust proxy'),
  }
}

export default rateLimit
