import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/http/index.ts', 'src/testing/index.ts'],
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
})
