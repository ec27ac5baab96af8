/**
 * The fail-policy options as parsed (StrykerJS survivors of packages/core/src/fail-policy.ts in
 * the sample run of issue 15): a partial breaker keeps the other default, and every message
 * names the option it is about.
 */
import { createLimiter, slidingLog } from '@tollgate/core'
import { describe, expect, it } from 'vitest'

const algorithm = slidingLog({ limit: 1, windowMs: 60_000 })

describe('failure options', () => {
  it("default to mode 'open', timeoutMs 100 and a breaker of 5 failures / 1000 ms", () => {
    expect(createLimiter({ algorithm }).failure).toEqual({
      mode: 'open',
      timeoutMs: 100,
      breaker: { failures: 5, cooldownMs: 1000 },
    })
  })

  it('keep the default of the breaker field that is not given', () => {
    const only = (breaker: object) => createLimiter({ algorithm, failure: { breaker } }).failure
    expect(only({ cooldownMs: 50 }).breaker).toEqual({ failures: 5, cooldownMs: 50 })
    expect(only({ failures: 2 }).breaker).toEqual({ failures: 2, cooldownMs: 1000 })
    expect(createLimiter({ algorithm, failure: { breaker: false } }).failure.breaker).toBe(false)
  })

  it('name the option in every error', () => {
    const bad = (failure: unknown) => () => createLimiter({ algorithm, failure } as never)
    expect(bad(5)).toThrow(/failure expects an options object, got 5/)
    expect(bad({ mod: 'open' })).toThrow(/unknown option "mod" in failure;/)
    expect(bad({ breaker: 5 })).toThrow(/failure\.breaker expects an options object, got 5/)
    expect(bad({ breaker: { failure: 1 } })).toThrow(
      /unknown option "failure" in failure\.breaker;/,
    )
  })
})
