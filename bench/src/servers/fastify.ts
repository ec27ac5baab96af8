/** One Fastify contender, chosen by BENCH_SERVER_CONFIG. Started by src/run.ts. */
import Fastify from 'fastify'
import {
  connectRedis,
  importOrSkip,
  noteDecision,
  readConfig,
  serve,
  skip,
  TOLLGATE_OPTIONS,
  tollgateAlgorithm,
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
      ...TOLLGATE_OPTIONS,
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
