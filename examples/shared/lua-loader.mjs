// Node module hooks, registered by ./lua-hooks.mjs; both examples start with them.
import { readFile } from 'node:fs/promises'

// The workspace packages' `exports` point at dist/, which exists only after a build; their
// TypeScript sources are used instead (what the tsconfig `paths` mapping says to tsc).
const packages = new URL('../../packages/', import.meta.url)
const entries = {
  '@tollgate/core': 'core/src/index.ts',
  '@tollgate/core/http': 'core/src/http/index.ts',
  '@tollgate/core/testing': 'core/src/testing/index.ts',
  '@tollgate/redis': 'redis/src/index.ts',
  '@tollgate/express': 'express/src/index.ts',
  '@tollgate/fastify': 'fastify/src/index.ts',
  '@tollgate/session': 'session/src/index.ts',
}

export async function resolve(specifier, context, nextResolve) {
  const entry = entries[specifier]
  // Passed on to tsx's resolver (not answered here) so that it knows to compile the file.
  return nextResolve(entry === undefined ? specifier : new URL(entry, packages).href, context)
}

// @tollgate/redis and @tollgate/session import their Lua scripts as text, which the build
// inlines with each `--- @include "x.lua"` line replaced by that file (once per script, see
// packages/redis/src/scripts/lua-include.ts); this does the same at run time.
async function readLua(url, seen = new Set()) {
  seen.add(url.href)
  const text = await readFile(url, 'utf8')
  const parts = []
  let last = 0
  for (const match of text.matchAll(/^--- @include "([^"]+)"[ \t]*\r?$/gm)) {
    const target = new URL(match[1], url)
    parts.push(text.slice(last, match.index))
    parts.push(seen.has(target.href) ? '' : (await readLua(target, seen)).trimEnd())
    last = match.index + match[0].length
  }
  parts.push(text.slice(last))
  return parts.join('')
}

export async function load(url, context, nextLoad) {
  if (url.endsWith('.lua')) {
    const text = await readLua(new URL(url))
    return {
      format: 'module',
      source: `export default ${JSON.stringify(text)}`,
      shortCircuit: true,
    }
  }
  return nextLoad(url, context)
}
