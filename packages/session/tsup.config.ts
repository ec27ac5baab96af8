import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Lua scripts are inlined as strings, never read from disk at run time.
  loader: { '.lua': 'text' },
})
