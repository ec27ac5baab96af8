/**
 * The runnable examples, started as child processes exactly as `pnpm start` / `pnpm start:fastify`
 * run them (from src, no build): the strict login route answers 429 with draft-8 headers and
 * Retry-After, the token bucket charges by request, the session login flow works, and SIGTERM
 * shuts the process down cleanly. Once in memory and once on the shared test Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { policies as expressPolicies } from '../examples/express-app/src/app.js'
import { policies as fastifyPolicies } from '../examples/fastify-app/src/app.js'

interface Example {
  child: ChildProcess
  url: string
  stdout: () => string
  exited: Promise<number | null>
}

// Generous: four examples compile with tsx at once, on 2 shared cores.
const START_TIMEOUT_MS = 90_000

/** The command of the example's `start` script, run with this Node. */
function startArgs(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
    scripts: { start: string }
  }
  // `exec node …`: the shell hands its place to node, so Ctrl-C reaches node alone.
  const [command, ...args] = pkg.scripts.start.replace(/^exec /, '').split(' ')
  if (command !== 'node') throw new Error(`unexpected start script: ${pkg.scripts.start}`)
  return args
}

/** Starts an example and resolves once it prints its "listening on <url>" line. */
function startExample(name: string, env: Record<string, string>): Promise<Example> {
  const dir = new URL(`../examples/${name}/`, import.meta.url)
  const {
    REDIS_URL: _url,
    REDIS_CLUSTER_NODES: _nodes,
    REDIS_CLIENT: _client,
    ...inherited
  } = process.env
  const child = spawn(process.execPath, startArgs(dir.href), {
    cwd: fileURLToPath(dir),
    env: { ...inherited, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${name} did not print its listening line in time:\n${stdout}${stderr}`))
    }, START_TIMEOUT_MS)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve({ child, url: match[1]!, stdout: () => stdout, exited })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before listening:\n${stdout}${stderr}`))
    })
  })
}

const credentials = { id: '42', name: 'Ada' }

function login(url: string): Promise<Response> {
  return fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
  })
}

/** `name=value` of every Set-Cookie, for a Cookie header. */
function cookieOf(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
}

async function scanCount(client: Redis, pattern: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    count += keys.length
  } while (cursor !== '0')
  return count
}

const examples = [
  { name: 'express-app', policies: expressPolicies },
  { name: 'fastify-app', policies: fastifyPolicies },
] as const

// Redis through each client library the examples take (REDIS_CLIENT, default ioredis).
const cases = examples.flatMap((example) => [
  { ...example, backend: 'memory' as const, client: undefined, label: 'memory' },
  { ...example, backend: 'redis' as const, client: 'ioredis' as const, label: 'Redis (ioredis)' },
  {
    ...example,
    backend: 'redis' as const,
    client: 'node-redis' as const,
    label: 'Redis (node-redis)',
  },
])

const running = new Map<string, Promise<Example>>()
let redis: Redis

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'))
  // Every example starts at once: start-up (tsx compiling the sources) dominates this file.
  for (const c of cases) {
    const env: Record<string, string> =
      c.backend === 'redis'
        ? {
            REDIS_URL: inject('redisUrl'),
            REDIS_CLIENT: c.client,
            KEY_PREFIX: `examples-test:${c.name}:${c.client}:`,
          }
        : {}
    const started = startExample(c.name, env)
    started.catch(() => {}) // reported by the test that awaits it
    running.set(`${c.name}/${c.label}`, started)
  }
  // Wait here, under the hook's long timeout, so no test's own timeout pays for start-up.
  await Promise.allSettled(running.values())
}, START_TIMEOUT_MS + 10_000)

afterAll(async () => {
  for (const started of running.values()) {
    const example = await started.catch(() => undefined)
    if (example && example.child.exitCode === null && example.child.signalCode === null) {
      example.child.kill('SIGKILL')
      await example.exited
    }
  }
  await redis.quit()
})

