/** One Fastify contender, chosen by BENCH_SERVER_CONFIG. Started by src/run.ts. */
import Fastify from 'fastify'
import {
  connectRedis,
  importOrSkip,
  noteDecision,
  rateLimiterFlexible,
  readConfig,
  serve,
  skip,
  tollgateAlgorithm,
  tollgateOptions,
} from './common.js'

const config = readConfig()
const { contender } = config
const app = Fastify({ logger: false, ...(config.trustProxy ? { trustProxy: '127.0.0.1' } : {}) })

const redis = contender.store === 'redis' ? await connectRedis(config.redisUrl) : undefined

switch (contender.library) {
  case 'bare':
    break

  case 'tollgate': {
    const core = await importOrSkip<Record<string, unknown>>('@tollgate/core')
    const plugin = await importOrSkip<{ tollgate: unknown }>('@tollgate/fastify')
    let store: unknown
    if (redis) {
      const { RedisStore } = await importOrSkip<{
        RedisStore: new (options: { client: unknown }) => unknown
      }>('@tollgate/redis')
      store = new RedisStore({ client: redis })
    }
    await app.register(plugin.tollgate as Parameters<typeof app.register>[0], {
      algorithm: tollgateAlgorithm(core, config),
      ...(store ? { store } : {}),
      ...tollgateOptions(config),
    })
    break
  }

  case '@fastify/rate-limit': {
    const { default: rateLimit } = await import('@fastify/rate-limit')
    // Defaults otherwise: the local store is an LRU of `cache` = 5,000 keys.
    await app.register(rateLimit, {
      max: config.limit,
      timeWindow: config.windowMs,
      ...(redis ? { redis } : {}),
    })
    break
  }

  case 'rate-limiter-flexible': {
    const rlf = await rateLimiterFlexible(config, redis)
    // An onRequest hook around consume(), as rate-limiter-flexible's wiki shows for Fastify, with
    // the same X-RateLimit-* / Retry-After headers as its Express middleware here.
    app.addHook('onRequest', async (request, reply) => {
      try {
        const res = await rlf.consume(request.ip)
        reply.header('X-RateLimit-Limit', rlf.limit)
        reply.header('X-RateLimit-Remaining', res.remainingPoints)
        reply.header('X-RateLimit-Reset', Math.ceil((Date.now() + res.msBeforeNext) / 1000))
      } catch (rejection) {
        if (!rlf.isRejection(rejection)) throw rejection
        reply.header('Retry-After', Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)))
        reply.header('X-RateLimit-Limit', rlf.limit)
        reply.header('X-RateLimit-Remaining', rejection.remainingPoints)
        reply.header('X-RateLimit-Reset', Math.ceil((Date.now() + rejection.msBeforeNext) / 1000))
        return reply.code(429).send('Too Many Requests')
      }
    })
    break
  }

  default:
    skip(`${contender.library} is not a Fastify contender`)
}

app.get('/', (request, reply) => {
  noteDecision(request as { rateLimit?: unknown })
  reply.send('ok')
})

await app.listen({ port: 0, host: '127.0.0.1' })
app.server.keepAliveTimeout = 60_000
serve(app.server)
