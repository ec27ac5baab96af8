/**
 * The docs a user reads instead of the source stay true (issue 12, item 6): every error and warning
 * code in the source has its entry in docs/errors.md, every README links the docs, no comment
 * cites a spec file a user cannot see, the compatibility table names the versions the lockfile
 * resolves, and the TypeDoc API reference builds with every public export documented (warnings
 * are errors: `pnpm run docs` writes the same reference to docs/api).
 */
import { execFile, execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(root, path), 'utf8')
const PACKAGES = ['core', 'redis', 'express', 'fastify', 'session']

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (/\.(ts|lua)$/.test(entry)) out.push(path)
  }
  return out
}
const sources = PACKAGES.flatMap((p) => sourceFiles(join(root, 'packages', p, 'src')))

describe('docs', () => {
  it('docs/errors.md has an entry for every ERR_TOLLGATE_* and WARN_TOLLGATE_* code in the source', () => {
    const codes = new Set<string>()
    for (const file of sources) {
      for (const [code] of readFileSync(file, 'utf8').matchAll(
        /\b(?:ERR|WARN)_TOLLGATE_[A-Z0-9_]+/g,
      )) {
        codes.add(code)
      }
    }
    expect(codes.size).toBeGreaterThan(5)
    const errors = read('docs/errors.md')
    const missing = [...codes].filter((code) => !errors.includes(`### ${code}\n`))
    expect(missing, 'add a "### CODE" entry with cause and fix to docs/errors.md').toEqual([])
  })

  it('every README links the docs', () => {
    expect(read('README.md')).toMatch(/\]\(docs\)/)
    for (const p of PACKAGES) {
      const readme = read(`packages/${p}/README.md`)
      expect(readme, p).toContain('](../../docs/semantics.md)')
      expect(readme, p).toContain('](../../docs/errors.md)')
    }
  })

  it('source comments cite docs/semantics.md and docs/headers.md, not spec files users cannot see', () => {
    const stale = sources
      .filter((file) => /\b(SEMANTICS|HEADERS)\.md\b/.test(readFileSync(file, 'utf8')))
      .map((file) => file.slice(root.length + 1))
    expect(stale, 'cite docs/semantics.md or docs/headers.md instead').toEqual([])
  })

  it('the compatibility table names the versions the lockfile resolves', () => {
    const table = read('docs/compatibility.md')
    const require = createRequire(join(root, 'packages', 'session', 'package.json'))
    for (const name of [
      'express',
      'fastify',
      'ioredis',
      'redis',
      'express-session',
      '@fastify/session',
    ]) {
      const { version } = require(`${name}/package.json`) as { version: string }
      expect(table, name).toContain(version)
    }
    expect(table).toContain(`| Node.js | ${process.versions.node.split('.')[0]} |`)
    const server = /v=(\d+\.\d+)/.exec(
      execFileSync('redis-server', ['--version'], { encoding: 'utf8' }),
    )
    expect(table).toContain(`| Redis server | ${server![1]} `)
  })

  it("CI builds the API reference with `pnpm run docs` (`pnpm docs` is pnpm's own command)", () => {
    // pnpm's built-in `docs` wins over the script of that name: it only prints the npm page.
    expect(read('.ci/run')).toMatch(/^step docs pnpm run docs$/m)
    expect(read('.ci/run')).not.toMatch(/^[^#\n]*pnpm docs\b/m)
  })

  it('the TypeDoc API reference builds with every public export documented', async () => {
    const typedoc = join(root, 'node_modules', '.bin', 'typedoc')
    const result = await promisify(execFile)(typedoc, ['--emit', 'none', '--logLevel', 'Warn'], {
      cwd: root,
      encoding: 'utf8',
    }).catch((error: { stdout: string; stderr: string }) => error)
    const output = `${result.stdout}${result.stderr}`
    expect(
      output,
      'document these exports (TSDoc), or export what a public type refers to',
    ).not.toMatch(/\[(warning|error)\]/)
  }, 300_000) // TypeDoc over five packages: past 2 minutes on a loaded 2-core machine
})
