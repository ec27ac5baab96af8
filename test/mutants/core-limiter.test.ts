/**
 * The limiter (packages/core/src/limiter.ts) where the StrykerJS run of issue 15 item 4 (session 5)
 * found it unchecked: the exact messages of its argument errors, the MemoryStore path (no timer,
 * a failing clock goes to the fail policy), the in-flight list (a late answer counts once, an
 * answered younger call leaves the older one's timeout intact), what a store may return instead of
 * a promise or a Decision, the per-request-limit cache, and peek's own path (deny cache, breaker,
 * mode 'local' consumes nothing). No Redis: a store here stands for any store that misbehaves.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  type Algorithm,
  channels,
  compound,
  concurrency,
  createLimiter,
  type Decision,
  type DecisionEvent,
  fixedWindow,
  type Limiter,
  MemoryStore,
  type Store,
  slidingLog,
  tokenBucket,
} from '@tollgate/core'
import { afterEach, describe, expect, it, vi } from 'vitest'

const fw = fixedWindow({ limit: 10, windowMs: 60_000 })

/** A remote-like store (not a MemoryStore: deny cache on) over a MemoryStore; counts calls. */
function remote(overrides: Partial<Record<keyof Store, unknown>> = {}, clock?: () => number) {
  const inner = new MemoryStore(clock === undefined ? {} : { clock })
  const calls = { decide: 0, peek: 0, refund: 0, block: 0, release: 0 }
  const seen: Algorithm[] = []
  const store = {
    ...(clock === undefined ? {} : { clock }),
    decide: (k: string, a: Algorithm, c: number, o?: object) => {
      calls.decide++
      seen.push(a)
      return inner.decide(k, a, c, o)
    },
    peek: (k: string, a: Algorithm, c: number) => {
      calls.peek++
      return inner.peek(k, a, c)
    },
    refund: (k: string, a: Algorithm, c: number) => {
      calls.refund++
      return inner.refund(k, a, c)
    },
    block: (k: string, a: Algorithm, d: number) => {
      calls.block++
      return inner.block(k, a, d)
    },
    release: (k: string, a: Algorithm, l: string) => {
      calls.release++
      return inner.release(k, a, l)
    },
    reset: (k: string, a: Algorithm) => inner.reset(k, a),
    ...overrides,
  } as Store
  return { store, calls, seen, inner }
}

function thrown(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('did not throw')
}

async function rejected(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('did not reject')
}

/** Whether a promise settles within a turn of the event loop (no timers involved). */
function settlesNow(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ])
}

