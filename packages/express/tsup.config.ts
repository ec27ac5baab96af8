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
  // `require('@tollgate/express')` is the middleware factory itself, as express-rate-limit's is,
  // with every named export (rateLimit, default) attached to it.
  footer: ({ format }) =>
    format === 'cjs'
      ? { js: 'module.exports = Object.assign(module.exports.default, module.exports);' }
      : {},
})
