/**
 * The small files of packages/core/src (errors.ts, events.ts, traits.ts, warnings.ts) where the
 * StrykerJS run of issue 15 item 4 (session 6) found behaviour no test pinned: how a value is
 * shown in a message, the error classes' names and codes, the channel names, each kind's traits
 * (factory, code, policy name, window seconds, signature) and where warnings go.
 */
import {
  ALGORITHM_TRAITS,
  channels,
  compound,
  concurrency,
  fixedWindow,
  setWarningHandler,
  slidingLog,
  slidingWindow,
  TollgateError,
  TollgateRangeError,
  TollgateTypeError,
  tokenBucket,
  traitsOf,
  type WarningHandler,
} from '@tollgate/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { describeValue } from '../../packages/core/src/errors.js'
import {
  breakerChannel,
  decisionChannel,
  storeErrorChannel,
} from '../../packages/core/src/events.js'
import { ALGORITHM_KINDS, factoryList } from '../../packages/core/src/traits.js'
import {
  checkTrustProxy,
  resetWarnings,
  WARN_FORWARDED_WITHOUT_TRUST_PROXY,
  WARN_PERMISSIVE_TRUST_PROXY,
  warn,
  warnOnce,
} from '../../packages/core/src/warnings.js'

describe('describeValue', () => {
  it.each([
    ['a"b', '"a\\"b"'],
    ['', '""'],
    [5, '5'],
    [-0.5, '-0.5'],
    [Number.NaN, 'NaN'],
    [true, 'true'],
    [false, 'false'],
    [12n, '12'],
    [null, 'null'],
    [undefined, 'undefined'],
    [() => 1, 'a function'],
    [[1, 2], 'an array'],
    [{ a: 1 }, 'an object'],
    [new Map(), 'an object'],
    [Symbol('s'), 'an object'],
  ])('shows %s as %s', (value, shown) => {
    expect(describeValue(value)).toBe(shown)
  })
})