function listenDecisions() {
  const events: DecisionEvent[] = []
  const onMessage = (m: unknown) => events.push(m as DecisionEvent)
  subscribe(channels.decision, onMessage)
  return { events, stop: () => unsubscribe(channels.decision, onMessage) }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('createLimiter messages', () => {
  const make = (o: object) => () => createLimiter({ algorithm: fw, ...o } as never)

  it('a store that is not an object names the Store interface and the value', () => {
    const want = (got: string) =>
      `tollgate: store must implement decide, peek, refund, block, release, reset (the Store interface), got ${got}`
    expect(thrown(make({ store: 5 }))).toBe(want('5'))
    expect(thrown(make({ store: null }))).toBe(want('null'))
    expect(thrown(make({ store: {} }))).toBe(want('an object without decide()'))
    const { store } = remote()
    expect(thrown(make({ store: { ...store, release: undefined } }))).toBe(
      want('an object without release()'),
    )
  })

  it('name must be a non-empty string, prefix a string, denyCache a boolean', () => {
    expect(thrown(make({ name: '' }))).toBe('tollgate: name must be a non-empty string, got ""')
    expect(thrown(make({ name: 5 }))).toBe('tollgate: name must be a non-empty string, got 5')
    expect(thrown(make({ prefix: 5 }))).toBe('tollgate: prefix must be a string, got 5')
    expect(thrown(make({ denyCache: 'yes' }))).toBe(
      'tollgate: denyCache must be a boolean, got "yes"',
    )
    expect(createLimiter({ algorithm: fw, name: 'a' }).name).toBe('a')
  })
})

describe('limiter call messages', () => {
  const limiter = createLimiter({ algorithm: fw })

  it('reject an empty key in peek, block, release and reset', async () => {
    const empty = 'tollgate: key must be a non-empty string, got ""'
    expect(await rejected(limiter.peek(''))).toBe(empty)
    expect(await rejected(limiter.block('', 1000))).toBe(empty)
    expect(await rejected(limiter.release('', 'lease'))).toBe(empty)
    expect(await rejected(limiter.reset(''))).toBe(empty)
    expect(await rejected(limiter.reset(5 as never))).toBe(
      'tollgate: key must be a non-empty string, got 5',
    )
  })

  it('name the argument in refund, block, release and limit errors', async () => {
    const conc = createLimiter({ algorithm: concurrency({ limit: 2 }) })
    expect(await rejected(conc.refund('k'))).toBe(
      'tollgate: refund() is not for a concurrency limiter: release(key, lease) frees its slot',
    )
    expect(await rejected(limiter.refund('k', { cost: 0 }))).toMatch(/^tollgate: cost .*got 0$/)
    expect(await rejected(limiter.block('k', 0))).toBe(
      'tollgate: durationMs must be a positive integer no larger than 31622400000, got 0',
    )
    expect(await rejected(limiter.release('k', 'x'))).toBe(
      'tollgate: release() is only for a concurrency limiter, this one is fixedWindow',
    )
    expect(await rejected(conc.release('k', ''))).toBe(
      'tollgate: lease must be a non-empty string, got ""',
    )
    expect(await rejected(limiter.limit('k', 5 as never))).toBe(
      'tollgate: options must be an object, got 5',
    )
    expect(await rejected(limiter.limit('k', { mode: 'loud' as never }))).toBe(
      "tollgate: mode must be 'enforce' or 'shadow', got \"loud\"",
    )
    const both = createLimiter({
      algorithm: [fw, slidingLog({ limit: 5, windowMs: 1000 })],
    })
    expect(await rejected(both.limit('k', { limit: 3 }))).toBe(
      'tollgate: limit cannot be set per request on a compound limiter (each member has its own limit)',
    )
  })

  it("accept mode 'enforce' and 'shadow' and report it on the decision channel", async () => {
    const listen = listenDecisions()
    try {
      const own = createLimiter({ algorithm: fw, name: 'modes' })
      await own.limit('k', { mode: 'enforce' })
      await own.limit('k', { mode: 'shadow' })
      expect(listen.events.filter((e) => e.name === 'modes').map((e) => e.mode)).toEqual([
        'enforce',
        'shadow',
      ])
    } finally {
      listen.stop()
    }
  })

  it("peek reads only cost and limit: limit()'s blockDurationMs and mode are not checked", async () => {
    const d = await limiter.peek('peek-only', { mode: 'loud', blockDurationMs: -1 } as never)
    expect(d).toMatchObject({ allowed: true, limit: 10, remaining: 9, retryAfterMs: 0 })
  })
})

describe('on the limiter own MemoryStore', () => {
  it('peek, refund, block and release arm no timer (no promise round trip to the store)', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const limiter = createLimiter({ algorithm: fw })
    const conc = createLimiter({ algorithm: concurrency({ limit: 1 }) })
    await limiter.limit('k')
    const d = await conc.limit('k')
    // Each MemoryStore's sweep interval, armed with its first key, is there before the calls.
    const before = vi.getTimerCount()
    await limiter.peek('k')
    await limiter.refund('k')
    await limiter.block('k', 1000)
    await conc.release('k', d.lease!)
    expect(vi.getTimerCount()).toBe(before)
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfterMs: 1000 })
  })

  it('a clock that fails goes to the fail policy in limit, peek and the side calls, at once', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    let now: unknown = 1_000_000
    const store = new MemoryStore({ clock: () => now as number })
    const errors: unknown[] = []
    const limiter = createLimiter({ algorithm: fw, store, onStoreError: (e) => errors.push(e) })
    now = Number.NaN
    const timers = vi.getTimerCount()
    const degraded = { allowed: true, limit: 10, remaining: 10, degraded: true }
    expect(await limiter.limit('k')).toMatchObject(degraded)
    expect(await limiter.peek('k')).toMatchObject(degraded)
    await limiter.refund('k')
    await limiter.block('k', 1000)
    expect(errors).toHaveLength(4)
    for (const e of errors) expect(e).toBeInstanceOf(TypeError)
    // Answered from the MemoryStore path: no store call in flight, so no timeout timer.
    expect(vi.getTimerCount()).toBe(timers)
  })
})

