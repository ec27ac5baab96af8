/**
 * The packed admission reply, `resetMs * (limit + 1) + remaining` (include/prelude.lua), is read
 * only below 2^52: node-redis and ioredis 6 decode an integer as `n * 10 + byte - 48`, which rounds
 * within 48 of 2^53 (2^53 - 11 arrives as 2^53 - 12, a Decision off by one), so a bound at
 * 2^53 - (limit + 1), as before session 7, was exact on ioredis 5 alone. At or above the bound the
 * store refuses the reply with ERR_TOLLGATE_STORE_REPLY instead of decoding numbers it cannot
 * trust; just below it the decode is exact, on both client libraries. Real Redis and the real
 * script: the reply grows that large because a foreign value was written under tollgate's key
 * (as in test/mutants/redis-store-reply.test.ts), chosen here so the reply lands on either side
 * of the bound. The injected clock fixes resetMs, so the reply is known to the unit.
 */
import { randomUUID } from 'node:crypto'
import { fixedWindow } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  type ClientKind,
  clientKinds,
  connectClient,
  type TestClient,
} from '../../../test/support/clients.js'

const prefix = `t-reply-range-${randomUUID()}:`
const W = 60_000
const L = 10
const M = L + 1
/** 1 s into window 10: every admission in it has resetMs = 59 s. */
const NOW = 10 * W + 1_000
const RESET_MS = W - 1_000
const TWO_POW_52 = 2 ** 52
const TWO_POW_53 = 2 ** 53
const algorithm = fixedWindow({ limit: L, windowMs: W })
let client: Redis
const stores: Partial<Record<ClientKind, TestClient>> = {}

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  for (const kind of clientKinds) stores[kind] = await connectClient(inject('redisUrl'), kind)
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
  for (const kind of clientKinds) await stores[kind]?.quit()
})

/**
 * Writes the window count that makes the next decide of cost 1 reply exactly `reply`: the
 * script admits (count + 1 <= L) with remaining = L - (count + 1), packed as RESET_MS * M +
 * remaining.
 */
async function plantForReply(store: RedisStore, key: string, reply: number): Promise<void> {
  await store.decide(key, algorithm, 1)
  const count = L - 1 - (reply - RESET_MS * M)
  const redisKey = stateKey(store.prefix, key, 'fixedWindow')
  for (const field of await client.hkeys(redisKey)) {
    await client.hset(redisKey, field, String(count))
  }
}

describe.each(clientKinds)('RedisStore on %s, on a packed reply near 2^52', (kind) => {
  const storeClient = () => stores[kind]!.client
  it('refuses a reply of exactly 2^52 as ERR_TOLLGATE_STORE_REPLY', async () => {
    const store = new RedisStore({
      client: storeClient(),
      prefix: `${prefix}${kind}:`,
      clock: () => NOW,
    })
    const reply = TWO_POW_52
    await plantForReply(store, 'at-bound', reply)
    await expect(store.decide('at-bound', algorithm, 1)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_STORE_REPLY',
      message: `tollgate: RedisStore expected a decision from its script, got ${reply}`,
    })
  })

  it('refuses a safe integer reply above the bound too', async () => {
    const store = new RedisStore({
      client: storeClient(),
      prefix: `${prefix}${kind}:`,
      clock: () => NOW,
    })
    const reply = TWO_POW_53 - 3
    expect(Number.isSafeInteger(reply)).toBe(true)
    await plantForReply(store, 'above-bound', reply)
    await expect(store.decide('above-bound', algorithm, 1)).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_STORE_REPLY',
    })
  })

  it('decodes a reply one below the bound (2^52 - 1) exactly, as resetMs * (limit + 1) + remaining', async () => {
    const store = new RedisStore({
      client: storeClient(),
      prefix: `${prefix}${kind}:`,
      clock: () => NOW,
    })
    const reply = TWO_POW_52 - 1
    await plantForReply(store, 'below-bound', reply)
    // The split of the integer itself (BigInt: no rounding), whatever the foreign count made it.
    const resetMs = Number(BigInt(reply) / BigInt(M))
    const remaining = Number(BigInt(reply) % BigInt(M))
    await expect(store.decide('below-bound', algorithm, 1)).resolves.toEqual({
      allowed: true,
      limit: L,
      remaining,
      resetMs,
      retryAfterMs: 0,
    })
  })
})
