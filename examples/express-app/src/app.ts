import {
  concurrency,
  fixedWindow,
  MemoryStore,
  type Store,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { RedisStore } from '@tollgate/redis'
import express, { type NextFunction, type Request, type Response } from 'express'
import { createMetrics } from '../../shared/metrics.js'
import type { RedisClient } from './redis.js'
import { useSessions } from './session.js'

export interface AppOptions {
  /** Shared Redis for counters and sessions; in-process memory when absent. */
  redis?: RedisClient
  /** Prepended to every Redis key this app writes (counters and sessions). @default '' */
  keyPrefix?: string
}

/** The policies of the example, also printed at start-up. */
export const policies = {
  general: fixedWindow({ limit: 100, windowMs: 60_000 }),
  login: slidingWindow({ limit: 5, windowMs: 60_000 }),
  search: tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1000 }),
  /** Failed logins per account: 3 in 15 minutes lock the account for an hour. */
  loginFailures: slidingWindow({ limit: 3, windowMs: 15 * 60_000 }),
  /** Uploads in flight per user (or IP): at most 2 at once. */
  upload: concurrency({ limit: 2, leaseMs: 60_000 }),
}

/** How long 3 failed logins lock an account. */
export const LOCKOUT_MS = 60 * 60_000

/** An expensive search costs five tokens of the search bucket, a plain one costs one. */
export function searchCost(req: Request): number {
  return req.query.expensive === '1' ? 5 : 1
}

export function createApp({ redis, keyPrefix = '' }: AppOptions = {}) {
  // One store for every limiter: the default key prefix of each limiter is its algorithm's
  // signature, so the three policies never share a counter.
  const metrics = createMetrics()
  // Redis calls are timed into the store-latency histogram of /metrics.
  const store: Store = redis
    ? metrics.timed(new RedisStore({ client: redis, prefix: `${keyPrefix}tollgate:` }))
    : new MemoryStore()
  const onStoreError = (error: unknown) => {
    // The fail policy (default 'open') already answered; this only tells the operator.
    console.error(`rate-limit store failed: ${(error as Error).message}`)
  }

  const app = express()
  // Behind a reverse proxy, set this to its hop count so req.ip (the default key) is the client.
  app.set('trust proxy', false)

  app.get('/health', (_req, res) => {
    res.json({ ok: true })
  })
  // Prometheus metrics counted from tollgate's diagnostics_channel events (allowed, denied,
  // degraded by limiter name; store latency; breaker state). Not rate limited.
  app.get('/metrics', (_req, res, next) => {
    metrics.text().then((text: string) => res.type(metrics.contentType).send(text), next)
  })

  // Everything registered below counts against the general window, once per request.
  app.use(rateLimit({ algorithm: policies.general, store, onStoreError }))

  app.get('/', (_req, res) => {
    res.json({
      routes: {
        'GET /': 'this page (general: 100 requests per minute per IP, fixed window)',
        'GET /search?q=…[&expensive=1]':
          'token bucket of 10, refilled 1 per second; expensive costs 5',
        'POST /login {"id","name"}':
          'strict: 5 per minute per IP; 3 failed logins of one id lock it for an hour; starts a session',
        'POST /upload': 'at most 2 uploads in flight per user (concurrency limit)',
        'GET /metrics': 'Prometheus metrics of the limiters (not limited)',
        'GET /me': 'the logged-in user (401 without a session)',
        'POST /logout': 'ends the session',
        'GET /health': 'not limited',
      },
    })
  })

  app.get(
    '/search',
    rateLimit({ algorithm: policies.search, store, cost: searchCost, onStoreError }),
    (req, res) => {
      const q = typeof req.query.q === 'string' ? req.query.q : ''
      res.json({
        q,
        expensive: searchCost(req) > 1,
        results: [],
        tokensLeft: req.rateLimit?.remaining,
      })
    },
  )

  // The strict limit runs before the session is loaded: a flood of logins costs no session work.
  app.post('/login', rateLimit({ algorithm: policies.login, store, onStoreError }))
  // Brute-force lockout per account: only failed logins count (skipSuccessfulRequests), and the
  // third failure blocks the account for an hour in every process sharing the store.
  app.post(
    '/login',
    express.json(),
    rateLimit({
      algorithm: policies.loginFailures,
      store,
      name: 'login-failures',
      key: (req) => `account:${String((req.body as { id?: unknown } | undefined)?.id ?? req.ip)}`,
      skipSuccessfulRequests: true,
      blockDurationMs: LOCKOUT_MS,
      onStoreError,
    }),
  )
  useSessions(app, redis, `${keyPrefix}sess:`)

  // Uploads hold a slot while their body streams in; the slot is released when the response
  // finishes or the client hangs up, so an aborted upload never leaks one.
  app.post(
    '/upload',
    rateLimit({
      algorithm: policies.upload,
      store,
      name: 'uploads',
      key: (req) => `uploader:${req.session.user?.id ?? req.ip}`,
      onStoreError,
    }),
    (req, res, next) => {
      let bytes = 0
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length
      })
      req.on('error', next)
      req.on('end', () => {
        res.json({ bytes, inFlightLeft: req.rateLimit?.remaining })
      })
    },
  )

  app.use((_req, res) => {
    res.status(404).json({ error: 'Not Found' })
  })
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(error)
    const status = (error as { status?: number }).status
    res.status(typeof status === 'number' && status >= 400 ? status : 500).json({ error: 'failed' })
  })
  return app
}
