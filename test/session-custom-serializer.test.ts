/**
 * Issue 14, item 2, for a custom serializer (packages/session/README.md, "Options", serializer):
 * whatever its parse returns, "__proto__" and "constructor" keys never leave the store, in plain
 * objects (null-prototype ones too) and arrays at any depth, while everything else it returns
 * (null, undefined, class instances and their fields) comes back as it was. On the suite's Redis.
 */
import { RedisSessionStore, type SessionSerializer } from '@tollgate/session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const PREFIX = 'test-session-custom-serializer:'
let client: Redis

/** A holder class, as a serializer that revives class instances (superjson, devalue) returns. */
class Box {
  constructor(readonly inner: Record<string, unknown>) {}
}

/** A store whose serializer's parse returns `revive(JSON.parse(text))`, keys as JSON makes them. */
function storeReviving(revive: (data: Record<string, unknown>) => unknown) {
  const serializer: SessionSerializer = {
    parse: (text) => revive(JSON.parse(text)) as never,
    stringify: (session) => JSON.stringify(session),
  }
  return new RedisSessionStore({ client, prefix: PREFIX, serializer })
}

async function stored(sid: string, text: string): Promise<void> {
  await client.set(`${PREFIX}${sid}`, text, 'PX', 60_000)
}

beforeAll(() => {
  client = new Redis(inject('redisUrl'))
})

afterAll(async () => {
  const keys = await client.keys(`${PREFIX}*`)
  if (keys.length > 0) await client.del(...keys)
  await client.quit()
})

describe('a custom serializer’s session', () => {
  it('loses "constructor" and "__proto__" keys inside arrays too', async () => {
    const store = storeReviving((data) => data)
    await stored(
      'array',
      '{"cookie":{},"list":[{"constructor":1,"d":4},[{"__proto__":{"x":1},"e":5}]]}',
    )
    const read = (await store.get('array')) as unknown as { list: unknown[] }
    expect(read.list).toEqual([{ d: 4 }, [{ e: 5 }]])
    expect(Object.hasOwn(read.list[0] as object, 'constructor')).toBe(false)
  })

  it('keeps null and undefined values as they are', async () => {
    const store = storeReviving((data) => ({
      ...data,
      missing: undefined,
      list: [null, undefined],
    }))
    await stored('nulls', '{"cookie":{},"none":null,"deep":{"none":null}}')
    const read = (await store.get('nulls')) as unknown as Record<string, unknown>
    expect(read).toEqual({
      cookie: {},
      none: null,
      deep: { none: null },
      missing: undefined,
      list: [null, undefined],
    })
    expect(Object.hasOwn(read, 'missing')).toBe(true)
  })

  it('cleans null-prototype objects as it cleans plain ones', async () => {
    const store = storeReviving((data) => {
      const bare = Object.assign(Object.create(null) as object, { constructor: 'x', ok: 1 })
      return { ...data, bare }
    })
    await stored('bare', '{"cookie":{}}')
    const read = (await store.get('bare')) as unknown as { bare: Record<string, unknown> }
    expect(Object.keys(read.bare)).toEqual(['ok'])
  })

  it('returns class instances untouched, fields included', async () => {
    const store = storeReviving((data) => ({
      ...data,
      box: new Box({ constructor: 'kept', n: 1 }),
    }))
    await stored('box', '{"cookie":{}}')
    const read = (await store.get('box')) as unknown as { box: Box }
    expect(read.box).toBeInstanceOf(Box)
    expect(Object.hasOwn(read.box.inner, 'constructor')).toBe(true)
    expect(read.box.inner).toEqual({ constructor: 'kept', n: 1 })
  })
})
