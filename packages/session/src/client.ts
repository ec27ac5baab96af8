import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import {
  describeValue,
  SessionOptionRangeError as RangeErr,
  SessionStoreError,
  SessionOptionTypeError as TypeErr,
} from './errors.js'

/** A node-redis v5 `createClient()` client, as far as the store relies on it. */
export interface NodeRedisClient {
  readonly isOpen: boolean
  /** Sends one raw command. */
  sendCommand(args: readonly string[]): Promise<unknown>
}

/** A node-redis v5 `createCluster()` client, as far as the store relies on it. */
export interface NodeRedisCluster {
  readonly isOpen: boolean
  readonly masters: readonly unknown[]
  /** The client of one master, for SCAN over every master. */
  nodeClient(node: never): unknown
  /** Sends one raw command to the slot of `firstKey`. */
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>
}

/** Every client the store accepts: ioredis `Redis`/`Cluster`, node-redis v5 client/cluster. */
export type SessionRedisClient = Redis | Cluster | NodeRedisClient | NodeRedisCluster

/** A Lua script with its SHA1, sent as EVALSHA (EVAL when the server does not know it yet). */
export interface Script {
  readonly name: string
  readonly lua: string
  readonly sha: string
}

export function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/** Sends one command to one node (a master, for SCAN). */
export type NodeCall = (command: string, ...args: string[]) => Promise<unknown>

/**
 * What the store needs from a client, the same for both libraries: replies are RESP2 values
 * (strings, integers, arrays, null), so every caller sees identical keys, values and answers.
 */
