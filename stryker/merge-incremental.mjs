#!/usr/bin/env node
/**
 * `node stryker/merge-incremental.mjs <out.json> <chunk.json> ...`: joins the incremental files of
 * runs over parts of one package (`--mutate <file> --incrementalFile <chunk>`) into one, so that
 * `pnpm mutation <package>` reuses all of them. Test ids are per run: each chunk's ids are mapped
 * to the merged file's by test file and name. Chunks of one source file (line ranges) are joined too.
 */
import { readFileSync, writeFileSync } from 'node:fs'

const [out, ...chunks] = process.argv.slice(2)
if (out === undefined || chunks.length === 0) {
  console.error('usage: node stryker/merge-incremental.mjs <out.json> <chunk.json> ...')
  process.exit(2)
}

const merged = { ...JSON.parse(readFileSync(chunks[0], 'utf8')), files: {}, testFiles: {} }
const idOf = new Map() // `${file}\0${name}` -> merged id
let next = 0

for (const chunk of chunks) {
  const report = JSON.parse(readFileSync(chunk, 'utf8'))
  const remap = new Map()
  for (const [file, testFile] of Object.entries(report.testFiles ?? {})) {
    const target = merged.testFiles[file] ?? { ...testFile, tests: [] }
    merged.testFiles[file] = target
    for (const test of testFile.tests) {
      const key = `${file}\0${test.name}`
      if (!idOf.has(key)) {
        idOf.set(key, String(next++))
        target.tests.push({ ...test, id: idOf.get(key) })
      }
      remap.set(test.id, idOf.get(key))
    }
  }
  const map = (ids) => ids?.map((id) => remap.get(id) ?? id)
  for (const [file, result] of Object.entries(report.files)) {
    const mutants = result.mutants.map((m) => ({
      ...m,
      ...(m.coveredBy ? { coveredBy: map(m.coveredBy) } : {}),
      ...(m.killedBy ? { killedBy: map(m.killedBy) } : {}),
    }))
    // Chunks of one file (`--mutate file:1-400`, `file:401-800`) add up; a mutant measured by two
    // chunks keeps the later chunk's result (same place, mutator and replacement).
    const earlier = merged.files[file]
    if (earlier === undefined || earlier.source !== result.source) {
      merged.files[file] = { ...result, mutants }
      continue
    }
    const where = (m) =>
      `${m.location.start.line}:${m.location.start.column}:${m.location.end.line}:${m.location.end.column}:${m.mutatorName}:${m.replacement}`
    const byPlace = new Map(earlier.mutants.map((m) => [where(m), m]))
    for (const m of mutants) byPlace.set(where(m), m)
    earlier.mutants = [...byPlace.values()]
  }
}
writeFileSync(out, `${JSON.stringify(merged)}\n`)
console.log(`${out}: ${Object.keys(merged.files).length} source files, ${next} tests`)
