/**
 * The TTL a refund or a release leaves on the state key (docs/semantics.md, "refund": "Expiry then
 * follows the new state"; "Expiry": sliding window at `start + 2W` or `start + W`, sliding log at
 * `t_newest + W`, concurrency at the last lease's `expiresAt`), against the shared redis-server.
 *
 * The scripts set TTLs relative to the op's `now` (PEXPIRE / SET PX of `expiry - now`), so with an
 * injected clock the PTTL read right after a step is the exact value docs/semantics.md gives from
 * that `now`, less only the real milliseconds between issuing the step and reading the PTTL. Each
 * step moves the injected clock by seconds, so a TTL that is not re-set (or set from the wrong
 * entry or lease) is seconds off, far beyond that slack. These pin the Lua TTL mutants of
 * `pnpm mutation:lua` on the refund and release paths.
 */
import { randomUUID } from 'node:crypto'
import { type Algorithm, concurrency, slidingLog, slidingWindow } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const prefix = `t-redis-ttl-${randomUUID()}:`
const W = 60_000
/** An injected instant on a window boundary (start of window 1000 for W = 60 s). */
const T = 1000 * W
let client: Redis
let now = 0
let store: RedisStore

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
  store = new RedisStore({ client, prefix, clock: () => now })
})

afterAll(async () => {
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

/**
 * Runs `step` at injected time `at`, then reads the state key's PTTL at once: it must be
 * `expected` less at most the real ms the step and the read took (+1 for Redis's ms rounding).
 */
async function ttlAfter(
  key: string,
  algorithm: Algorithm,
  at: number,
  step: () => Promise<unknown>,
  expected: number,
): Promise<void> {
  now = at
  const issuedAt = Date.now()
  await step()
  const ttl = await client.pttl(stateKey(prefix, key, algorithm.kind))
  const slack = Date.now() - issuedAt + 1
  expect(ttl, `PTTL after the step at ${at}`).toBeLessThanOrEqual(expected)
  expect(ttl, `PTTL after the step at ${at}`).toBeGreaterThanOrEqual(expected - slack)
}

/** The state key no longer exists right after the step at `at`. */
async function goneAfter(
  key: string,
  algorithm: Algorithm,
  at: number,
  step: () => Promise<unknown>,
): Promise<void> {
  now = at
  await step()
  expect(await client.exists(stateKey(prefix, key, algorithm.kind))).toBe(0)
}

describe('slidingWindow refund on Redis', () => {
  const a = slidingWindow({ limit: 5, windowMs: W })

  it('a refund that leaves curr > 0 sets the TTL to start + 2W - now', async () => {
    const key = `sw-curr-${randomUUID()}`
    await ttlAfter(key, a, T + 1000, () => store.decide(key, a, 3), 2 * W - 1000)
    // curr 3 -> 2: still counted in this window, so the state matters until start + 2W.
    await ttlAfter(key, a, T + 5000, () => store.refund(key, a, 1), 2 * W - 5000)
  })

  it('a refund that empties curr but leaves prev > 0 sets the TTL to start + W - now', async () => {
    const key = `sw-prev-${randomUUID()}`
    // Admitted in the window before T: at T + 7000 the state rolls to prev = 2, curr = 0.
    await ttlAfter(key, a, T - 10_000, () => store.decide(key, a, 2), W + 10_000)
    // k = min(0, 1) = 0, prev = 2 - 1 = 1: only the decaying previous window is left, which
    // stops mattering at the end of this window.
    await ttlAfter(key, a, T + 7000, () => store.refund(key, a, 1), W - 7000)
  })

  it('a refund that brings the state back to untouched deletes the key', async () => {
    const key = `sw-gone-${randomUUID()}`
    await ttlAfter(key, a, T + 1000, () => store.decide(key, a, 2), 2 * W - 1000)
    await goneAfter(key, a, T + 2000, () => store.refund(key, a, 2))
  })
})

describe('slidingLog refund on Redis', () => {
  const a = slidingLog({ limit: 5, windowMs: W })

  it('a refund that removes the newest entry sets the TTL to the new newest t + W - now', async () => {
    const key = `sl-newest-${randomUUID()}`
    await ttlAfter(key, a, T, () => store.decide(key, a, 1), W)
    await ttlAfter(key, a, T + 5000, () => store.decide(key, a, 1), W)
    // The entry of T + 5000 goes; the newest is now the one of T.
    await ttlAfter(key, a, T + 8000, () => store.refund(key, a, 1), T + W - (T + 8000))
  })

  it('a refund that only reduces the newest entry keeps t_newest + W, restated from now', async () => {
    const key = `sl-reduce-${randomUUID()}`
    await ttlAfter(key, a, T, () => store.decide(key, a, 1), W)
    await ttlAfter(key, a, T + 5000, () => store.decide(key, a, 2), W)
    await ttlAfter(key, a, T + 8000, () => store.refund(key, a, 1), T + 5000 + W - (T + 8000))
  })

  it('a refund larger than the newest entry takes the rest from the one before', async () => {
    const key = `sl-span-${randomUUID()}`
    await ttlAfter(key, a, T, () => store.decide(key, a, 2), W)
    await ttlAfter(key, a, T + 3000, () => store.decide(key, a, 1), W)
    await ttlAfter(key, a, T + 4000, () => store.decide(key, a, 1), W)
    // 3 units off: the entries of T + 4000 and T + 3000 go, the one of T keeps 1 unit.
    await ttlAfter(key, a, T + 9000, () => store.refund(key, a, 3), T + W - (T + 9000))
    // 1 unit left in the log: a request of 1 would leave 3.
    expect(await store.peek(key, a, 1)).toMatchObject({ allowed: true, remaining: 3 })
  })

  it('a refund of everything deletes the key', async () => {
    const key = `sl-gone-${randomUUID()}`
    await ttlAfter(key, a, T, () => store.decide(key, a, 2), W)
    await goneAfter(key, a, T + 1000, () => store.refund(key, a, 3))
  })
})

describe('concurrency release on Redis', () => {
  const M = 30_000
  const a = concurrency({ limit: 5, leaseMs: M })

  it('releasing the last lease shortens the key to the earlier lease: its expiresAt - now', async () => {
    const key = `cc-last-${randomUUID()}`
    let first = ''
    let second = ''
    await ttlAfter(
      key,
      a,
      T,
      async () => {
        first = (await store.decide(key, a, 1)).lease!
      },
      M,
    )
    await ttlAfter(
      key,
      a,
      T + 5000,
      async () => {
        second = (await store.decide(key, a, 1)).lease!
      },
      M,
    )
    // The key now lives as long as the lease of T: T + M - (T + 6000).
    await ttlAfter(key, a, T + 6000, () => store.release(key, a, second), M - 6000)
    expect(first).not.toBe('')
  })

  it('releasing the earlier lease restates the later lease: its expiresAt - now', async () => {
    const key = `cc-first-${randomUUID()}`
    let first = ''
    await ttlAfter(
      key,
      a,
      T,
      async () => {
        first = (await store.decide(key, a, 1)).lease!
      },
      M,
    )
    await ttlAfter(key, a, T + 5000, () => store.decide(key, a, 1), M)
    await ttlAfter(key, a, T + 9000, () => store.release(key, a, first), T + 5000 + M - (T + 9000))
  })

  it('releasing a lease when the remaining one has expired by now deletes the key', async () => {
    const key = `cc-expired-${randomUUID()}`
    let second = ''
    await ttlAfter(key, a, T, () => store.decide(key, a, 1), M)
    await ttlAfter(
      key,
      a,
      T + 5000,
      async () => {
        second = (await store.decide(key, a, 1)).lease!
      },
      M,
    )
    // At T + M the lease of T has ended (expiresAt <= now): nothing live is left.
    await goneAfter(key, a, T + M, () => store.release(key, a, second))
  })
})
