/**
 * The login flow of the issue (POST /login, GET /me, POST /logout) on express-session and on
 * @fastify/session. The package README shows the same routes as copy-paste snippets.
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import express, { type NextFunction, type Request, type Response } from 'express'
import session from 'express-session'
import Fastify, { type FastifyInstance } from 'fastify'
import type { RedisSessionStore } from '../../src/index.js'

export interface SessionUser {
  id: string
  name: string
}

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser
  }
}

declare module 'fastify' {
  interface Session {
    user?: SessionUser
  }
}

export const SECRET = 'a-test-secret-that-is-at-least-32-characters-long'

/** Sets `user` from the JSON body `{ id, name }`. */
export function expressApp(store: RedisSessionStore, maxAgeMs = 60 * 60 * 1000) {
  const app = express()
  app.use(express.json())
  app.use(
    session({
      store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: maxAgeMs, httpOnly: true, sameSite: 'lax' },
    }),
  )
  app.post('/login', (req, res, next) => {
    const { id, name } = req.body as SessionUser
    // A new id on login prevents session fixation.
    req.session.regenerate((error) => {
      if (error) return next(error)
      req.session.user = { id, name }
      req.session.save((saveError) => (saveError ? next(saveError) : res.json({ ok: true })))
    })
  })
  app.get('/me', (req, res) => {
    if (!req.session.user) res.status(401).json({ error: 'not logged in' })
    else res.json(req.session.user)
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => {
      if (error) return next(error)
      res.clearCookie('connect.sid').json({ ok: true })
    })
  })
  // Express 5's default handler would also answer 500; this one keeps the body small and JSON.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: (error as { code?: string }).code ?? 'internal' })
  })
  return app
}

export async function fastifyApp(
  store: RedisSessionStore,
  maxAgeMs = 60 * 60 * 1000,
): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    store,
    secret: SECRET,
    saveUninitialized: false,
    cookie: { maxAge: maxAgeMs, secure: false, httpOnly: true, sameSite: 'lax' },
  })
  app.post<{ Body: SessionUser }>('/login', async (request) => {
    await request.session.regenerate()
    request.session.user = { id: request.body.id, name: request.body.name }
    await request.session.save()
    return { ok: true }
  })
  app.get('/me', async (request, reply) => {
    const user = request.session.user
    if (!user) return reply.code(401).send({ error: 'not logged in' })
    return user
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  await app.ready()
  return app
}

/** The `name=value` part of every Set-Cookie header, ready for a Cookie request header. */
export function cookieHeader(setCookie: string | string[] | undefined): string {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
  return list.map((cookie) => cookie.split(';')[0]).join('; ')
}
