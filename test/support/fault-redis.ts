/**
 * The set-up the fault tests share (test/fail-policy-redis.test.ts, test/http-fail-policy.test.ts):
 * a redis-server of the file's own, which they freeze, kill and restart; the process's unhandled
 * rejections collected for the whole file; before each test an empty server and a fresh ioredis
 * client with a user's defaults; and a store whose late rejections are counted.
 */
import type { Store } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { type RedisServer, startRedisServer } from './redis-server.js'

export interface FaultRedis {
  /** The file's own redis-server (set in beforeAll). */
  readonly server: RedisServer
  /** A fresh client for the current test (set in beforeEach, disconnected in afterEach). */
  readonly client: Redis
  /** Every unhandled rejection of the process while the file runs. */
  readonly unhandled: unknown[]
}

/** Registers the hooks (call it at the top level of a test file) and returns what they set up. */
export function useFaultRedis(): FaultRedis {
  let server: RedisServer | undefined
  let client: Redis | undefined
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)

  beforeAll(async () => {
    server = await startRedisServer()
    process.on('unhandledRejection', onUnhandled)
  })

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    await server?.stop()
  })

  beforeEach(async () => {
    // What a user has by default: offline queue on, reconnecting forever.
    client = new Redis(server!.port, '127.0.0.1', { lazyConnect: true })
    // Connection errors while the server is away are expected; the limiter reports them.
    client.on('error', () => {})
    await client.connect()
    await client.flushall() // the file's own server
  })

  afterEach(() => {
    client?.disconnect()
  })

  return {
    get server() {
      return server!
    },
    get client() {
      return client!
    },
    unhandled,
  }
}

/** A RedisStore on a client of its own, and the count of its decide replies that rejected. */
export interface LateRejectingStore {
  readonly store: Store
  /** How many decide replies rejected so far, including those no one waited for any more. */
  lateRejections(): number
  disconnect(): void
}

/**
 * A RedisStore whose client times out its commands after `commandTimeoutMs` (ioredis's own timer):
 * while Redis is frozen, a limiter with a shorter `timeoutMs` answers first and the command rejects
 * afterwards. Every decide reply that rejects is counted, so a test can wait for the late
 * rejections and then check that none was left unhandled.
 */
export function lateRejectingStore(
  port: number,
  prefix: string,
  commandTimeoutMs: number,
): LateRejectingStore {
  const own = new Redis(port, '127.0.0.1', { commandTimeout: commandTimeoutMs })
  own.on('error', () => {})
  const redisStore = new RedisStore({ client: own, prefix })
  let lateRejections = 0
  const store: Store = {
    decide(key, algorithm, cost) {
      const reply = redisStore.decide(key, algorithm, cost)
      reply.catch(() => lateRejections++)
      return reply
    },
    peek: (key, algorithm, cost) => redisStore.peek(key, algorithm, cost),
    refund: (key, algorithm, cost) => redisStore.refund(key, algorithm, cost),
    block: (key, algorithm, ms) => redisStore.block(key, algorithm, ms),
    release: (key, algorithm, lease) => redisStore.release(key, algorithm, lease),
    reset: (key, algorithm) => redisStore.reset(key, algorithm),
  }
  return { store, lateRejections: () => lateRejections, disconnect: () => own.disconnect() }
}
