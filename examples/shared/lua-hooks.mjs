// Runs the example straight from the workspace sources, with no build step after `pnpm install`:
// `node --import tsx --import ../shared/lua-hooks.mjs src/server.ts`, from either example's
// directory. tsx compiles TypeScript; these hooks do the two things a build would otherwise do
// (see ./lua-loader.mjs).
import { register } from 'node:module'

register('./lua-loader.mjs', import.meta.url)
