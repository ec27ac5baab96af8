/**
 * The fail policy as HTTP clients see it, in both adapters, with RedisStore on a redis-server of
 * this file's own that is frozen (SIGSTOP), killed and restarted on the same port:
 * - 'open': 200 within timeoutMs (+ slack) and no RateLimit / X-RateLimit headers;
 * - 'closed': 503 with Retry-After = ceil(cooldownMs / 1000), or 1 without a breaker;
 * - 'local': limits hold per process, a denial is a 429 with Retry-After and nothing else;
 * and limiting resumes once Redis is back, onStoreError hears every failure, nothing rejects
 * unhandled.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type FailureOptions, type Store, slidingLog } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import express from 'express'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { lateRejectingStore, useFaultRedis } from './support/fault-redis.js'

const TIMEOUT_MS = 100
// Event loop, HTTP and a busy machine on top of timeoutMs (688 ms seen with 2 cores shared by
// several test runs); far below "hung": a request that waited for the frozen Redis never returns.
const SLACK_MS = 1000
const LIMIT = 3
const RATE_LIMIT_HEADERS = [
  'ratelimit',
  'ratelimit-policy',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
]

const fault = useFaultRedis()

interface Options {
  failure: FailureOptions
  onStoreError: (error: unknown, key: string) => void
  store?: Store
}

interface Listening {
  url: string
  close(): Promise<void>
}

/** GET / on a real socket, limited to LIMIT per minute on RedisStore, draft-8 and legacy headers. */
const frameworks = {
  async express(options: Options): Promise<Listening> {
    const app = express()
    app.use(rateLimit(limitOptions(options)))
    app.get('/', (_req, res) => {
      res.send('ok')
    })
    const http = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)))
    })
    return {
      url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
      close: () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve())
          http.closeAllConnections()
        }),
    }
  },
  async fastify(options: Options): Promise<Listening> {
    const app = Fastify()
    await app.register(tollgate, limitOptions(options))
    app.get('/', async () => 'ok')
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: `${url}/`, close: () => app.close() }
  },
}

let apps = 0
let skippedMs = 0
function limitOptions(options: Options) {
  return {
    // A sliding log, not an epoch-aligned window: no window boundary can fall inside a test.
    algorithm: slidingLog({ limit: LIMIT, windowMs: 60_000 }),
    // Each app its own counter (key space), though all share the client.
    // Real time moved on by `skippedMs`: the breaker's cooldown runs on this clock (tests skip
    // it instead of waiting), Redis TTLs and timeouts on real time.
    store: new RedisStore({
      client: fault.client,
      prefix: `http-fail-policy:${++apps}:`,
      clock: () => Date.now() + skippedMs,
    }),
    headers: { standard: 'draft-8', legacy: true } as const,
    // Every request goes to the store (or the policy), so that recovery is seen at once.
    denyCache: false,
    ...options,
  }
}

interface Answer {
  status: number
  headers: Headers
  body: string
  ms: number
}

async function get(url: string): Promise<Answer> {
  const started = performance.now()
  const res = await fetch(url)
  const body = await res.text()
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started }
}

function rateLimitHeadersOf(answer: Answer): Record<string, string> {
  const found: Record<string, string> = {}
  for (const name of RATE_LIMIT_HEADERS) {
    const value = answer.headers.get(name)
    if (value !== null) found[name] = value
  }
  return found
}

