import { defineConfig } from 'tsup'
import { luaIncludePlugin } from './src/scripts/lua-include.js'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // .lua files as text, each `--- @include` resolved (src/scripts/lua-include.ts).
  esbuildPlugins: [luaIncludePlugin],
})
