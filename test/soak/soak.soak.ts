/**
 * `pnpm soak` (issue 14, item 10): both adapters on one real redis-server (loopback), driven for
 * SOAK_SECONDS (default 600) with 100,000 rotating keys (and 7 hot ones, so that denials happen
 * too), costs of 1 to 5 and all four rate
 * algorithms; RSS and heap are printed every SOAK_SAMPLE_SECONDS (default 30, 10 for runs under
 * 5 minutes) and the run fails if either grows after the warm-up (the first 2 minutes, or the
 * first 30% of a shorter run). `SOAK_SECONDS=60 pnpm soak` is the short version.
 * Not part of `pnpm test`. Loopback only; every loop is bounded by the deadline.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Algorithm, fixedWindow, slidingLog, slidingWindow, tokenBucket } from '@tollgate/core'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import { RedisStore } from '@tollgate/redis'
import express from 'express'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { expect, it } from 'vitest'
import { startRedisServer } from '../support/redis-server.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600)
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? (SECONDS < 300 ? 10 : 30))
const WARMUP_SECONDS = Math.min(120, Math.round(SECONDS * 0.3))
const KEYS = 100_000
/** Keys that every 4th request goes to: limited often, so denials are soaked too. */
const HOT = 7
const IN_FLIGHT = 32
/** Growth allowed between the end of the warm-up and the end: noise, not a leak. */
const HEAP_SLACK = { ratio: 0.1, bytes: 8 * 2 ** 20 }
const RSS_SLACK = { ratio: 0.15, bytes: 32 * 2 ** 20 }

const algorithms: Algorithm[] = [
  fixedWindow({ limit: 50, windowMs: 10_000 }),
  slidingWindow({ limit: 50, windowMs: 10_000 }),
  slidingLog({ limit: 20, windowMs: 5_000 }),
  tokenBucket({ capacity: 50, refillRate: 5 }),
]

interface Sample {
  at: number
  rss: number
  heapUsed: number
  requests: number
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`

it(`soaks both adapters on Redis for ${SECONDS} s without memory growth`, {
  timeout: (SECONDS + 180) * 1000,
}, async () => {
  const redis = await startRedisServer()
  const client = new Redis(redis.url)
  const store = new RedisStore({ client, prefix: 'soak:' })
  const options = (algorithm: Algorithm, i: number) => ({
    algorithm,
    store,
    name: `soak-${i}`,
    key: (req: { headers: Record<string, string | string[] | undefined> }) =>
      String(req.headers['x-key']),
    cost: (req: { headers: Record<string, string | string[] | undefined> }) =>
      Number(req.headers['x-cost']),
    failure: { timeoutMs: 2_000 },
  })

  const app = express()
  for (const [i, algorithm] of algorithms.entries()) {
    app.get(`/${i}`, rateLimit(options(algorithm, i)), (_req, res) => {
      res.send('ok')
    })
  }
  const expressServer = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const fastify = Fastify()
  await fastify.register(tollgate, { ...options(algorithms[0]!, 9), global: false })
  for (const [i, algorithm] of algorithms.entries()) {
    fastify.get(`/${i}`, { config: { rateLimit: options(algorithm, 10 + i) } }, async () => 'ok')
  }
  const fastifyUrl = await fastify.listen({ port: 0, host: '127.0.0.1' })
  const bases = [`http://127.0.0.1:${(expressServer.address() as AddressInfo).port}`, fastifyUrl]

  const started = Date.now()
  const deadline = started + SECONDS * 1000
  let requests = 0
  let next = 0
  const statuses: Record<number, number> = {}
  // A deterministic spread: the key rotates through KEYS (every 4th request goes to one of HOT
  // hot keys instead, so denials happen too), the cost (1-5) and the route vary with it.
  async function worker(): Promise<void> {
    while (Date.now() < deadline) {
      const n = next++
      const key = n % 4 === 0 ? `hot${(n >> 2) % HOT}` : `k${n % KEYS}`
      const route = Math.floor(n / 3) % algorithms.length
      const cost = 1 + ((n * 13) % 5)
      const res = await fetch(`${bases[Math.floor(n / 5) % 2]}/${route}`, {
        headers: { 'x-key': key, 'x-cost': String(cost) },
      })
      await res.arrayBuffer()
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      requests++
    }
  }

  const samples: Sample[] = []
  const sampler = setInterval(() => {
    global.gc?.()
    const { rss, heapUsed } = process.memoryUsage()
    const at = Math.round((Date.now() - started) / 1000)
    samples.push({ at, rss, heapUsed, requests })
    console.log(
      `soak ${String(at).padStart(4)} s  rss ${mb(rss)}  heap ${mb(heapUsed)}  requests ${requests}  statuses ${JSON.stringify(statuses)}`,
    )
  }, SAMPLE_SECONDS * 1000)

  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  } finally {
    clearInterval(sampler)
    await fastify.close()
    await new Promise<void>((resolve) => {
      expressServer.close(() => resolve())
      expressServer.closeAllConnections()
    })
    client.disconnect()
    await redis.stop()
  }

  const after = samples.filter((s) => s.at >= WARMUP_SECONDS)
  expect(after.length).toBeGreaterThanOrEqual(2)
  const base = after[0]!
  const last = after.at(-1)!
  console.log(
    `soak after warm-up (${WARMUP_SECONDS} s): heap ${mb(base.heapUsed)} -> ${mb(last.heapUsed)}, rss ${mb(base.rss)} -> ${mb(last.rss)}, ${requests} requests, ${Math.round(requests / SECONDS)} req/s`,
  )
  expect(statuses[200] ?? 0).toBeGreaterThan(0)
  expect(statuses[429] ?? 0).toBeGreaterThan(0)
  expect(Object.keys(statuses).sort()).toEqual(['200', '429'])
  expect(last.heapUsed).toBeLessThanOrEqual(
    base.heapUsed * (1 + HEAP_SLACK.ratio) + HEAP_SLACK.bytes,
  )
  expect(last.rss).toBeLessThanOrEqual(base.rss * (1 + RSS_SLACK.ratio) + RSS_SLACK.bytes)
})
