import { HTTP_TESTS, strykerConfig } from './base.mjs'

export default strykerConfig('express', [
  'packages/express/test/**/*.test.ts',
  ...HTTP_TESTS,
  'test/cross-check/structured-headers.test.ts',
])