describe('peek on a remote store', () => {
  it('answers a cached denial without calling the store', async () => {
    const { store, calls } = remote({}, () => 5_000_000)
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store })
    await limiter.limit('k')
    const denied = await limiter.limit('k')
    expect(denied.allowed).toBe(false)
    expect(await limiter.peek('k')).toMatchObject({ allowed: false, remaining: 0 })
    expect(calls.peek).toBe(0)
  })

  it('answers degraded without calling the store while the breaker is open', async () => {
    const { store, calls } = remote({ decide: () => Promise.reject(new Error('down')) })
    const limiter = createLimiter({
      algorithm: fw,
      store,
      failure: { breaker: { failures: 1, cooldownMs: 60_000 } },
    })
    expect(await limiter.limit('k')).toMatchObject({ degraded: true })
    expect(await limiter.peek('k')).toEqual({
      allowed: true,
      limit: 10,
      remaining: 10,
      resetMs: 0,
      retryAfterMs: 0,
      degraded: true,
    })
    expect(calls.peek).toBe(0)
  })

  it("mode 'local' peeks consume nothing in the local store", async () => {
    const fail = () => Promise.reject(new Error('down'))
    const { store } = remote({ decide: fail, peek: fail })
    const limiter = createLimiter({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store,
      failure: { mode: 'local', breaker: false },
    })
    await limiter.peek('k')
    await limiter.peek('k')
    expect(await limiter.limit('k')).toMatchObject({ allowed: true, degraded: true })
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, degraded: true })
  })
})

