/**
 * The request pipeline of packages/core/src/http/pipeline.ts where the StrykerJS run of issue 15
 * item 4 (session 6) found it unchecked by core's own tests (the adapters' tests reach most of it,
 * outside core's `testFiles`): per-request limits and the header policy of the limit that applied
 * (built once per distinct limit, at most 64 per limiter), shadow mode, an async `message`,
 * `onDenied`, `requestWasSuccessful` answering in each way, the warnings of settle(), a `skip`
 * answering something other than a boolean, the once-per-limiter trust-proxy check and asError.
 */
import {
  concurrency,
  type Decision,
  fixedWindow,
  MemoryStore,
  setWarningHandler,
  type WarningHandler,
} from '@tollgate/core'
import {
  asError,
  type HeaderEntry,
  handleRequest,
  type Outcome,
  type PassOutcome,
  parseHttpOptions,
  partitionKey,
  type RequestFacts,
  resetWarnings,
  settle,
  TEXT_CONTENT_TYPE,
  type Ticket,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
  WARN_ON_DENIED_THREW,
  WARN_SETTLE_FAILED,
  WARN_SUCCESS_CHECK_THREW,
} from '@tollgate/core/http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

interface Req {
  id?: string
}

const facts: RequestFacts = {
  ip: '203.0.113.9',
  accept: undefined,
  forwardedFor: false,
  trustProxy: false,
}
const clock = () => 1_000_000
const hundred = () => fixedWindow({ limit: 100, windowMs: 60_000 })
const parse = (options: Parameters<typeof parseHttpOptions<Req, () => void>>[0]) =>
  parseHttpOptions<Req, () => void>(options, 'test()')

/** The value of a header in a flat `[name, value, ...]` list. */
function header(headers: readonly string[], name: string): string | undefined {
  const at = headers.indexOf(name)
  return at === -1 ? undefined : headers[at + 1]
}

function sync(outcome: Outcome | Promise<Outcome>): Outcome {
  if (outcome instanceof Promise) throw new Error('expected a synchronous outcome')
  return outcome
}

function passed(outcome: Outcome | Promise<Outcome>): PassOutcome {
  const o = sync(outcome)
  if (o.kind !== 'pass') throw new Error(`expected a pass, got ${o.kind}`)
  return o
}