/** Polls until a response carries healthy (non-degraded) rate-limit headers again. */
async function untilLimiting(url: string): Promise<Answer> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const answer = await get(url)
    if (answer.headers.get('ratelimit') !== null) return answer
    if (Date.now() > deadline) throw new Error(`never limited again: last status ${answer.status}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Requests until Redis (not the policy) denies one: limiting resumed for real. */
async function untilDeniedByRedis(url: string): Promise<Answer> {
  for (let i = 0; i < 2 * LIMIT + 2; i++) {
    const answer = await get(url)
    if (answer.status === 429) return answer
  }
  throw new Error('never denied after recovery')
}

describe.each(Object.keys(frameworks) as Array<keyof typeof frameworks>)('%s', (name) => {
  it("mode 'open' on a frozen Redis: 200 within timeoutMs and no rate-limit headers, then limits again", async () => {
    const errors: Array<{ error: unknown; key: string }> = []
    const app = await frameworks[name]({
      failure: { mode: 'open', timeoutMs: TIMEOUT_MS, breaker: { failures: 2, cooldownMs: 300 } },
      onStoreError: (error, key) => errors.push({ error, key }),
    })
    try {
      // On a loaded machine the first call (the script's first EVALSHA) can outlast timeoutMs:
      // wait for a healthy answer, then count only the errors of the freeze.
      const healthy = await untilLimiting(app.url)
      errors.length = 0
      expect(healthy.status).toBe(200)
      expect(Object.keys(rateLimitHeadersOf(healthy)).sort()).toEqual(
        [...RATE_LIMIT_HEADERS].sort(),
      )

      fault.server.freeze()
      const answers: Answer[] = []
      try {
        for (let i = 0; i < 5; i++) answers.push(await get(app.url))
      } finally {
        fault.server.thaw()
      }
      for (const answer of answers) {
        expect(answer.status).toBe(200)
        expect(answer.body).toBe('ok')
        expect(answer.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
        expect(rateLimitHeadersOf(answer)).toEqual({})
        expect(answer.headers.get('retry-after')).toBeNull()
      }
      // The breaker opened after two timeouts; later requests did not wait for the store.
      expect(errors.length).toBeGreaterThanOrEqual(2)
      expect(errors[0]).toMatchObject({
        key: '127.0.0.1',
        error: { code: 'ERR_TOLLGATE_STORE_TIMEOUT' },
      })

      await untilLimiting(app.url)
      const denied = await untilDeniedByRedis(app.url)
      expect(denied.headers.get('ratelimit')).toMatch(
        new RegExp(`^"${LIMIT}-in-60s"; r=0; t=\\d+$`),
      )
      expect(denied.headers.get('x-ratelimit-remaining')).toBe('0')
    } finally {
      await app.close()
    }
  })

  it("mode 'closed' on a killed Redis: 503 with Retry-After = ceil(cooldownMs / 1000), 1 without a breaker; limits again after restart", async () => {
    const errors: unknown[] = []
    const onStoreError = (error: unknown) => errors.push(error)
    const withBreaker = await frameworks[name]({
      failure: {
        mode: 'closed',
        timeoutMs: TIMEOUT_MS,
        breaker: { failures: 2, cooldownMs: 1500 },
      },
      onStoreError,
    })
    const noBreaker = await frameworks[name]({
      failure: { mode: 'closed', timeoutMs: TIMEOUT_MS, breaker: false },
      onStoreError,
    })
    try {
      expect((await get(withBreaker.url)).status).toBe(200)
      await fault.server.kill()
      try {
        for (const [app, retryAfter] of [
          [withBreaker, '2'],
          [noBreaker, '1'],
        ] as const) {
          for (let i = 0; i < 3; i++) {
            const answer = await get(app.url)
            expect(answer.status).toBe(503)
            expect(answer.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
            expect(answer.headers.get('retry-after')).toBe(retryAfter)
            expect(rateLimitHeadersOf(answer)).toEqual({})
            expect(JSON.parse(answer.body)).toMatchObject({ error: 'Service Unavailable' })
          }
        }
        // Two calls opened the breaker (the third answered without one); each call without a
        // breaker failed on its own.
        expect(errors).toHaveLength(2 + 3)
      } finally {
        await fault.server.restart()
      }
      // The cooldown, on the stores' clock: no 1.5 s of real waiting for the probe.
      skippedMs += 1500
      for (const app of [withBreaker, noBreaker]) {
        const back = await untilLimiting(app.url)
        expect(back.headers.get('ratelimit')).toMatch(/^"3-in-60s"; r=\d+; t=\d+$/)
      }
      const denied = await untilDeniedByRedis(noBreaker.url)
      expect(denied.headers.get('ratelimit')).toMatch(/; r=0; t=\d+$/)
      expect(denied.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    } finally {
      await withBreaker.close()
      await noBreaker.close()
    }
  })

  it("mode 'local' on a killed Redis: limits per process, denial is a 429 with Retry-After only", async () => {
    const errors: unknown[] = []
    const app = await frameworks[name]({
      failure: { mode: 'local', timeoutMs: TIMEOUT_MS, breaker: { failures: 2, cooldownMs: 500 } },
      onStoreError: (error) => errors.push(error),
    })
    try {
      await fault.server.kill()
      const answers: Answer[] = []
      try {
        for (let i = 0; i < LIMIT + 2; i++) answers.push(await get(app.url))
      } finally {
        await fault.server.restart()
      }
      expect(answers.map((a) => a.status)).toEqual([
        ...Array.from({ length: LIMIT }, () => 200),
        429,
        429,
      ])
      for (const answer of answers) {
        expect(answer.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS)
        expect(rateLimitHeadersOf(answer)).toEqual({})
      }
      for (const denial of answers.slice(LIMIT)) {
        expect(denial.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
        expect(JSON.parse(denial.body)).toMatchObject({ error: 'Too Many Requests' })
      }
      expect(errors.length).toBeGreaterThanOrEqual(2)

      // Back on Redis: the shared counter (empty after the restart) decides again.
      const back = await untilLimiting(app.url)
      expect(back.headers.get('ratelimit')).toMatch(
        new RegExp(`^"${LIMIT}-in-60s"; r=\\d+; t=\\d+$`),
      )
      const denied = await untilDeniedByRedis(app.url)
      expect(denied.headers.get('x-ratelimit-limit')).toBe(String(LIMIT))
    } finally {
      await app.close()
    }
  })
})

it('leaves no unhandled rejection behind, even from commands that failed after their timeout', async () => {
  // Self-contained: both adapters answer while Redis is frozen; ioredis rejects the commands
  // later (its own commandTimeout), after the responses went out, and each one is counted.
  const seen: unknown[] = []
  const onLate = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', onLate)
  const late = lateRejectingStore(fault.server.port, 'http-fail-late:', 3 * TIMEOUT_MS)
  const store = late.store
  const failure: FailureOptions = { mode: 'open', timeoutMs: TIMEOUT_MS, breaker: false }
  const express = await frameworks.express({ failure, onStoreError: () => {}, store })
  const fastify = await frameworks.fastify({ failure, onStoreError: () => {}, store })
  try {
    for (const app of [express, fastify]) expect((await untilLimiting(app.url)).status).toBe(200)
    fault.server.freeze()
    try {
      for (const app of [express, fastify]) {
        const answer = await get(app.url)
        expect(answer.status).toBe(200)
        expect(rateLimitHeadersOf(answer)).toEqual({})
      }
      // Both commands reject later (ioredis' own commandTimeout), each one caught: how soon, on a
      // loaded machine, relative to the second answer, is not what this pins.
      await expect.poll(() => late.lateRejections(), { timeout: 10_000 }).toBe(2)
    } finally {
      fault.server.thaw()
    }
    await new Promise((r) => setImmediate(r))
    expect(seen).toEqual([])
    expect(fault.unhandled).toEqual([])
  } finally {
    process.off('unhandledRejection', onLate)
    await express.close()
    await fastify.close()
    late.disconnect()
  }
})
