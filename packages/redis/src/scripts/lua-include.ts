/**
 * The build step of the Lua scripts: a line `--- @include "name.lua"` (as BullMQ writes it) is
 * replaced by that file, resolved beside the including file, each file at most once per script.
 * tsup (an esbuild plugin), the root vitest config and the multi-process test bundle all load
 * `.lua` files through here, so a shared fragment (the clock prelude, the block check) exists once
 * in the source and is inlined into every script that needs it.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

const INCLUDE = /^--- @include "([^"]+)"[ \t]*\r?$/gm

/** The text of the Lua file at `path` with every `--- @include` resolved (depth first). */
export function readLua(path: string): string {
  return expand(resolve(path), new Set(), [])
}

function expand(path: string, seen: Set<string>, stack: string[]): string {
  if (stack.includes(path)) {
    throw new Error(`Lua include cycle: ${[...stack, path].join(' -> ')}`)
  }
  const text = readFileSync(path, 'utf8')
  seen.add(path)
  return text.replace(INCLUDE, (_line, name: string) => {
    const target = resolve(dirname(path), name)
    if (seen.has(target)) return `-- (${name} already included)`
    return expand(target, seen, [...stack, path]).trimEnd()
  })
}

/** The shape of an esbuild plugin, without a dependency on esbuild's types. */
interface EsbuildLike {
  onLoad(
    options: { filter: RegExp },
    callback: (args: { path: string }) => { contents: string; loader: 'text' },
  ): void
}

/** An esbuild plugin (tsup `esbuildPlugins`) that loads `.lua` files as text, includes resolved. */
export const luaIncludePlugin = {
  name: 'tollgate-lua-include',
  setup(build: EsbuildLike): void {
    build.onLoad({ filter: /\.lua$/ }, (args) => ({ contents: readLua(args.path), loader: 'text' }))
  },
}
