/**
 * Setup file of vitest.boundary.config.ts: before every test, the wall clock (Date) is moved to
 * TOLLGATE_BEFORE_BOUNDARY_MS ms (default 2) before the next minute boundary (which is also a
 * second boundary), then runs on at real speed. A test that reads the wall clock for a window
 * (a store without an injected clock, or Redis TIME) sees its window end mid-test and fails.
 * test/wall-clock.test.ts runs the adapter test files under it.
 */
import { beforeEach } from 'vitest'

const before = Number(process.env.TOLLGATE_BEFORE_BOUNDARY_MS ?? 2)
const RealDate = Date
const realNow = RealDate.now.bind(RealDate)
let offset = 0

class ShiftedDate extends RealDate {
  constructor(...args: ConstructorParameters<typeof Date> | []) {
    if (args.length === 0) super(realNow() + offset)
    else super(...(args as ConstructorParameters<typeof Date>))
  }
  static override now(): number {
    return realNow() + offset
  }
}
globalThis.Date = ShiftedDate as DateConstructor

beforeEach(() => {
  const real = realNow()
  offset = Math.ceil((real + before + 1) / 60_000) * 60_000 - before - real
})
