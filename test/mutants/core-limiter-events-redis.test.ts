/**
 * The `tollgate:decision` channel carries decisions, not looks (DESIGN: "for every decision of
 * every limiter"): a peek answered by a remote store publishes nothing, a limit() publishes once.
 * On a real RedisStore, because a limiter on a MemoryStore decides on its synchronous path and
 * never reaches the code that answers a remote store's reply.
 */
import { randomUUID } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { channels, createLimiter, fixedWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'

let client: Redis

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

it("publishes a RedisStore limiter's decisions on tollgate:decision, and none for its peeks", async () => {
  const events: Array<{ key: string; decision: { remaining: number } }> = []
  const listener = (message: unknown) => events.push(message as (typeof events)[number])
  subscribe(channels.decision, listener)
  try {
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 5, windowMs: 3_600_000 }),
      store: new RedisStore({ client, prefix: `t-events-${randomUUID()}:` }),
    })
    expect(await limiter.peek('k')).toMatchObject({ allowed: true, remaining: 4 })
    expect(await limiter.peek('k', { cost: 2 })).toMatchObject({ allowed: true, remaining: 3 })
    expect(events).toEqual([])
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, remaining: 4 })
    expect(events.map((e) => [e.key, e.decision.remaining])).toEqual([['k', 4]])
  } finally {
    unsubscribe(channels.decision, listener)
  }
})
