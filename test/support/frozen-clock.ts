import { afterAll, beforeAll, vi } from 'vitest'

/**
 * The start of the current hour: a boundary of every window that divides an hour (1 s, 60 s,
 * 10 min...), so a clock frozen there has a whole window ahead of it, and a Redis key that a
 * frozen-clock script gives the rest of the window as TTL lives that whole window in real time.
 */
export function windowStart(): number {
  return Math.floor(Date.now() / 3_600_000) * 3_600_000
}

/**
 * Freezes `Date` for the calling test file at the start of the current hour (timers stay real):
 * every store without an injected clock, the limiter's own MemoryStore included, then decides
 * in one instant, and no test depends on where the wall clock sits in a window (issue 15).
 * A RedisStore in such a file takes `clock: () => Date.now()` (Redis TIME is not frozen).
 */
export function freezeWallClock(): void {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(windowStart())
  })
  afterAll(() => {
    vi.useRealTimers()
  })
}
