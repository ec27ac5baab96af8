/** Benchmark settings from the environment (see README.md). */
import { ALGORITHMS } from './contenders.js'
import type { AlgorithmName } from './protocol.js'

function number(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number, got ${raw}`)
  return value
}

function list<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const raw = process.env[name]
  if (!raw) return [...fallback]
  const values = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const v of values) {
    if (!allowed.includes(v as T))
      throw new RangeError(`${name}: unknown value ${v}; use ${allowed.join(', ')}`)
  }
  return values as T[]
}

export const SCENARIOS = ['single', 'multi', 'flood'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export interface Settings {
  quick: boolean
  /** Measured seconds per run. */
  seconds: number
  /** Warm-up seconds per run (same server process, not measured). */
  warmup: number
  rounds: number
  connections: number
  /** Distinct clients (X-Forwarded-For addresses) in `multi`. */
  clients: number
  /** Clients in the exactness check (limit 1, two passes); 0 turns it off. */
  checkClients: number
  scenarios: ScenarioName[]
  /** Only contenders whose id matches. */
  only: RegExp | undefined
  build: boolean
  expressAlgorithms: AlgorithmName[]
  fastifyAlgorithms: AlgorithmName[]
  windowMs: number
}

export function readSettings(): Settings {
  const quick = process.env.BENCH_QUICK === '1'
  return {
    quick,
    seconds: number('BENCH_SECONDS', quick ? 1 : 3),
    warmup: number('BENCH_WARMUP', quick ? 0.3 : 1),
    rounds: Math.round(number('BENCH_ROUNDS', quick ? 1 : 3)),
    connections: Math.round(number('BENCH_CONNECTIONS', 50)),
    clients: Math.round(number('BENCH_CLIENTS', 10_000)),
    checkClients:
      process.env.BENCH_CHECK === '0'
        ? 0
        : Math.round(number('BENCH_CHECK_CLIENTS', quick ? 6_000 : 10_000)),
    scenarios: list('BENCH_SCENARIOS', SCENARIOS, SCENARIOS),
    only: process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined,
    build: process.env.BENCH_NO_BUILD !== '1',
    expressAlgorithms: list('BENCH_EXPRESS_ALGORITHMS', ALGORITHMS, ALGORITHMS),
    fastifyAlgorithms: list('BENCH_FASTIFY_ALGORITHMS', ALGORITHMS, ['fixedWindow']),
    // One hour: a `flood` or check run never crosses into a fresh window of a peer's counter.
    windowMs: 3_600_000,
  }
}
