/**
 * The option checks of packages/core/src/options.ts where the StrykerJS run of issue 15 item 4
 * (session 5) found them unchecked: the list of known options in an unknown-option error, and the
 * TypeError (not RangeError) for a value that is not a number.
 */
import { createLimiter, MemoryStore, slidingLog } from '@tollgate/core'
import { describe, expect, it } from 'vitest'
import { thrown } from '../support/thrown.js'

const algorithm = slidingLog({ limit: 1, windowMs: 1000 })

describe('option errors', () => {
  it('an unknown option lists the known ones, comma-separated', () => {
    expect(thrown(() => createLimiter({ algorithm, windowMS: 1 } as never)).message).toBe(
      'tollgate: unknown option "windowMS" in createLimiter(); expected one of algorithm, store, prefix, name, failure, onStoreError, denyCache',
    )
  })

  it('a positive integer given as a string is a TypeError naming it', () => {
    const error = thrown(() => new MemoryStore({ maxKeys: '5' as never }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe('tollgate: maxKeys must be a positive integer, got "5"')
  })

  it('a non-negative number given as a string is a TypeError naming it', () => {
    const error = thrown(() =>
      createLimiter({ algorithm, failure: { breaker: { cooldownMs: '5' as never } } }),
    )
    expect(error).toBeInstanceOf(TypeError)
    expect(error).not.toBeInstanceOf(RangeError)
    expect(error.message).toBe(
      'tollgate: failure.breaker.cooldownMs must be a non-negative number, got "5"',
    )
  })
})
