import { fixedWindow, MemoryStore } from '@tollgate/core'
import { tollgate } from '@tollgate/fastify'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'

const clock = () => 1_000_000

describe('plugin-level options are validated at registration', () => {
  it.each([
    [{ global: false, statusCode: 200 }, /statusCode/],
    [{ global: false, algorithm: { kind: 'nope' } }, /algorithm/],
    [{ global: false, failure: { timeoutMs: -1 } }, /timeoutMs/],
    [{ global: false, cost: 1.5 }, /cost/],
    [{ global: 'yes', algorithm: fixedWindow({ limit: 1, windowMs: 1000 }) }, /global/],
  ])('%j fails at register, before any route inherits it', async (options, message) => {
    const app = Fastify()
    await expect(app.register(tollgate, options as never).ready()).rejects.toThrow(message)
    await app.close()
  })

  it('a synchronous outcome needs no promise: a MemoryStore route answers in the same hook call', async () => {
    const app = Fastify()
    await app.register(tollgate, {
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
    })
    app.get('/', async () => 'ok')
    expect((await app.inject('/')).statusCode).toBe(200)
    const denied = await app.inject('/')
    expect(denied.statusCode).toBe(429)
    expect(denied.headers['retry-after']).toBe('20')
    await app.close()
  })

  it('a handler that does not send still never lets a denied request reach the route', async () => {
    const app = Fastify()
    let reached = 0
    await app.register(tollgate, {
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      handler: () => undefined,
    })
    app.get('/', async () => {
      reached++
      return 'ok'
    })
    await app.inject('/')
    const denied = await app.inject('/')
    expect(denied.statusCode).toBe(429)
    expect(reached).toBe(1)
    await app.close()
  })
})
