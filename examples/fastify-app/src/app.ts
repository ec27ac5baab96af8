import { fixedWindow, MemoryStore, type Store, slidingWindow, tokenBucket } from '@tollgate/core'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import Fastify, { type FastifyRequest } from 'fastify'
import { createMetrics } from '../../shared/metrics.js'
import type { RedisClient } from './redis.js'
import { registerSessions } from './session.js'

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
  /**
   * A report: 2 per second and 100 per day, all or nothing: a client held at 2 per second never
   * spends its daily quota on the requests that were refused.
   */
  report: [
    slidingWindow({ limit: 2, windowMs: 1_000 }),
    fixedWindow({ limit: 100, windowMs: 86_400_000 }),
  ],
}

/** How long 3 failed logins lock an account. */
export const LOCKOUT_MS = 60 * 60_000

type SearchRequest = FastifyRequest<{ Querystring: { q?: string; expensive?: string } }>

/** An expensive search costs five tokens of the search bucket, a plain one costs one. */
export function searchCost(request: FastifyRequest): number {
  return (request as SearchRequest).query.expensive === '1' ? 5 : 1
}

export async function createApp({ redis, keyPrefix = '' }: AppOptions = {}) {
  // One store for every limiter; each route with its own limit gets its own key prefix there.
  const metrics = createMetrics()
  // Redis calls are timed into the store-latency histogram of /metrics.
  const store: Store = redis
    ? metrics.timed(new RedisStore({ client: redis, prefix: `${keyPrefix}tollgate:` }))
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
  // Prometheus metrics counted from tollgate's diagnostics_channel events. Not rate limited.
  app.get('/metrics', { config: { rateLimit: false } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()),
  )
  app.addHook('onClose', async () => metrics.stop())

  app.get('/', async () => ({
    routes: {
      'GET /': 'this page (general: 100 requests per minute per IP, fixed window)',
      'GET /search?q=…[&expensive=1]':
        'token bucket of 10, refilled 1 per second; expensive costs 5',
      'POST /login {"id","name"}':
        'strict: 5 per minute per IP; 3 failed logins of one id lock it for an hour; starts a session',
      'GET /report': '2 per second and 100 per day, all or nothing (compound limit)',
      'GET /metrics': 'Prometheus metrics of the limiters (not limited)',
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

  app.get(
    '/report',
    { config: { rateLimit: { algorithm: policies.report, name: 'report' } } },
    async (request) => ({ report: 'ok', parts: request.rateLimit?.parts?.length }),
  )

  await registerSessions(app, {
    client: redis,
    prefix: `${keyPrefix}sess:`,
    loginRateLimit: { algorithm: policies.login },
    // Brute-force lockout per account, after the body is parsed (a preHandler): only failed
    // logins count, and the third blocks the account for an hour in every process.
    loginLockout: app.rateLimit({
      algorithm: policies.loginFailures,
      name: 'login-failures',
      key: (request) =>
        `account:${String((request.body as { id?: unknown } | undefined)?.id ?? request.ip)}`,
      skipSuccessfulRequests: true,
      blockDurationMs: LOCKOUT_MS,
    }),
  })
  return app
}
