// The login routes of @tollgate/session's README ("Fastify (src/session.ts)"), taking the
// example's shared Redis client (a Redis or a Cluster) instead of a URL, a key prefix, and the
// route config of POST /login (its strict rate limit).
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { TollgateRouteOptions } from '@tollgate/fastify'
import { RedisSessionStore } from '@tollgate/session'
import type { FastifyInstance, preHandlerHookHandler } from 'fastify'
import type { RedisClient } from './redis.js'

declare module 'fastify' {
  interface Session {
    user?: { id: string; name: string }
  }
}

export interface SessionOptions {
  /** Redis for the sessions; @fastify/session's in-memory store when absent. */
  client?: RedisClient
  /** @default 'sess:' */
  prefix?: string
  /** The rate limit of POST /login. */
  loginRateLimit?: TollgateRouteOptions
  /** A second limiter of POST /login that needs the parsed body (`app.rateLimit()`). */
  loginLockout?: preHandlerHookHandler
}

/** Registers cookies, sessions and the routes POST /login, GET /me and POST /logout. */
export async function registerSessions(app: FastifyInstance, options: SessionOptions = {}) {
  const { client, prefix = 'sess:', loginRateLimit, loginLockout } = options
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    // Without Redis: @fastify/session's in-memory store, for development only.
    ...(client ? { store: new RedisSessionStore({ client, prefix }) } : {}),
    secret: process.env.SESSION_SECRET ?? 'dev-only-secret-change-me-in-production!!',
    saveUninitialized: false,
    cookie: { maxAge: 24 * 60 * 60 * 1000, secure: 'auto', httpOnly: true, sameSite: 'lax' },
  })
  app.post<{ Body: { id?: unknown; name?: unknown } }>(
    '/login',
    {
      config: loginRateLimit ? { rateLimit: loginRateLimit } : {},
      ...(loginLockout ? { preHandler: loginLockout } : {}),
    },
    async (request, reply) => {
      const { id, name } = request.body ?? {}
      if (typeof id !== 'string' || typeof name !== 'string') {
        return reply.code(400).send({ error: 'body must be { "id": string, "name": string }' })
      }
      // A new session id on login prevents session fixation.
      await request.session.regenerate()
      request.session.user = { id, name }
      // Saved before answering, so a failed save is this route's error (500), never a 200 for a
      // login that was not stored (@tollgate/session README, "When a save fails").
      await request.session.save()
      return { ok: true }
    },
  )
  app.get('/me', async (request, reply) => {
    const user = request.session.user
    if (!user) return reply.code(401).send({ error: 'not logged in' })
    return user
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
}
