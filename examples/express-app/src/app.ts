import { fixedWindow, MemoryStore, type Store, slidingWindow, tokenBucket } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { RedisStore } from '@tollgate/redis'
import express, { type NextFunction, type Request, type Response } from 'express'
import type { Cluster, Redis } from 'ioredis'
import { useSessions } from './session.js'

export interface AppOptions {
  /** Shared Redis for counters and sessions; in-process memory when absent. */
  redis?: Redis | Cluster
  /** Prepended to every Redis key this app writes (counters and sessions). @default '' */
  keyPrefix?: string
}

/** The policies of the example, also printed at start-up. */
export const policies = {
  general: fixedWindow({ limit: 100, windowMs: 60_000 }),
  login: slidingWindow({ limit: 5, windowMs: 60_000 }),
  search: tokenBucket({ capacity: 10, refillRate: 1, refillIntervalMs: 1000 }),
}

/** An expensive search costs five tokens of the search bucket, a plain one costs one. */
export function searchCost(req: Request): number {
  return req.query.expensive === '1' ? 5 : 1
}

export function createApp({ redis, keyPrefix = '' }: AppOptions = {}) {
  // One store for every limiter: the default key prefix of each limiter is its algorithm's
  // signature, so the three policies never share a counter.
  const store: Store = redis
    ? new RedisStore({ client: redis, prefix: `${keyPrefix}tollgate:` })
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

  // Everything registered below counts against the general window, once per request.
  app.use(rateLimit({ algorithm: policies.general, store, onStoreError }))

  app.get('/', (_req, res) => {
    res.json({
      routes: {
        'GET /': 'this page (general: 100 requests per minute per IP, fixed window)',
        'GET /search?q=…[&expensive=1]':
          'token bucket of 10, refilled 1 per second; expensive costs 5',
        'POST /login {"id","name"}':
          'strict: 5 per minute per IP, sliding window; starts a session',
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
  useSessions(app, redis, `${keyPrefix}sess:`)

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
