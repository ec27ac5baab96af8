import { createApp } from './app.js'
import { connectRedis } from './redis.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const redis = connectRedis()
const app = await createApp({ redis: redis?.client, keyPrefix: process.env.KEY_PREFIX ?? '' })
// The session plugin registered no onClose for a client it does not own: quit it here.
app.addHook('onClose', async () => {
  await redis?.close()
})

// Registered before listening: a Ctrl-C right after the "listening" line must not kill the
// process with the default handler (exit by signal, and pnpm reports a failure).
let stopping: number | undefined // when the first signal came
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))

try {
  await app.listen({ port, host })
} catch (error) {
  console.error(`cannot listen on ${host}:${port}: ${(error as Error).message}`)
  await app.close()
  process.exit(1)
}

const address = app.server.address()
const actual = typeof address === 'object' && address !== null ? address.port : port
const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host
const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${actual}`
const where = redis ? `Redis at ${redis.description}` : 'memory; set REDIS_URL to use Redis'
console.log(`tollgate Fastify example listening on ${url} (counters and sessions in ${where})`)
console.log(usage(url))

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
  // Past 5 s (a stuck connection) the process exits anyway.
  setTimeout(() => process.exit(1), 5000).unref()
  await app.close()
  console.log('closed')
}
