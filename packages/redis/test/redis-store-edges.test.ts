/**
 * RedisStore edges that the other files leave open (StrykerJS survivors of redis-store.ts), on
 * the real Redis: each option and argument refusal with its exact message, the default prefix,
 * the names of the block keys, a peek that rejects instead of throwing, close() sending what is
 * queued, and a compound's resetMs as the max of its parts.
 */
import { randomUUID } from 'node:crypto'
import {
  compound,
  concurrency,
  fixedWindow,
  MAX_WINDOW_MS,
  slidingLog,
  tokenBucket,
} from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-store-edges-${randomUUID()}:`
let client: Redis
const cleanup: string[] = []

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  const keys = [...(await client.keys(`${prefix}*`)), ...cleanup]
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

const fw = fixedWindow({ limit: 2, windowMs: 60_000 })

describe('new RedisStore() refusals', () => {
  it('names itself in the refusal of a missing options object and of an unknown option', () => {
    expect(() => new RedisStore(undefined as never)).toThrow(/new RedisStore\(\)/)
    expect(() => new RedisStore({ client, clok: 1 } as never)).toThrow(
      'tollgate: unknown option "clok" in new RedisStore(); expected one of client, prefix, clock, batch',
    )
  })

  it('accepts each of its four options', () => {
    const store = new RedisStore({ client, prefix, clock: () => 1_000, batch: false })
    expect([store.prefix, store.batch, store.clock?.()]).toEqual([prefix, false, 1_000])
  })

  it('refuses a batch option that is not a boolean, naming it and the value', () => {
    expect(() => new RedisStore({ client, batch: 'yes' } as never)).toThrow(TypeError)
    expect(() => new RedisStore({ client, batch: 'yes' } as never)).toThrow(
      'tollgate: batch must be a boolean, got "yes"',
    )
  })

  it("keeps its state under the default prefix 'tollgate:'", async () => {
    const store = new RedisStore({ client, clock: () => 1_000 })
    const key = randomUUID()
    cleanup.push(`tollgate:{${key}}:fw`)
    expect(store.prefix).toBe('tollgate:')
    await store.decide(key, fw, 1)
    expect(await client.exists(`tollgate:{${key}}:fw`)).toBe(1)
  })
})

describe('RedisStore argument refusals (rejected promises, never a throw)', () => {
  const store = () => new RedisStore({ client, prefix, clock: () => 1_000 })

  it.each([
    ['', '""'],
    [5, '5'],
  ])('rejects the key %j with a TypeError naming it', async (key, shown) => {
    await expect(store().decide(key as never, fw, 1)).rejects.toThrow(
      `tollgate: key must be a non-empty string, got ${shown}`,
    )
  })

  it('rejects a peek of a cost no algorithm admits from a promise', async () => {
    const pending = store().peek('k', fw, -1)
    expect(pending).toBeInstanceOf(Promise)
    await expect(pending).rejects.toThrow(/cost/)
  })

  it('refuses refund() for a concurrency algorithm', async () => {
    await expect(store().refund('k', concurrency({ limit: 1 }), 1)).rejects.toThrow(
      'tollgate: refund() is not for a concurrency algorithm; release its lease instead',
    )
  })

  it('refuses release() for another algorithm and an empty lease', async () => {
    await expect(store().release('k', fw, 'x')).rejects.toThrow(
      'tollgate: release() is only for a concurrency algorithm, got "fixedWindow"',
    )
    await expect(store().release('k', concurrency({ limit: 1 }), '')).rejects.toThrow(
      'tollgate: lease must be a non-empty string, got ""',
    )
  })

  it('takes a block of MAX_WINDOW_MS and refuses one ms more, in block() and blockDurationMs', async () => {
    const s = store()
    await expect(s.block('max', fw, MAX_WINDOW_MS)).resolves.toBeUndefined()
    await expect(s.block('max', fw, MAX_WINDOW_MS + 1)).rejects.toThrow(
      `tollgate: durationMs must be at most ${MAX_WINDOW_MS} ms, got ${MAX_WINDOW_MS + 1}`,
    )
    await expect(s.decide('max2', fw, 1, { blockDurationMs: MAX_WINDOW_MS + 1 })).rejects.toThrow(
      `tollgate: blockDurationMs must be at most ${MAX_WINDOW_MS} ms`,
    )
  })
})

describe('RedisStore block keys', () => {
  it('keeps a concurrency block at <prefix>{<key>}:cc:block and a compound one at {<key>}:c:block', async () => {
    const store = new RedisStore({ client, prefix, clock: () => 1_000 })
    await store.block('cc', concurrency({ limit: 1 }), 5_000)
    expect(await client.get(`${prefix}{cc}:cc:block`)).toBe('6000')
    await store.block('cp', compound([fw, slidingLog({ limit: 1, windowMs: 1_000 })]), 5_000)
    expect(await client.get(`${prefix}{cp}:c:block`)).toBe('6000')
  })
})

describe('RedisStore.close()', () => {
  it('sends what is still queued before a quit that follows it', async () => {
    const own = new Redis(inject('redisUrl'))
    const store = new RedisStore({ client: own, prefix, clock: () => 1_000 })
    await own.ping()
    const pending = store.decide('close', fw, 1)
    await store.close()
    await own.quit()
    expect(await pending).toMatchObject({ allowed: true, remaining: 1 })
  })
})

describe('RedisStore compound decisions', () => {
  it('answers resetMs as the largest of its parts, wherever that part stands', async () => {
    const store = new RedisStore({ client, prefix, clock: () => 1_000 })
    const algorithm = compound([
      fixedWindow({ limit: 5, windowMs: 3_600_000 }),
      tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 1_000 }),
    ])
    const d = await store.decide('reset-max', algorithm, 1)
    expect(d.parts!.map((p) => p.resetMs)).toEqual([3_599_000, 1_000])
    expect(d.resetMs).toBe(3_599_000)
  })
})