export interface Connection {
  readonly library: 'ioredis' | 'node-redis'
  readonly isCluster: boolean
  /** One command; on a Cluster it goes to the node owning `key`. */
  call(key: string, command: string, ...args: string[]): Promise<unknown>
  /** One script call: EVALSHA, falling back to EVAL on NOSCRIPT. Keys must share a slot. */
  run(script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown>
  /** One caller per master (the server itself for a single Redis), to SCAN every node. */
  masters(): Promise<NodeCall[]>
}

const EXPECTED =
  'an ioredis Redis or Cluster, or a node-redis v5 client (createClient() or createCluster())'

/**
 * Recognises the client by what it can do, never by `instanceof`: two copies of ioredis or
 * node-redis in one app (a monorepo, a bundled dependency) must both work.
 */
export function connection(value: unknown, scripts: readonly Script[]): Connection {
  if (typeof value !== 'object' || value === null) {
    throw new TypeErr(`client must be ${EXPECTED}, got ${describeValue(value)}`)
  }
  const client = value as Record<string, unknown>
  if (typeof client.defineCommand === 'function' && typeof client.isCluster === 'boolean') {
    return ioredisConnection(value as Redis | Cluster, scripts)
  }
  if (typeof client.sendCommand === 'function') {
    const options = (client.options ?? client._options) as
      | { RESP?: unknown; legacyMode?: unknown }
      | undefined
    if (options?.legacyMode === true || typeof client.isOpen !== 'boolean') {
      // v4's legacyMode and v5's client.legacy() answer through callbacks, not promises.
      throw new TypeErr(
        'client is a node-redis legacy-mode client (legacyMode or client.legacy()), whose commands take callbacks; pass the client from createClient() itself',
      )
    }
    if (options?.RESP === 3) {
      // RESP3 replies (maps, sets, doubles) differ from the RESP2 values the store reads.
      throw new RangeErr(
        'client uses RESP3 (RESP: 3); create it with the default RESP 2, which this store reads',
      )
    }
    if (Array.isArray(client.masters) && typeof client.nodeClient === 'function') {
      return nodeRedisClusterConnection(value as NodeRedisCluster)
    }
    return nodeRedisConnection(value as NodeRedisClient)
  }
  if (typeof client.mGet === 'function' || typeof client.scanIterator === 'function') {
    throw new TypeErr(
      `client must be ${EXPECTED}, got an object that looks like a node-redis client but has no sendCommand (node-redis older than v4?)`,
    )
  }
  throw new TypeErr(`client must be ${EXPECTED}, got ${describeValue(value)}`)
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>

function ioredisConnection(client: Redis | Cluster, scripts: readonly Script[]): Connection {
  const options = (client as { options?: unknown }).options as
    | { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } }
    | undefined
  const keyPrefix = options?.keyPrefix ?? options?.redisOptions?.keyPrefix
  if (typeof keyPrefix === 'string' && keyPrefix.length > 0) {
    // SCAN patterns and the keys it returns ignore ioredis keyPrefix, so all/ids/clear would
    // see doubled or missing prefixes; the store's own `prefix` does the same job correctly.
    throw new RangeErr(
      `client has keyPrefix ${describeValue(keyPrefix)}; use the store's prefix option instead (prefix: ${describeValue(`${keyPrefix}sess:`)})`,
    )
  }
  const target = client as unknown as Record<string, ScriptCall | undefined>
  const defined = new Map<Script, string>()
  /**
   * Defines a script once per client under a namespaced name and never replaces a command the
   * user (or another store) defined under that name. ioredis sends EVALSHA and falls back to
   * EVAL on NOSCRIPT by itself.
   */
  for (const s of scripts) {
    const name = `tollgate_session_${s.name}_${s.sha.slice(0, 8)}`
    if (typeof target[name] !== 'function') client.defineCommand(name, { lua: s.lua })
    defined.set(s, name)
  }
  return {
    library: 'ioredis',
    isCluster: client.isCluster,
    call: (_key, command, ...args) => client.call(command, ...args),
    run: (s, keys, args) =>
      (target[defined.get(s) as string] as ScriptCall).call(client, keys.length, ...keys, ...args),
    async masters() {
      let nodes: Redis[]
      if (client.isCluster) {
        const cluster = client as Cluster
        // Until the slot map is loaded, nodes() is empty and a scan would report no sessions.
        if (cluster.status !== 'ready') await cluster.ping()
        nodes = cluster.nodes('master')
      } else {
        nodes = [client as Redis]
      }
      return nodes.map(
        (node) =>
          (command: string, ...args: string[]) =>
            node.call(command, ...args),
      )
    },
  }
}

function notConnected(): SessionStoreError {
  return new SessionStoreError(
    'ERR_TOLLGATE_SESSION_CLIENT',
    'the node-redis client is not connected: call `await client.connect()` before using the store',
  )
}

/** EVALSHA, and EVAL once when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH). */
async function evalsha(
  send: (args: string[]) => Promise<unknown>,
  s: Script,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args]
  try {
    return await send(['EVALSHA', s.sha, ...tail])
  } catch (error) {
    // A Redis error reply starts with its code; NOSCRIPT is the only one retried.
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
    return send(['EVAL', s.lua, ...tail])
  }
}

function nodeRedisConnection(client: NodeRedisClient): Connection {
  const send = (args: string[]) =>
    client.isOpen ? client.sendCommand(args) : Promise.reject(notConnected())
  return {
    library: 'node-redis',
    isCluster: false,
    call: (_key, command, ...args) => send([command, ...args]),
    run: (s, keys, args) => evalsha(send, s, keys, args),
    async masters() {
      return [(command: string, ...args: string[]) => send([command, ...args])]
    },
  }
}

function nodeRedisClusterConnection(cluster: NodeRedisCluster): Connection {
  const send = (key: string, args: string[]) =>
    cluster.isOpen ? cluster.sendCommand(key, false, args) : Promise.reject(notConnected())
  return {
    library: 'node-redis',
    isCluster: true,
    call: (key, command, ...args) => send(key, [command, ...args]),
    run: (s, keys, args) => evalsha((a) => send(keys[0] ?? '', a), s, keys, args),
    async masters() {
      if (!cluster.isOpen) throw notConnected()
      const clients = await Promise.all(
        cluster.masters.map(
          (node) => cluster.nodeClient(node as never) as Promise<NodeRedisClient>,
        ),
      )
      return clients.map(
        (node) =>
          (command: string, ...args: string[]) =>
            node.sendCommand([command, ...args]),
      )
    },
  }
}