describe.each(cases)('examples/$name with $label', ({ name, backend, client, label, policies }) => {
  const example = () => running.get(`${name}/${label}`)!
  const prefix = `examples-test:${name}:${client}:`
  // Logins made by this describe so far: each one counts against the strict login limit.
  let logins = 0

  it('logs in, reads the user from the session and logs out', async () => {
    const { url } = await example()
    expect((await fetch(`${url}/me`)).status).toBe(401)

    const res = await login(url)
    logins++
    expect(res.status).toBe(200)
    const cookie = cookieOf(res)
    expect(cookie).toMatch(/=/)
    if (backend === 'redis') expect(await scanCount(redis, `${prefix}sess:*`)).toBe(1)

    const me = await fetch(`${url}/me`, { headers: { cookie } })
    expect(me.status).toBe(200)
    expect(await me.json()).toEqual(credentials)

    const out = await fetch(`${url}/logout`, { method: 'POST', headers: { cookie } })
    expect(out.status).toBe(200)
    expect((await fetch(`${url}/me`, { headers: { cookie } })).status).toBe(401)
    if (backend === 'redis') expect(await scanCount(redis, `${prefix}sess:*`)).toBe(0)
  })

  it('locks an account for an hour after 3 failed logins; successful logins do not count', async () => {
    const { url } = await example()
    const attempt = (body: object) =>
      fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    // Failed attempts (a body without a name answers 400) on one account.
    for (let i = 0; i < 3; i++) expect((await attempt({ id: 'eve' })).status).toBe(400)
    const locked = await attempt({ id: 'eve', name: 'Eve' })
    logins += 4
    expect(locked.status).toBe(429)
    expect(locked.headers.get('retry-after')).toBe('3600')
    expect(locked.headers.get('ratelimit')).toMatch(/"login-failures"; r=0; t=3600$/)
  })

  it('serves Prometheus metrics counted from the decision events', async () => {
    const { url } = await example()
    const res = await fetch(`${url}/metrics`)
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).toMatch(
      /tollgate_decisions_total\{name="login-failures",outcome="denied",mode="enforce"\} 1\n/,
    )
    expect(text).toMatch(
      /tollgate_decisions_total\{name="login-failures",outcome="allowed",mode="enforce"\} [1-9]/,
    )
    if (backend === 'redis')
      expect(text).toMatch(/tollgate_store_latency_seconds_count\{op="decide"\} [1-9]/)
  })

  it('answers the login after the strict limit with 429, draft-8 headers and Retry-After', async () => {
    const { url } = await example()
    const { limit, windowMs } = policies.login
    const statuses: number[] = []
    for (let i = logins; i < limit; i++) statuses.push((await login(url)).status)
    logins = limit
    expect(statuses.every((s) => s === 200)).toBe(true)

    const res = await login(url)
    expect(res.status).toBe(429)
    const w = Math.ceil(windowMs / 1000)
    const policy = `"${limit}-in-${w}s"`
    // Express stacks the general window before it; Fastify's route limit replaces the global one.
    expect(res.headers.get('ratelimit')).toMatch(new RegExp(`${policy}; r=0; t=\\d+$`))
    expect(res.headers.get('ratelimit-policy')).toMatch(
      new RegExp(`${policy}; q=${limit}; w=${w}; pk=:[A-Za-z0-9+/]{16}:$`),
    )
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(Number.isInteger(retryAfter)).toBe(true)
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(2 * w)
    const body = (await res.json()) as { error: string; retryAfterMs: number }
    expect(body.error).toBe('Too Many Requests')
    expect(Math.ceil(body.retryAfterMs / 1000)).toBe(retryAfter)
    if (backend === 'redis')
      expect(await scanCount(redis, `${prefix}tollgate:*`)).toBeGreaterThan(0)
  })

  it('charges an expensive search five tokens of the bucket, a plain one one token', async () => {
    const { url } = await example()
    const { capacity } = policies.search
    const cheap = await fetch(`${url}/search?q=x`)
    expect(cheap.status).toBe(200)
    expect(cheap.headers.get('ratelimit')).toMatch(
      new RegExp(`"${capacity}-per-\\d+s"; r=${capacity - 1}; t=1$`),
    )
    // capacity - 1 tokens left: room for floor((capacity - 1) / 5) expensive searches.
    for (let i = 0; i < Math.floor((capacity - 1) / 5); i++) {
      expect((await fetch(`${url}/search?q=x&expensive=1`)).status).toBe(200)
    }
    const denied = await fetch(`${url}/search?q=x&expensive=1`)
    expect(denied.status).toBe(429)
    expect(denied.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
  })

  // Each example shows its own feature: defined only where it exists (no skipped tests).
  if (name === 'fastify-app')
    it('limits /report per second and per day all or nothing: a throttled client keeps its daily quota', async () => {
      const { url } = await example()
      const statuses: number[] = []
      let last: Response | undefined
      // Within one second: 2 admitted, the rest refused by the per-second member.
      for (let i = 0; i < 4; i++) {
        last = await fetch(`${url}/report`)
        statuses.push(last.status)
      }
      // A sliding window never lets a third request in within a few milliseconds, whether or
      // not a second boundary falls between them (the previous second then weighs 2).
      expect(statuses).toEqual([200, 200, 429, 429])
      // Both members are listed; the refused requests cost the daily member nothing.
      expect(last!.headers.get('ratelimit')).toMatch(
        /^"2-in-1s"; r=0; t=\d+, "100-in-86400s"; r=98; t=\d+$/,
      )
    })

  if (name === 'express-app')
    it('holds at most 2 uploads in flight per client and frees a slot when one finishes', async () => {
      const { url } = await example()
      const { request } = await import('node:http')
      const target = new URL(`${url}/upload`)
      const open = () => {
        const req = request({
          host: target.hostname,
          port: target.port,
          path: '/upload',
          method: 'POST',
        })
        const done = new Promise<number>((resolve, reject) => {
          req.on('response', (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          })
          req.on('error', reject)
        })
        req.write('chunk')
        return { req, done }
      }
      const first = open()
      const second = open()
      try {
        // Send the third only once both holders were admitted (counted on /metrics, which is not
        // limited): fetch reuses a warm keep-alive connection, so a third sent at once can reach
        // the server before the second holder's new connection and take its slot.
        const admitted =
          /tollgate_decisions_total\{name="uploads",outcome="allowed",mode="enforce"\} (\d+)/
        for (let i = 0; ; i++) {
          const text = await (await fetch(`${url}/metrics`)).text()
          if (Number(admitted.exec(text)?.[1] ?? 0) >= 2) break
          if (i === 250) throw new Error(`the two uploads were never both admitted:\n${text}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const third = await fetch(`${url}/upload`, { method: 'POST', body: 'x' })
        expect(third.status).toBe(429)
        // Stacked after the general limit: its member follows, with no `w` and no `t`.
        expect(third.headers.get('ratelimit-policy')).toMatch(
          /, "uploads"; q=2; qu="concurrent-requests"; pk=:[A-Za-z0-9+/]{16}:$/,
        )
        expect(third.headers.get('ratelimit')).toMatch(/, "uploads"; r=0$/)
        first.req.end()
        expect(await first.done).toBe(200)
        const again = await fetch(`${url}/upload`, { method: 'POST', body: 'y' })
        expect(again.status).toBe(200)
      } finally {
        first.req.end()
        second.req.end()
      }
      expect(await second.done).toBe(200)
    })

  if (backend === 'redis') {
    it('says which Redis client it started on', async () => {
      const { stdout } = await example()
      expect(stdout()).toContain(`Redis at ${inject('redisUrl')} (${client})`)
    })
  }

  it('closes the server and exits 0 on SIGTERM', async () => {
    const { child, exited, stdout } = await example()
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stdout()).toMatch(/SIGTERM: closing the server\nclosed\n/)
  })
})
