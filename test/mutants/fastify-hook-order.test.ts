/**
 * The Fastify limiter runs in onRequest before the route's own onRequest hooks (issue 15, X6):
 * limit first, then authenticate or do any other per-request work, so a denied request costs
 * the route nothing. Clock injected (MemoryStore({ clock })), no wall-clock window.
 */
import { fixedWindow, MemoryStore } from '@tollgate/core'
import { tollgate } from '@tollgate/fastify'
import Fastify, { type FastifyRequest, type onRequestHookHandler } from 'fastify'
import { describe, expect, it } from 'vitest'

const now = 10 * 60_000 + 1_000
const one = fixedWindow({ limit: 1, windowMs: 60_000 })

/** A route hook that records whether the limiter had decided before it ran. */
function recorder(seen: Array<string>, name: string): onRequestHookHandler {
  return async (request: FastifyRequest) => {
    const decision = (request as { rateLimit?: { allowed: boolean } | null }).rateLimit
    seen.push(`${name}:${decision == null ? 'undecided' : decision.allowed}`)
  }
}

describe('tollgate plugin hook order', () => {
  it.each([
    ['the global limiter', 'global'],
    ["a route's own limiter", 'route'],
  ] as const)('%s runs before the route’s own onRequest hooks', async (_name, where) => {
    const app = Fastify()
    const store = new MemoryStore({ clock: () => now })
    await app.register(tollgate, { algorithm: one, store })
    const seen: string[] = []
    app.get(
      '/single',
      {
        onRequest: recorder(seen, 'single'),
        config: where === 'route' ? { rateLimit: { algorithm: one, store } } : {},
      },
      async () => 'ok',
    )
    app.get(
      '/array',
      {
        onRequest: [recorder(seen, 'first'), recorder(seen, 'second')],
        config: where === 'route' ? { rateLimit: { algorithm: one, store, prefix: 'a:' } } : {},
      },
      async () => 'ok',
    )
    try {
      await app.ready()
      expect((await app.inject('/single')).statusCode).toBe(200)
      expect((await app.inject('/single')).statusCode).toBe(429)
      expect(seen).toEqual(['single:true'])
      seen.length = 0
      // (The global limiter counts both routes on one key: /array's first request is denied.)
      const arrayFirst = await app.inject('/array')
      if (where === 'route') {
        expect(arrayFirst.statusCode).toBe(200)
        expect(seen).toEqual(['first:true', 'second:true'])
        seen.length = 0
      }
      expect((await app.inject('/array')).statusCode).toBe(429)
      // A denial is sent by the limiter: the route's hooks never ran for it.
      expect(seen).toEqual([])
    } finally {
      await app.close()
    }
  })
})
