import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createLimiter, type Decision } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { build } from 'tsup'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { luaIncludePlugin } from '../packages/redis/src/scripts/lua-include.js'
import { concurrencyAlgorithms } from './fixtures/concurrency-algorithms.js'

const root = fileURLToPath(new URL('..', import.meta.url))
// Shared server: every key of this file lives under its own prefix.
const filePrefix = `t-concurrency-${randomUUID()}:`
const kinds = Object.keys(concurrencyAlgorithms) as Array<keyof typeof concurrencyAlgorithms>
let client: Redis
let outDir: string
let childScript: string

beforeAll(async () => {
  client = new Redis(inject('redisUrl'))
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
  await client.quit()
  if (outDir) rmSync(outDir, { recursive: true, force: true })
})

describe('RedisStore under concurrency', () => {
  it.each(kinds)(
    'admits exactly 100 of 500 concurrent limit() calls on one key (%s)',
    async (kind) => {
      const limiter = createLimiter({
        algorithm: concurrencyAlgorithms[kind],
        store: new RedisStore({ client }),
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
    'admits exactly 100 in total across 4 processes sharing Redis (%s)',
    async (kind) => {
      const prefix = `${filePrefix}processes:`
      const children: ChildProcess[] = []
      const results: Array<Promise<{ admitted: number; degraded: number; total: number }>> = []
      const ready: Array<Promise<void>> = []
      for (let i = 0; i < 4; i++) {
        const child = spawn(
          process.execPath,
          [childScript, inject('redisUrl'), prefix, kind, '125'],
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
        expect(outcome.map((o) => o.total)).toEqual([125, 125, 125, 125])
        expect(outcome.map((o) => o.degraded)).toEqual([0, 0, 0, 0])
        expect(outcome.reduce((sum, o) => sum + o.admitted, 0)).toBe(100)
      } finally {
        for (const child of children) child.kill()
      }
    },
  )
})
