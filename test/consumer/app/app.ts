// A user's app, compiled against the packed tarballs under the strictest settings a user may have
// (strict, exactOptionalPropertyTypes, skipLibCheck: false) as ESM and as CJS, then run.
import {
  createLimiter,
  type Decision,
  fixedWindow,
  type Limiter,
  MemoryStore,
  type Store,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import { RedisSessionStore } from '@tollgate/session'
import express from 'express'
import session from 'express-session'
import Fastify from 'fastify'
import { Redis } from 'ioredis'

export async function main(redisUrl: string | undefined): Promise<string[]> {
  const seen: string[] = []

  // Core: every algorithm, a MemoryStore with an injected clock.
  let now = 1_000_000
  const store: Store = new MemoryStore({ maxKeys: 1_000, clock: () => now })
  const limiters: Limiter[] = [
    createLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 1_000 }), store }),
    createLimiter({ algorithm: slidingWindow({ limit: 2, windowMs: 1_000 }), store }),
    createLimiter({ algorithm: slidingLog({ limit: 2, windowMs: 1_000 }), store }),
    createLimiter({ algorithm: tokenBucket({ capacity: 2, refillRate: 1 }), store }),
  ]
  for (const limiter of limiters) {
    const decisions: Decision[] = []
    for (let i = 0; i < 3; i++) decisions.push(await limiter.limit('user:1'))
    seen.push(decisions.map((d) => (d.allowed ? 'y' : 'n')).join(''))
  }
  now += 60_000

  // A RedisStore from an ioredis client: the option object a user writes, under
  // exactOptionalPropertyTypes.
  const client = new Redis(redisUrl ?? 'redis://127.0.0.1:1', {
    lazyConnect: redisUrl === undefined,
    maxRetriesPerRequest: 1,
  })
  const redisStore: Store = new RedisStore({ client, prefix: 'consumer:' })
  const shared = createLimiter({
    algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
    store: redisStore,
    failure: { mode: 'closed', timeoutMs: 1_000, breaker: false },
  })
  if (redisUrl !== undefined) {
    await shared.reset('user:1')
    const first = await shared.limit('user:1')
    const second = await shared.limit('user:1')
    seen.push(`redis ${first.allowed} ${second.allowed}`)
  }

  // Express: the middleware, req.rateLimit, a session store.
  const app = express()
  app.set('trust proxy', 1)
  app.use(
    session({
      store: new RedisSessionStore({ client, prefix: 'consumer:sess:' }),
      secret: 'consumer check',
      resave: false,
      saveUninitialized: false,
    }),
  )
  app.use(
    rateLimit({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      key: (req) => req.get('x-user') ?? 'anonymous',
      message: (_req, decision) => ({ retryInMs: decision.retryAfterMs }),
    }),
  )
  app.get('/', (req, res) => {
    res.json({ remaining: req.rateLimit?.remaining ?? -1 })
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-user': 'u' } })
    seen.push(`express ${res.status} ${res.headers.get('ratelimit') ?? ''}`)
  }
  await new Promise<void>((resolve) => server.close(() => resolve()))

  // Fastify: the plugin, a route of its own and a route that opts out.
  const fastify = Fastify({ trustProxy: '127.0.0.1' })
  await fastify.register(tollgate, {
    algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
    headers: { standard: 'draft-11', legacy: false },
  })
  fastify.get(
    '/search',
    { config: { rateLimit: { algorithm: tokenBucket({ capacity: 2, refillRate: 1 }), cost: 2 } } },
    async () => 'found',
  )
  fastify.get('/health', { config: { rateLimit: false } }, async () => 'ok')
  for (const url of ['/search', '/search', '/health', '/health']) {
    const res = await fastify.inject({ url })
    seen.push(`fastify ${url} ${res.statusCode}`)
  }
  await fastify.close()

  if (redisUrl === undefined) client.disconnect()
  else await client.quit()
  return seen
}
