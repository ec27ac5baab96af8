import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { RedisSessionStore, type RedisSessionStoreOptions } from '../src/index.js'
import { thrown } from './support/thrown.js'

// The package README ("Options"): a bad option throws a TypeError or RangeError naming the option
// and the value. These pin each message whole (the text a developer reads when a deploy fails),
// its class and its code, and the bounds each check draws. Never connected: options are parsed
// in the constructor, before any command.
const client = new Redis({ lazyConnect: true })

afterAll(() => {
  client.disconnect()
})

const make = (options: Record<string, unknown>) =>
  new RedisSessionStore({ client, ...options } as unknown as RedisSessionStoreOptions)

const EXPECTED =
  'client, prefix, ttl, disableTouch, disableTTL, serializer, scanCount, touchAfterSeconds, timeoutMs, userKey'

describe('RedisSessionStore option errors, word for word', () => {
  it.each([
    [5, 'RedisSessionStore expects an options object, got 5'],
    [null, 'RedisSessionStore expects an options object, got null'],
    [[], 'RedisSessionStore expects an options object, got an array'],
  ])('options = %o is a TypeError: %s', (options, message) => {
    const error = thrown(() => new RedisSessionStore(options as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(`tollgate: ${message}`)
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
  })

  it('names one unknown option in the singular and several in the plural, with the known ones', () => {
    const one = thrown(() => make({ ttL: 60 }))
    expect(one.message).toBe(
      `tollgate: unknown option "ttL" in RedisSessionStore; expected ${EXPECTED}`,
    )
    expect(one.code).toBe('ERR_TOLLGATE_UNKNOWN_OPTION')
    const two = thrown(() => make({ ttL: 60, perfix: 'x' }))
    expect(two.message).toBe(
      `tollgate: unknown options "ttL", "perfix" in RedisSessionStore; expected ${EXPECTED}`,
    )
  })

  it.each([
    [{ prefix: 5 }, TypeError, 'prefix must be a non-empty string, got 5'],
    [{ prefix: '' }, RangeError, 'prefix must be a non-empty string, got ""'],
    [
      { ttl: '60' },
      TypeError,
      'ttl must be a number of seconds or a function of the session, got "60"',
    ],
    [{ ttl: 0 }, RangeError, 'ttl must be a positive number of seconds at most 2147483647, got 0'],
    [
      { ttl: Number.POSITIVE_INFINITY },
      RangeError,
      'ttl must be a positive number of seconds at most 2147483647, got Infinity',
    ],
    [{ disableTouch: 'yes' }, TypeError, 'disableTouch must be a boolean, got "yes"'],
    [{ disableTTL: 0 }, TypeError, 'disableTTL must be a boolean, got 0'],
    [
      { serializer: 'json' },
      TypeError,
      'serializer must be an object with parse and stringify functions, got "json"',
    ],
    [
      { serializer: { parse: JSON.parse } },
      TypeError,
      'serializer must be an object with parse and stringify functions, got an object',
    ],
    [
      { serializer: { stringify: JSON.stringify } },
      TypeError,
      'serializer must be an object with parse and stringify functions, got an object',
    ],
    [{ scanCount: '100' }, TypeError, 'scanCount must be a positive integer, got "100"'],
    [{ scanCount: 0 }, RangeError, 'scanCount must be a positive integer at most 1000000, got 0'],
    [
      { scanCount: 1_000_001 },
      RangeError,
      'scanCount must be a positive integer at most 1000000, got 1000001',
    ],
    [
      { touchAfterSeconds: '5' },
      TypeError,
      'touchAfterSeconds must be a non-negative number, got "5"',
    ],
    [
      { touchAfterSeconds: -0.5 },
      RangeError,
      'touchAfterSeconds must be a non-negative number at most 2147483647, got -0.5',
    ],
    [
      { touchAfterSeconds: 2 ** 31 },
      RangeError,
      'touchAfterSeconds must be a non-negative number at most 2147483647, got 2147483648',
    ],
    [
      { touchAfterSeconds: Number.NaN },
      RangeError,
      'touchAfterSeconds must be a non-negative number at most 2147483647, got NaN',
    ],
    [
      { touchAfterSeconds: 60, disableTouch: true },
      RangeError,
      'touchAfterSeconds (60) has no effect with disableTouch: true',
    ],
    [
      { touchAfterSeconds: 60, disableTTL: true },
      RangeError,
      'touchAfterSeconds (60) has no effect with disableTTL: true',
    ],
    [
      { timeoutMs: true },
      TypeError,
      'timeoutMs must be a positive number of milliseconds or false, got true',
    ],
    [
      { timeoutMs: -1 },
      RangeError,
      'timeoutMs must be a positive number of milliseconds at most 2147483647 or false, got -1',
    ],
    [
      { timeoutMs: Number.POSITIVE_INFINITY },
      RangeError,
      'timeoutMs must be a positive number of milliseconds at most 2147483647 or false, got Infinity',
    ],
    [{ userKey: 'user.id' }, TypeError, 'userKey must be a function of the session, got "user.id"'],
  ])('%o is a %o: %s', (options, kind, message) => {
    const error = thrown(() => make(options))
    expect(error).toBeInstanceOf(kind)
    expect(error.message).toBe(`tollgate: ${message}`)
    expect(error.code).toBe('ERR_TOLLGATE_INVALID_OPTION')
  })

  it('accepts each bound itself and the values just inside it', () => {
    for (const options of [
      { ttl: 0.001 },
      { ttl: 2 ** 31 - 1 },
      { scanCount: 1 },
      { scanCount: 1_000_000 },
      { touchAfterSeconds: 0 },
      { touchAfterSeconds: 2 ** 31 - 1 },
      { touchAfterSeconds: 0, disableTouch: true, disableTTL: true },
      { timeoutMs: 0.5 },
      { timeoutMs: false },
      { disableTouch: false, disableTTL: false },
      { serializer: null },
      { userKey: undefined, ttl: undefined, prefix: undefined },
    ]) {
      expect(() => make(options), JSON.stringify(options)).not.toThrow()
    }
  })
})
