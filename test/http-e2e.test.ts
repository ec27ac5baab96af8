/**
 * End to end over real listening sockets on RedisStore: 200 parallel requests against a limit of
 * 50 admit exactly 50 in both frameworks and with every algorithm; stacked limiters on one route
 * each count a request once and append their draft-8 members in order.
 */
import { createHash } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type Algorithm,
  fixedWindow,
  type Store,
  slidingLog,
  slidingWindow,
  tokenBucket,
} from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { windowStart } from './support/frozen-clock.js'

const PREFIX = `http-e2e:${process.pid}:${Date.now()}:`
const LIMIT = 50
const REQUESTS = 200

let client: Redis
let run = 0
/**
 * A store of its own key space per test, on a frozen clock: a fixed window cannot roll over and a
 * bucket cannot refill in the middle of a burst, so "exactly the limit" is exact. Frozen at the
 * start of an hour, not at Date.now(): Redis still expires keys in real time, and a clock frozen
 * 8 ms before a window's end gives the key an 8 ms TTL (issue 15).
 */
function freshStore(): Store {
  const now = windowStart()
  return new RedisStore({ client, prefix: `${PREFIX}${++run}:`, clock: () => now })
}

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  await client.ping()
})

afterAll(async () => {
  await client.quit()
})

interface Listening {
  url: string
  close(): Promise<void>
}

// Exactness, not the fail policy, is under test: on a loaded machine a store call can take longer
// than the default 100 ms timeoutMs, and a fail-open answer would admit extra requests.
const failure = { mode: 'closed', timeoutMs: 15_000 } as const

/** One GET / route on a real socket, limited by each of `limits` in order. */
const frameworks = {
  async express(limits: Array<{ algorithm: Algorithm; store: Store }>): Promise<Listening> {
    const app = express()
    app.get('/', ...limits.map((options) => rateLimit({ ...options, failure })), (_req, res) => {
      res.send('ok')
    })
    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)))
    })
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}/`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    }
  },
  async fastify(limits: Array<{ algorithm: Algorithm; store: Store }>): Promise<Listening> {
    if (limits.length !== 1) throw new Error('@tollgate/fastify runs one limiter per route')
    const app = Fastify()
    await app.register(tollgate, { ...limits[0]!, failure })
    app.get('/', async () => 'ok')
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: `${url}/`, close: () => app.close() }
  },
}

const algorithms: Record<string, Algorithm> = {
  fixedWindow: fixedWindow({ limit: LIMIT, windowMs: 60_000 }),
  slidingWindow: slidingWindow({ limit: LIMIT, windowMs: 60_000 }),
  slidingLog: slidingLog({ limit: LIMIT, windowMs: 60_000 }),
  tokenBucket: tokenBucket({ capacity: LIMIT, refillRate: 1, refillIntervalMs: 60_000 }),
}

/** draft-8 `pk`: base64 of the first 12 hex characters of SHA-256(key) (docs/headers.md). */
function pk(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 12)
  return `:${Buffer.from(hex).toString('base64')}:`
}

/** `r` of the draft-8 member named `policy` in a RateLimit field. */
function remainingOf(field: string | null, policy: string): number {
  const match = new RegExp(`"${policy}"; r=(\\d+); t=\\d+`).exec(field ?? '')
  if (!match) throw new Error(`no member ${policy} in RateLimit: ${field}`)
  return Number(match[1])
}

describe.each(Object.keys(frameworks) as Array<keyof typeof frameworks>)('%s over HTTP', (name) => {
  it.each(Object.keys(algorithms))(
    `admits exactly ${LIMIT} of ${REQUESTS} parallel requests with RedisStore and %s`,
    async (kind) => {
      const algorithm = algorithms[kind]!
      const server = await frameworks[name]([{ algorithm, store: freshStore() }])
      try {
        const responses = await Promise.all(
          Array.from({ length: REQUESTS }, async () => {
            const res = await fetch(server.url)
            await res.arrayBuffer()
            return res
          }),
        )
        const admitted = responses.filter((r) => r.status === 200)
        const denied = responses.filter((r) => r.status === 429)
        expect(admitted).toHaveLength(LIMIT)
        expect(denied).toHaveLength(REQUESTS - LIMIT)

        // Each admission saw its own count: the remaining values are LIMIT-1 down to 0, once each.
        const unit = kind === 'tokenBucket' ? `${LIMIT}-per-3000s` : `${LIMIT}-in-60s`
        const remaining = admitted.map((r) => remainingOf(r.headers.get('ratelimit'), unit))
        expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: LIMIT }, (_, i) => i))
        for (const res of denied) {
          expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"${unit}"; r=0; t=\\d+$`))
          expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
        }
      } finally {
        await server.close()
      }
    },
  )
})

describe('stacked limiters on one route (express)', () => {
  it('each count a request once and append their draft-8 members in order', async () => {
    const store = freshStore()
    const hourly = { algorithm: fixedWindow({ limit: 100, windowMs: 3_600_000 }), store }
    const burst = { algorithm: slidingWindow({ limit: 5, windowMs: 1_000 }), store }
    const server = await frameworks.express([hourly, burst])
    try {
      // Sequential, so that each response shows the count right after its own request.
      for (let i = 1; i <= 5; i++) {
        const res = await fetch(server.url)
        expect(res.status).toBe(200)
        expect(res.headers.get('ratelimit')).toMatch(
          new RegExp(`^"100-in-3600s"; r=${100 - i}; t=\\d+, "5-in-1s"; r=${5 - i}; t=\\d+$`),
        )
        await res.arrayBuffer()
      }
      const key = pk('127.0.0.1')
      const res = await fetch(server.url)
      expect(res.status).toBe(429)
      // The first limiter admitted (and counted) the request, the second denied it: both show.
      expect(res.headers.get('ratelimit')).toMatch(
        /^"100-in-3600s"; r=94; t=\d+, "5-in-1s"; r=0; t=\d+$/,
      )
      expect(res.headers.get('ratelimit-policy')).toBe(
        `"100-in-3600s"; q=100; w=3600; pk=${key}, "5-in-1s"; q=5; w=1; pk=${key}`,
      )
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    } finally {
      await server.close()
    }
  })

  it('count exactly under parallel requests: each request once in the outer, admitted ones in the inner', async () => {
    const store = freshStore()
    const outer = { algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), store }
    const inner = { algorithm: slidingLog({ limit: 10, windowMs: 60_000 }), store }
    const server = await frameworks.express([outer, inner])
    try {
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await fetch(server.url)
          await res.arrayBuffer()
          return res.status
        }),
      )
      expect(statuses.filter((s) => s === 200)).toHaveLength(10)
      expect(statuses.filter((s) => s === 429)).toHaveLength(40)
      // The outer window counted the 50 requests and this one, once each; the inner log is full.
      const after = await fetch(server.url)
      expect(after.status).toBe(429)
      expect(after.headers.get('ratelimit')).toMatch(
        /^"100-in-60s"; r=49; t=\d+, "10-in-60s"; r=0; t=\d+$/,
      )
    } finally {
      await server.close()
    }
  })
})
