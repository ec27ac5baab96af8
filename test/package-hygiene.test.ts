/**
 * Package hygiene a user and a registry see (issue 12, item 5), checked on the sources so that a
 * new package or a trimmed package.json fails here: metadata in every package.json, a LICENSE and
 * CHANGELOG beside it (pack-smoke checks they reach the tarball), install-from-repo text in every
 * README, and the root files a contributor looks for.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const PACKAGES = ['core', 'redis', 'express', 'fastify', 'session']
const read = (path: string) => readFileSync(join(root, path), 'utf8')

describe('package hygiene', () => {
  it.each(PACKAGES)('@tollgate/%s has repository, homepage, bugs, keywords and license', (p) => {
    const pkg = JSON.parse(read(`packages/${p}/package.json`))
    expect(pkg.name).toBe(`@tollgate/${p}`)
    expect(pkg.repository).toMatchObject({
      type: 'git',
      url: expect.stringMatching(/^git\+https:\/\//),
      directory: `packages/${p}`,
    })
    expect(pkg.homepage).toMatch(new RegExp(`/packages/${p}#readme$`))
    expect(pkg.bugs?.url).toMatch(/\/issues$/)
    expect(pkg.keywords.length).toBeGreaterThanOrEqual(3)
    expect(pkg.license).toBe('MIT')
    expect(pkg.engines?.node).toBe('>=20')
    expect(pkg.files).toEqual(['dist', 'CHANGELOG.md'])
  })

  it.each(PACKAGES)(
    '@tollgate/%s ships a LICENSE and a CHANGELOG, and says how to install from the repository',
    (p) => {
      expect(read(`packages/${p}/LICENSE`)).toBe(read('LICENSE'))
      expect(existsSync(join(root, 'packages', p, 'CHANGELOG.md'))).toBe(true)
      expect(read(`packages/${p}/README.md`)).toMatch(/Until the packages are on npm/)
    },
  )

  it('keeps LICENSE, SECURITY.md, CONTRIBUTING.md and the changesets config at the root', () => {
    expect(read('LICENSE')).toMatch(/^MIT License/)
    expect(read('SECURITY.md')).toMatch(/report/i)
    expect(read('CONTRIBUTING.md')).toMatch(/pnpm test/)
    const changesets = JSON.parse(read('.changeset/config.json'))
    expect(changesets.linked).toEqual([PACKAGES.map((p) => `@tollgate/${p}`)])
  })
})
