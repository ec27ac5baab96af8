import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisSessionStore, SessionStoreError } from '../src/index.js'
import { thrown } from './support/thrown.js'

// Errors raised before anything reaches Redis (packages/session/README.md, "Errors"): their class
// name, the serializer shape check, and what a failed save does to a response that is already
// committed ("When a save fails"). Never connected: each call fails before its first command.
const client = new Redis({ lazyConnect: true })

afterAll(() => {
  client.disconnect()
})

/** A serializer whose stringify returns no string: every save fails with ERR_TOLLGATE_SESSION_HOOK. */
const failingSaves = { parse: JSON.parse, stringify: () => 5 as never }

describe('RedisSessionStore errors raised before Redis', () => {
  it('a runtime error is a SessionStoreError by name', async () => {
    const store = new RedisSessionStore({ client })
    const error = await store.destroyUser('ada').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionStoreError)
    expect((error as Error).name).toBe('SessionStoreError')
    expect((error as SessionStoreError).code).toBe('ERR_TOLLGATE_SESSION_NO_USER_KEY')
  })

  it('a function carrying parse and stringify is not a serializer object', () => {
    const serializer = Object.assign(() => {}, { parse: JSON.parse, stringify: JSON.stringify })
    const error = thrown(() => new RedisSessionStore({ client, serializer } as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(
      'tollgate: serializer must be an object with parse and stringify functions, got a function',
    )
  })

  it('a failed save leaves a response that has already ended alone', async () => {
    const store = new RedisSessionStore({ client, serializer: failingSaves })
    let destroyed = 0
    const res = { headersSent: true, writableEnded: true, destroy: () => destroyed++ }
    const session = { cookie: { originalMaxAge: 60_000, maxAge: 60_000 }, req: { res } }
    await expect(store.set('s', session as never)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_HOOK',
    })
    expect(destroyed).toBe(0)
  })

  it('a failed save after the headers went out, on a response without destroy(), rejects with the store error', async () => {
    const store = new RedisSessionStore({ client, serializer: failingSaves })
    const res = { headersSent: true, writableEnded: false }
    const session = { cookie: { originalMaxAge: 60_000, maxAge: 60_000 }, req: { res } }
    await expect(store.set('s', session as never)).rejects.toMatchObject({
      name: 'SessionStoreError',
      code: 'ERR_TOLLGATE_SESSION_HOOK',
      message: 'tollgate: serializer.stringify must return a string, got 5',
    })
  })

  it('a failed save after the headers went out ends the open response', async () => {
    const store = new RedisSessionStore({ client, serializer: failingSaves })
    let destroyed = 0
    const res = { headersSent: true, writableEnded: false, destroy: () => destroyed++ }
    const session = { cookie: { originalMaxAge: 60_000, maxAge: 60_000 }, req: { res } }
    await expect(store.set('s', session as never)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_SESSION_HOOK',
    })
    expect(destroyed).toBe(1)
  })
})
