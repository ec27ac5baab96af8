/** Shapes of bench/results/*.json. */
import type { LoadResult } from './load.js'
import type { MachineInfo } from './machine.js'
import type { Contender, ServerStats } from './protocol.js'

export interface RunRecord {
  contender: string
  scenario: string
  round: number
  /** Position in this round's order (0-based). */
  position: number
  /** Fork to `ready`, ms. */
  startupMs: number
  startedAt: number
  endedAt: number
  warmup: LoadResult
  measured: LoadResult
  /** One request outside the measurement: `single` before the warm-up, `flood` after it. */
  probe?: { status: number; headers: Record<string, string> }
  /** Server process CPU (user + system) over the measured run ÷ requests answered, µs. */
  cpuUsPerRequest: number
  /** Redis server CPU (INFO used_cpu_user + used_cpu_sys delta) over the measured run ÷ requests, µs. */
  redisCpuUsPerRequest?: number
  server: ServerStats
  redis?: {
    /** Commands the server's client sent ÷ requests. */
    commandsPerRequest: number
    /** Redis server time of the top-level commands ÷ requests, µs. */
    usecPerRequest: number
    /** Redis server time ÷ top-level calls, µs. */
    usecPerCall: number
    sent: Record<string, number>
    /** From INFO commandstats: every command Redis ran, scripts' inner calls included. */
    perCommand: Record<string, { callsPerRequest: number; usecPerCall: number }>
  }
}

export interface ScenarioSummary {
  contender: string
  label: string
  framework: string
  library: string
  scenario: string
  rounds: number
  reqPerSec: number
  reqPerSecPerRound: number[]
  ratioToBare: number
  p50: number
  p99: number
  status2xx: number
  status429: number
  statusOther: number
  /** Measured requests answered by tollgate's fail policy, summed over rounds. */
  degraded: number
  /** Failed store calls (tollgate's onStoreError), summed over rounds. */
  storeErrors: number
  cpuUsPerRequest: number
  redisCommandsPerRequest: number | undefined
  redisUsecPerCall: number | undefined
  redisUsecPerRequest: number | undefined
  /** Redis server CPU µs per request (median over rounds). */
  redisCpuUsPerRequest?: number
  /** Script calls by key count, summed over rounds. */
  scriptKeysPerCall?: Record<string, number>
  redisSent: Record<string, number> | undefined
  limited: { ok: boolean; note: string } | undefined
}

export interface CheckResult {
  contender: string
  clients: number
  firstPass: { status2xx: number; status429: number; statusOther: number }
  secondPass: { status2xx: number; status429: number; statusOther: number }
  exact: boolean
  /** Clients whose second request was denied. */
  countedClients: number
  /** Up to 10 addresses allowed again in the second pass. */
  allowedAgain: string[]
  /** Requests answered by tollgate's fail policy during the check; failed store calls. */
  degraded: number
  storeErrors: number
}

export interface BenchResults {
  kind: 'http'
  machine: MachineInfo
  settings: Record<string, unknown>
  contenders: (Contender & { headers: string })[]
  skipped: Record<string, string>
  summaries: ScenarioSummary[]
  checks: CheckResult[]
  runs: RunRecord[]
}

export interface MicroResult {
  name: string
  library: string
  [metric: string]: unknown
}

export interface MicroResults {
  kind: 'micro'
  machine: MachineInfo
  settings: Record<string, unknown>
  memory: {
    name: string
    oneKey: number | undefined
    manyKeys: number | undefined
    heapBytesPerKey: number | undefined
    exact: string | undefined
    skipped?: string
  }[]
  redis: {
    name: string
    /** The client library the row ran on (older results: ioredis). */
    client?: 'ioredis' | 'node-redis'
    decisionsPerSec: number | undefined
    /** ÷ the EVALSHA floor of the same client library. */
    ratioToFloor: number | undefined
    redisUsecPerCall: number | undefined
    /** Redis time of the top-level commands (commandstats) ÷ decisions. */
    redisUsecPerDecision?: number
    commandsPerDecision: number | undefined
    /** Redis server CPU (INFO used_cpu_user + used_cpu_sys delta) ÷ decisions. */
    redisCpuUsecPerDecision?: number
    /** The bench process's CPU (user + system) ÷ decisions: client library and limiter. */
    nodeCpuUsecPerDecision?: number
    skipped?: string
  }[]
}
