/**
 * A sliding log key expires at t_newest + W (docs/semantics.md, "Keys and expiry"), and a denial does
 * not move that expiry (issue 15, X11). Redis expires keys on its own clock, so the rule can only
 * be seen across real milliseconds: the injected clock here *is* the real clock (Date.now, the
 * clock Redis's TIME reads on this machine), the steps are a few tens of real ms apart, and the
 * absolute expiry (PEXPIRETIME, exact to the ms, Redis >= 7) is read right after each step and
 * compared with t_newest + W: Redis set it at some real time between the clock read and the
 * answer, so it lies in [t + W, answered + W], however slow a busy machine is. A TTL read with an injected clock far ahead of real time cannot
 * tell t_newest + W from t_first + W, or a denial that re-arms the TTL from one that does not.
 */
import { randomUUID } from 'node:crypto'
import { slidingLog } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-mutants-ttl-${randomUUID()}:`
const W = 60_000
/** Real ms between steps (each step also starts after the previous one has answered). */
const GAP_MS = 50

let client: Redis

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

/** Waits until the real clock has passed `t` (a bounded wait: Redis's expiry clock is real time). */
async function realTimePast(t: number): Promise<number> {
  while (Date.now() <= t) await new Promise((r) => setTimeout(r, Math.max(1, t - Date.now())))
  return Date.now()
}

describe('slidingLog key expiry on Redis, on the real clock', () => {
  it('expires at t_newest + W after each admission, and a denial leaves that expiry alone', async () => {
    let now = 0
    const store = new RedisStore({ client, prefix, clock: () => now })
    const algorithm = slidingLog({ limit: 2, windowMs: W })
    const key = stateKey(prefix, 'k', 'slidingLog')
    const expiry = async () => Number(await client.call('PEXPIRETIME', key))

    const first = await realTimePast(0)
    now = first
    expect(await store.decide('k', algorithm, 1)).toMatchObject({ allowed: true, resetMs: W })
    const firstAnswered = Date.now()
    const afterFirst = await expiry()
    expect(afterFirst).toBeGreaterThanOrEqual(first + W)
    expect(afterFirst).toBeLessThanOrEqual(firstAnswered + W)

    const newest = await realTimePast(Math.max(firstAnswered, first + GAP_MS))
    now = newest
    expect(await store.decide('k', algorithm, 1)).toMatchObject({ allowed: true, resetMs: W })
    const newestAnswered = Date.now()
    // t_newest + W, not t_first + W.
    const afterNewest = await expiry()
    expect(afterNewest).toBeGreaterThanOrEqual(newest + W)
    expect(afterNewest).toBeLessThanOrEqual(newestAnswered + W)

    const denial = await realTimePast(Math.max(newestAnswered, newest + GAP_MS))
    now = denial
    expect(await store.decide('k', algorithm, 1)).toMatchObject({
      allowed: false,
      resetMs: newest + W - denial,
      retryAfterMs: first + W - denial,
    })
    // Still t_newest + W: a denial re-arming the TTL from its own time would put it past
    // newestAnswered + W (the denial started after that).
    const afterDenial = await expiry()
    expect(afterDenial).toBeGreaterThanOrEqual(newest + W)
    expect(afterDenial).toBeLessThanOrEqual(newestAnswered + W)
  })
})
