import { HTTP_TESTS, strykerConfig } from './base.mjs'

export default strykerConfig('fastify', [
  'packages/fastify/test/**/*.test.ts',
  ...HTTP_TESTS,
  'test/mutants/fastify-hook-order.test.ts',
])
