/** Load generation: autocannon for throughput, a plain keep-alive client for the exactness check. */
import http from 'node:http'
import autocannon from 'autocannon'

export interface LoadResult {
  seconds: number
  requests: number
  reqPerSec: number
  /** ms; autocannon records whole milliseconds. */
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

export async function load(options: {
  port: number
  seconds: number
  connections: number
  /** When given, each request carries the next address of the pool in X-Forwarded-For. */
  pool?: string[]
}): Promise<LoadResult> {
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
