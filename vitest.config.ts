import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vitest/config'
import { readLua } from './packages/redis/src/scripts/lua-include.js'

const src = (pkg: string, file = 'index.ts') =>
  fileURLToPath(new URL(`./packages/${pkg}/src/${file}`, import.meta.url))

// Lua scripts are inlined as strings at build time (tsup, with their `--- @include` lines
// resolved); this does the same for tests, which run straight from src without a build.
const luaAsText: Plugin = {
  name: 'tollgate-lua-as-text',
  enforce: 'pre',
  load(id) {
    if (!id.endsWith('.lua')) return null
    return `export default ${JSON.stringify(readLua(id))}`
  },
}

export default defineConfig({
  plugins: [luaAsText],
  resolve: {
    alias: [
      { find: /^@tollgate\/core\/testing$/, replacement: src('core', 'testing/index.ts') },
      { find: /^@tollgate\/core\/http$/, replacement: src('core', 'http/index.ts') },
      { find: /^@tollgate\/core$/, replacement: src('core') },
      { find: /^@tollgate\/redis$/, replacement: src('redis') },
      { find: /^@tollgate\/express$/, replacement: src('express') },
      { find: /^@tollgate\/fastify$/, replacement: src('fastify') },
      { find: /^@tollgate\/session$/, replacement: src('session') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // 2 cores: more workers only fight over the CPU with redis-server.
    maxWorkers: 2,
    reporters: ['default'],
  },
})
