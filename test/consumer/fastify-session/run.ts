import { main } from './app.js'

const expected = [
  'base EventEmitter',
  ...(process.env.REDIS_URL === undefined ? [] : ['visits 1 2', 'stored 1 2 1']),
]

main(process.env.REDIS_URL).then(
  (seen) => {
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
