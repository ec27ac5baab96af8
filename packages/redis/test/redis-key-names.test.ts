/**
 * The key names of packages/redis/README.md ("Keys"): which prefixes a RedisStore refuses (an
 * empty hash tag `{}` first, which makes Redis hash whole keys, so a state and its block would
 * land in different Cluster slots), and the escape of a user key that starts with `}` or `\`
 * (which keeps the user key -> Redis key mapping one-to-one). Real Redis; the slots come from
 * hashSlot(), which client.test.ts checks against CLUSTER KEYSLOT.
 */
import { randomUUID } from 'node:crypto'
import { compound, fixedWindow, slidingLog, slidingWindow, tokenBucket } from '@tollgate/core'
import { blockKey, memberKey, RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { hashSlot } from '../src/client.js'

const run = `t-keynames-${randomUUID()}`
let client: Redis
const prefixesUsed: string[] = []

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  for (const prefix of prefixesUsed) {
    const keys = await client.keys(`${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`)
    if (keys.length > 0) await client.del(...keys)
  }
  await client.quit()
})

/** Whether Redis would put `prefix{user}:fw` and its block key in different slots. */
const splitsSlots = (prefix: string) =>
  hashSlot(`${prefix}{user}:fw`) !== hashSlot(`${prefix}{user}:fw:block`)

describe('RedisStore prefix with a hash tag', () => {
  // '{' at 0, at 1 and after a '}': each position of the check's arithmetic.
  const refused = ['{}', 'a{}b:', 'x}{}:', 'app:{}']
  // No '{', a '}' first, a non-empty tag, a '{' with a '}' only later.
  const accepted = ['tollgate:', '}x:', '{app}:', 'a{b{}', 'a{', 'p}{q}:']

  it.each(refused)('refuses the prefix %j with a RangeError naming it', (prefix) => {
    expect(splitsSlots(prefix)).toBe(true)
    expect(() => new RedisStore({ client, prefix })).toThrow(RangeError)
    expect(() => new RedisStore({ client, prefix })).toThrow(
      `tollgate: prefix must not hold an empty hash tag "{}", got ${JSON.stringify(prefix)}`,
    )
  })

  it.each(accepted)('accepts the prefix %j and keeps its state under it', async (prefix) => {
    expect(splitsSlots(prefix)).toBe(false)
    const mine = `${prefix}${run}:`
    prefixesUsed.push(mine)
    const store = new RedisStore({ client, prefix: mine, clock: () => 1_000 })
    const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
    expect(await store.decide('k', algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 })
    expect(await store.decide('k', algorithm, 1)).toMatchObject({ allowed: false })
    expect(await client.exists(`${mine}{k}:fw`)).toBe(1)
  })
})

describe('RedisStore user keys that start with } or \\', () => {
  it('escapes a leading } and a leading \\ with one backslash, and nothing else', () => {
    expect(stateKey('p:', '}a', 'fixedWindow')).toBe('p:{\\}a}:fw')
    expect(stateKey('p:', '\\a', 'fixedWindow')).toBe('p:{\\\\a}:fw')
    expect(stateKey('p:', 'a}', 'fixedWindow')).toBe('p:{a}}:fw')
    expect(stateKey('p:', 'a\\', 'fixedWindow')).toBe('p:{a\\}:fw')
    expect(blockKey('p:', '\\a', 'slidingLog')).toBe('p:{\\\\a}:sl:block')
  })

  it('keeps the user keys "}a" and "\\\\}a" apart: distinct Redis keys, separate counts', async () => {
    const prefix = `${run}:escape:`
    prefixesUsed.push(prefix)
    const store = new RedisStore({ client, prefix, clock: () => 1_000 })
    const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })
    expect(stateKey(prefix, '}a', 'fixedWindow')).not.toBe(stateKey(prefix, '\\}a', 'fixedWindow'))
    expect((await store.decide('}a', algorithm, 1)).allowed).toBe(true)
    expect((await store.decide('\\}a', algorithm, 1)).allowed).toBe(true)
    expect((await store.decide('}a', algorithm, 1)).allowed).toBe(false)
    expect(await client.hgetall(`${prefix}{\\}a}:fw`)).not.toEqual({})
    expect(await client.hgetall(`${prefix}{\\\\}a}:fw`)).not.toEqual({})
  })
})

describe('RedisStore compound member keys (README, "Keys": <prefix>{<key>}:c<i>:<suffix>)', () => {
  it('names each member by its position and its own kind, word for word', () => {
    expect(memberKey('p:', 'k', 0, 'fixedWindow')).toBe('p:{k}:c0:fw')
    expect(memberKey('p:', 'k', 1, 'slidingWindow')).toBe('p:{k}:c1:sw')
    expect(memberKey('p:', 'k', 2, 'slidingLog')).toBe('p:{k}:c2:sl')
    expect(memberKey('p:', 'k', 3, 'tokenBucket')).toBe('p:{k}:c3:tb')
    expect(memberKey('p:', 'k', 0, 'tokenBucket')).toBe('p:{k}:c0:tb')
    expect(memberKey('p:', '}k', 1, 'fixedWindow')).toBe('p:{\\}k}:c1:fw')
  })

  it('keeps a compound of all four kinds under those names in Redis', async () => {
    const prefix = `${run}:compound:`
    prefixesUsed.push(prefix)
    const store = new RedisStore({ client, prefix, clock: () => 1_000 })
    const algorithm = compound([
      fixedWindow({ limit: 5, windowMs: 60_000 }),
      slidingWindow({ limit: 5, windowMs: 60_000 }),
      slidingLog({ limit: 5, windowMs: 60_000 }),
      tokenBucket({ capacity: 5, refillRate: 1, refillIntervalMs: 1_000 }),
    ])
    expect((await store.decide('k', algorithm, 1)).allowed).toBe(true)
    const names = ['c0:fw', 'c1:sw', 'c2:sl', 'c3:tb'].map((s) => `${prefix}{k}:${s}`)
    expect(await client.exists(...names)).toBe(4)
    await store.block('k', algorithm, 60_000)
    expect(await client.exists(`${prefix}{k}:c:block`)).toBe(1)
  })
})
