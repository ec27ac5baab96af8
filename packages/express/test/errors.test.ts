import { fixedWindow, MemoryStore } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import express, { type ErrorRequestHandler } from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'

const clock = () => 1_000_000

/** An app whose only route answers 200, and whose error handler reports what reached it. */
function appWith(middleware: express.RequestHandler) {
  const app = express()
  app.get('/', middleware, (_req, res) => {
    res.send('route')
  })
  app.get('/', (_req, res) => {
    res.send('next route')
  })
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    res.status(500).json({ isError: error instanceof Error, message: String(error.message) })
  }
  app.use(onError)
  return app
}

describe('rateLimit() errors are errors', () => {
  const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
  it.each([undefined, null, 0, 'route', ''])(
    'a key function throwing %j answers 500 through the error handler, never passing unlimited',
    async (thrown) => {
      const app = appWith(
        rateLimit({
          algorithm,
          store: new MemoryStore({ clock }),
          key: () => {
            throw thrown
          },
        }),
      )
      const res = await request(app).get('/')
      expect(res.status).toBe(500)
      expect(res.body.isError).toBe(true)
    },
  )

  it.each([undefined, null, 0, 'route'])(
    'a skip function rejecting with %j answers 500',
    async (thrown) => {
      const app = appWith(
        rateLimit({
          algorithm,
          store: new MemoryStore({ clock }),
          skip: () => Promise.reject(thrown),
        }),
      )
      expect((await request(app).get('/')).status).toBe(500)
    },
  )

  it('a cost function answering undefined is an error naming cost, and counts nothing', async () => {
    const store = new MemoryStore({ clock })
    const app = appWith(rateLimit({ algorithm, store, cost: () => undefined as unknown as number }))
    const res = await request(app).get('/')
    expect(res.status).toBe(500)
    expect(res.body.message).toMatch(/cost/)
    expect(store.size).toBe(0)
  })

  it('an error thrown by the route after the limiter passed reaches the error handler once', async () => {
    let errors = 0
    const app = express()
    app.get('/', rateLimit({ algorithm, store: new MemoryStore({ clock }) }), () => {
      throw new Error('route failed')
    })
    app.use(((_error, _req, res, _next) => {
      errors++
      res.status(500).send('handled')
    }) as ErrorRequestHandler)
    const res = await request(app).get('/')
    expect(res.status).toBe(500)
    expect(errors).toBe(1)
  })
})

describe('rateLimit() denial handler errors', () => {
  const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
  /** An app limited to 1 request, whose error handler counts what reached it. */
  function deniedApp(handler: Parameters<typeof rateLimit>[0]['handler']) {
    const errors: unknown[] = []
    const app = express()
    app.get(
      '/',
      rateLimit({ algorithm, store: new MemoryStore({ clock }), handler }),
      (_req, res) => {
        res.send('route')
      },
    )
    app.use(((error, _req, res, _next) => {
      errors.push(error)
      if (!res.headersSent) res.status(500).json({ caught: String(error.message) })
    }) as ErrorRequestHandler)
    return { app, errors }
  }

  it('a handler that throws synchronously reaches the error handler once, as that error', async () => {
    const { app, errors } = deniedApp(() => {
      throw new Error('handler threw')
    })
    await request(app).get('/').expect(200)
    // (A swallowed error would leave the request unanswered: fail in 2 s, not at the test timeout.)
    const res = await request(app).get('/').timeout(2000).expect(500)
    expect(res.body).toEqual({ caught: 'handler threw' })
    expect(errors).toHaveLength(1)
  })

  it('a handler that answers and returns nothing sends no error anywhere', async () => {
    const { app, errors } = deniedApp((_req, res) => {
      res.status(429).send('slow down')
    })
    await request(app).get('/').expect(200)
    expect((await request(app).get('/').expect(429)).text).toBe('slow down')
    expect(errors).toEqual([])
  })
})
