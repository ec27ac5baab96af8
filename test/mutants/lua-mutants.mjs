/**
 * Hand-written mutation operators for the Redis Lua scripts (`pnpm mutation:lua`), applied as
 * regexes over each script's current text, so the list follows any rewrite of the scripts:
 * - every comparison flipped at its boundary (`<` <-> `<=`, `>` <-> `>=`) or negated (`==` <-> `~=`);
 * - every PEXPIRE / PEXPIREAT dropped, and every `'PX', ttl` of a SET dropped (the key never expires);
 * - every min swapped with max and max with min.
 * Each mutant runs the Redis conformance and TTL tests; one that survives fails the run, unless
 * it is listed in EQUIVALENT below with the reason no test can tell it from the original.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const SCRIPT_DIRS = ['packages/redis/src/scripts', 'packages/redis/src/scripts/include']

/** Every test of packages/redis/test but the client adapter's (it needs the Cluster), and more. */
const REDIS_TESTS = readdirSync(new URL('../../packages/redis/test', import.meta.url))
  .filter((name) => name.endsWith('.test.ts') && name !== 'client.test.ts')
  .map((name) => `packages/redis/test/${name}`)

const TESTS = [
  'test/conformance.test.ts',
  ...REDIS_TESTS,
  'test/mutants/sliding-log-ttl.test.ts',
  'test/mutants/token-bucket-clock-and-bounds.test.ts',
  'test/mutants/redis-store-reply.test.ts',
]

/**
 * Mutants no test can kill because they do not change behaviour, as
 * `{ file, line: regex over the original line, op, why }` (op as in the mutant id).
 */
export const EQUIVALENT = []

const FLIP = { '<': '<=', '<=': '<', '>': '>=', '>=': '>', '==': '~=', '~=': '==' }

/** The code of a Lua line with comments cut and string literals blanked (same length). */
function codeOf(line) {
  let out = ''
  let quote
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote !== undefined) {
      out += c === quote ? c : ' '
      if (c === '\\') {
        out += ' '
        i++
      } else if (c === quote) quote = undefined
      continue
    }
    if (c === '-' && line[i + 1] === '-') break
    if (c === "'" || c === '"') quote = c
    out += c
  }
  return out
}

function* operators(line) {
  const code = codeOf(line)
  for (const m of code.matchAll(/<=|>=|==|~=|<|>/g)) {
    yield { op: `${m[0]} -> ${FLIP[m[0]]}`, at: m.index, length: m[0].length, to: FLIP[m[0]] }
  }
  // The code with its comment cut but its strings kept (codeOf has the comment's position).
  const plain = line.slice(0, code.length)
  for (const m of plain.matchAll(/'PEXPIRE(?:AT)?'/g)) {
    // EXISTS takes the same arguments as keys and changes nothing: the expiry is just not set.
    yield { op: 'drop PEXPIRE', at: m.index, length: m[0].length, to: "'EXISTS'" }
  }
  for (const m of plain.matchAll(/,\s*'PX',\s*.+(?=\)\s*$)/g)) {
    yield { op: "drop 'PX'", at: m.index, length: m[0].length, to: '' }
  }
  for (const m of code.matchAll(/\b(math\.)?(min|max)\(/g)) {
    const swapped = m[2] === 'min' ? 'max' : 'min'
    yield {
      op: `${m[2]} -> ${swapped}`,
      at: m.index,
      length: m[0].length,
      to: `${m[1] ?? ''}${swapped}(`,
    }
  }
}

/** @returns {import('./run-mutants.mjs').Mutant[]} */
export function luaMutants(root) {
  const mutants = []
  for (const dir of SCRIPT_DIRS) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (!name.endsWith('.lua')) continue
      const file = relative(root, join(root, dir, name))
      const lines = readFileSync(join(root, file), 'utf8').split('\n')
      for (const [n, line] of lines.entries()) {
        for (const { op, at, length, to } of operators(line)) {
          const equivalent = EQUIVALENT.find(
            (e) => e.file === file && e.op === op && e.line.test(line),
          )
          if (equivalent) continue
          const mutatedLine = line.slice(0, at) + to + line.slice(at + length)
          mutants.push({
            id: `${file}:${n + 1} ${op}: ${line.trim().slice(0, 70)}`,
            file,
            apply: (text) => {
              const current = text.split('\n')
              if (current[n] !== line) return text
              current[n] = mutatedLine
              return current.join('\n')
            },
            tests: TESTS,
          })
        }
      }
    }
  }
  return mutants
}
