import { describeValue, TollgateError } from '@tollgate/core'
import type { LuaScript as RedisScript } from './client.js'

/** Runs one script call: `keys` as KEYS, `args` as ARGV; resolves with the script's reply. */
export type RunScript = (
  script: RedisScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
) => Promise<unknown>

/**
 * Turns an op's part of a script's reply into its answer: `width` elements of `reply` from `at`
 * (one for every op but a compound's decision or peek, which has one per member).
 */
export type Decode<T> = (reply: readonly unknown[], at: number) => T

/** One op of a batch: its KEYS and ARGV, and what to do with its own elements of the reply. */
interface Op {
  readonly keys: readonly string[]
  readonly args: ReadonlyArray<string | number>
  readonly short: ShortForm | undefined
  readonly width: number
  settle(reply: readonly unknown[], at: number): void
  fail(error: unknown): void
}

/**
 * An op's short form (include/ops.lua): its own few arguments, sent instead of `args` when the
 * op before it in the same call has the same `shared` part (an identity: one limiter's now, n
 * and params), which the script then reuses.
 */
export interface ShortForm {
  readonly args: ReadonlyArray<string | number>
  readonly shared: object
}

interface Group {
  readonly script: RedisScript
  readonly ops: Op[]
}

/**
 * Ops of one call stay few enough that a script never holds Redis for long (a few µs each);
 * a larger turn goes as several calls.
 */
export const MAX_OPS_PER_CALL = 500

/**
 * Gathers the ops issued in one event-loop turn and sends them as one script call per script
 * and Cluster slot (packages/redis/README.md, "Batching"). The scripts loop over their ops in issue
 * order, so the answers are those of one call per op. Each turn is flushed on its own
 * (`setImmediate`, after every promise continuation of the turn has run), whatever calls are still
 * in flight: a slow batch never holds a later one. Without batching every op is sent at once.
 */
export class Batcher {
  readonly #run: RunScript
  readonly #slotOf: ((key: string) => number) | undefined
  readonly #enabled: boolean
  #groups = new Map<string, Group>()
  #scheduled = false

  /**
   * @param run sends one script call
   * @param slotOf the Cluster slot of an op's first key; undefined on a single Redis
   * @param enabled false: one call per op, sent when issued
   */
  constructor(run: RunScript, slotOf: ((key: string) => number) | undefined, enabled: boolean) {
    this.#run = run
    this.#slotOf = slotOf
    this.#enabled = enabled
  }

  /**
   * Queues (or, unbatched, sends) one op; `decode` turns its `width` elements of the reply into
   * the answer.
   */
  submit<T>(
    script: RedisScript,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
    short: ShortForm | undefined,
    decode: Decode<T>,
    width = 1,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: Op = {
        keys,
        args,
        short,
        width,
        settle(reply, at) {
          try {
            resolve(decode(reply, at))
          } catch (error) {
            reject(error)
          }
        },
        fail: reject,
      }
      if (!this.#enabled) {
        this.#send(script, [op])
        return
      }
      const id =
        this.#slotOf === undefined ? script.name : `${script.name}@${this.#slotOf(keys[0]!)}`
      const group = this.#groups.get(id)
      if (group === undefined) this.#groups.set(id, { script, ops: [op] })
      else group.ops.push(op)
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#flushTurn)
      }
    })
  }

  readonly #flushTurn = (): void => {
    this.#scheduled = false
    this.flush()
  }

  /**
   * Sends every queued op now. A command sent after this (a reset's DEL) reaches Redis after
   * them on the same connection, so issue order holds across the two paths.
   */
  flush(): void {
    if (this.#groups.size === 0) return
    const groups = this.#groups
    this.#groups = new Map()
    for (const { script, ops } of groups.values()) {
      for (let from = 0; from < ops.length; from += MAX_OPS_PER_CALL) {
        this.#send(
          script,
          ops.length <= MAX_OPS_PER_CALL ? ops : ops.slice(from, from + MAX_OPS_PER_CALL),
        )
      }
    }
  }

  #send(script: RedisScript, ops: readonly Op[]): void {
    let keys: readonly string[]
    let args: ReadonlyArray<string | number>
    let width = 0
    if (ops.length === 1) {
      keys = ops[0]!.keys
      args = ops[0]!.args
      width = ops[0]!.width
    } else {
      const k: string[] = []
      const a: Array<string | number> = []
      let shared: object | undefined
      for (const op of ops) {
        width += op.width
        for (const key of op.keys) k.push(key)
        const short = op.short
        if (short !== undefined && short.shared === shared) {
          for (const arg of short.args) a.push(arg)
        } else {
          for (const arg of op.args) a.push(arg)
          shared = short?.shared
        }
      }
      keys = k
      args = a
    }
    let reply: Promise<unknown>
    try {
      reply = this.#run(script, keys, args)
    } catch (error) {
      for (const op of ops) op.fail(error)
      return
    }
    reply.then(
      (value) => {
        if (!Array.isArray(value) || value.length !== width) {
          const error = new TollgateError(
            'ERR_TOLLGATE_STORE_REPLY',
            `tollgate: RedisStore expected ${width} replies from its script, got ${describeValue(value)}`,
          )
          for (const op of ops) op.fail(error)
          return
        }
        let at = 0
        for (const op of ops) {
          op.settle(value, at)
          at += op.width
        }
      },
      (error: unknown) => {
        // The batch failed as a whole (connection lost, timeout, script error): every caller
        // gets the error, so the limiter's fail policy answers each one.
        for (const op of ops) op.fail(error)
      },
    )
  }
}