/** Lets promise callbacks (a refund, an async judge) run: no time passes. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

let warnings: [string, string][] = []
let previous: WarningHandler | null
beforeEach(() => {
  warnings = []
  resetWarnings()
  previous = setWarningHandler((code, message) => warnings.push([code, message]))
})
afterEach(() => {
  setWarningHandler(previous)
  resetWarnings()
})

describe('a per-request limit', () => {
  it('shows the limit a function answered synchronously in q and the default name', () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      limit: () => 500,
    })
    const outcome = handleRequest(config, {}, facts, undefined)
    const { headers, decision } = passed(outcome)
    expect(decision).toMatchObject({ limit: 500, remaining: 499 })
    expect(headers).toEqual([
      'RateLimit-Policy',
      `"500-in-60s"; q=500; w=60; pk=:${partitionKey('203.0.113.9')}:`,
      'RateLimit',
      '"500-in-60s"; r=499; t=20',
    ])
  })

  it('waits for a limit function that answers with a promise', async () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      limit: async () => 250,
      headers: { standard: 'draft-11' },
    })
    const outcome = handleRequest(config, {}, facts, undefined)
    expect(outcome).toBeInstanceOf(Promise)
    const { headers } = passed(await outcome)
    expect(headers).toEqual([
      'RateLimit-Policy',
      '"250-in-60s";q=250;w=60',
      'RateLimit',
      '"250-in-60s";r=249;t=20',
    ])
  })

  it('shows a fixed limit option in q', () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      limit: 7,
      headers: { standard: 'draft-7' },
    })
    expect(passed(handleRequest(config, {}, facts, undefined)).headers).toEqual([
      'RateLimit-Policy',
      '7;w=60',
      'RateLimit',
      'limit=7, remaining=6, reset=20',
    ])
  })

  it('keeps the limiter name and the headers option in the policy of the limit that applied', () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      name: 'api',
      limit: () => 500,
      headers: { standard: 'draft-11' },
    })
    expect(passed(handleRequest(config, {}, facts, undefined)).headers).toEqual([
      'RateLimit-Policy',
      '"api";q=500;w=60',
      'RateLimit',
      '"api";r=499;t=20',
    ])
  })

  it('builds the header policy of a limit once and reuses it for later requests', () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      limit: () => 500,
    })
    const a = passed(handleRequest(config, {}, facts, undefined))
    const b = passed(handleRequest(config, {}, facts, undefined))
    expect(a.entries[0]!.policy.limit).toBe(500)
    expect(b.entries[0]!.policy).toBe(a.entries[0]!.policy)
  })

  it('keeps at most 64 policies per limiter: the 65th distinct limit starts a new table', () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      key: (req) => req.id!,
      limit: (req) => Number(req.id),
    })
    const policyOf = (limit: number) =>
      passed(handleRequest(config, { id: String(limit) }, facts, undefined)).entries[0]!.policy
    const first = policyOf(1000)
    for (let limit = 1001; limit < 1064; limit++) policyOf(limit)
    expect(policyOf(1000)).toBe(first) // 64 limits held
    policyOf(1064) // the 65th: the table is cleared first
    const again = policyOf(1000)
    expect(again).not.toBe(first)
    expect(again).toEqual(first)
  })
})

describe('shadow mode', () => {
  it('passes a would-be denial and writes no header of its own', () => {
    const config = parse({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      mode: 'shadow',
    })
    passed(handleRequest(config, {}, facts, undefined))
    const second = passed(handleRequest(config, {}, facts, undefined))
    expect(second.decision.allowed).toBe(false)
    expect(second.headers).toEqual([])
    expect(second.entries).toHaveLength(1)
  })

  it('after an enforcing limiter, leaves that limiter headers as they were, without a Retry-After of its own', () => {
    const store = new MemoryStore({ clock })
    const enforce = parse({
      algorithm: hundred(),
      store,
      name: 'a',
      headers: { standard: 'draft-11' },
    })
    const shadow = parse({
      algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
      store,
      name: 'b',
      mode: 'shadow',
    })
    passed(handleRequest(shadow, {}, facts, undefined)) // uses the shadow limit up
    const first = passed(handleRequest(enforce, {}, facts, undefined))
    const second = passed(handleRequest(shadow, {}, facts, first.entries))
    expect(second.decision.allowed).toBe(false)
    expect(second.entries).toHaveLength(2)
    expect(second.headers).toEqual([
      'RateLimit-Policy',
      '"a";q=100;w=60',
      'RateLimit',
      '"a";r=99;t=20',
    ])
  })
})

describe('a denial', () => {
  const one = () => fixedWindow({ limit: 1, windowMs: 60_000 })

  it('waits for a message function that answers with a promise', async () => {
    const config = parse({
      algorithm: one(),
      store: new MemoryStore({ clock }),
      message: async () => 'slow down',
    })
    handleRequest(config, {}, facts, undefined)
    const outcome = handleRequest(config, {}, { ...facts, accept: 'text/plain' }, undefined)
    expect(outcome).toBeInstanceOf(Promise)
    const denied = await outcome
    expect(denied).toMatchObject({
      kind: 'deny',
      status: 429,
      response: { status: 429, contentType: TEXT_CONTENT_TYPE, body: 'slow down' },
    })
    if (denied.kind !== 'deny') throw new Error('unreachable')
    expect(header(denied.headers, 'Retry-After')).toBe('20')
    expect(denied.entries).toHaveLength(1)
  })

  it('calls onDenied once with the request and the decision', () => {
    const seen: [Req, Decision][] = []
    const config = parse({
      algorithm: one(),
      store: new MemoryStore({ clock }),
      onDenied: (req, d) => seen.push([req, d]),
    })
    handleRequest(config, { id: 'a' }, facts, undefined)
    expect(seen).toEqual([])
    const req = { id: 'b' }
    const outcome = sync(handleRequest(config, req, facts, undefined))
    expect(outcome.kind).toBe('deny')
    expect(seen).toHaveLength(1)
    expect(seen[0]![0]).toBe(req)
    expect(seen[0]![1]).toMatchObject({ allowed: false, limit: 1, remaining: 0 })
  })

  it('still denies when onDenied throws, and reports the throw as a warning', () => {
    const config = parse({
      algorithm: one(),
      store: new MemoryStore({ clock }),
      onDenied: () => {
        throw new Error('boom')
      },
    })
    handleRequest(config, {}, facts, undefined)
    expect(sync(handleRequest(config, {}, facts, undefined))).toMatchObject({
      kind: 'deny',
      status: 429,
    })
    sync(handleRequest(config, {}, facts, undefined))
    expect(warnings).toEqual([
      [WARN_ON_DENIED_THREW, 'onDenied threw (the request was still denied): boom'],
      [WARN_ON_DENIED_THREW, 'onDenied threw (the request was still denied): boom'],
    ])
  })

  it('reports a thrown non-Error from onDenied as its text', () => {
    const config = parse({
      algorithm: one(),
      store: new MemoryStore({ clock }),
      onDenied: () => {
        throw 'nope'
      },
    })
    handleRequest(config, {}, facts, undefined)
    handleRequest(config, {}, facts, undefined)
    expect(warnings).toEqual([
      [WARN_ON_DENIED_THREW, 'onDenied threw (the request was still denied): nope'],
    ])
  })
})

describe('settle with requestWasSuccessful', () => {
  type Judge = () => boolean | Promise<boolean>

  /**
   * Admits one request on a limit of 2 and settles it: what a peek then leaves (the peek counts
   * the next request): 1 when the first was refunded, 0 when it still counts.
   */
  async function remainingAfter(judge: Judge, refundOn: 'failed' | 'successful'): Promise<number> {
    const config = parse({
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
      store: new MemoryStore({ clock }),
      key: () => 'k',
      ...(refundOn === 'failed' ? { skipFailedRequests: true } : { skipSuccessfulRequests: true }),
      requestWasSuccessful: judge,
    })
    const outcome = passed(handleRequest(config, {}, facts, undefined))
    expect(outcome.ticket).toBeDefined()
    settle(config, outcome.ticket!, {}, {}, 200, true)
    await flush()
    return (await config.limiter.peek('k')).remaining
  }

  it.each<[string, Judge, number]>([
    ['true', () => true, 0],
    ['false', () => false, 1],
    ['a promise of true', async () => true, 0],
    ['a promise of false', async () => false, 1],
    ['a non-boolean', () => 'yes' as never, 1],
    ['a promise of a non-boolean', async () => 1 as never, 1],
  ])(
    'refunds a failed request (skipFailedRequests) when the judge answers %s',
    async (_name, judge, remaining) => {
      expect(await remainingAfter(judge, 'failed')).toBe(remaining)
      expect(warnings).toEqual([])
    },
  )

  it.each<[string, Judge, number]>([
    ['true', () => true, 1],
    ['false', () => false, 0],
    ['a promise of true', async () => true, 1],
    ['a promise of false', async () => false, 0],
  ])(
    'refunds a successful request (skipSuccessfulRequests) when the judge answers %s',
    async (_name, judge, remaining) => {
      expect(await remainingAfter(judge, 'successful')).toBe(remaining)
    },
  )

  it('counts the request as failed when the judge throws, with a warning', async () => {
    const judge = () => {
      throw new Error('boom')
    }
    expect(await remainingAfter(judge, 'failed')).toBe(1)
    expect(await remainingAfter(judge, 'successful')).toBe(0)
    expect(warnings).toEqual([
      [
        WARN_SUCCESS_CHECK_THREW,
        'requestWasSuccessful threw; the request counts as failed: Error: boom',
      ],
      [
        WARN_SUCCESS_CHECK_THREW,
        'requestWasSuccessful threw; the request counts as failed: Error: boom',
      ],
    ])
  })

  it('counts the request as failed when the judge rejects, with a warning', async () => {
    const judge = () => Promise.reject(new Error('later'))
    expect(await remainingAfter(judge, 'failed')).toBe(1)
    expect(await remainingAfter(judge, 'successful')).toBe(0)
    expect(warnings).toEqual([
      [
        WARN_SUCCESS_CHECK_THREW,
        'requestWasSuccessful rejected; the request counts as failed: Error: later',
      ],
      [
        WARN_SUCCESS_CHECK_THREW,
        'requestWasSuccessful rejected; the request counts as failed: Error: later',
      ],
    ])
  })
})

