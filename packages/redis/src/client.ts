import { createHash } from 'node:crypto'
import { describeValue, TollgateTypeError } from '@tollgate/core'

/**
 * What tollgate needs of an ioredis `Redis` or `Cluster`: written structurally, so the package's
 * types never require ioredis to be installed (it is an optional peer, as node-redis is).
 */
export interface IoredisClient {
  /** ioredis `defineCommand`: the scripts run as namespaced commands (EVALSHA, EVAL on NOSCRIPT). */
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void
}

/** What tollgate needs of a node-redis v5 `createClient()` or `createCluster()` client. */
export interface NodeRedisClient {
  readonly isOpen: boolean
  /** node-redis `sendCommand`: the scripts run as raw EVALSHA / EVAL commands. */
  sendCommand(...args: never[]): Promise<unknown>
}

/**
 * A Redis client tollgate accepts: an ioredis `Redis` or `Cluster`, or a connected node-redis v5
 * `createClient()` or `createCluster()` client in RESP2 mode (its default).
 */
export type RedisClient = IoredisClient | NodeRedisClient

/** A Lua script with its SHA1 and the namespaced name it is defined under on an ioredis client. */
export interface LuaScript {
  /** `tollgate_<name>_<first 8 hex of the SHA1>`: namespaced, and versioned by the text. */
  readonly name: string
  readonly lua: string
  /** SHA1 of `lua`, hex: what EVALSHA sends. */
  readonly sha: string
}

/**
 * Names a script `tollgate_<name>_<sha8>`, so two tollgate versions on one client never share a
 * name for different scripts.
 */
export function luaScript(name: string, lua: string): LuaScript {
  const sha = createHash('sha1').update(lua).digest('hex')
  return Object.freeze({ name: `tollgate_${name}_${sha.slice(0, 8)}`, lua, sha })
}

/**
 * The few Redis operations a store needs, the same on every supported client: same commands on
 * the wire, same keys, same replies (integers as numbers, bulk strings as strings, arrays as
 * arrays, nil as null).
 */
export interface RedisClientAdapter {
  readonly kind: 'ioredis' | 'node-redis'
  /** True on a Redis Cluster client: every call's keys must then share one hash slot. */
  readonly cluster: boolean
  /**
   * Makes `script` runnable on this client (ioredis: `defineCommand` under its namespaced name,
   * unless a store already did). Throws a TypeError when the client already has a different
   * command of that name: a user's command is never overwritten. `runScript` prepares a script
   * it has not seen; calling this at construction reports a clash early.
   */
  prepare(script: LuaScript): void
  /**
   * One `EVALSHA` of `script` with `keys` and `args` (`EVAL` once when Redis answers NOSCRIPT).
   * On a Cluster it goes to the master of `keys[0]`'s slot.
   */
  runScript(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown>
  /** Deletes `keys` (one DEL; on a Cluster, one DEL per hash slot). Resolves to how many existed. */
  del(keys: readonly string[]): Promise<number>
  /**
   * The Cluster hash slot (0-16383) `key` is stored in, after the client's own key prefix, if
   * any: what a batch is grouped by.
   */
  slot(key: string): number
}

type Loose = Record<string, unknown>

const EXPECTED =
  'client must be an ioredis Redis or Cluster, or a connected node-redis v5 createClient() or createCluster() client'

/**
 * Detects the kind of `client` by its shape, never by `instanceof` (the app and tollgate may load
 * different copies of a library), and checks what would otherwise fail late: a node-redis client
 * that is not open, in RESP3 mode, or in legacy (callback) mode is a TypeError naming `client`.
 */
export function adaptClient(client: unknown): RedisClientAdapter {
  if (typeof client !== 'object' || client === null) {
    throw new TollgateTypeError(`${EXPECTED}, got ${describeValue(client)}`)
  }
  const c = client as Loose
  if (typeof c.defineCommand === 'function') return new IoredisAdapter(c)
  if (typeof c.sendCommand === 'function') return adaptNodeRedis(c)
  throw new TollgateTypeError(`${EXPECTED}, got ${describeObject(c)}`)
}

function describeObject(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' && name !== 'Object'
    ? `an object of class ${name}`
    : describeValue(value)
}

function adaptNodeRedis(c: Loose): RedisClientAdapter {
  // A v5 client answers `isOpen`; client.legacy() (callbacks) and a v4 client in legacyMode
  // either lack it or say so in their options.
  const options = (c.options ?? c._options) as Loose | undefined
  if (!('isOpen' in c) || options?.legacyMode === true || typeof c.v4 === 'object') {
    throw new TollgateTypeError(
      'client is a node-redis client in legacy (callback) mode; pass the promise client itself (the one createClient() returned, not client.legacy() or a legacyMode client)',
    )
  }
  if (typeof c.withTypeMapping !== 'function') {
    throw new TollgateTypeError(`${EXPECTED}, got a node-redis client older than v5`)
  }
  if (options?.RESP === 3) {
    // RESP3 changes reply types (doubles, maps, big numbers) under the scripts' integer replies.
    throw new TollgateTypeError(
      'client is a node-redis client in RESP3 mode; tollgate needs RESP2 (the default): create it without RESP: 3',
    )
  }
  // A RedisCluster knows its masters and slots; a single client has neither.
  const cluster = 'masters' in c && 'slots' in c
  if (c.isOpen !== true) {
    // Every command of a client that is not open rejects at once (ClientClosedError), so the fail
    // policy would answer every decision: say so now instead.
    throw new TollgateTypeError(
      `client is a node-redis ${cluster ? 'cluster' : 'client'} that is not open: call client.connect() before creating the store`,
    )
  }
  return cluster ? new NodeRedisClusterAdapter(c) : new NodeRedisAdapter(c)
}

type ScriptFunction = (...args: Array<string | number>) => Promise<unknown>

class IoredisAdapter implements RedisClientAdapter {
  readonly kind = 'ioredis'
  readonly cluster: boolean
  readonly #client: Loose
  readonly #keyPrefix: string
  /**
   * The scripts prepared on this client, with the key count of a definition an earlier copy of
   * tollgate made with a fixed `numberOfKeys` (called without the count), else null.
   */
  readonly #prepared = new Map<string, number | null>()

