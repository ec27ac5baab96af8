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
 * (one for every op but a compound's decision or peek, which has one per member). `context` is
 * what the op was submitted with (a limit, a compound's members), so no closure is made per op.
 */
export type Decode<T, C> = (reply: readonly unknown[], at: number, context: C) => T

/**
 * The two forms of an op's ARGV (include/ops.lua), built once per limiter, op code and block
 * duration, so the op itself only carries its cost:
 * - long: `longCode`, cost, then `shared` (now, n and the params);
 * - short: `code`, cost, sent instead when the op before it in the same call has the same
 *   `shared` (the same array: one limiter's), which the script then reuses.
 */
export interface OpForm {
  readonly code: string
  readonly longCode: string
  readonly shared: readonly string[]
}

/** One op of a batch: its KEYS, its ARGV (or form and cost), and how to settle its caller. */
class Op<T, C> {
  resolve!: (value: T) => void
  reject!: (error: unknown) => void

  constructor(
    readonly keys: readonly string[],
    /** The whole ARGV of an op that has no form (an injected clock's now, a lease); else undefined. */
    readonly args: ReadonlyArray<string | number> | undefined,
    readonly form: OpForm | undefined,
    readonly cost: string,
    readonly width: number,
    readonly decode: Decode<T, C>,
    readonly context: C,
  ) {}

  settle(reply: readonly unknown[], at: number): void {
    try {
      this.resolve(this.decode(reply, at, this.context))
    } catch (error) {
      this.reject(error)
    }
  }

  /**
   * Appends its ARGV to a call's: the short form when the op before it in the call had the same
   * `shared` (`previous`), else the long form or its whole ARGV. Returns what the next op compares
   * with.
   */
  writeArgs(
    into: Array<string | number>,
    previous: readonly string[] | undefined,
  ): readonly string[] | undefined {
    if (this.args !== undefined) {
      for (const arg of this.args) into.push(arg)
      return undefined
    }
    const form = this.form!
    if (form.shared === previous) {
      into.push(form.code, this.cost)
    } else {
      into.push(form.longCode, this.cost)
      for (const arg of form.shared) into.push(arg)
    }
    return form.shared
  }

  /** Its ARGV in the long form, for an op sent alone. */
  longArgs(): Array<string | number> {
    const args: Array<string | number> = []
    this.writeArgs(args, undefined)
    return args
  }
}

/** `run` short-form decides of cost 1: one such op as itself, more as `x`, count. */
function pushRun(into: Array<string | number>, run: number): void {
  if (run === 1) into.push('d', '1')
  else into.push('x', String(run))
}

interface Group {
  readonly script: RedisScript
  // biome-ignore lint/suspicious/noExplicitAny: ops of one group settle different answer types
  readonly ops: Op<any, any>[]
}

/**
 * Ops of one call stay few enough that a script never holds Redis for long (a few µs each);
 * a larger turn goes as several calls.
 */
export const MAX_OPS_PER_CALL = 500

/** The most ops of one reply settled in one go (see Batcher's #settleFrom). */
export const SETTLE_SLICE = 32

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
   * Queues (or, unbatched, sends) one op: its ARGV is `args`, or, when `args` is undefined,
   * `form` with `cost`; `decode` turns its `width` elements of the reply into the answer.
   */
  submit<T, C>(
    script: RedisScript,
    keys: readonly string[],
    args: ReadonlyArray<string | number> | undefined,
    form: OpForm | undefined,
    cost: string,
    decode: Decode<T, C>,
    context: C,
    width = 1,
  ): Promise<T> {
    const op = new Op<T, C>(keys, args, form, cost, width, decode, context)
    const promise = new Promise<T>((resolve, reject) => {
      op.resolve = resolve
      op.reject = reject
    })
    if (!this.#enabled) {
      this.#send(script, [op])
      return promise
    }
    const id = this.#slotOf === undefined ? script.name : `${script.name}@${this.#slotOf(keys[0]!)}`
    const group = this.#groups.get(id)
    if (group === undefined) this.#groups.set(id, { script, ops: [op] })
    else group.ops.push(op)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#flushTurn)
    }
    return promise
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

  /**
   * Settles `ops` from index `from` (their replies from `at`), at most SETTLE_SLICE of them now.
   * The rest wait for a later check phase, and before they settle, what the callers settled so
   * far have issued meanwhile is sent. Why: Redis sits idle from the moment it sends a reply
   * until the client's next call arrives, and the client cannot send while it settles. Settled
   * all at once, a reply of 100 ops makes the two take turns (`bench:micro`, 100 in flight:
   * Node idle 65% of the time); in slices, Redis runs the first slice's next call while the
   * client settles the second. The ops issued in one turn still go in one call; a caller of a
   * later slice waits about as long as it would have for its place in the microtask queue.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see Group
  #settleFrom(ops: readonly Op<any, any>[], reply: readonly unknown[], from: number, at: number) {
    const end = Math.min(ops.length, from + SETTLE_SLICE)
    for (let i = from; i < end; i++) {
      const op = ops[i]!
      op.settle(reply, at)
      at += op.width
    }
    if (end === ops.length) return
    setImmediate(() => {
      this.flush()
      this.#settleFrom(ops, reply, end, at)
    })
  }

  // biome-ignore lint/suspicious/noExplicitAny: see Group
  #send(script: RedisScript, ops: readonly Op<any, any>[]): void {
    let keys: readonly string[]
    let args: ReadonlyArray<string | number>
    let width = 0
    if (ops.length === 1) {
      const op = ops[0]!
      keys = op.keys
      args = op.args ?? op.longArgs()
      width = op.width
    } else {
      const k: string[] = []
      const a: Array<string | number> = []
      let shared: readonly string[] | undefined
      // Decides of cost 1 in the short form, right after one another: sent as one run
      // (`x`, count: include/ops.lua), two arguments for all of them.
      let run = 0
      for (const op of ops) {
        width += op.width
        for (const key of op.keys) k.push(key)
        const form = op.form
        if (form !== undefined && form.shared === shared && form.code === 'd' && op.cost === '1') {
          run++
          continue
        }
        if (run > 0) pushRun(a, run)
        run = 0
        shared = op.writeArgs(a, shared)
      }
      if (run > 0) pushRun(a, run)
      keys = k
      args = a
    }
    let reply: Promise<unknown>
    try {
      reply = this.#run(script, keys, args)
    } catch (error) {
      for (const op of ops) op.reject(error)
      return
    }
    reply.then(
      (value) => {
        if (!Array.isArray(value) || value.length !== width) {
          const error = new TollgateError(
            'ERR_TOLLGATE_STORE_REPLY',
            `tollgate: RedisStore expected ${width} replies from its script, got ${describeValue(value)}`,
          )
          for (const op of ops) op.reject(error)
          return
        }
        this.#settleFrom(ops, value, 0, 0)
      },
      (error: unknown) => {
        // The batch failed as a whole (connection lost, timeout, script error): every caller
        // gets the error, so the limiter's fail policy answers each one.
        for (const op of ops) op.reject(error)
      },
    )
  }
}
