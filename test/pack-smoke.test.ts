/**
 * The published shape of every package: build, `pnpm pack`, unpack the tarballs into a scratch
 * node_modules, and load each one with `require()` and `import()` in plain Node. Catches a
 * missing `files` entry, a broken `exports` map or a dist that only works inside the workspace.
 */
import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packages: Array<[name: string, exportName: string]> = [
  ['core', 'createLimiter'],
  ['redis', 'RedisStore'],
  ['express', 'rateLimit'],
  ['fastify', 'tollgate'],
  ['session', 'RedisSessionStore'],
]
// Third-party runtime and peer dependencies, linked from the workspace install.
const thirdParty = [
  'ioredis',
  'express',
  'fastify',
  'fastify-plugin',
  'express-session',
  'cluster-key-slot',
]

let scratch: string

// A full build of five packages: past 2 minutes on a loaded 2-core machine.
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tollgate-pack-'))
  const tarballs = join(scratch, 'tarballs')
  const modules = join(scratch, 'node_modules')
  mkdirSync(join(modules, '@tollgate'), { recursive: true })
  execFileSync('pnpm', ['-r', '--filter', './packages/*', 'build'], { cwd: root, stdio: 'ignore' })
  for (const [name] of packages) {
    execFileSync('pnpm', ['pack', '--pack-destination', tarballs], {
      cwd: join(root, 'packages', name),
      stdio: 'ignore',
    })
  }
  for (const file of readdirSync(tarballs)) {
    const name = /^tollgate-(\w+)-/.exec(file)?.[1]
    if (name === undefined) continue
    const target = join(modules, '@tollgate', name)
    mkdirSync(target)
    execFileSync('tar', ['xzf', join(tarballs, file), '-C', target, '--strip-components=1'])
  }
  for (const dep of thirdParty) {
    const candidates = [
      join(root, 'node_modules', dep),
      join(root, 'node_modules/.pnpm/node_modules', dep),
    ]
    const found = candidates.find((path) => {
      try {
        realpathSync(path)
        return true
      } catch {
        return false
      }
    })
    if (found === undefined) throw new Error(`${dep} is not installed in the workspace`)
    symlinkSync(realpathSync(found), join(modules, dep))
  }
}, 300_000)

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

function run(args: string[]): string {
  return execFileSync('node', args, { cwd: scratch, encoding: 'utf8' }).trim()
}

describe('packed tarballs', () => {
  it.each(packages)('@tollgate/%s loads with require() and import()', (name, exportName) => {
    const spec = `@tollgate/${name}`
    expect(run(['-e', `console.log(typeof require('${spec}').${exportName})`])).toBe('function')
    expect(
      run([
        '--input-type=module',
        '-e',
        `const m = await import('${spec}'); console.log(typeof m.${exportName})`,
      ]),
    ).toBe('function')
  })

  it('ship only dist, README, CHANGELOG, LICENSE and package.json', () => {
    for (const [name] of packages) {
      const files = readdirSync(join(scratch, 'node_modules/@tollgate', name)).sort()
      expect(files).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist', 'package.json'])
    }
  })

  it('ship source maps without the sources in them (no sourcesContent)', () => {
    for (const [name] of packages) {
      const dist = join(scratch, 'node_modules/@tollgate', name, 'dist')
      const maps = readdirSync(dist).filter((file) => file.endsWith('.map'))
      expect(maps.length, name).toBeGreaterThan(0)
      for (const map of maps) {
        const parsed = JSON.parse(readFileSync(join(dist, map), 'utf8')) as Record<string, unknown>
        expect(parsed.sourcesContent, `${name}/dist/${map}`).toBeUndefined()
      }
    }
  })

  it('inline the Lua scripts into the built RedisStore', () => {
    const out = run([
      '-e',
      "const fs = require('node:fs'); const src = fs.readFileSync(require.resolve('@tollgate/redis'), 'utf8'); console.log(src.includes(\"redis.call('TIME')\"))",
    ])
    expect(out).toBe('true')
  })
})
