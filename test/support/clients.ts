/**
 * Both Redis client libraries tollgate accepts, as connected clients for tests
 * (packages/redis/README.md, "Which clients": tests run both). A suite connects the client its store uses through
 * `connectClient()` / `connectCluster()`; a `<suite>.node-redis.test.ts` beside it selects
 * node-redis with `useClientKind()` before importing the suite, so one file runs on each client.
 */
import type { RedisClient } from '@tollgate/redis'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { createClient, createCluster } from 'redis'

export type ClientKind = 'ioredis' | 'node-redis'

export const clientKinds: readonly ClientKind[] = ['ioredis', 'node-redis']

/** A connected client of either library, and how to let it go. */
export interface TestClient {
  readonly kind: ClientKind
  readonly client: RedisClient
  /** PING through this client: resolves 'PONG' once it is connected. */
  ping(): Promise<string>
  /** Any command through this client's own connection (a cluster: any node), e.g. SCRIPT FLUSH. */
  command(args: readonly string[]): Promise<unknown>
  /** Quits gracefully (waits for replies in flight). */
  quit(): Promise<void>
  /** Drops the connection at once. */
  disconnect(): void
}

let selected: ClientKind = 'ioredis'

/** Chooses the library the suites imported after this call connect with. */
export function useClientKind(kind: ClientKind): void {
  selected = kind
}

/** The library this file's suites use (ioredis unless a wrapper chose otherwise). */
export function clientKind(): ClientKind {
  return selected
}

export interface ConnectOptions {
  /** Called with every connection error (a client without an error listener would crash). */
  readonly onError?: (error: unknown) => void
}

/** A connected standalone client of `kind` (default: the selected one) on `url`. */
export async function connectClient(
  url: string,
  kind: ClientKind = selected,
  options: ConnectOptions = {},
): Promise<TestClient> {
  const onError = options.onError ?? (() => {})
  if (kind === 'ioredis') {
    const ioredisOptions: RedisOptions = { lazyConnect: true }
    const client = new Redis(url, ioredisOptions)
    client.on('error', onError)
    await client.connect()
    return {
      kind,
      client,
      ping: () => client.ping(),
      command: ([name, ...rest]) => client.call(name!, ...rest),
      async quit() {
        await client.quit()
      },
      disconnect() {
        client.disconnect()
      },
    }
  }
  const client = createClient({ url })
  client.on('error', onError)
  await client.connect()
  return {
    kind,
    client,
    ping: () => client.ping(),
    command: (args) => client.sendCommand([...args]),
    async quit() {
      if (client.isOpen) await client.close()
    },
    disconnect() {
      if (client.isOpen) client.destroy()
    },
  }
}

/** A connected Cluster client of `kind` (default: the selected one) on loopback `ports`. */
export async function connectCluster(
  ports: readonly number[],
  kind: ClientKind = selected,
): Promise<TestClient> {
  if (kind === 'ioredis') {
    const client = new Cluster(
      ports.map((port) => ({ host: '127.0.0.1', port })),
      {
        scaleReads: 'master',
        lazyConnect: true,
        redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 5000 },
      },
    )
    client.on('error', () => {})
    await client.connect()
    return {
      kind,
      client,
      ping: () => client.ping(),
      command: ([name, ...rest]) => client.call(name!, ...rest),
      async quit() {
        await client.quit()
      },
      disconnect() {
        client.disconnect()
      },
    }
  }
  const client = createCluster({
    rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
    defaults: { socket: { connectTimeout: 5000 } },
  })
  client.on('error', () => {})
  await client.connect()
  return {
    kind,
    client,
    // A cluster sends a keyless command to any node.
    ping: () => client.sendCommand(undefined, true, ['PING']) as Promise<string>,
    command: (args) => client.sendCommand(undefined, false, [...args]),
    async quit() {
      if (client.isOpen) await client.close()
    },
    disconnect() {
      if (client.isOpen) client.destroy()
    },
  }
}

/** A MONITOR connection: every command the server runs, as its arguments and its source. */
export interface Monitor {
  stop(): Promise<void>
}

/**
 * MONITORs the Redis at `url` through node-redis, which switches its parser to monitor mode
 * before it reads the next reply. ioredis's `monitor()` switches a tick later, so a busy server
 * (other test files share the test cluster) can send a monitored line first and ioredis throws
 * "Command queue state error" out of its socket handler.
 */
export async function monitor(
  url: string,
  onCommand: (args: string[], source: string) => void,
): Promise<Monitor> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  await client.monitor((line: string) => {
    // `<unix time> [<db> <source>] "arg" "arg" …`, each argument quoted with C-style escapes.
    const head = /^\S+ \[\d+ (\S+)\] /.exec(line)
    if (!head) return
    const args = [...line.slice(head[0].length).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) =>
      m[1]!.replace(/\\x([0-9a-f]{2})|\\(.)/gi, (_, hex: string | undefined, c: string) =>
        hex
          ? String.fromCharCode(Number.parseInt(hex, 16))
          : ({ n: '\n', r: '\r', t: '\t' }[c] ?? c),
      ),
    )
    onCommand(args, head[1]!)
  })
  return {
    async stop() {
      client.destroy()
    },
  }
}
