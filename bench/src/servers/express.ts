/** One Express contender, chosen by BENCH_SERVER_CONFIG. Started by src/run.ts. */
import type { RequestHandler } from 'express'
import express from 'express'
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
const app = express()
if (config.trustProxy) app.set('trust proxy', 'loopback')

const redis = contender.store === 'redis' ? await connectRedis(config.redisUrl) : undefined

async function limiter(): Promise<RequestHandler | undefined> {
  switch (contender.library) {
    case 'bare':
      return undefined

    case 'tollgate': {
      const core = await importOrSkip<Record<string, unknown>>('@tollgate/core')
      const { rateLimit } = await importOrSkip<{
        rateLimit: (options: Record<string, unknown>) => RequestHandler
      }>('@tollgate/express')
      let store: unknown
      if (redis) {
        const { RedisStore } = await importOrSkip<{
          RedisStore: new (options: { client: unknown }) => unknown
        }>('@tollgate/redis')
        store = new RedisStore({ client: redis })
      }
      return rateLimit({
        algorithm: tollgateAlgorithm(core, config),
        ...(store ? { store } : {}),
        ...tollgateOptions(config),
      })
    }

    case 'express-rate-limit': {
      const { rateLimit } = await import('express-rate-limit')
      const { RedisStore } = await import('rate-limit-redis')
      const client = redis
      return rateLimit({
        windowMs: config.windowMs,
        limit: config.limit,
        standardHeaders: false,
        legacyHeaders: true,
        // As rate-limit-redis's README shows for ioredis.
        ...(client
          ? {
              store: new RedisStore({
                sendCommand: (command: string, ...args: string[]) =>
                  client.call(command, ...args) as never,
              }),
            }
          : {}),
      })
    }

    case 'rate-limiter-flexible': {
      const rlf = await rateLimiterFlexible(config, redis)
      // The Express middleware from rate-limiter-flexible's README ("Express middleware"), with
      // the X-RateLimit-* / Retry-After headers its README lists (Reset as epoch seconds, like
      // the other contenders, rather than its example's Date string).
      return (req, res, next) => {
        rlf
          .consume(req.ip as string)
          .then((rateLimiterRes) => {
            res.setHeader('X-RateLimit-Limit', rlf.limit)
            res.setHeader('X-RateLimit-Remaining', rateLimiterRes.remainingPoints)
            res.setHeader(
              'X-RateLimit-Reset',
              Math.ceil((Date.now() + rateLimiterRes.msBeforeNext) / 1000),
            )
            next()
          })
          .catch((rejection: unknown) => {
            if (!rlf.isRejection(rejection)) {
              next(rejection)
              return
            }
            res.setHeader('Retry-After', Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)))
            res.setHeader('X-RateLimit-Limit', rlf.limit)
            res.setHeader('X-RateLimit-Remaining', rejection.remainingPoints)
            res.setHeader(
              'X-RateLimit-Reset',
              Math.ceil((Date.now() + rejection.msBeforeNext) / 1000),
            )
            res.status(429).send('Too Many Requests')
          })
      }
    }

    default:
      skip(`${contender.library} is not an Express contender`)
  }
}

const middleware = await limiter()
if (middleware) app.use(middleware)
app.get('/', (req, res) => {
  noteDecision(req as { rateLimit?: unknown })
  res.send('ok')
})

const server = app.listen(0, '127.0.0.1', () => serve(server))
server.keepAliveTimeout = 60_000
