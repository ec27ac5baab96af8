/**
 * Starts real redis-server processes on loopback for tests and benchmarks. No mocks: every
 * behaviour test talks to a real Redis (CONTRIBUTING.md, how `pnpm test` starts them).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const INSTALL_HINT =
  'redis-server (>= 6.2) was not found on PATH. Install it with `sudo apt-get install -y redis-server` ' +
  '(Debian/Ubuntu) or `brew install redis` (macOS), then run the tests again.'

/** Throws a helpful error when redis-server or redis-cli is missing. */
export function assertRedisInstalled(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' })
    } catch {
      throw new Error(`${bin} is missing. ${INSTALL_HINT}`)
    }
  }
}

/** A free TCP port on 127.0.0.1 (and, when `withBus`, port + 10000 free too for cluster bus). */
export async function freePort(withBus = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = withBus ? 20000 + Math.floor(Math.random() * 25000) : await listenAndClose(0)
    if (!withBus) return port
    if ((await isFree(port)) && (await isFree(port + 10000))) return port
  }
  throw new Error('no free loopback port found')
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      const got = typeof address === 'object' && address ? address.port : port
      server.close(() => resolve(got))
    })
  })
}

async function isFree(port: number): Promise<boolean> {
  try {
    await listenAndClose(port)
    return true
  } catch {
    return false
  }
}

/** Sends one inline command over a fresh socket and returns the raw reply, or throws. */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let data = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis on ${port} did not answer ${command}`))
    }, timeoutMs)
    socket.on('connect', () => socket.write(`${command}\r\n`))
    socket.on('data', (chunk) => {
      data += chunk.toString()
      if (data.endsWith('\r\n')) {
        clearTimeout(timer)
        socket.end()
        resolve(data)
      }
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

/** Resolves once `PING` answers `PONG` (polling, never a fixed sleep). */
export async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      if ((await rawCommand(port, 'PING', 500)).startsWith('+PONG')) return
    } catch (error) {
      lastError = error
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`redis-server on port ${port} did not answer PING: ${String(lastError)}`)
}

export interface RedisServerOptions {
  port?: number
  /** Extra redis-server arguments, e.g. ['--cluster-enabled', 'yes']. */
  args?: string[]
  /** Data directory; a fresh temp dir when absent. */
  dir?: string
}

export interface RedisServer {
  port: number
  url: string
  dir: string
  readonly process: ChildProcess
  /** SIGSTOP: the server keeps its socket but answers nothing (a hung Redis). */
  freeze(): void
  /** SIGCONT after freeze(). */
  thaw(): void
  /** SIGKILL and wait for exit (a crashed Redis). */
  kill(): Promise<void>
  /** Start again on the same port and data dir after kill()/stop(). */
  restart(): Promise<void>
  /** SIGTERM (after thawing) and wait for exit; removes the temp dir when it made one. */
  stop(): Promise<void>
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertRedisInstalled()
  const port = options.port ?? (await freePort(options.args?.includes('--cluster-enabled')))
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tollgate-redis-'))
  let child = launch(port, dir, options.args ?? [])
  await waitForPing(port)

  const exited = (proc: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve()
      // The child is unref'd (see launch); while we wait for its exit it must hold the event loop
      // open, or Node may exit first and leave the rest of a teardown undone.
      proc.ref()
      proc.once('exit', () => resolve())
    })

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get process() {
      return child
    },
    freeze() {
      child.kill('SIGSTOP')
    },
    thaw() {
      child.kill('SIGCONT')
    },
    async kill() {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited(child)
    },
    async restart() {
      child = launch(port, dir, options.args ?? [])
      await waitForPing(port)
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        await exited(child)
      }
      if (ownDir) rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

function launch(port: number, dir: string, args: string[]): ChildProcess {
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
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...args,
    ],
    { stdio: 'ignore' },
  )
  // A test that forgets stop() must not leave a server behind the runner.
  child.unref()
  return child
}

export interface RedisCluster {
  ports: number[]
  nodes: RedisServer[]
  stop(): Promise<void>
}

/**
 * Three masters with `--cluster-enabled yes`, joined by `redis-cli --cluster create`, resolved
 * once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = []
  for (let i = 0; i < size; i++) {
    nodes.push(
      await startRedisServer({
        args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '5000'],
      }),
    )
  }
  const ports = nodes.map((n) => n.port)
  execFileSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { stdio: 'ignore' },
  )
  const deadline = Date.now() + 20_000
  for (const port of ports) {
    for (;;) {
      const info = await rawCommand(port, 'CLUSTER INFO').catch(() => '')
      if (info.includes('cluster_state:ok')) break
      if (Date.now() > deadline) throw new Error(`cluster node ${port} never reached state ok`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    ports,
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()))
    },
  }
}
