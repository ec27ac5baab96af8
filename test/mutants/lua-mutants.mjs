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

/** Every test of packages/redis/test but the client adapter's (client*.test.ts need the Cluster), and more. */
const REDIS_TESTS = readdirSync(new URL('../../packages/redis/test', import.meta.url))
  .filter((name) => name.endsWith('.test.ts') && !name.startsWith('client'))
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
 * `{ file, line: regex over the original line, op, why }` (op as in the mutant id, or a list of
 * them; no file: any script).
 */
export const EQUIVALENT = [
  ...[
    'packages/redis/src/scripts/include/ops.lua',
    'packages/redis/src/scripts/include/compound-ops.lua',
  ].map((file) => ({
    file,
    line: /^\s*while a <= argc do$/,
    op: '<= -> <',
    why: 'an op starts at a <= argc - 1 (a short op is 2 ARGV, a long one more) and the loop ends at a = argc + 1, where both are false',
  })),
  {
    // Any script: `if x > y then x = y end` (a min), `if x < 0 then x = 0 end`, `if y > x then x = y end`.
    line: /^\s*if ([\w.]+) [<>] ([\w.]+) then (?:\1 = \2|\2 = \1) end$/,
    op: ['> -> >=', '< -> <='],
    why: 'a clamp: where the two sides are equal it assigns the value the variable already has',
  },
  {
    file: 'packages/redis/src/scripts/include/concurrency.lua',
    line: /^\s*if s\.maxExp > 0 then return remaining, s\.maxExp - s\.now end$/,
    op: '> -> >=',
    why: 'idle of a state with no live lease only feeds a blocked reply, which takes max(the block rest > 0, resetMs): -now and 0 both lose',
  },
  {
    file: 'packages/redis/src/scripts/include/concurrency.lua',
    line: /^\s*if rest > 0 then$/,
    op: '> -> >=',
    why: 'with rest = 0, PEXPIRE key 0 deletes the key, as the DEL of the other branch does',
  },
  {
    file: 'packages/redis/src/scripts/include/prelude.lua',
    line: /^\s*if not allowed and retryAfterMs > rest then retry = retryAfterMs end$/,
    op: '> -> >=',
    why: 'when retryAfterMs equals rest, retry gets the same value',
  },
  {
    file: 'packages/redis/src/scripts/include/prelude.lua',
    line: /^\s*if stateResetMs > rest then resetMs = stateResetMs end$/,
    op: '> -> >=',
    why: 'when stateResetMs equals rest, resetMs gets the same value',
  },
  {
    file: 'packages/redis/src/scripts/include/sliding-window.lua',
    line: /^\s*if p\.limit \* W > s\.used then remaining = floor\(\(p\.limit \* W - s\.used\) \/ W\) end$/,
    op: '> -> >=',
    why: 'where L * W equals used, floor(0 / W) is the 0 remaining already holds',
  },
  {
    file: 'packages/redis/src/scripts/include/sliding-window.lua',
    line: /^\s*if free >= 0 and s\.prev > 0 then$/,
    op: '>= -> >',
    why: 'at free = 0 (curr = L - cost) the other branch gives the same W - e: its second term is W - floor(curr * W / curr) = 0',
  },
  {
    file: 'packages/redis/src/scripts/include/sliding-window.lua',
    line: /^\s*if free >= 0 and s\.prev > 0 then$/,
    op: '> -> >=',
    why: 'a denial with prev = 0 has curr + cost > L, so free < 0: the branch is never taken with prev = 0',
  },
  {
    file: 'packages/redis/src/scripts/include/sliding-window.lua',
    line: /^\s*if s\.curr > 0 then$/,
    op: '> -> >=',
    why: 'with curr = 0, wait = W - floor((L - cost) * W / 0) is -inf or nan, never > 0, so retry is unchanged',
  },
  {
    file: 'packages/redis/src/scripts/include/sliding-window.lua',
    line: /^\s*if wait > 0 then retry = retry \+ wait end$/,
    op: '> -> >=',
    why: 'at wait = 0 it adds 0',
  },
  {
    file: 'packages/redis/src/scripts/include/token-bucket.lua',
    line: /^\s*if elapsed > 0 and elapsed >= ceil\(\(full - units\) \/ p\.rate\) then$/,
    op: '> -> >=',
    why: 'at elapsed = 0 the branch is taken only when units >= full already (ceil <= 0), which the clamp below makes full anyway',
  },
  {
    file: 'packages/redis/src/scripts/include/token-bucket.lua',
    line: /^\s*if elapsed > 0 and elapsed >= ceil\(\(full - units\) \/ p\.rate\) then$/,
    op: '>= -> >',
    why: 'at equality the elseif adds elapsed * R >= full - units, and the clamp below brings units to full, as this branch does',
  },
  {
    file: 'packages/redis/src/scripts/include/token-bucket.lua',
    line: /^\s*elseif elapsed > 0 then$/,
    op: '> -> >=',
    why: 'at elapsed = 0 it adds 0 units',
  },
  {
    file: 'packages/redis/src/scripts/include/ops.lua',
    line: /A\.nparams > 3 then$/,
    op: '> -> >=',
    why: 'it only re-parses the params of a 3-param algorithm on every op: the same values, the cache is an optimisation',
  },
  {
    file: 'packages/redis/src/scripts/include/prelude.lua',
    line: /^\s*if \(resetMs \+ 1\) \* m < TWO_POW_52 then/,
    op: '< -> <=',
    why: 'at (resetMs + 1) * m = 2^52 the packed reply is at most 2^52 - 1, still below the bound the client takes: it decodes the same Decision',
  },
]

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
            (e) =>
              (e.file === undefined || e.file === file) &&
              [e.op].flat().includes(op) &&
              e.line.test(line),
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