describe('settle never throws', () => {
  it('turns a refund that rejects into a warning', async () => {
    const config = parse({
      algorithm: hundred(),
      store: new MemoryStore({ clock }),
      skipSuccessfulRequests: true,
    })
    const ticket: Ticket = { key: 'k', cost: 0, lease: undefined, done: false }
    expect(() => settle(config, ticket, {}, {}, 200, true)).not.toThrow()
    await flush()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]![0]).toBe(WARN_SETTLE_FAILED)
    expect(warnings[0]![1]).toMatch(/^a refund or release failed after the response: \S.*cost/)
  })

  it('turns a release that throws synchronously into a warning', () => {
    // A limiter of another make (an adapter author's): its release() throws instead of rejecting.
    const made = parseHttpOptions({ algorithm: concurrency({ limit: 1 }) }, 'test()').limiter
    const limiter = {
      algorithm: made.algorithm,
      failure: made.failure,
      name: undefined,
      limit: made.limit.bind(made),
      release: () => {
        throw new Error('not now')
      },
    }
    const config = parse({ limiter: limiter as never })
    const ticket: Ticket = { key: 'k', cost: 1, lease: 'L1', done: false }
    expect(() => settle(config, ticket, {}, {}, 200, true)).not.toThrow()
    expect(warnings).toEqual([
      [WARN_SETTLE_FAILED, 'a refund or release failed after the response: Error: not now'],
    ])
  })
})

