import {
  checkTrustProxy,
  type Decision,
  denialResponse,
  denialStatus,
  type HeaderEntry,
  type HttpLimitOptions,
  ipKey,
  parseHttpOptions,
  rateLimitHeaders,
} from '@tollgate/core'
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
export interface RateLimitOptions extends HttpLimitOptions<Request, RateLimitHandler> {}

/** The limiters that ran on a request, in order, so stacked limiters combine their headers. */
const kEntries: unique symbol = Symbol('tollgate.entries')

type TrackedRequest = Request & { [kEntries]?: HeaderEntry[] }

/**
 * Express middleware that rate-limits requests with a tollgate limiter.
 *
 * Several `rateLimit()` middlewares may be stacked on one route: each counts the request once and
 * the response carries the headers of all of them (HEADERS.md).
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
  const config = parseHttpOptions<Request, RateLimitHandler>(options, 'rateLimit()')
  const { limiter, policy, key: keyOf, skip, costOf, limitOptions, handler } = config
  let trustChecked = false
  let forwardedChecked = false

  return async function tollgateRateLimit(
    req: Request,
    res: Response,
    next: NextFunction,
  ): Promise<void> {
    // One error exit (next(error)) and one pass exit (next()), each reached at most once.
    let pass = true
    try {
      if (!trustChecked) {
        trustChecked = true
        checkTrustProxy(req.app.get('trust proxy'), false)
      }
      if (!forwardedChecked && req.headers['x-forwarded-for'] !== undefined) {
        forwardedChecked = true
        checkTrustProxy(req.app.get('trust proxy'), true)
      }
      let counted = (req as TrackedRequest)[kEntries]
      let skipped = counted !== undefined && countedBy(counted, policy)
      if (!skipped && skip !== undefined) {
        const answer = skip(req)
        skipped = answer === true || (answer !== false && (await answer) === true)
      }
      if (!skipped) {
        let key = keyOf === undefined ? ipKey(req.ip) : keyOf(req)
        if (typeof key !== 'string') key = await key
        const decision = await limiter.limit(
          key,
          costOf === undefined ? limitOptions : { cost: costOf(req) },
        )
        req.rateLimit = decision
        const entry: HeaderEntry = { decision, policy, key }
        if (counted === undefined) {
          counted = [entry]
          ;(req as TrackedRequest)[kEntries] = counted
        } else {
          counted.push(entry)
        }
        const headers = rateLimitHeaders(counted)
        for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!)
        if (!decision.allowed) {
          pass = false
          if (handler !== undefined) {
            res.statusCode = denialStatus(config, decision)
            const done = handler(req, res, next, decision)
            if (done instanceof Promise) await done
          } else {
            let denial = denialResponse(config, req, decision, req.headers.accept)
            if (denial instanceof Promise) denial = await denial
            res.statusCode = denial.status
            res.setHeader('Content-Type', denial.contentType)
            res.end(denial.body)
          }
        }
      }
    } catch (error) {
      next(error)
      return
    }
    if (pass) next()
  }
}

/** Whether this limiter (its policy object) already counted the request: mounted twice. */
function countedBy(entries: readonly HeaderEntry[], policy: HeaderEntry['policy']): boolean {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.policy === policy) return true
  return false
}

export default rateLimit
