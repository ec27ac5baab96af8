// The login routes of @tollgate/session's README ("Express (src/session.ts)"), taking the
// example's shared Redis client (a Redis or a Cluster) instead of a URL, and a key prefix.
import { RedisSessionStore } from '@tollgate/session'
import express, { type Express } from 'express'
import session from 'express-session'
import type { RedisClient } from './redis.js'

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; name: string }
  }
}

/** Adds sessions and the routes POST /login, GET /me and POST /logout. */
export function useSessions(app: Express, client?: RedisClient, prefix = 'sess:') {
  // Without Redis: express-session's MemoryStore, which leaks and is per process. It is for
  // development only; production sets REDIS_URL.
  const store = client ? new RedisSessionStore({ client, prefix }) : undefined
  app.use(
    session({
      store,
      secret: process.env.SESSION_SECRET ?? 'dev-only-secret-change-me-in-production!!',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 60 * 60 * 1000, httpOnly: true, sameSite: 'lax' },
    }),
  )
  app.post('/login', express.json(), (req, res, next) => {
    const { id, name } = (req.body ?? {}) as { id?: unknown; name?: unknown }
    if (typeof id !== 'string' || typeof name !== 'string') {
      res.status(400).json({ error: 'body must be { "id": string, "name": string }' })
      return
    }
    // A new session id on login prevents session fixation.
    req.session.regenerate((error) => {
      if (error) return next(error)
      req.session.user = { id, name }
      // Saved before answering, not left to express-session's auto-save: that one runs after the
      // status line is sent, so a failed save could not become a 500 (@tollgate/session README,
      // "When a save fails"). Every write that must not be lost follows this pattern.
      req.session.save((saveError) => (saveError ? next(saveError) : res.json({ ok: true })))
    })
  })
  app.get('/me', (req, res) => {
    if (req.session.user) res.json(req.session.user)
    else res.status(401).json({ error: 'not logged in' })
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((error) => {
      if (error) return next(error)
      res.clearCookie('connect.sid').json({ ok: true })
    })
  })
}
