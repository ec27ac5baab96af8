/**
 * No adapter test depends on the wall clock (issue 15): the adapter test files are run again with
 * every test starting 2, 8 and 15 ms before a minute boundary (vitest.boundary.config.ts). Before
 * they froze their clocks, 10 of their tests failed at 8 ms (a 60 s or 1 s window rolled over
 * between two requests of one test).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const FILES = ['packages/express/test/rate-limit.test.ts', 'packages/fastify/test/plugin.test.ts']

function runNearBoundary(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--config', 'vitest.boundary.config.ts', ...FILES],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
    )
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
    })
    child.stderr.on('data', (chunk) => {
      output += chunk
    })
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('adapter tests and the wall clock', () => {
  it('pass with every test starting 2, 8 or 15 ms before a minute boundary', {
    timeout: 240_000,
  }, async () => {
    const { code, output } = await runNearBoundary()
    const failures = output.split('\n').filter((line) => /FAIL|×/.test(line))
    expect(failures).toEqual([])
    expect(output).toMatch(/Test Files\s+\d+ passed/)
    expect(code).toBe(0)
  })
})