describe('what a store returns', () => {
  function failing(overrides: Partial<Record<keyof Store, unknown>>, o: object = {}) {
    const errors: unknown[] = []
    const { store } = remote(overrides)
    const limiter = createLimiter({
      algorithm: fw,
      store,
      onStoreError: (e) => errors.push(e),
      ...o,
    })
    return { limiter, errors }
  }

  it('a synchronous throw is reported as that error', async () => {
    const boom = new Error('sync boom')
    const throwing = () => {
      throw boom
    }
    const { limiter, errors } = failing({ decide: throwing, refund: throwing })
    expect(await limiter.limit('k')).toMatchObject({ degraded: true })
    await limiter.refund('k')
    expect(errors).toEqual([boom, boom])
  })

  it('a value that is not a promise is ERR_TOLLGATE_STORE_REPLY naming the method and value', async () => {
    const listen = listenDecisions()
    try {
      const { limiter, errors } = failing(
        { decide: () => 5, peek: () => 6, refund: () => undefined },
        { name: 'np' },
      )
      await limiter.limit('k')
      expect(listen.events.filter((e) => e.name === 'np')).toHaveLength(1)
      await limiter.peek('k')
      await limiter.refund('k')
      expect(errors).toMatchObject([
        {
          code: 'ERR_TOLLGATE_STORE_REPLY',
          message: "tollgate: the store's decide() returned 5, not a promise",
        },
        { message: "tollgate: the store's peek() returned 6, not a promise" },
        { message: "tollgate: the store's refund() returned undefined, not a promise" },
      ])
      // One decision event: the limit() call's, none for the peek.
      expect(listen.events.filter((e) => e.name === 'np')).toHaveLength(1)
    } finally {
      listen.stop()
    }
  })

  it('a reply that is not a Decision names the method and the field', async () => {
    const decision = { allowed: true, limit: 10, remaining: 9, resetMs: 1, retryAfterMs: 0 }
    const cases: Array<[object, string]> = [
      [{ ...decision, allowed: 'yes' }, 'allowed "yes"'],
      [{ ...decision, limit: 0 }, 'limit 0'],
      [{ ...decision, remaining: -1 }, 'remaining -1'],
      [{ ...decision, resetMs: 1.5 }, 'resetMs 1.5'],
      [{ ...decision, retryAfterMs: null }, 'retryAfterMs null'],
    ]
    for (const [reply, problem] of cases) {
      const { limiter, errors } = failing({
        decide: () => Promise.resolve(reply),
        peek: () => Promise.resolve(reply),
      })
      await limiter.limit('k')
      await limiter.peek('k')
      expect((errors as Error[]).map((e) => e.message)).toEqual([
        `tollgate: the store's decide() answered ${problem}, not a Decision`,
        `tollgate: the store's peek() answered ${problem}, not a Decision`,
      ])
    }
  })

  it('a compound reply needs one valid part per member', async () => {
    const part = { allowed: true, limit: 10, remaining: 9, resetMs: 1, retryAfterMs: 0 }
    const algorithm = compound([fw, fixedWindow({ limit: 5, windowMs: 1000 })])
    const run = async (reply: object) => {
      const errors: Error[] = []
      const { store } = remote({ decide: () => Promise.resolve(reply) })
      const limiter = createLimiter({
        algorithm,
        store,
        onStoreError: (e) => errors.push(e as Error),
      })
      const d = await limiter.limit('k')
      return { d, messages: errors.map((e) => e.message) }
    }
    expect((await run({ ...part })).messages).toEqual([
      "tollgate: the store's decide() answered parts undefined for 2 members, not a Decision",
    ])
    expect((await run({ ...part, parts: [part, { ...part, limit: 0 }] })).messages).toEqual([
      "tollgate: the store's decide() answered parts[1] limit 0, not a Decision",
    ])
    const good = await run({ ...part, parts: [part, { ...part, limit: 5 }] })
    expect(good.messages).toEqual([])
    expect(good.d.degraded).toBeUndefined()
  })

  it('a concurrency admission needs a lease, a denial does not', async () => {
    const algorithm = concurrency({ limit: 1 })
    const denial = { allowed: false, limit: 1, remaining: 0, resetMs: 100, retryAfterMs: 100 }
    const errors: Error[] = []
    let reply: object = denial
    const { store } = remote({ decide: () => Promise.resolve(reply) })
    const limiter = createLimiter({
      algorithm,
      store,
      onStoreError: (e) => errors.push(e as Error),
    })
    expect(await limiter.limit('k')).toEqual(denial)
    reply = { ...denial, allowed: true, remaining: 0, retryAfterMs: 0 }
    expect(await limiter.limit('k')).toMatchObject({ degraded: true })
    expect(errors.map((e) => e.message)).toEqual([
      "tollgate: the store's decide() answered an admission with lease undefined, not a Decision",
    ])
  })

  it('a thenable function counts as a promise, and a then() that throws as a rejection', async () => {
    const decision = { allowed: true, limit: 10, remaining: 7, resetMs: 5, retryAfterMs: 0 }
    const thenableFn = Object.assign(() => {}, {
      // biome-ignore lint/suspicious/noThenProperty: a thenable function is what this test sends
      then: (ok: (d: Decision) => void) => ok(decision),
    })
    const boom = new Error('then boom')
    const { limiter, errors } = failing({
      decide: () => thenableFn,
      peek: () => ({
        // biome-ignore lint/suspicious/noThenProperty: a thenable whose then() throws
        then: () => {
          throw boom
        },
      }),
    })
    expect(await limiter.limit('k')).toEqual(decision)
    expect(await limiter.peek('k')).toMatchObject({ degraded: true })
    expect(errors).toEqual([boom])
  })

  it('a successful refund is no store error and does not count toward the breaker', async () => {
    const { limiter, errors } = failing({}, { failure: { breaker: { failures: 1 } } })
    await limiter.limit('k')
    await limiter.refund('k')
    expect(errors).toEqual([])
    expect((await limiter.limit('k')).degraded).toBeUndefined()
  })

  it('a failed block resolves at once and reports the error once', async () => {
    const down = new Error('down')
    const { limiter, errors } = failing({ block: () => Promise.reject(down) })
    expect(await settlesNow(limiter.block('k', 60_000))).toBe(true)
    expect(errors).toEqual([down])
  })

  it('a failed peek publishes no decision event, a failed limit() one', async () => {
    const listen = listenDecisions()
    try {
      const down = () => Promise.reject(new Error('down'))
      const { limiter, errors } = failing({ decide: down, peek: down }, { name: 'failed-peek' })
      await limiter.peek('k')
      expect(listen.events.filter((e) => e.name === 'failed-peek')).toHaveLength(0)
      await limiter.limit('k')
      expect(listen.events.filter((e) => e.name === 'failed-peek')).toHaveLength(1)
      expect(errors).toHaveLength(2)
    } finally {
      listen.stop()
    }
  })
})