describe('error classes', () => {
  it('TollgateError carries its code, its name and a cause', () => {
    const cause = new Error('below')
    const error = new TollgateError('ERR_TOLLGATE_STORE_REPLY', 'bad reply', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('TollgateError')
    expect(error.code).toBe('ERR_TOLLGATE_STORE_REPLY')
    expect(error.message).toBe('bad reply')
    expect(error.cause).toBe(cause)
    expect(String(error)).toBe('TollgateError: bad reply')
  })

  it('TollgateTypeError is a TypeError prefixed "tollgate: ", coded invalid option unless told', () => {
    const error = new TollgateTypeError('x must be y')
    expect(error).toBeInstanceOf(TypeError)
    expect(error.name).toBe('TypeError')
    expect(error.message).toBe('tollgate: x must be y')
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
    expect(String(error)).toBe('TypeError: tollgate: x must be y')
    expect(new TollgateTypeError('z', 'ERR_TOLLGATE_UNKNOWN_OPTION').code).toBe(
      'ERR_TOLLGATE_UNKNOWN_OPTION',
    )
  })

  it('TollgateRangeError is a RangeError prefixed "tollgate: ", coded invalid option', () => {
    const error = new TollgateRangeError('x out of range')
    expect(error).toBeInstanceOf(RangeError)
    expect(error.name).toBe('RangeError')
    expect(error.message).toBe('tollgate: x out of range')
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
    expect(String(error)).toBe('RangeError: tollgate: x out of range')
  })
})

describe('diagnostics channels', () => {
  it('are named tollgate:decision, tollgate:store-error and tollgate:breaker, frozen', () => {
    expect(channels).toStrictEqual({
      decision: 'tollgate:decision',
      storeError: 'tollgate:store-error',
      breaker: 'tollgate:breaker',
    })
    expect(Object.isFrozen(channels)).toBe(true)
    expect(decisionChannel.name).toBe('tollgate:decision')
    expect(storeErrorChannel.name).toBe('tollgate:store-error')
    expect(breakerChannel.name).toBe('tollgate:breaker')
  })
})

describe('algorithm traits', () => {
  const fw = fixedWindow({ limit: 100, windowMs: 60_000 })
  const sw = slidingWindow({ limit: 5, windowMs: 1_500 })
  const sl = slidingLog({ limit: 7, windowMs: 999 })
  const tb = tokenBucket({ capacity: 20, refillRate: 5 })
  const cc = concurrency({ limit: 2, leaseMs: 30_001 })

  it('name each kind by its factory, code and limit option, in the table order', () => {
    expect(ALGORITHM_KINDS).toEqual([
      'fixedWindow',
      'slidingWindow',
      'slidingLog',
      'tokenBucket',
      'concurrency',
      'compound',
    ])
    const rows = ALGORITHM_KINDS.map((kind) => {
      const { factory, code, limitName } = ALGORITHM_TRAITS[kind]
      return [factory, code, limitName]
    })
    expect(rows).toEqual([
      ['fixedWindow()', 'fw', 'limit'],
      ['slidingWindow()', 'sw', 'limit'],
      ['slidingLog()', 'sl', 'limit'],
      ['tokenBucket()', 'tb', 'capacity'],
      ['concurrency()', 'cc', 'limit'],
      ['compound()', 'cp', 'limit'],
    ])
    expect(factoryList()).toBe(
      'fixedWindow(), slidingWindow(), slidingLog(), tokenBucket(), concurrency() or compound()',
    )
  })

  it('give each kind its limit, window seconds, policy name and signature', () => {
    const c = compound([sw, tb])
    const rows = [fw, sw, sl, tb, cc, c].map((a) => {
      const t = traitsOf(a)
      return [t.limit(a), t.windowSeconds(a), t.policyName(a, 3), t.signature(a)]
    })
    expect(rows).toEqual([
      [100, 60, '3-in-60s', 'fw:100:60000'],
      [5, 2, '3-in-2s', 'sw:5:1500'],
      [7, 1, '3-in-1s', 'sl:7:999'],
      [20, 4, '3-per-1s', 'tb:20:5:1000'],
      [2, 31, '3-concurrent', 'cc:2:30001'],
      // The first 72 bits of SHA-256('sw:5:1500+tb:20:5:1000'), base64url: a stored key's
      // layout, so it must not change between releases.
      [5, 2, '5-in-2s, 20-per-4s', 'cp:0-2m9UAX2HJ2'],
    ])
  })

  it('give each compound configuration its own short signature, whatever its members', () => {
    const signatures = [
      compound([sw, tb]),
      compound([tb, sw]),
      compound([sw, fixedWindow({ limit: 5, windowMs: 1500 })]),
      compound([slidingWindow({ limit: 5, windowMs: 1501 }), tb]),
      compound([sw, tb, sl]),
    ].map((c) => traitsOf(c).signature(c))
    expect(new Set(signatures).size).toBe(signatures.length)
    for (const s of signatures) expect(s).toMatch(/^cp:[A-Za-z0-9_-]{12}$/)
    expect(traitsOf(compound([sw, tb])).signature(compound([sw, tb]))).toBe(signatures[0])
  })

  it('round a bucket refill time up to whole seconds, never below 1, exactly for large numbers', () => {
    const seconds = (capacity: number, refillRate: number, refillIntervalMs?: number) =>
      traitsOf(tokenBucket({ capacity, refillRate, refillIntervalMs })).windowSeconds(
        tokenBucket({ capacity, refillRate, refillIntervalMs }),
      )
    expect(seconds(10, 3)).toBe(4) // 3.33 s
    expect(seconds(9, 3)).toBe(3)
    expect(seconds(1, 1000)).toBe(1) // 1 ms
    expect(seconds(2, 1, 60_000)).toBe(120)
    expect(seconds(2 ** 40, 1, 1000)).toBe(2 ** 40)
    expect(seconds(2 ** 40 + 1, 1000, 1)).toBe(1_099_512)
    // windows and leases shorter than a second still show 1
    expect(
      traitsOf(fixedWindow({ limit: 1, windowMs: 1 })).windowSeconds(
        fixedWindow({ limit: 1, windowMs: 1 }),
      ),
    ).toBe(1)
    expect(traitsOf(cc).windowSeconds(concurrency({ limit: 1, leaseMs: 1 }))).toBe(1)
    expect(traitsOf(cc).windowSeconds(concurrency({ limit: 1, leaseMs: 1000 }))).toBe(1)
    expect(traitsOf(cc).windowSeconds(concurrency({ limit: 1, leaseMs: 1001 }))).toBe(2)
  })
})

describe('warnings', () => {
  let got: Array<[string, string]>
  let previous: WarningHandler | null
  beforeEach(() => {
    got = []
    resetWarnings()
    previous = setWarningHandler((code, message) => {
      got.push([code, message])
    })
  })
  afterEach(() => {
    setWarningHandler(previous)
    resetWarnings()
    vi.restoreAllMocks()
  })

  it('warnOnce passes a code on the first time only; warn every time', () => {
    warnOnce('A', 'first')
    warnOnce('A', 'again')
    warnOnce('B', 'other')
    warn('C', 'one')
    warn('C', 'two')
    expect(got).toEqual([
      ['A', 'first'],
      ['B', 'other'],
      ['C', 'one'],
      ['C', 'two'],
    ])
    resetWarnings()
    warnOnce('A', 'after reset')
    expect(got.at(-1)).toEqual(['A', 'after reset'])
  })

  it('setWarningHandler returns the handler it replaces; null silences', () => {
    const mine: WarningHandler = () => {}
    const before = setWarningHandler(mine)
    expect(setWarningHandler(null)).toBe(mine)
    warn('X', 'nobody hears this')
    warnOnce('Y', 'nor this')
    expect(setWarningHandler(before)).toBe(null)
    expect(got).toEqual([])
  })

  it('go to process.emitWarning as a TollgateWarning with their code by default', () => {
    // `previous` is the handler installed before this file's: the default one (every test file
    // that replaces it puts it back).
    expect(typeof previous).toBe('function')
    setWarningHandler(previous)
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {})
    warn('WARN_TOLLGATE_TEST', 'a message')
    expect(emit).toHaveBeenCalledTimes(1)
    expect(emit).toHaveBeenCalledWith('a message', {
      code: 'WARN_TOLLGATE_TEST',
      type: 'TollgateWarning',
    })
  })

  it('checkTrustProxy warns of trust proxy true, once', () => {
    checkTrustProxy(true, false)
    checkTrustProxy(true, true)
    expect(got).toEqual([
      [
        'WARN_TOLLGATE_PERMISSIVE_TRUST_PROXY',
        'trust proxy is true, so any client can choose its IP (and rate-limit key) with X-Forwarded-For; trust only your proxies: their addresses or CIDRs (Fastify trustProxy: "10.0.0.1" or "10.0.0.0/8"; Express also accepts a hop count).',
      ],
    ])
    expect(WARN_PERMISSIVE_TRUST_PROXY).toBe('WARN_TOLLGATE_PERMISSIVE_TRUST_PROXY')
  })

  it.each([false, undefined])(
    'checkTrustProxy warns of X-Forwarded-For with trust proxy %s, once',
    (trust) => {
      checkTrustProxy(trust, false)
      expect(got).toEqual([])
      checkTrustProxy(trust, true)
      checkTrustProxy(trust, true)
      expect(got).toEqual([
        [
          'WARN_TOLLGATE_FORWARDED_WITHOUT_TRUST_PROXY',
          'a request has an X-Forwarded-For header but trust proxy is off, so every client behind that proxy shares the proxy IP as its rate-limit key; trust your proxies by address or CIDR (Fastify trustProxy: "10.0.0.1" or "10.0.0.0/8"; Express trust proxy: addresses, CIDRs or a hop count).',
        ],
      ])
      expect(WARN_FORWARDED_WITHOUT_TRUST_PROXY).toBe('WARN_TOLLGATE_FORWARDED_WITHOUT_TRUST_PROXY')
    },
  )

  it.each([null, 1, '10.0.0.1', () => true])(
    'checkTrustProxy is silent for a trusted proxy setting %s',
    (trust) => {
      checkTrustProxy(trust, true)
      checkTrustProxy(trust, false)
      expect(got).toEqual([])
    },
  )
})
