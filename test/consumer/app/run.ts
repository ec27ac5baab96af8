import { main } from './app.js'

const expected = [
  'yyn',
  'yyn',
  'yyn',
  'yyn',
  ...(process.env.REDIS_URL === undefined ? [] : ['redis true false']),
  // A fixed window is aligned to the clock: t is whatever is left of the current minute.
  'express 200 "1-in-60s"; r=0; t=*',
  'express 429 "1-in-60s"; r=0; t=*',
  'fastify /search 200',
  'fastify /search 429',
  'fastify /health 200',
  'fastify /health 200',
]

main(process.env.REDIS_URL).then(
  (run) => {
    const seen = run.map((line) => line.replace(/t=\d+$/, 't=*'))
    if (JSON.stringify(seen) !== JSON.stringify(expected)) {
      console.error(`unexpected run:\n${seen.join('\n')}\nexpected:\n${expected.join('\n')}`)
      process.exit(1)
    }
    console.log(`ran: ${seen.length} checks`)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