describe('calls in flight', () => {
  /** A store whose decide() answers only when told. */
  function manual() {
    const pending: Array<{ ok: (d: Decision) => void; fail: (e: unknown) => void }> = []
    const { store } = remote({
      decide: () => new Promise((ok, fail) => pending.push({ ok, fail })),
    })
    return { store, pending }
  }
  const real = { allowed: true, limit: 10, remaining: 9, resetMs: 60_000, retryAfterMs: 0 }

  it('a late answer or failure after the timeout counts once', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const { store, pending } = manual()
    const errors: unknown[] = []
    const listen = listenDecisions()
    try {
      const limiter = createLimiter({
        algorithm: fw,
        name: 'late',
        store,
        failure: { timeoutMs: 100 },
        onStoreError: (e) => errors.push(e),
      })
      const a = limiter.limit('a')
      const b = limiter.limit('b')
      await vi.advanceTimersByTimeAsync(100)
      expect(await a).toMatchObject({ degraded: true })
      expect(await b).toMatchObject({ degraded: true })
      pending[0]!.ok(real)
      pending[1]!.fail(new Error('late failure'))
      await vi.advanceTimersByTimeAsync(0)
      expect(errors).toHaveLength(2)
      expect(listen.events.filter((e) => e.name === 'late')).toHaveLength(2)
    } finally {
      listen.stop()
    }
  })

  it('a younger call answered first leaves the older call to time out', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const { store, pending } = manual()
    const limiter: Limiter = createLimiter({ algorithm: fw, store, failure: { timeoutMs: 100 } })
    const older = limiter.limit('a')
    await vi.advanceTimersByTimeAsync(10)
    const middle = limiter.limit('b')
    const younger = limiter.limit('c')
    pending[1]!.ok(real)
    expect(await middle).toEqual(real)
    await vi.advanceTimersByTimeAsync(90)
    expect(await older).toMatchObject({ degraded: true })
    // The youngest call's deadline (sent at +10 ms) has not passed: its answer still counts.
    pending[2]!.ok(real)
    expect(await younger).toEqual(real)
  })
})

describe('the per-request limit', () => {
  it('one algorithm value per limit, kept for at most 256 limits', async () => {
    const { store, seen } = remote()
    const limiter = createLimiter({ algorithm: fw, store })
    await limiter.limit('k', { limit: 5 })
    await limiter.limit('k', { limit: 5 })
    expect(seen[1]).toBe(seen[0])
    for (let limit = 6; limit <= 261; limit++) await limiter.limit(`k${limit}`, { limit })
    // 5..260 fill the 256 places; 261 finds it full and clears it, so limit 5 is built anew.
    await limiter.limit('k', { limit: 5 })
    const last = seen[seen.length - 1]!
    expect(last).toEqual(seen[0])
    expect(last).not.toBe(seen[0])
  })

  it("a token bucket's own capacity passed per request keeps the deny cache on", async () => {
    const bucket = tokenBucket({ capacity: 1, refillRate: 1, refillIntervalMs: 60_000 })
    const { store, calls } = remote({}, () => 7_000_000)
    const limiter = createLimiter({ algorithm: bucket, store })
    await limiter.limit('k', { limit: 1 })
    expect((await limiter.limit('k', { limit: 1 })).allowed).toBe(false)
    expect((await limiter.limit('k', { limit: 1 })).allowed).toBe(false)
    expect(calls.decide).toBe(2)
  })
})

describe('the deny cache', () => {
  it('a store clock that steps back before a cached denial asks the store', async () => {
    let now = 9_000_000
    const { store, calls } = remote({}, () => now)
    const limiter = createLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store })
    await limiter.limit('k')
    await limiter.limit('k')
    expect(calls.decide).toBe(2)
    await limiter.limit('k')
    expect(calls.decide).toBe(2)
    now -= 1000
    await limiter.limit('k')
    expect(calls.decide).toBe(3)
  })
})
