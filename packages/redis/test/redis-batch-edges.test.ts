/**
 * Edges of the Batcher (packages/redis/README.md, "Batching") on a redis-server of this file's own,
 * so INFO commandstats counts only what this file sends: one flush per event-loop turn however
 * the turn's ops arrive, a turn of exactly MAX_OPS_PER_CALL ops sent once, and a script reply of
 * the wrong shape or a send that throws failing every op of the call with the coded error.
 */
import { fixedWindow } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer } from '../../../test/support/redis-server.js'
import { Batcher, MAX_OPS_PER_CALL, SETTLE_SLICE } from '../src/batch.js'
import { adaptClient, luaScript } from '../src/client.js'

let server: RedisServer
let client: Redis
let run = 0

/** `INFO commandstats` as { command: calls }, without the stats commands themselves. */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await client.info('commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info' && match[1] !== 'config|resetstat') calls[match[1]!] = Number(match[2])
  }
  return calls
}

beforeAll(async () => {
  server = await startRedisServer()
  client = new Redis(server.url)
})

afterAll(async () => {
  client?.disconnect()
  await server?.stop()
})

describe('Batcher turns', () => {
  it('schedules one flush per turn: ops issued from two setImmediate callbacks of one loop iteration share a call', async () => {
    const store = new RedisStore({ client, prefix: `immediates-${++run}:`, clock: () => 1_000 })
    const fw = fixedWindow({ limit: 10, windowMs: 60_000 })
    await store.peek('warm', fw, 1)
    await client.config('RESETSTAT')
    // Two ops now (their flush is queued first), then an immediate between them and one after:
    // the first flush sends ops 1 and 2; ops 3 and 4 arrive later in the same check phase and
    // go together in the next turn's flush. A flush queued per op would send op 3 alone.
    const got: Array<Promise<{ remaining: number }>> = []
    const third = new Promise<void>((resolve) => {
      got.push(store.decide('k', fw, 1))
      setImmediate(() => {
        got.push(store.decide('k', fw, 1))
        resolve()
      })
      got.push(store.decide('k', fw, 1))
    })
    const fourth = new Promise<void>((resolve) =>
      setImmediate(() => {
        got.push(store.decide('k', fw, 1))
        resolve()
      }),
    )
    await Promise.all([third, fourth])
    const decisions = await Promise.all(got)
    expect(decisions.map((d) => d.remaining)).toEqual([9, 8, 7, 6])
    expect((await commandCalls()).evalsha).toBe(2)
  })

  it(`sends a turn of exactly MAX_OPS_PER_CALL (${MAX_OPS_PER_CALL}) ops once, as one call`, async () => {
    const store = new RedisStore({ client, prefix: `max-${++run}:`, clock: () => 1_000 })
    const fw = fixedWindow({ limit: 2 * MAX_OPS_PER_CALL, windowMs: 60_000 })
    await store.peek('warm', fw, 1)
    await client.config('RESETSTAT')
    const got = await Promise.all(
      Array.from({ length: MAX_OPS_PER_CALL }, () => store.decide('k', fw, 1)),
    )
    expect(got.at(-1)).toMatchObject({ allowed: true, remaining: MAX_OPS_PER_CALL })
    expect((await commandCalls()).evalsha).toBe(1)
    // A peek of cost 1 answers as that decision would: one more unit gone.
    expect(await store.peek('k', fw, 1)).toMatchObject({ remaining: MAX_OPS_PER_CALL - 1 })
  })
})

describe('Batcher replies', () => {
  const each = (reply: readonly unknown[], at: number) => reply[at]

  /** A Batcher on the real client, queueing `n` ops of `script` (no keys) in one turn. */
  function queue(lua: string, n: number): Array<Promise<unknown>> {
    const redis = adaptClient(client)
    const batcher = new Batcher((s, keys, args) => redis.runScript(s, keys, args), undefined, true)
    const script = luaScript(`edge_${++run}`, lua)
    return Array.from({ length: n }, (_, i) =>
      batcher.submit(script, [], [i], undefined, '', each, undefined),
    )
  }

  it('settles a reply of more than SETTLE_SLICE ops in slices, sending what the callers of a slice issued before settling the next', async () => {
    const redis = adaptClient(client)
    const calls: number[] = []
    const batcher = new Batcher(
      (s, keys, args) => {
        calls.push(args.length)
        return redis.runScript(s, keys, args)
      },
      undefined,
      true,
    )
    // Each op's ARGV is its own index and the script answers with its ARGV: every caller must
    // get back its own index. Every caller of the first call issues one more op when answered.
    const script = luaScript(`edge_${++run}`, 'return ARGV')
    const n = 2 * SETTLE_SLICE + 1
    const callsSeenBySlice: number[] = []
    const followUps: Array<Promise<unknown>> = []
    const got = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        batcher.submit(script, [], [i], undefined, '', each, undefined).then((value) => {
          callsSeenBySlice[Math.floor(i / SETTLE_SLICE)] = calls.length
          followUps.push(batcher.submit(script, [], [n + i], undefined, '', each, undefined))
          return value
        }),
      ),
    )
    expect(got).toEqual(Array.from({ length: n }, (_, i) => String(i)))
    expect(await Promise.all(followUps)).toEqual(Array.from({ length: n }, (_, i) => String(n + i)))
    // The first slice settles with only the first call sent; each later slice after the ops of
    // the slice before it went out, one call per slice (each slice's ops come from one turn).
    expect(callsSeenBySlice).toEqual([1, 2, 3])
    expect(calls).toEqual([n, SETTLE_SLICE, SETTLE_SLICE, 1])
  })

  it('fails every op of a call whose script answers with more elements than ops', async () => {
    const ops = queue('return {1, 2, 3}', 2)
    for (const op of ops) {
      await expect(op).rejects.toMatchObject({
        name: 'TollgateError',
        code: 'ERR_TOLLGATE_STORE_REPLY',
        message: 'tollgate: RedisStore expected 2 replies from its script, got an array',
      })
    }
  })

  it('fails the op of a call whose script answers with a number instead of an array', async () => {
    const [op] = queue('return 7', 1)
    await expect(op).rejects.toMatchObject({
      code: 'ERR_TOLLGATE_STORE_REPLY',
      message: 'tollgate: RedisStore expected 1 replies from its script, got 7',
    })
  })

  it('settles each op with its own element when the width is right', async () => {
    const ops = queue('local out = {} for i = 1, #ARGV do out[i] = ARGV[i] * 10 end return out', 3)
    expect(await Promise.all(ops)).toEqual([0, 10, 20])
  })

  it('fails every op of a call whose send throws synchronously, with that error', async () => {
    const boom = new Error('the connection is gone')
    const batcher = new Batcher(
      () => {
        throw boom
      },
      undefined,
      true,
    )
    const script = luaScript(`edge_${++run}`, 'return {}')
    const ops = [1, 2].map((i) => batcher.submit(script, [], [i], undefined, '', each, undefined))
    for (const op of ops) await expect(op).rejects.toBe(boom)
  })
})
