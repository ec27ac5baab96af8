#!/usr/bin/env node
/**
 * `node stryker/recheck.mjs <package> <report.json> [mutant id ...]`: applies surviving mutants of
 * a StrykerJS report to the source by hand, one at a time (the file is restored after each, also
 * on Ctrl-C), and runs the package's `testFiles` on them with vitest (stop at the first failure).
 *
 * Why: with `testFiles` set, Stryker 9.6.1 activates a static mutant (code run when its module is
 * imported) only after the import, so such a mutant is reported as surviving whatever the tests do
 * (stryker-js issue 6144). Without ids it rechecks every `Survived` mutant marked `static`; the
 * id `survived` picks every survivor.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'

const [pkg, reportFile, ...ids] = process.argv.slice(2)
if (pkg === undefined || reportFile === undefined) {
  console.error('usage: node stryker/recheck.mjs <package> <report.json> [mutant id ...]')
  process.exit(2)
}
const { default: config } = await import(`./${pkg}.config.mjs`)
const report = JSON.parse(readFileSync(reportFile, 'utf8'))

const picked = []
for (const [file, { mutants }] of Object.entries(report.files)) {
  for (const m of mutants) {
    const wanted =
      ids.length > 0
        ? ids.includes(m.id) || (ids.includes('survived') && m.status === 'Survived')
        : m.status === 'Survived' && m.static
    if (wanted) picked.push({ file, m })
  }
}

// vitest takes file filters (substrings of the path), not globs: cut each glob at its first '*'.
// RECHECK_TESTS (comma-separated files) checks against those alone: whether new tests kill them.
const filters = process.env.RECHECK_TESTS
  ? process.env.RECHECK_TESTS.split(',')
  : config.testFiles.map((glob) => glob.split('*')[0])

let restore
process.on('SIGINT', () => {
  restore?.()
  process.exit(130)
})

/** 1-based line and column of the report -> offset in the text. */
function offset(text, { line, column }) {
  let at = 0
  for (let l = 1; l < line; l++) at = text.indexOf('\n', at) + 1
  return at + column - 1
}

/**
 * The replacement as source text. Stryker mutates the syntax tree, so `a && b` -> `a || b` inside
 * `a && b && c` means `(a || b) && c`; the report's text lacks the parentheses, and pasted as is
 * it would read `a || (b && c)`. An operator mutant's replacement is an expression: parenthesised.
 */
function asText(m) {
  const expression = ['LogicalOperator', 'EqualityOperator', 'ArithmeticOperator'].includes(
    m.mutatorName,
  )
  return expression ? `(${m.replacement})` : m.replacement
}

let survived = 0
for (const { file, m } of picked) {
  const original = readFileSync(file, 'utf8')
  restore = () => writeFileSync(file, original)
  const from = offset(original, m.location.start)
  const to = offset(original, m.location.end)
  writeFileSync(file, original.slice(0, from) + asText(m) + original.slice(to))
  try {
    // Asynchronous, so Ctrl-C reaches the handler above and the source is restored.
    const status = await new Promise((resolve) => {
      const args = ['exec', 'vitest', 'run', '-c', 'vitest.mutation.config.ts', '--bail=1']
      spawn('pnpm', [...args, ...filters], { stdio: 'ignore' }).on('exit', resolve)
    })
    const killed = status !== 0
    if (!killed) survived++
    const where = `${file}:${m.location.start.line}:${m.location.start.column}`
    console.log(
      `${killed ? 'killed  ' : 'SURVIVED'} ${m.id} ${where} ${m.mutatorName} -> ${JSON.stringify(m.replacement)}`,
    )
  } finally {
    restore()
    restore = undefined
  }
}
console.log(`${picked.length - survived} of ${picked.length} killed`)
process.exit(survived === 0 ? 0 : 1)
