/**
 * A script reply that is not a decision is a coded store error, never a Decision with made-up
 * numbers (issue 15, X10: ERR_TOLLGATE_STORE_REPLY). Real Redis: the reply goes wrong because
 * something other than tollgate wrote a value under tollgate's key (a key collision with another
 * application, or a hand edit), which makes the real script compute a count outside any limit.
 */
import { randomUUID } from 'node:crypto'
import { createLimiter, fixedWindow } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-mutants-reply-${randomUUID()}:`
const W = 60_000
const now = 10 * W + 1_000
let client: Redis

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

/** Plants a window count far below zero under the key tollgate will read for `key`. */
async function plantForeignCount(store: RedisStore, key: string): Promise<void> {
  const algorithm = fixedWindow({ limit: 10, windowMs: W })
  // Let the script create the state, so the planted field sits in whatever layout it uses.
  await store.decide(key, algorithm, 1)
  const redisKey = stateKey(prefix, key, 'fixedWindow')
  const type = await client.type(redisKey)
  if (type === 'hash') {
    for (const field of await client.hkeys(redisKey)) {
      await client.hset(redisKey, field, String(-(2 ** 60)))
    }
  } else {
    await client.set(redisKey, String(-(2 ** 60)), 'KEEPTTL')
  }
}

describe('RedisStore on a reply that is not a decision', () => {
  it('rejects with ERR_TOLLGATE_STORE_REPLY naming what it got', async () => {
    const store = new RedisStore({ client, prefix, clock: () => now })
    await plantForeignCount(store, 'collided')
    await expect(
      store.decide('collided', fixedWindow({ limit: 10, windowMs: W }), 1),
    ).rejects.toMatchObject({
      name: 'TollgateError',
      code: 'ERR_TOLLGATE_STORE_REPLY',
      message: expect.stringMatching(/expected a decision.*got/),
    })
  })

  it('is answered by the fail policy and reported, never passed on as a Decision', async () => {
    const store = new RedisStore({ client, prefix, clock: () => now })
    const errors: Array<{ code?: string }> = []
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 10, windowMs: W }),
      store,
      prefix: '',
      failure: { mode: 'closed', breaker: false },
      onStoreError: (error) => errors.push(error as { code?: string }),
    })
    await plantForeignCount(store, 'collided-limiter')
    const d = await limiter.limit('collided-limiter')
    expect(d).toMatchObject({ allowed: false, degraded: true, remaining: 0 })
    expect(errors.map((e) => e.code)).toEqual(['ERR_TOLLGATE_STORE_REPLY'])
  })
})
