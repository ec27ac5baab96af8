/**
 * Load generation: autocannon (or wrk, with BENCH_LOADER=wrk) for throughput, a plain keep-alive
 * client for the exactness check.
 */
import { execFileSync, spawn } from 'node:child_process'
import http from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

/**
 * Which load generator drives the measured runs: `BENCH_LOADER`, `autocannon` (the default, the
 * figures of every earlier run) or `wrk` (Debian's wrk 4, a C program: on 2 cores it leaves the
 * server and Redis much more of the machine than autocannon, a Node process of its own).
 */
export type Loader = 'wrk' | 'autocannon'
export function pickLoader(): Loader {
  const wanted = process.env.BENCH_LOADER
  if (wanted === undefined || wanted === '' || wanted === 'autocannon') return 'autocannon'
  if (wanted !== 'wrk')
    throw new RangeError(`BENCH_LOADER must be wrk or autocannon, got ${wanted}`)
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is an error here.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('BENCH_LOADER=wrk, but wrk is not on PATH (Debian: apt-get install wrk)')
    }
  }
  return 'wrk'
}

const wrkScript = join(dirname(fileURLToPath(import.meta.url)), 'wrk.lua')

export interface LoadResult {
  seconds: number
  requests: number
  reqPerSec: number
  /** ms; autocannon records whole milliseconds, wrk microseconds. */
  p50: number
  p99: number
  status2xx: number
  status429: number
  statusOther: number
  errors: number
  timeouts: number
}

/** Pool of distinct client addresses for X-Forwarded-For: 10.a.b.c, one per client. */
export function addressPool(size: number): string[] {
  const pool: string[] = []
  for (let i = 0; i < size; i++) pool.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
  return pool
}

interface LoadOptions {
  port: number
  seconds: number
  connections: number
  /** When given, each request carries the next address of the pool in X-Forwarded-For. */
  pool?: string[]
  loader: Loader
}

export function load(options: LoadOptions): Promise<LoadResult> {
  return options.loader === 'wrk' ? loadWrk(options) : loadAutocannon(options)
}

/**
 * One wrk run, one thread, `connections` keep-alive connections. The pool is rebuilt inside wrk
 * (src/wrk.lua, same addresses as addressPool) from its size. Latency percentiles come in µs.
 */
function loadWrk(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'wrk',
      [
        '-t1',
        `-c${options.connections}`,
        `-d${options.seconds}s`,
        '--timeout',
        '10s',
        '-s',
        wrkScript,
        `http://127.0.0.1:${options.port}/`,
      ],
      {
        env: { ...process.env, TOLLGATE_WRK_POOL: String(options.pool?.length ?? 0) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      const line = /^TOLLGATE_WRK (\{.*\})$/m.exec(out)
      if (code !== 0 || !line) {
        reject(new Error(`wrk exited ${code}: ${out.slice(-500)}`))
        return
      }
      const r = JSON.parse(line[1]!) as Record<string, number>
      const seconds = r.duration_us! / 1e6
      resolve({
        seconds,
        requests: r.requests!,
        reqPerSec: r.requests! / seconds,
        p50: r.p50_us! / 1000,
        p99: r.p99_us! / 1000,
        status2xx: r.s2xx!,
        status429: r.s429!,
        statusOther: r.other!,
        errors: r.connect! + r.read! + r.write!,
        timeouts: r.timeout!,
      })
    })
  })
}

async function loadAutocannon(options: LoadOptions): Promise<LoadResult> {
  const { pool } = options
  let next = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}/`,
    connections: options.connections,
    duration: options.seconds,
    ...(pool
      ? {
          requests: [
            {
              method: 'GET',
              path: '/',
              setupRequest: (request: autocannon.Request) => {
                request.headers = { 'x-forwarded-for': pool[next++ % pool.length]! }
                return request
              },
            },
          ],
        }
      : {}),
  })
  const codes = (result as unknown as { statusCodeStats?: Record<string, { count: number }> })
    .statusCodeStats
  let status2xx = 0
  let status429 = 0
  let statusOther = 0
  for (const [code, { count }] of Object.entries(codes ?? {})) {
    if (code.startsWith('2')) status2xx += count
    else if (code === '429') status429 += count
    else statusOther += count
  }
  const seconds = result.duration
  return {
    seconds,
    requests: result.requests.total,
    reqPerSec: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    status2xx,
    status429,
    statusOther,
    errors: result.errors,
    timeouts: result.timeouts,
  }
}

/**
 * Sends `passes` requests for every address of the pool, pass after pass (pass 2 starts after
 * every pass-1 request for the same address has been answered, since `concurrency` is far smaller
 * than the pool), and counts statuses per pass.
 */
export async function exactnessCheck(options: {
  port: number
  pool: string[]
  passes: number
  concurrency: number
}): Promise<{
  perPass: { status2xx: number; status429: number; statusOther: number }[]
  /** Up to 10 addresses allowed again after the first pass, for diagnosis. */
  allowedAgain: string[]
}> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency })
  const perPass = Array.from({ length: options.passes }, () => ({
    status2xx: 0,
    status429: 0,
    statusOther: 0,
  }))
  const allowedAgain: string[] = []
  const total = options.pool.length * options.passes
  let index = 0
  const one = (address: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const request = http.get(
        {
          host: '127.0.0.1',
          port: options.port,
          path: '/',
          agent,
          headers: { 'x-forwarded-for': address },
        },
        (response) => {
          response.resume()
          response.on('end', () => resolve(response.statusCode ?? 0))
        },
      )
      request.on('error', reject)
    })
  const worker = async () => {
    while (index < total) {
      const i = index++
      const pass = Math.floor(i / options.pool.length)
      const address = options.pool[i % options.pool.length]!
      const status = await one(address)
      const bucket = perPass[pass]!
      if (status >= 200 && status < 300) {
        bucket.status2xx++
        if (pass > 0 && allowedAgain.length < 10) allowedAgain.push(address)
      } else if (status === 429) bucket.status429++
      else bucket.statusOther++
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  agent.destroy()
  return { perPass, allowedAgain }
}

/** One GET; the status and the rate-limit related headers of the answer (names lower-case). */
export function probeHeaders(
  port: number,
): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/' }, (response) => {
      response.resume()
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(response.headers)) {
        if (/ratelimit|retry-after/i.test(name)) headers[name] = String(value)
      }
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers }))
    })
    request.on('error', reject)
  })
}
