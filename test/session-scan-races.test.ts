/**
 * all() reads the sessions page by page (packages/session/README.md: `all` uses SCAN): SCAN,
 * then one MGET of the page's keys. Two things Redis allows between those calls must not show in
 * its answer:
 * - SCAN may return a key on two pages: when the key table shrinks between two SCAN calls (most
 *   keys deleted, serverCron resizes the table), the cursor resumes on the smaller table at
 *   buckets already visited. all() lists such a session once.
 * - a session may be destroyed (or expire) after its page and before the MGET: all() leaves it
 *   out, and lists no null in its place.
 * A redis-server of this file's own (its key table holds only these sessions; DEBUG HTSTATS shows
 * the table's size). The store's client is a real ioredis client whose `call` runs real commands
 * on Redis, through a second connection, at the moment between two of the store's calls.
 */
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from './support/redis-server.js'

const PREFIX = 'test-session-scan:'
let server: RedisServer
let admin: Redis

function sessionOf(n: number): SessionData {
  return {
    cookie: { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000), path: '/' },
    n,
  } as unknown as SessionData
}

type Args = [string, ...string[]]

/**
 * A real client for the store whose every command first awaits `before` (which may run real
 * commands on Redis through another connection), and whose replies go to `after`.
 */
function interposed(hooks: {
  before?: (args: Args) => Promise<void>
  after?: (args: Args, reply: unknown) => void
}): Redis {
  const client = new Redis(server.url)
  const call = client.call.bind(client) as (...args: string[]) => Promise<unknown>
  ;(client as unknown as { call: (...args: Args) => Promise<unknown> }).call = async (...args) => {
    await hooks.before?.(args)
    const reply = await call(...args)
    hooks.after?.(args, reply)
    return reply
  }
  return client
}

/** Size of db 0's key table, and whether it is being rehashed (DEBUG HTSTATS). */
async function keyTable(): Promise<{ size: number; rehashing: boolean }> {
  const stats = String(await admin.call('DEBUG', 'HTSTATS', '0'))
  const main = stats.split('[Expires HT]')[0]!
  return {
    size: Number(/table size: (\d+)/.exec(main)?.[1] ?? 0),
    rehashing: main.includes('Hash table 1'),
  }
}

beforeAll(async () => {
  // hz 100: serverCron, which shrinks a sparse key table, runs every 10 ms instead of 100.
  server = await startRedisServer({ args: ['--enable-debug-command', 'local', '--hz', '100'] })
  admin = new Redis(server.url)
})

beforeEach(async () => {
  await admin.flushall()
})

afterAll(async () => {
  admin?.disconnect()
  await server?.stop()
})

describe('RedisSessionStore.all() against what Redis does between its calls', () => {
  it('lists a session once when SCAN returns it on two pages (the key table shrank between them)', async () => {
    const pages: string[][] = []
    let shrunk = false
    const client = interposed({
      async before([command, cursor]) {
        if (command !== 'SCAN' || cursor === '0' || shrunk) return
        shrunk = true
        // Between the first and the second page: every session the first page did not list
        // is destroyed, and Redis shrinks the key table (5,000 keys, 8,192 buckets, down to
        // 10 keys, 16 buckets). The cursor then resumes at bucket 0 of the small table, where
        // the first page's sessions now all are.
        const listed = new Set(pages[0])
        const others = Array.from({ length: 5000 }, (_, i) => `${PREFIX}s${i}`).filter(
          (key) => !listed.has(key),
        )
        for (let i = 0; i < others.length; i += 500) await admin.del(...others.slice(i, i + 500))
        const deadline = Date.now() + 5_000
        for (;;) {
          const table = await keyTable()
          if (table.size <= 64 && !table.rehashing) break
          if (Date.now() > deadline)
            throw new Error(`key table never shrank: ${JSON.stringify(table)}`)
          await new Promise((r) => setTimeout(r, 5))
        }
      },
      after([command], reply) {
        if (command === 'SCAN') pages.push((reply as [string, string[]])[1])
      },
    })
    try {
      const store = new RedisSessionStore({ client, prefix: PREFIX, scanCount: 10 })
      await Promise.all(Array.from({ length: 5000 }, (_, i) => store.set(`s${i}`, sessionOf(i))))
      expect((await keyTable()).size).toBe(8192)

      const all = (await store.all()) as (SessionData & { id: string; n: number })[]

      // The premise: SCAN did return sessions of the first page again on a later page.
      const first = new Set(pages[0])
      expect(first.size).toBeGreaterThan(0)
      expect(
        pages
          .slice(1)
          .flat()
          .filter((key) => first.has(key)).length,
      ).toBeGreaterThan(0)
      // Each session that still exists is listed exactly once.
      const ids = all.map((s) => s.id)
      expect(ids.length).toBe(new Set(ids).size)
      expect(ids.sort()).toEqual([...first].map((key) => key.slice(PREFIX.length)).sort())
      expect(all.every((s) => s.n === Number(s.id.slice(1)))).toBe(true)
    } finally {
      client.disconnect()
    }
  })

  it('leaves out a session destroyed between its SCAN page and the MGET that reads it, with no null in its place', async () => {
    let vanished: string | undefined
    const client = interposed({
      async before([command, ...keys]) {
        if (command !== 'MGET' || vanished !== undefined) return
        // The page is listed; before its MGET reaches Redis, another client destroys one of
        // its sessions.
        vanished = keys[1]!
        expect(await admin.del(vanished)).toBe(1)
      },
    })
    try {
      const store = new RedisSessionStore({ client, prefix: PREFIX })
      for (let i = 0; i < 5; i++) await store.set(`s${i}`, sessionOf(i))

      const all = (await store.all()) as (SessionData & { id: string; n: number })[]

      expect(vanished).toBeDefined()
      const ids = Array.from({ length: 5 }, (_, i) => `s${i}`).filter(
        (id) => PREFIX + id !== vanished,
      )
      expect(all.every((s) => s !== null && typeof s === 'object')).toBe(true)
      expect(all.map((s) => s.id).sort()).toEqual(ids)
      expect(all.every((s) => s.n === Number(s.id.slice(1)))).toBe(true)
      expect(await store.length()).toBe(4)
    } finally {
      client.disconnect()
    }
  })
})
