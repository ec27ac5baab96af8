import { fixedWindow, MemoryStore, type Store, slidingWindow, tokenBucket } from '@tollgate/core'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import Fastify, { type FastifyRequest } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { registerSessions } from './session.js'

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

type SearchRequest = FastifyRequest<{ Querystring: { q?: string; expensive?: string } }>

/** An expensive search costs five tokens of the search bucket, a plain one costs one. */
export function searchCost(request: FastifyRequest): number {
  return (request as SearchRequest).query.expensive === '1' ? 5 : 1
}

export async function createApp({ redis, keyPrefix = '' }: AppOptions = {}) {
  // One store for every limiter; each route with its own limit gets its own key prefix there.
  const store: Store = redis
    ? new RedisStore({ client: redis, prefix: `${keyPrefix}tollgate:` })
    : new MemoryStore()

  const app = Fastify()
  // Global: every route counts against the general window, unless its config says otherwise.
  // A route's own config.rateLimit replaces the general limit on that route (its own counter).
  await app.register(tollgate, {
    algorithm: policies.general,
    store,
    onStoreError: (error) => {
      // The fail policy (default 'open') already answered; this only tells the operator.
      console.error(`rate-limit store failed: ${(error as Error).message}`)
    },
  })

  app.get('/health', { config: { rateLimit: false } }, async () => ({ ok: true }))

  app.get('/', async () => ({
    routes: {
      'GET /': 'this page (general: 100 requests per minute per IP, fixed window)',
      'GET /search?q=…[&expensive=1]':
        'token bucket of 10, refilled 1 per second; expensive costs 5',
      'POST /login {"id","name"}': 'strict: 5 per minute per IP, sliding window; starts a session',
      'GET /me': 'the logged-in user (401 without a session)',
      'POST /logout': 'ends the session',
      'GET /health': 'not limited',
    },
  }))

  app.get<{ Querystring: { q?: string; expensive?: string } }>(
    '/search',
    { config: { rateLimit: { algorithm: policies.search, cost: searchCost } } },
    async (request) => ({
      q: request.query.q ?? '',
      expensive: searchCost(request) > 1,
      results: [],
      tokensLeft: request.rateLimit?.remaining,
    }),
  )

  await registerSessions(app, {
    client: redis,
    prefix: `${keyPrefix}sess:`,
    loginRateLimit: { algorithm: policies.login },
  })
  return app
}
