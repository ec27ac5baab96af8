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

/**
 * Ports of {@link startRedisReplicaCluster}: 8000-9899, bus 18000-19899. Outside the range
 * {@link freePort} gives the other clusters (20000-45000, bus 30000-55000) and outside Linux's
 * ephemeral range (32768-60999, where port-0 servers and client sockets land), so a replica
 * cluster never takes a port another test's server is about to bind.
 */
const REPLICA_CLUSTER_PORTS = { from: 8000, to: 9900 } as const

async function freeReplicaClusterPort(taken: ReadonlySet<number>): Promise<number> {
  const { from, to } = REPLICA_CLUSTER_PORTS
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from))
    if (taken.has(port)) continue
    if ((await isFree(port)) && (await isFree(port + 10000))) return port
  }
  throw new Error('no free loopback port found for the replica cluster')
}

export interface RedisReplicaCluster extends RedisCluster {
  /** The three masters (each serves a third of the slots). */
  masters: RedisServer[]
  /** The three replicas, one per master, each in sync with it. */
  replicas: RedisServer[]
}

/**
 * Three masters and three replicas (`redis-cli --cluster create ... --cluster-replicas 1`), on
 * loopback, resolved once every node reports `cluster_state:ok`, every replica's link to its
 * master is up and every node lists all three replicas (so a client discovering the slots from any
 * node sees them). Six processes: started only by the test files that need replicas (node-redis
 * `useReplicas`), which must call `stop()`.
 */
export async function startRedisReplicaCluster(): Promise<RedisReplicaCluster> {
  const nodes: RedisServer[] = []
  const taken = new Set<number>()
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freeReplicaClusterPort(taken)
      taken.add(port)
      nodes.push(
        await startRedisServer({
          port,
          // No 5 s wait before a replica's first (diskless) sync, and a master's PING every
          // second (not 10): a replica's offset stays 0 until its master sends something, and
          // CLUSTER SLOTS leaves out a replica at offset 0.
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-node-timeout',
            '5000',
            '--repl-diskless-sync-delay',
            '0',
            '--repl-ping-replica-period',
            '1',
          ],
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
        '1',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    )
    const roles = await Promise.all(nodes.map((n) => rawCommand(n.port, 'INFO replication')))
    const masters = nodes.filter((_, i) => roles[i]!.includes('role:master'))
    const replicas = nodes.filter((_, i) => roles[i]!.includes('role:slave'))
    if (masters.length !== 3 || replicas.length !== 3) {
      throw new Error(`replica cluster: ${masters.length} masters, ${replicas.length} replicas`)
    }
    // CLUSTER SLOTS lists a replica only once it has synced with its master and the other nodes
    // heard of its (non-zero) replication offset: only then does a client that discovers the
    // slots see it.
    // (The ports, 8000-9899, cannot be mistaken for a slot number in the reply: those are the
    // range bounds 0, 5460, 5461, 10922, 10923 and 16383.)
    const ready = async (node: RedisServer): Promise<boolean> => {
      const [info, slots] = await Promise.all([
        rawCommand(node.port, 'CLUSTER INFO'),
        rawCommand(node.port, 'CLUSTER SLOTS'),
      ])
      return (
        info.includes('cluster_state:ok') &&
        replicas.every((replica) => slots.includes(`:${replica.port}\r\n`))
      )
    }
    const deadline = Date.now() + 30_000
    for (const node of nodes) {
      while (!(await ready(node).catch(() => false))) {
        if (Date.now() > deadline) {
          throw new Error(`replica cluster node ${node.port} never listed the three replicas`)
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    return {
      ports,
      nodes,
      masters,
      replicas,
      async stop() {
        await Promise.all(nodes.map((n) => n.stop()))
      },
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw error
  }
}
