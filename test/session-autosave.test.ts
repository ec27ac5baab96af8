/**
 * Issue 14, item 4: "a failed auto-save is never reported as success". express-session saves a
 * modified session from its `res.end` hook after the status line and all but the last byte of the
 * body are written, and then finishes the response whatever the store says; the store cannot turn
 * that into a 500, so it breaks the connection instead (the client sees an error, never a 200).
 * An explicit `req.session.save(cb)` before responding gets a real 500. Fastify saves before it
 * sends, so it answers 500 by itself. Each case freezes (SIGSTOP) or kills this file's own
 * redis-server between reading the session and saving it, and restores it in a `finally`.
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { RedisSessionStore } from '@tollgate/session'
import express, { type NextFunction, type Request, type Response } from 'express'
import session from 'express-session'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookieHeader, SECRET } from '../packages/session/test/support/apps.js'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

declare module 'express-session' {
  interface SessionData {
    views?: number
  }
}

declare module 'fastify' {
  interface Session {
    views?: number
  }
}

const TIMEOUT_MS = 300
const PREFIX = 'test-session-autosave:'
let server: RedisServer
let client: Redis
let store: RedisSessionStore
let fault: 'freeze' | 'kill'

/** Breaks Redis the way the current case asks, after the session was read. */
async function breakRedis(): Promise<void> {
  if (fault === 'freeze') server.freeze()
  else await server.kill()
}

async function restoreRedis(): Promise<void> {
  if (fault === 'freeze') server.thaw()
  else if (server.process.exitCode !== null || server.process.signalCode !== null) {
    await server.restart()
  }
  await client.ping()
}

function app() {
  const app = express()
  app.use(
    session({
      store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60_000 },
    }),
  )
  app.post('/start', (req, res, next) => {
    req.session.views = 1
    req.session.save((error) => (error ? next(error) : res.json({ views: 1 })))
  })
  // The change is left to express-session's auto-save at the end of the response.
  app.post('/auto', async (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1
    await breakRedis()
    res.json({ views: req.session.views })
  })
  // The pattern for writes that must not be lost: save, then answer.
  app.post('/explicit', async (req, res, next) => {
    req.session.views = (req.session.views ?? 0) + 1
    await breakRedis()
    req.session.save((error) => (error ? next(error) : res.json({ views: req.session.views })))
  })
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return
    res.status(500).json({ error: (error as { code?: string }).code ?? 'internal' })
  })
  return app
}

// A failed write is not a write that never happens: a command already sent to a frozen Redis
// runs when it thaws, and ioredis resends its queue after a restart. What the tests pin is what
// the client is told: never a 200 for a save that failed.
async function startSession(target: ReturnType<typeof app>): Promise<{ cookie: string }> {
  const start = await request(target).post('/start').expect(200)
  return { cookie: cookieHeader(start.headers['set-cookie']) }
}

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
  // Connection errors while the server is down are expected here; the store reports them.
  client.on('error', () => {})
  store = new RedisSessionStore({ client, prefix: PREFIX, timeoutMs: TIMEOUT_MS })
})

afterAll(async () => {
  server?.thaw()
  client?.disconnect()
  await server?.stop()
})

describe.each(['freeze', 'kill'] as const)(
  'Redis %s between reading and saving a session',
  (mode) => {
    it('express auto-save: a failed save breaks the connection instead of answering 200', async () => {
      fault = mode
      const target = app()
      const { cookie } = await startSession(target)
      try {
        const outcome = await request(target)
          .post('/auto')
          .set('Cookie', cookie)
          .then(
            (res) => ({ status: res.status }),
            (error: unknown) => ({ error }),
          )
        expect(outcome).toEqual({ error: expect.anything() })
        expect(String((outcome as { error: unknown }).error)).toMatch(
          /socket hang up|ECONNRESET|aborted/,
        )
      } finally {
        await restoreRedis()
      }
    })

    it('express explicit req.session.save(cb): the failure is a 500', async () => {
      fault = mode
      const target = app()
      const { cookie } = await startSession(target)
      let status: number
      try {
        status = (await request(target).post('/explicit').set('Cookie', cookie)).status
      } finally {
        await restoreRedis()
      }
      expect(status).toBe(500)
    })

    it('fastify auto-save: the failure is a 500', async () => {
      fault = mode
      const target = Fastify()
      await target.register(fastifyCookie)
      await target.register(fastifySession, { store, secret: SECRET, cookie: { secure: false } })
      target.post('/start', async (req) => {
        req.session.views = 1
        return { views: 1 }
      })
      target.post('/auto', async (req) => {
        const views = ((req.session.get('views') as number | undefined) ?? 0) + 1
        req.session.set('views', views)
        await breakRedis()
        return { views }
      })
      const start = await target.inject({ method: 'POST', url: '/start' })
      expect(start.statusCode).toBe(200)
      const cookie = cookieHeader(start.headers['set-cookie'])
      let status: number
      try {
        status = (await target.inject({ method: 'POST', url: '/auto', headers: { cookie } }))
          .statusCode
      } finally {
        await restoreRedis()
      }
      expect(status).toBe(500)
      await target.close()
    })
  },
)
