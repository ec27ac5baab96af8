import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  // Maps point into src/ without embedding it: the tarball ships dist only (issue 12: 267 KB of
  // core's 458 KB were sources inside maps).
  esbuildOptions(options) {
    options.sourcesContent = false
  },
  target: 'node20',
  // import.meta.url (which resolves the optional express-session peer) in the CJS build too.
  shims: true,
  // Lua scripts are inlined as strings, never read from disk at run time.
  loader: { '.lua': 'text' },
})