  constructor(client: Loose) {
    this.#client = client
    this.cluster = client.isCluster === true
    const keyPrefix = (client.options as Loose | undefined)?.keyPrefix
    this.#keyPrefix = typeof keyPrefix === 'string' ? keyPrefix : ''
  }

  prepare(script: LuaScript): void {
    const client = this.#client
    if (typeof client[script.name] !== 'function') {
      // No numberOfKeys: every call passes its own key count, so one definition serves a
      // decision of one key and a batch of many.
      ;(client.defineCommand as IoredisClient['defineCommand']).call(client, script.name, {
        lua: script.lua,
      })
      this.#prepared.set(script.name, null)
      return
    }
    const defined = (client.scriptsSet as Record<string, Loose | undefined> | undefined)?.[
      script.name
    ]
    if (defined?.lua !== script.lua) {
      throw new TollgateTypeError(
        `client already defines a command named ${JSON.stringify(script.name)} that is not tollgate's script`,
      )
    }
    this.#prepared.set(
      script.name,
      typeof defined.numberOfKeys === 'number' ? defined.numberOfKeys : null,
    )
  }

  runScript(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    let fixed = this.#prepared.get(script.name)
    if (fixed === undefined) {
      try {
        this.prepare(script)
      } catch (error) {
        return Promise.reject(error)
      }
      fixed = this.#prepared.get(script.name) ?? null
    }
    const run = this.#client[script.name] as ScriptFunction
    if (fixed === null) return run.call(this.#client, keys.length, ...keys, ...args)
    if (fixed !== keys.length) {
      return Promise.reject(
        new TollgateTypeError(
          `client defines ${script.name} for ${fixed} key(s); it was called with ${keys.length}`,
        ),
      )
    }
    return run.call(this.#client, ...keys, ...args)
  }

  del(keys: readonly string[]): Promise<number> {
    const del = this.#client.del as (...keys: string[]) => Promise<number>
    if (!this.cluster || keys.length < 2) return del.call(this.#client, ...keys)
    return sumPerSlot(this, keys, (group) => del.call(this.#client, ...group))
  }

  slot(key: string): number {
    return hashSlot(this.#keyPrefix === '' ? key : this.#keyPrefix + key)
  }
}

/**
 * Per call, replies in node-redis's default types whatever `typeMapping` the user's client has:
 * numbers as numbers and strings as strings, as ioredis gives them.
 */
const DEFAULT_TYPES = { typeMapping: {} }

abstract class NodeRedisBase implements RedisClientAdapter {
  readonly kind = 'node-redis'
  abstract readonly cluster: boolean

  prepare(_script: LuaScript): void {
    // Nothing to define: node-redis sends EVALSHA by hash; Redis keeps the script once EVALed.
  }

  protected abstract send(firstKey: string | undefined, args: string[]): Promise<unknown>

  async runScript(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const command = new Array<string>(3 + keys.length + args.length)
    command[0] = 'EVALSHA'
    command[1] = script.sha
    command[2] = String(keys.length)
    let i = 3
    for (const key of keys) command[i++] = key
    // node-redis writes strings and Buffers only.
    for (const arg of args) command[i++] = typeof arg === 'string' ? arg : String(arg)
    const firstKey = keys[0]
    try {
      return await this.send(firstKey, command)
    } catch (error) {
      if (!isNoScript(error)) throw error
      // The script cache of this Redis is empty (a restart, SCRIPT FLUSH, a new node): EVAL
      // once, which caches it again, as ioredis does.
      command[0] = 'EVAL'
      command[1] = script.lua
      return this.send(firstKey, command)
    }
  }

  del(keys: readonly string[]): Promise<number> {
    if (!this.cluster || keys.length < 2)
      return this.send(keys[0], ['DEL', ...keys]) as Promise<number>
    return sumPerSlot(
      this,
      keys,
      (group) => this.send(group[0], ['DEL', ...group]) as Promise<number>,
    )
  }

  slot(key: string): number {
    return hashSlot(key)
  }
}

class NodeRedisAdapter extends NodeRedisBase {
  readonly cluster = false
  readonly #client: Loose

  constructor(client: Loose) {
    super()
    this.#client = client
  }

  protected send(_firstKey: string | undefined, args: string[]): Promise<unknown> {
    return (this.#client.sendCommand as (a: string[], o: object) => Promise<unknown>).call(
      this.#client,
      args,
      DEFAULT_TYPES,
    )
  }
}

class NodeRedisClusterAdapter extends NodeRedisBase {
  readonly cluster = true
  readonly #client: Loose

  constructor(client: Loose) {
    super()
    this.#client = client
  }

  protected send(firstKey: string | undefined, args: string[]): Promise<unknown> {
    // A cluster routes by the first key, to the master of its slot (never a replica: scripts
    // write), and follows MOVED and ASK itself.
    const route =
      firstKey !== undefined && misroutedByNodeRedis(firstKey)
        ? routingKey(hashSlot(firstKey))
        : firstKey
    return (
      this.#client.sendCommand as (
        k: string | undefined,
        readonly: boolean,
        a: string[],
        o: object,
      ) => Promise<unknown>
    ).call(this.#client, route, false, args, DEFAULT_TYPES)
  }
}

/**
 * node-redis (through cluster-key-slot 1.x) hashes a key whose first `{` is followed at once by
 * `}` as the text up to the next `}`, where Redis hashes the whole key (an empty tag): it would
 * send such a key to the wrong master, and retry there until it gives up on MOVED.
 */
function misroutedByNodeRedis(key: string): boolean {
  const open = key.indexOf('{')
  return open !== -1 && key.charCodeAt(open + 1) === 0x7d && key.indexOf('}', open + 2) !== -1
}

let routingKeys: string[] | undefined

/**
 * A short key in `slot` (`{<n>}`) that every client hashes alike: node-redis only uses the key it
 * is given to pick the slot's master, so a misrouted key travels under this one instead.
 */
function routingKey(slot: number): string {
  if (routingKeys === undefined) {
    const table = new Array<string>(16_384)
    let found = 0
    for (let n = 0; found < 16_384; n++) {
      const key = `{${n}}`
      const s = hashSlot(key)
      if (table[s] === undefined) {
        table[s] = key
        found++
      }
    }
    routingKeys = table
  }
  return routingKeys[slot]!
}

/**
 * A NOSCRIPT error reply. The first word of a Redis error reply is its code, the protocol's only
 * way of telling errors apart (ioredis and node-redis test it the same way).
 */
function isNoScript(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === 'string' && message.startsWith('NOSCRIPT')
}

async function sumPerSlot(
  adapter: RedisClientAdapter,
  keys: readonly string[],
  del: (group: string[]) => Promise<number>,
): Promise<number> {
  const groups = new Map<number, string[]>()
  for (const key of keys) {
    const slot = adapter.slot(key)
    const group = groups.get(slot)
    if (group === undefined) groups.set(slot, [key])
    else group.push(key)
  }
  const counts = await Promise.all(Array.from(groups.values(), del))
  return counts.reduce((a, b) => a + b, 0)
}

/** CRC16/XMODEM (polynomial 0x1021), as the Redis Cluster specification hashes keys. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256)
  for (let i = 0; i < 256; i++) {
    let crc = i << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
    table[i] = crc & 0xffff
  }
  return table
})()

/**
 * The Cluster hash slot of `key`: CRC16 of its hash tag (the bytes between the first `{` and the
 * first `}` after it, when not empty), else of the whole key, modulo 16384.
 */
export function hashSlot(key: string): number {
  let start = 0
  let end = key.length
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) {
      start = open + 1
      end = close
    }
  }
  let crc = 0
  let ascii = true
  for (let i = start; i < end; i++) {
    const code = key.charCodeAt(i)
    if (code > 0x7f) {
      ascii = false
      break
    }
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ code) & 0xff]!
  }
  if (!ascii) {
    // UTF-8 bytes, as Redis sees them ('{' and '}' are ASCII, so the tag bounds are unchanged).
    crc = 0
    for (const byte of Buffer.from(key.slice(start, end), 'utf8')) {
      crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!
    }
  }
  return crc & 0x3fff
}
