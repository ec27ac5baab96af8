import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createLimiter, type Decision } from '@tollgate/core'
import { RedisStore, stateKey } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { luaIncludePlugin } from '../packages/redis/src/scripts/lua-include.js'
import { concurrencyAlgorithms, heldLeases } from './fixtures/concurrency-algorithms.js'
import { clientKind, connectClient, type TestClient } from './support/clients.js'

const root = fileURLToPath(new URL('..', import.meta.url))
// Shared server: every key of this file lives under its own prefix.
const filePrefix = `t-concurrency-${randomUUID()}:`
const kinds = Object.keys(concurrencyAlgorithms) as Array<keyof typeof concurrencyAlgorithms>
/** Looks at Redis from outside; the stores run on `storeClient` (ioredis or node-redis). */
let client: Redis
let storeClient: TestClient
let outDir: string
let childScript: string

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
  storeClient = await connectClient(inject('redisUrl'))
  // Children run the real src: bundle the fixture (with @tollgate/* from src, .lua as text with
  // its includes resolved, and ioredis inlined) into one CommonJS file that plain `node` runs.
  // No build of the packages.
  outDir = mkdtempSync(join(tmpdir(), 'tollgate-child-'))
  await build({
    entry: { child: join(root, 'test/fixtures/concurrency-child.ts') },
    outDir,
    format: ['cjs'],
    platform: 'node',
    target: 'node20',
    noExternal: [/.*/],
    esbuildPlugins: [
      luaIncludePlugin,
      {
        name: 'tollgate-src',
        setup(b) {
          b.onResolve({ filter: /^@tollgate\/(core|redis)(\/[a-z]+)?$/ }, (args) => {
            const [pkg, sub] = args.path.slice('@tollgate/'.length).split('/')
            return { path: join(root, 'packages', pkg!, 'src', sub ?? '', 'index.ts') }
          })
        },
      },
    ],
    config: false,
    dts: false,
    sourcemap: false,
    splitting: false,
    silent: true,
  })
  childScript = join(outDir, 'child.cjs')
})

afterAll(async () => {
  await storeClient.quit()
  await client.quit()
  if (outDir) rmSync(outDir, { recursive: true, force: true })
})

describe('RedisStore under concurrency', () => {
  it.each(kinds)(
    'admits exactly 100 of 500 concurrent limit() calls on one key (%s)',
    async (kind) => {
      const limiter = createLimiter({
        algorithm: concurrencyAlgorithms[kind],
        store: new RedisStore({ client: storeClient.client }),
        prefix: `${filePrefix}in-process:`,
        failure: { mode: 'closed', timeoutMs: 15_000 },
      })
      const decisions: Decision[] = await Promise.all(
        Array.from({ length: 500 }, () => limiter.limit('shared')),
      )
      expect(decisions.filter((d) => d.degraded)).toEqual([])
      expect(decisions.filter((d) => d.allowed)).toHaveLength(100)
      // Every admitted request saw a distinct remaining count: 99 down to 0.
      const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining)
      expect(new Set(remaining).size).toBe(100)
    },
  )

  it.each(kinds)(
    'admits exactly 100 of 4 processes x 500 concurrent calls sharing Redis (%s)',
    async (kind) => {
      const prefix = `${filePrefix}processes:`
      const children: ChildProcess[] = []
      const results: Array<
        Promise<{ admitted: number; degraded: number; total: number; leases: number }>
      > = []
      const ready: Array<Promise<void>> = []
      for (let i = 0; i < 4; i++) {
        const child = spawn(
          process.execPath,
          [childScript, inject('redisUrl'), prefix, kind, '500', clientKind()],
          {
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        )
        children.push(child)
        const lines = createInterface({ input: child.stdout! })
        const iterator = lines[Symbol.asyncIterator]()
        ready.push(
          iterator.next().then(({ value }) => {
            expect(value).toBe('ready')
          }),
        )
        results.push(
          Promise.all(ready).then(async () => {
            const { value } = await iterator.next()
            return JSON.parse(String(value))
          }),
        )
      }
      try {
        // Every process is connected before any fires, so the bursts overlap.
        await Promise.all(ready)
        for (const child of children) child.stdin!.write('go\n')
        const outcome = await Promise.all(results)
        expect(outcome.map((o) => o.total)).toEqual([500, 500, 500, 500])
        expect(outcome.map((o) => o.degraded)).toEqual([0, 0, 0, 0])
        expect(outcome.reduce((sum, o) => sum + o.admitted, 0)).toBe(100)
        // Only a concurrency limit hands out leases: one per admission.
        expect(outcome.reduce((sum, o) => sum + o.leases, 0)).toBe(kind === 'concurrency' ? 100 : 0)
      } finally {
        for (const child of children) child.kill()
      }
    },
  )

  it('gives the slots of a killed process back once its leases expire (leaseMs)', async () => {
    const prefix = `${filePrefix}killed:`
    const child = spawn(
      process.execPath,
      [childScript, inject('redisUrl'), prefix, 'lease-holder', '3', clientKind()],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
      expect((await lines.next()).value).toBe('ready')
      child.stdin!.write('go\n')
      expect(JSON.parse(String((await lines.next()).value))).toMatchObject({
        admitted: 3,
        leases: 3,
      })
    } finally {
      // A crash: no release, no clean shutdown.
      child.kill('SIGKILL')
    }
    const limiter = createLimiter({
      algorithm: heldLeases,
      store: new RedisStore({ client: storeClient.client }),
      prefix,
      failure: { mode: 'closed', timeoutMs: 15_000 },
      denyCache: false,
    })
    const denied = await limiter.peek('shared')
    expect(denied).toMatchObject({ allowed: false, remaining: 0 })
    expect(denied.retryAfterMs).toBeGreaterThan(0)
    expect(denied.retryAfterMs).toBeLessThanOrEqual(heldLeases.leaseMs)
    // The key expires with its last lease: poll its PTTL (never longer than leaseMs) until it goes.
    const key = stateKey('tollgate:', `${prefix}shared`, 'concurrency')
    const started = Date.now()
    for (;;) {
      const ttl = await client.pttl(key)
      if (ttl === -2) break
      // 0 in the last millisecond: Redis expires a key once now > its expiry, not at equality.
      expect(ttl).toBeGreaterThanOrEqual(0)
      expect(ttl).toBeLessThanOrEqual(heldLeases.leaseMs)
      await new Promise((r) => setTimeout(r, Math.min(ttl, 50)))
    }
    expect(Date.now() - started).toBeLessThan(heldLeases.leaseMs + 1000)
    const again = await limiter.limit('shared')
    expect(again).toMatchObject({ allowed: true, remaining: 2 })
    expect(typeof again.lease).toBe('string')
    await limiter.release('shared', again.lease!)
  })
})
