import { strykerConfig } from './base.mjs'

export default strykerConfig('session', [
  'packages/session/test/**/*.test.ts',
  'test/session-*.test.ts',
  'test/mutants/session-destroy-user-race.test.ts',
])
