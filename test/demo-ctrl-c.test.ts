/**
 * The root README's first command ends in `pnpm start` (and `pnpm start:fastify`): a user stops the
 * demo with Ctrl-C, which the terminal sends as SIGINT to the whole foreground process group
 * (pnpm, its script shells and node alike). The demo must close and pnpm exit 0 without printing a
 * lifecycle error (issue 12, item 1).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

interface Stopped {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/** Runs `pnpm <script>` in its own process group and sends SIGINT to the group once it listens. */
function runThenCtrlC(script: string): Promise<Stopped> {
  const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, ...env } = process.env
  const child = spawn('pnpm', [script], {
    cwd: root,
    detached: true,
    env: { ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let sent = false
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    if (!sent && /listening on http:/.test(output)) {
      sent = true
      process.kill(-child.pid!, 'SIGINT')
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, output }))
  })
}

describe('Ctrl-C on a demo', () => {
  // One pnpm between the terminal and node. With a nested `pnpm --filter … start`, the outer pnpm's
  // forwarded SIGINT could reach the inner one after node had exited and the inner pnpm had dropped
  // its handlers: the inner died of SIGINT, the outer re-raised it, and Ctrl-C looked like a crash.
  it.each([
    ['start', 'express-app'],
    ['start:fastify', 'fastify-app'],
  ])("pnpm %s runs the example's own start command under a single pnpm", (script, example) => {
    const scripts = (path: string) =>
      (JSON.parse(readFileSync(join(root, path), 'utf8')) as { scripts: Record<string, string> })
        .scripts
    expect(scripts('package.json')[script]).toBe(
      `cd examples/${example} && ${scripts(`examples/${example}/package.json`).start}`,
    )
  })

  it.each(['start', 'start:fastify'])(
    'pnpm %s closes the server and exits 0',
    async (script) => {
      const { code, signal, output } = await runThenCtrlC(script)
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      // The whole group gets SIGINT; pnpm also forwards a signal to its child, and on a loaded
      // machine the forwarded SIGTERM can reach node first. Either way the demo closes cleanly.
      expect(output).toMatch(/(SIGINT|SIGTERM): closing the server\nclosed\n/)
      expect(output).not.toMatch(/ERR_PNPM|ELIFECYCLE|Command failed/)
    },
    60_000,
  )
})
