#!/usr/bin/env node
/**
 * `pnpm mutation [core|redis|express|fastify|session ...] [-- stryker options]`: StrykerJS over
 * each package in turn (stryker/<package>.config.mjs), then the score of each from its JSON
 * report (reports/mutation/<package>.json). Hours, not minutes: outside the default CI run.
 * STRYKER_CONCURRENCY (default 1) sets the number of parallel test runners.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

const ALL = ['core', 'redis', 'express', 'fastify', 'session']
const args = process.argv.slice(2)
const split = args.indexOf('--')
const names = (split === -1 ? args : args.slice(0, split)).filter((a) => ALL.includes(a))
const passThrough = split === -1 ? args.filter((a) => !ALL.includes(a)) : args.slice(split + 1)
const packages = names.length > 0 ? names : ALL

let failed = false
for (const pkg of packages) {
  const started = Date.now()
  const run = spawnSync(
    'pnpm',
    ['exec', 'stryker', 'run', `stryker/${pkg}.config.mjs`, ...passThrough],
    { stdio: 'inherit' },
  )
  if (run.status !== 0) failed = true
  console.log(`mutation: ${pkg} took ${Math.round((Date.now() - started) / 60_000)} min`)
}

console.log('\npackage   killed  survived  no cover  timeout  score')
for (const pkg of packages) {
  const file = `reports/mutation/${pkg}.json`
  if (!existsSync(file)) continue
  const counts = {}
  for (const f of Object.values(JSON.parse(readFileSync(file, 'utf8')).files)) {
    for (const m of f.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1
  }
  const killed = (counts.Killed ?? 0) + (counts.Timeout ?? 0)
  const valid = killed + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0)
  const score = valid === 0 ? 'n/a' : `${((100 * killed) / valid).toFixed(1)}%`
  console.log(
    `${pkg.padEnd(9)} ${String(counts.Killed ?? 0).padStart(6)}  ${String(counts.Survived ?? 0).padStart(8)}  ${String(counts.NoCoverage ?? 0).padStart(8)}  ${String(counts.Timeout ?? 0).padStart(7)}  ${score}`,
  )
}
process.exit(failed ? 1 : 0)
