#!/usr/bin/env node
/**
 * Applies hand-written mutations to the source one at a time, runs the tests that claim to pin
 * the mutated behaviour, and fails if any mutant survives (the tests still pass) or no longer
 * applies (its pattern matches nothing: the code moved, update the list).
 *
 *   node test/mutants/run-mutants.mjs issue15     the X1-X11 mutants of issue 15
 *   node test/mutants/run-mutants.mjs lua         generated Lua mutants (see lua-mutants.mjs)
 *   ... [--only <id substring>] [--list]
 *
 * Every mutation is a regex over the file's text, so a list survives rewrites that keep the code
 * it targets. The original file is restored after each mutant, on Ctrl-C and on a crash.
 * One redis-server is started for the whole run (TOLLGATE_TEST_REDIS_PORT), so each mutant costs
 * only its test files. Not part of `pnpm test` (minutes, not seconds).
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { issue15Mutants } from './issue15-mutants.mjs'
import { luaMutants } from './lua-mutants.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const args = process.argv.slice(2)
const suite = args[0]
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const listOnly = args.includes('--list')

/**
 * @typedef {{ id: string, file: string, tests: string[], why?: string,
 *   find?: RegExp, replace?: string, apply?: (text: string) => string }} Mutant
 * A mutant is `find`/`replace` (String.prototype.replace) or `apply` (text -> mutated text).
 */

/** @type {Mutant[]} */
let mutants
if (suite === 'issue15') mutants = issue15Mutants.map((m) => ({ ...m, find: new RegExp(m.find) }))
else if (suite === 'lua') mutants = luaMutants(root)
else {
  console.error('usage: run-mutants.mjs issue15|lua [--only <id>] [--list]')
  process.exit(2)
}
if (only !== undefined) mutants = mutants.filter((m) => m.id.includes(only))

if (listOnly) {
  for (const m of mutants) console.log(`${m.id}\t${m.file}\t${m.tests.join(' ')}`)
  process.exit(0)
}

/** Original text of the file currently mutated, restored on any exit. */
let restore
const restoreNow = () => {
  if (restore !== undefined) {
    writeFileSync(restore.path, restore.text)
    restore = undefined
  }
}
/** The run's redis-server, stopped on exit too (a signal would otherwise leave it running). */
let redisChild
process.on('exit', () => {
  restoreNow()
  redisChild?.kill('SIGTERM')
})
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    restoreNow()
    process.exit(130)
  })
}

const redis = await startRedis()
const results = []
const started = Date.now()
try {
  for (const [n, m] of mutants.entries()) {
    const path = join(root, m.file)
    const text = readFileSync(path, 'utf8')
    const mutated = m.apply ? m.apply(text) : text.replace(m.find, m.replace)
    if (mutated === text) {
      results.push({ m, outcome: 'STALE' })
      console.log(`[${n + 1}/${mutants.length}] ${m.id}: STALE (pattern matches nothing)`)
      continue
    }
    restore = { path, text }
    writeFileSync(path, mutated)
    const t0 = Date.now()
    const run = await runTests(
      'pnpm',
      ['exec', 'vitest', 'run', '--config', 'vitest.mutation.config.ts', '--bail', '1', ...m.tests],
      {
        cwd: root,
        env: {
          ...process.env,
          TOLLGATE_TEST_REDIS_PORT: String(redis.port),
          NO_COLOR: '1',
          FORCE_COLOR: '0',
        },
      },
    )
    restoreNow()
    const killed = run.status !== 0
    const outcome = killed ? 'killed' : 'SURVIVED'
    const failed = killed ? firstFailure(run.stdout + run.stderr) : ''
    results.push({ m, outcome, failed })
    console.log(
      `[${n + 1}/${mutants.length}] ${m.id}: ${outcome} in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed ? ` by ${failed}` : ''}`,
    )
  }
} finally {
  restoreNow()
  await redis.stop()
}

const bad = results.filter((r) => r.outcome !== 'killed')
console.log(
  `\n${results.length - bad.length}/${results.length} mutants killed in ${Math.round((Date.now() - started) / 1000)} s`,
)
for (const { m, outcome } of bad)
  console.log(`  ${outcome}: ${m.id} (${m.file})${m.why ? ` ${m.why}` : ''}`)
process.exit(bad.length === 0 ? 0 : 1)

/** Runs a test command asynchronously (so Ctrl-C reaches the restore handler), 5 min at most. */
function runTests(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, options)
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stdout += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr: '' })
    })
  })
}

/** The name of the first failing test in vitest's output, for the report. */
function firstFailure(output) {
  const match = output.match(/(?:FAIL|×)\s+(.+?)(?:\n|$)/)
  return match ? match[1].trim().slice(0, 160) : 'a failing run'
}

async function startRedis() {
  const port = await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-mutants-'))
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  )
  redisChild = child
  for (let i = 0; i < 200; i++) {
    try {
      if (
        execFileSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).includes(
          'PONG',
        )
      )
        break
    } catch {}
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    port,
    async stop() {
      child.kill('SIGTERM')
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
