/**
 * Each migration guide lists every option of its peer (issue 12, item 7): the option names are read
 * from the peer's own type declarations (the versions installed), and each must be named in a row
 * of the guide's tables, with its tollgate equivalent or why it is not supported. A peer release
 * that adds an option fails this test until the guide says what to do with it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

// One probe module naming each peer's options type; it lives only in memory, beside this file so
// the peers resolve from the workspace's node_modules.
const probePath = join(import.meta.dirname, '__peer-options-probe.ts')
const probe = `
import type { Options as ExpressRateLimit } from 'express-rate-limit'
import type { Options as RateLimitRedis } from 'rate-limit-redis'
import type { RateLimitPluginOptions } from '@fastify/rate-limit'
import type { RateLimiterRedis } from 'rate-limiter-flexible'
import type { RedisStore as ConnectRedis } from 'connect-redis'
type All<T> = T extends unknown ? keyof T : never
export type Peers = {
  'express-rate-limit': keyof ExpressRateLimit
  'rate-limit-redis': All<RateLimitRedis>
  '@fastify/rate-limit': keyof RateLimitPluginOptions
  'rate-limiter-flexible': keyof NonNullable<ConstructorParameters<typeof RateLimiterRedis>[0]>
  'connect-redis': keyof ConstructorParameters<typeof ConnectRedis>[0]
}
`

/** The option names of each peer, as the type checker sees them. */
function peerOptions(): Record<string, string[]> {
  const options: ts.CompilerOptions = {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile
  host.getSourceFile = (fileName, language, ...rest) =>
    fileName === probePath
      ? ts.createSourceFile(fileName, probe, language)
      : getSourceFile.call(host, fileName, language, ...rest)
  const fileExists = host.fileExists
  host.fileExists = (fileName) => fileName === probePath || fileExists.call(host, fileName)
  const program = ts.createProgram([probePath], options, host)
  const errors = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  if (errors.length > 0) throw new Error(`the probe does not compile: ${errors.join('; ')}`)
  const checker = program.getTypeChecker()
  const file = program.getSourceFile(probePath)!
  const peers = file.statements.find(
    (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'Peers',
  )!
  const result: Record<string, string[]> = {}
  for (const property of checker.getPropertiesOfType(checker.getTypeAtLocation(peers))) {
    const keys = checker.getTypeOfSymbolAtLocation(property, peers)
    const names = (keys.isUnion() ? keys.types : [keys])
      .filter((t): t is ts.StringLiteralType => t.isStringLiteral())
      .map((t) => t.value)
    result[property.name] = [...new Set(names)].sort()
  }
  return result
}

/** The backticked names in the first column of the guide's table rows. */
function namedInTables(guide: string): Set<string> {
  const names = new Set<string>()
  for (const line of readFileSync(join(root, 'docs', guide), 'utf8').split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1]
    if (!first) continue
    for (const [, code] of first.matchAll(/`([^`]+)`/g)) {
      // `name`, `name(args)`, `name` (default) and `a` / `b` all name their options.
      const name = /^[A-Za-z_$][\w$]*/.exec(code!)?.[0]
      if (name) names.add(name)
    }
  }
  return names
}

const guides: Array<[peer: string, guide: string]> = [
  ['express-rate-limit', 'migrating-from-express-rate-limit.md'],
  ['rate-limit-redis', 'migrating-from-express-rate-limit.md'],
  ['@fastify/rate-limit', 'migrating-from-fastify-rate-limit.md'],
  ['rate-limiter-flexible', 'migrating-from-rate-limiter-flexible.md'],
  ['connect-redis', 'migrating-from-connect-redis.md'],
]

describe('the migration guides name every option of their peer', () => {
  const options = peerOptions()

  it.each(guides)('%s in docs/%s', (peer, guide) => {
    const listed = options[peer]
    expect(listed, `no options read for ${peer}`).toBeDefined()
    expect(listed!.length).toBeGreaterThan(3)
    const named = namedInTables(guide)
    expect(listed!.filter((name) => !named.has(name))).toEqual([])
  })
})
