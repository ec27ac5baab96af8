/**
 * docs/semantics.md "refund": a refund never changes a state written in a later window than the
 * clock's (the clock stepped back). MemoryStore and RedisStore (real redis-server) side by side, so
 * the two implementations of the rule cannot drift apart. Kills core mutant 296 of issue 15
 * (stryker/results/core-memory-store-2.md): `refundOne`'s sliding window read such a state as the
 * previous window's count.
 */
import { randomUUID } from 'node:crypto'
import {
  compound,
  fixedWindow,
  MemoryStore,
  type RateAlgorithm,
  type Store,
  slidingWindow,
} from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { connectClient, type TestClient } from '../support/clients.js'

const filePrefix = `t-mut-core-refund-later-window-${randomUUID()}:`
let client: TestClient
let now = 0
const clock = () => now

beforeAll(async () => {
  client = await connectClient(inject('redisUrl'))
})

afterAll(async () => {
  await client.quit()
})

const W = 60_000
const fw = fixedWindow({ limit: 3, windowMs: W })
const sw = slidingWindow({ limit: 3, windowMs: W })

const stores: Array<[name: string, make: () => Store]> = [
  ['MemoryStore', () => new MemoryStore({ clock })],
  [
    'RedisStore (batched)',
    () => new RedisStore({ client: client.client, prefix: `${filePrefix}b:`, clock }),
  ],
  [
    'RedisStore (batch: false)',
    () => new RedisStore({ client: client.client, prefix: `${filePrefix}u:`, clock, batch: false }),
  ],
]

describe.each(stores)('a refund after the clock stepped back, on %s', (_name, make) => {
  it.each([
    ['fixedWindow', fw],
    ['slidingWindow', sw],
  ] as Array<[string, RateAlgorithm]>)(
    '%s: a refund in an earlier window than the state leaves that state whole for its own window',
    async (kind, algorithm) => {
      const store = make()
      const key = `${kind}:${randomUUID()}`
      now = 2 * W + 1000 // window 2
      expect(await store.decide(key, algorithm, 2)).toMatchObject({ allowed: true, remaining: 1 })
      // Window 1 (window 0 for a state one window older still): window 2's count is not there yet.
      for (const back of [W + 1000, 1000]) {
        now = back
        await store.refund(key, algorithm, 1)
        expect(await store.peek(key, algorithm, 1)).toMatchObject({ allowed: true, remaining: 2 })
      }
      // Back in window 2: both admissions still count, nothing was given back.
      now = 2 * W + 2000
      expect(await store.peek(key, algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 })
      expect(await store.decide(key, algorithm, 2)).toMatchObject({ allowed: false, remaining: 1 })
      await store.close?.()
    },
  )

  it('a compound refund in an earlier window than its members leaves each member whole', async () => {
    const store = make()
    const key = `compound:${randomUUID()}`
    const both = compound([fw, sw])
    now = 2 * W + 1000
    expect((await store.decide(key, both, 2)).allowed).toBe(true)
    now = W + 1000
    await store.refund(key, both, 1)
    now = 2 * W + 2000
    const d = await store.peek(key, both, 1)
    expect(d.parts!.map((p) => p.remaining)).toEqual([0, 0])
    expect((await store.decide(key, both, 2)).allowed).toBe(false)
    await store.close?.()
  })
})
