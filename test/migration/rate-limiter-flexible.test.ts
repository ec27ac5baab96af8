/**
 * docs/migrating-from-rate-limiter-flexible.md, proven: RateLimiterRedis and the translated tollgate
 * limiter run the same sequence of (key, points) against one real Redis. Equal allow/deny outcomes
 * where the semantics match (a fixed window of `points` per `duration`, costs as points); the
 * differences the guide names (a rejected promise vs a Decision, window alignment, what a wait
 * means) are pinned.
 */
import { createLimiter, fixedWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const PREFIX = `migration-rlf:${process.pid}:${Date.now()}:`
let client: Redis
let run = 0

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  await client.ping()
})
afterAll(async () => {
  await client.quit()
})

function peer(points: number) {
  return new RateLimiterRedis({
    storeClient: client,
    points,
    duration: 3600,
    keyPrefix: `${PREFIX}${++run}:rlf`,
  })
}

function ours(limit: number) {
  const now = Date.now()
  return createLimiter({
    algorithm: fixedWindow({ limit, windowMs: 3_600_000 }),
    store: new RedisStore({ client, prefix: `${PREFIX}${++run}:tg:`, clock: () => now }),
  })
}

/** consume() resolves when admitted and rejects with a RateLimiterRes when not. */
async function peerAdmits(
  limiter: RateLimiterRedis,
  key: string,
  points: number,
): Promise<boolean> {
  try {
    await limiter.consume(key, points)
    return true
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return false
    throw rejection
  }
}

// No key is asked again after a denial: there the two differ (see the next test).
const SEQUENCE: Array<[string, number]> = [
  ['ada', 1],
  ['ada', 2],
  ['bob', 4],
  ['ada', 1],
  ['ada', 2],
  ['bob', 1],
  ['bob', 1],
  ['carol', 6],
]

describe('migrating from rate-limiter-flexible', () => {
  it('admits and denies the same (key, points) sequence with points as cost', async () => {
    const theirs = peer(5)
    const mine = ours(5)
    const a: boolean[] = []
    const b: boolean[] = []
    for (const [key, points] of SEQUENCE) {
      a.push(await peerAdmits(theirs, key, points))
      // points larger than the limit: rate-limiter-flexible rejects, tollgate throws a
      // RangeError at the call (a cost that can never be admitted is a bug).
      b.push(points > 5 ? false : (await mine.limit(key, { cost: points })).allowed)
    }
    expect(b).toEqual(a)
    expect(b).toEqual([true, true, true, true, false, true, false, false])
  })

  it('differs: a rejected consume() consumed its points; a tollgate denial takes nothing', async () => {
    const theirs = peer(3)
    const mine = ours(3)
    await theirs.consume('ada', 2)
    await mine.limit('ada', { cost: 2 })
    // Both refuse 2 more points ...
    expect(await peerAdmits(theirs, 'ada', 2)).toBe(false)
    expect((await mine.limit('ada', { cost: 2 })).allowed).toBe(false)
    // ... but rate-limiter-flexible counted the refused points (consumedPoints 4), so 1 more point
    // is refused too, while tollgate still has 1 left.
    expect((await theirs.get('ada'))?.consumedPoints).toBe(4)
    expect(await peerAdmits(theirs, 'ada', 1)).toBe(false)
    expect((await mine.limit('ada', { cost: 1 })).allowed).toBe(true)
  })

  it('delete(key) ↔ reset(key): both give the full quota back', async () => {
    const theirs = peer(1)
    const mine = ours(1)
    await theirs.consume('ada')
    await mine.limit('ada')
    await theirs.delete('ada')
    await mine.reset('ada')
    expect(await peerAdmits(theirs, 'ada', 1)).toBe(true)
    expect((await mine.limit('ada')).allowed).toBe(true)
  })

  it('reward(key, points) ↔ refund(key, { cost }): the same points come back', async () => {
    const theirs = peer(3)
    const mine = ours(3)
    await theirs.consume('ada', 3)
    await mine.limit('ada', { cost: 3 })
    await theirs.reward('ada', 2)
    await mine.refund('ada', { cost: 2 })
    expect(await peerAdmits(theirs, 'ada', 2)).toBe(true)
    expect((await mine.limit('ada', { cost: 2 })).allowed).toBe(true)
    expect(await peerAdmits(theirs, 'ada', 1)).toBe(false)
    expect((await mine.limit('ada', { cost: 1 })).allowed).toBe(false)
  })

  it('block(key, seconds) ↔ block(key, ms); get(key) ↔ peek(key)', async () => {
    const theirs = peer(5)
    const mine = ours(5)
    await theirs.consume('ada', 1)
    await mine.limit('ada', { cost: 1 })
    expect((await theirs.get('ada'))?.remainingPoints).toBe(4)
    // Differs: peek answers what limit() would now, so its remaining is after this request.
    expect((await mine.peek('ada')).remaining).toBe(3)
    await theirs.block('ada', 60)
    await mine.block('ada', 60_000)
    expect(await peerAdmits(theirs, 'ada', 1)).toBe(false)
    const blocked = await mine.limit('ada', { cost: 1 })
    expect(blocked.allowed).toBe(false)
    expect(blocked.retryAfterMs).toBe(60_000)
  })

  it('numbers: remainingPoints ↔ remaining; msBeforeNext ↔ resetMs / retryAfterMs', async () => {
    const theirs = peer(3)
    const mine = ours(3)
    const res = await theirs.consume('ada')
    const decision = await mine.limit('ada')
    expect(res.remainingPoints).toBe(2)
    expect(decision.remaining).toBe(2)
    // The peer's window opened at this first hit: msBeforeNext is the whole duration. tollgate's
    // window is aligned to the store clock, so resetMs is what is left of it.
    expect(res.msBeforeNext).toBeGreaterThan(3_590_000)
    expect(decision.resetMs).toBeGreaterThan(0)
    expect(decision.resetMs).toBeLessThanOrEqual(3_600_000)
    expect(decision.retryAfterMs).toBe(0)
  })
})
