import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp } from './app.js'
import { connectRedis } from './redis.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const redis = connectRedis()
const app = createApp({ redis: redis?.client, keyPrefix: process.env.KEY_PREFIX ?? '' })
const server = createServer(app)

server.on('error', (error) => {
  console.error(`cannot listen on ${host}:${port}: ${error.message}`)
  void redis?.close()
  process.exitCode = 1
})

// Registered before listening: a Ctrl-C right after the "listening" line must not kill the
// process with the default handler (exit by signal, and pnpm reports a failure).
let stopping: number | undefined // when the first signal came
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

server.listen(port, host, () => {
  const { port: actual } = server.address() as AddressInfo
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host
  const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${actual}`
  const where = redis ? `Redis at ${redis.description}` : 'memory; set REDIS_URL to use Redis'
  console.log(`tollgate Express example listening on ${url} (counters and sessions in ${where})`)
  console.log(usage(url))
})

function usage(url: string): string {
  const json = `-H 'content-type: application/json' -d '{"id":"42","name":"Ada"}'`
  return `
Try it:
  curl -i ${url}/                                   # general limit: 100 per minute, fixed window
  curl -i '${url}/search?q=tolls'                   # token bucket of 10: costs 1
  curl -i '${url}/search?q=tolls&expensive=1'       # costs 5: the third one in a row gets 429

  # sessions: log in, read the user, log out (POST /login is limited to 5 per minute)
  curl -i -c cookies.txt -X POST ${json} ${url}/login
  curl -i -b cookies.txt ${url}/me
  curl -i -b cookies.txt -X POST ${url}/logout

  # the strict login limit: the 6th attempt within a minute answers 429 with Retry-After
  for i in $(seq 1 7); do curl -s -o /dev/null -w '%{http_code}\\n' -X POST ${json} ${url}/login; done
  curl -i -X POST ${json} ${url}/login              # see the RateLimit and Retry-After headers
`
}

async function shutdown(signal: string) {
  if (stopping !== undefined) {
    // pnpm forwards the terminal's SIGINT to its child, which the terminal already signalled: one
    // Ctrl-C arrives twice within moments. Only a later one means "do not wait".
    if (Date.now() - stopping > 1000) process.exit(1)
    return
  }
  stopping = Date.now()
  console.log(`${signal}: closing the server`)
  // Keep-alive connections would hold close() open; idle ones close now, busy ones after their
  // response. Past 5 s the process exits anyway.
  setTimeout(() => process.exit(1), 5000).unref()
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
  })
  await redis?.close()
  console.log('closed')
}