describe('skip', () => {
  it('counts the request when an async skip answers false', async () => {
    const store = new MemoryStore({ clock })
    const config = parse({ algorithm: hundred(), store, skip: async () => false })
    const outcome = await handleRequest(config, {}, facts, undefined)
    expect(outcome).toMatchObject({ kind: 'pass', decision: { remaining: 99 } })
    expect(store.size).toBe(1)
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['0', 0],
    ['an object without then', {}],
  ])(
    'counts the request when skip answers %s (only true skips, only a thenable is awaited)',
    (_name, answer) => {
      const config = parse({
        algorithm: hundred(),
        store: new MemoryStore({ clock }),
        skip: () => answer as never,
      })
      expect(passed(handleRequest(config, {}, facts, undefined)).decision.remaining).toBe(99)
    },
  )
})

describe('the trust-proxy check', () => {
  it('runs once per limiter: after resetWarnings the same limiter stays silent, a new one warns', () => {
    const forwarded = { ...facts, forwardedFor: true }
    const store = new MemoryStore({ clock })
    const config = parse({ algorithm: hundred(), store })
    handleRequest(config, {}, forwarded, undefined)
    expect(warnings.map(([code]) => code)).toEqual([WARN_FORWARDED_WITHOUT_TRUST_PROXY])
    resetWarnings()
    handleRequest(config, {}, forwarded, undefined)
    expect(warnings).toHaveLength(1)
    handleRequest(parse({ algorithm: hundred(), store }), {}, forwarded, undefined)
    expect(warnings).toHaveLength(2)
  })
})

describe('asError', () => {
  it('names the thrown value in its message', () => {
    expect(asError('route').message).toBe(
      'tollgate: a rate-limit option function threw a non-Error value: route',
    )
  })
})

// Entries are kept on the request between limiters: the type is part of the contract used above.
export type { HeaderEntry }
