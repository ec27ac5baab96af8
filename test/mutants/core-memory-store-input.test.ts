/**
 * MemoryStore's own key check (packages/core/src/memory-store.ts `checkKey`), where the StrykerJS
 * run of issue 15 (session 7, lines 1285-1386) found it unchecked: the limiter refuses a
 * non-string key before the store sees it (packages/core/test/bad-input.test.ts), and a store
 * without the check still rejects, with the engine's TypeError from `key.charCodeAt`. A store is
 * public API on its own (Store), so each method that takes a key rejects with tollgate's coded
 * error naming the option and the value.
 */
import {
  type Algorithm,
  concurrency,
  fixedWindow,
  MemoryStore,
  TollgateTypeError,
} from '@tollgate/core'
import { describe, expect, it } from 'vitest'

const fw = fixedWindow({ limit: 5, windowMs: 60_000 })
const lease = concurrency({ limit: 2, leaseMs: 60_000 })

describe('MemoryStore refuses a key that is not a string', () => {
  const calls: Array<
    [name: string, call: (store: MemoryStore, key: string, a: Algorithm) => Promise<unknown>]
  > = [
    ['decide', (s, k, a) => s.decide(k, a, 1)],
    ['peek', (s, k, a) => s.peek(k, a, 1)],
    ['refund', (s, k, a) => s.refund(k, a, 1)],
    ['block', (s, k, a) => s.block(k, a, 1_000)],
    ['release', (s, k) => s.release(k, lease, '1')],
  ]
  for (const [name, call] of calls) {
    it(`${name} rejects with a TollgateTypeError naming key and value`, async () => {
      const store = new MemoryStore({ clock: () => 1_000_000 })
      for (const [key, shown] of [
        [42, '42'],
        [undefined, 'undefined'],
      ] as const) {
        const error = await call(store, key as unknown as string, fw).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(TollgateTypeError)
        expect((error as TollgateTypeError).code).toBe('ERR_TOLLGATE_INVALID_OPTION')
        expect((error as Error).message).toBe(`tollgate: key must be a string, got ${shown}`)
      }
      expect(store.size).toBe(0)
    })
  }
})
