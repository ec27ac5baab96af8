/**
 * The benchmark's own loopback redis-server (the ideas of test/support/redis-server.ts, copied
 * because the bench runs without vitest) and the INFO parsing it reports from.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface BenchRedis {
  port: number
  url: string
  version: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(false)
    }, 500)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      clearTimeout(timer)
      socket.end()
      resolve(chunk.toString().startsWith('+PONG'))
    })
    socket.on('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
  })
}

export async function startRedis(): Promise<BenchRedis> {
  let version: string
  try {
    version = /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1] ?? '?'
  } catch {
    throw new Error(
      'redis-server was not found on PATH. Install it (`sudo apt-get install -y redis-server` or ' +
        '`brew install redis`) and run the bench again.',
    )
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-redis-'))
  const child: ChildProcess = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    ],
    { stdio: 'ignore' },
  )
  // Not unref'd: stop() awaits its exit, and an unref'd child would let Node end the process
  // while that await is pending. A harness that dies anyway takes the server with it.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const deadline = Date.now() + 10_000
  while (!(await ping(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`redis-server on port ${port} did not answer PING`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    version,
    async stop() {
      process.off('exit', killOnExit)
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface CommandStat {
  calls: number
  usec: number
}

/** Parses `INFO commandstats` into { evalsha: { calls, usec }, ... } (lower-case names). */
export function parseCommandStats(info: string): Record<string, CommandStat> {
  const stats: Record<string, CommandStat> = {}
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim())
    if (match) stats[match[1]!] = { calls: Number(match[2]), usec: Number(match[3]) }
  }
  return stats
}

/** Commands the harness itself sends around a measurement; never attributed to a contender. */
export const HARNESS_COMMANDS = new Set(['info', 'config|resetstat', 'flushall', 'ping'])
