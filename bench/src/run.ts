/**
 * `pnpm bench`: tollgate against the peers over HTTP, on the bench's own loopback redis-server.
 *
 * For each scenario, `rounds` interleaved rounds; in each round every contender runs once (the
 * order changes from round to round) as a fresh child-process server: warm-up, CONFIG RESETSTAT,
 * measured run, CPU and Redis counters. Medians over rounds; ratios to the bare framework of the
 * same scenario and round. Then an exactness check per limited contender. See README.md.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { buildPackages } from './build.js'
import { allContenders, headersOf } from './contenders.js'
import { addressPool, exactnessCheck, load, pickLoader, probeHeaders } from './load.js'
import { describeMachine, measureMachine, median } from './machine.js'
import type {
  ChildMessage,
  Contender,
  ParentMessage,
  ServerConfig,
  ServerStats,
} from './protocol.js'
import { type CommandStat, HARNESS_COMMANDS, parseCommandStats, startRedis } from './redis.js'
import { writeReports } from './report.js'
import type { BenchResults, CheckResult, RunRecord, ScenarioSummary } from './results.js'
import { readSettings, type ScenarioName } from './settings.js'

const here = dirname(fileURLToPath(import.meta.url))
const benchDir = join(here, '..')
const repoDir = join(benchDir, '..')
const resultsDir = process.env.BENCH_RESULTS_DIR ?? join(benchDir, 'results')

const settings = readSettings()
const FLOOD_LIMIT = 10
const HUGE_LIMIT = 1_000_000_000

/** Redis server CPU (user + system) so far, µs, from INFO cpu. */
async function redisCpuUs(admin: { info(section: string): Promise<string> }): Promise<number> {
  const info = await admin.info('cpu')
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1])
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}

function scenarioConfig(scenario: ScenarioName): { limit: number; trustProxy: boolean } {
  switch (scenario) {
    case 'single':
      return { limit: HUGE_LIMIT, trustProxy: false }
    case 'multi':
      return { limit: HUGE_LIMIT, trustProxy: true }
    case 'flood':
      return { limit: FLOOD_LIMIT, trustProxy: false }
  }
}

// ---------------------------------------------------------------------------------------------
// Server children

interface RunningServer {
  port: number
  child: ChildProcess
  request(message: ParentMessage, expect: ChildMessage['type']): Promise<ChildMessage>
  stop(): Promise<void>
}

const children = new Set<ChildProcess>()

class SkipError extends Error {}

function startServer(config: ServerConfig): Promise<RunningServer> {
  const file = join(here, 'servers', `${config.contender.framework}.ts`)
  const child = fork(file, [], {
    execArgv: ['--import', 'tsx'],
    cwd: benchDir,
    env: { ...process.env, BENCH_SERVER_CONFIG: JSON.stringify(config), NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  exited.then(() => children.delete(child))

  const waiters: { type: string; resolve: (m: ChildMessage) => void }[] = []
  child.on('message', (message: ChildMessage) => {
    const index = waiters.findIndex((w) => w.type === message.type)
    if (index >= 0) waiters.splice(index, 1)[0]!.resolve(message)
  })
  const next = (type: ChildMessage['type'], timeoutMs = 20_000) =>
    new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not send ${type}`)), timeoutMs)
      timer.unref()
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
      })
      exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`server exited (code ${child.exitCode}): ${stderr.trim().slice(-1500)}`))
      })
    })

  return new Promise((resolve, reject) => {
    // Whichever of ready / skip comes first.
    let settled = false
    next('skip').then(
      (m) => {
        if (settled) return
        settled = true
        reject(new SkipError(m.type === 'skip' ? m.reason : 'skipped'))
      },
      () => {},
    )
    next('ready', 60_000).then(
      (m) => {
        if (settled) return
        settled = true
        resolve({
          port: m.type === 'ready' ? m.port : 0,
          child,
          async request(message, expect) {
            const reply = next(expect)
            child.send(message)
            return reply
          },
          async stop() {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM')
              await exited
            }
          },
        })
      },
      (error) => {
        if (settled) return
        settled = true
        reject(error)
      },
    )
  })
}

function killChildren(): void {
  for (const child of children) child.kill('SIGKILL')
}
process.on('exit', killChildren)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren()
    process.exit(130)
  })
}

// ---------------------------------------------------------------------------------------------
// Redis accounting

/**
 * Per request, from the server's own ioredis counter (commands sent) and INFO commandstats
 * (server time). Commands queued in MULTI and those a script runs are counted by Redis as calls
 * of their own, but their time is already inside EXEC / EVAL(SHA); the top-level time counts
 * each only once.
 */
function redisAccounting(
  sent: Record<string, number>,
  server: Record<string, CommandStat>,
  requests: number,
): RunRecord['redis'] {
  const sentTotal = Object.values(sent).reduce((a, b) => a + b, 0)
  const names = Object.keys(server).filter((n) => !HARNESS_COMMANDS.has(n))
  const inTransaction = (sent.exec ?? 0) > 0
  const topLevel = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'multi', 'exec'])
  let topUsec = 0
  let topCalls = 0
  for (const name of Object.keys(sent)) {
    const stat = server[name]
    if (!stat) continue
    if (topLevel.has(name) || !inTransaction) {
      topUsec += stat.usec
      topCalls += stat.calls
    }
  }
  const perCommand: Record<string, { callsPerRequest: number; usecPerCall: number }> = {}
  for (const name of names) {
    const stat = server[name]!
    perCommand[name] = {
      callsPerRequest: requests ? stat.calls / requests : 0,
      usecPerCall: stat.calls ? stat.usec / stat.calls : 0,
    }
  }
  return {
    commandsPerRequest: requests ? sentTotal / requests : 0,
    usecPerRequest: requests ? topUsec / requests : 0,
    usecPerCall: topCalls ? topUsec / topCalls : 0,
    sent,
    perCommand,
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function roundOrder<T>(items: T[], round: number, rounds: number): T[] {
  const shift = Math.floor((round * items.length) / Math.max(1, rounds))
  const rotated = [...items.slice(shift), ...items.slice(0, shift)]
  return round % 2 === 1 ? rotated.reverse() : rotated
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '-'
}

async function main(): Promise<void> {
  if (settings.build) buildPackages(repoDir)
  const redis = await startRedis()
  const admin = new Redis(redis.url)
  const machine = await measureMachine(redis.version)
  console.log(`machine: ${describeMachine(machine)}`)

  let contenders = allContenders(settings.expressAlgorithms, settings.fastifyAlgorithms)
  if (settings.only) contenders = contenders.filter((c) => settings.only!.test(c.id))
  const limited = contenders.filter((c) => c.library !== 'bare')
  const runs = contenders.length * settings.scenarios.length * settings.rounds
  const estimate =
    runs * (settings.seconds + settings.warmup + 1.5) +
    (settings.checkClients ? limited.length * (settings.checkClients / 2500 + 1.5) : 0)
  console.log(
    `${contenders.length} contenders × ${settings.scenarios.length} scenarios × ${settings.rounds} rounds, ` +
      `${settings.warmup}s warm-up + ${settings.seconds}s measured, ${settings.connections} connections; ` +
      `about ${Math.ceil(estimate / 60)} min`,
  )

  const loader = pickLoader()
  console.log(`load generator: ${loader}`)
  const skipped = new Map<string, string>()
  const records: RunRecord[] = []
  const pool = addressPool(settings.clients)

  for (const scenario of settings.scenarios) {
    const { limit, trustProxy } = scenarioConfig(scenario)
    for (let round = 0; round < settings.rounds; round++) {
      const order = roundOrder(contenders, round, settings.rounds)
      for (const [position, contender] of order.entries()) {
        if (skipped.has(contender.id)) continue
        await admin.flushall()
        const config: ServerConfig = {
          contender,
          limit,
          windowMs: settings.windowMs,
          trustProxy,
          redisUrl: redis.url,
        }
        let server: RunningServer
        const spawnedAt = Date.now()
        try {
          server = await startServer(config)
        } catch (error) {
          const reason = (error as Error).message
          skipped.set(contender.id, reason)
          console.log(`  skip ${contender.label}: ${reason}`)
          continue
        }
        const startedAt = Date.now()
        const startupMs = startedAt - spawnedAt
        try {
          const common = {
            port: server.port,
            connections: settings.connections,
            loader,
            ...(scenario === 'multi' ? { pool } : {}),
          }
          // What the contender really sends: a 200 in `single` (before any load), a 429 in
          // `flood` (after the warm-up used the 10 allowed requests). Not counted in the results.
          const probeBefore = scenario === 'single' ? await probeHeaders(server.port) : undefined
          const warmup = await load({ ...common, seconds: settings.warmup })
          const probe =
            probeBefore ?? (scenario === 'flood' ? await probeHeaders(server.port) : undefined)
          await admin.config('RESETSTAT')
          const redisCpuBefore = await redisCpuUs(admin)
          await server.request({ type: 'start' }, 'started')
          const measured = await load({ ...common, seconds: settings.seconds })
          const statsMessage = await server.request({ type: 'stop' }, 'stats')
          const redisCpu = (await redisCpuUs(admin)) - redisCpuBefore
          const stats = (statsMessage as { stats: ServerStats }).stats
          const serverStats = parseCommandStats(await admin.info('commandstats'))
          const record: RunRecord = {
            contender: contender.id,
            scenario,
            round,
            position,
            startupMs,
            startedAt,
            endedAt: Date.now(),
            warmup,
            measured,
            ...(probe ? { probe } : {}),
            cpuUsPerRequest: measured.requests
              ? (stats.cpuUserUs + stats.cpuSystemUs) / measured.requests
              : Number.NaN,
            ...(contender.store === 'redis' && measured.requests
              ? { redisCpuUsPerRequest: redisCpu / measured.requests }
              : {}),
            server: stats,
            redis:
              contender.store === 'redis'
                ? redisAccounting(stats.redisCommands, serverStats, measured.requests)
                : undefined,
          }
          records.push(record)
          console.log(progressLine(scenario, round, position, order.length, contender, record))
        } catch (error) {
          skipped.set(contender.id, `failed: ${(error as Error).message}`)
          console.log(`  FAIL ${contender.label}: ${(error as Error).message}`)
        } finally {
          await server.stop()
        }
      }
    }
  }

  const checks: CheckResult[] = []
  if (settings.checkClients > 0) {
    console.log(
      `exactness check: limit 1 per client, ${settings.checkClients} clients (X-Forwarded-For), 2 passes`,
    )
    const checkPool = addressPool(settings.checkClients)
    for (const contender of limited) {
      if (skipped.has(contender.id)) continue
      await admin.flushall()
      let server: RunningServer
      try {
        server = await startServer({
          contender,
          limit: 1,
          windowMs: settings.windowMs,
          trustProxy: true,
          redisUrl: redis.url,
        })
      } catch (error) {
        console.log(`  skip ${contender.label}: ${(error as Error).message}`)
        continue
      }
      try {
        await server.request({ type: 'start' }, 'started')
        const { perPass, allowedAgain } = await exactnessCheck({
          port: server.port,
          pool: checkPool,
          passes: 2,
          concurrency: settings.connections,
        })
        const { stats } = (await server.request({ type: 'stop' }, 'stats')) as {
          stats: ServerStats
        }
        const [first, second] = perPass as [(typeof perPass)[0], (typeof perPass)[0]]
        const clients = settings.checkClients
        const exact =
          first.status2xx === clients && second.status429 === clients && second.status2xx === 0
        const check: CheckResult = {
          contender: contender.id,
          clients,
          firstPass: first,
          secondPass: second,
          exact,
          countedClients: second.status429,
          allowedAgain,
          degraded: stats.degraded,
          storeErrors: stats.storeErrors,
        }
        checks.push(check)
        console.log(
          `  ${contender.label.padEnd(44)} pass 1: ${first.status2xx} allowed; pass 2: ${second.status429} denied, ${second.status2xx} allowed again -> ${exact ? 'exact' : `NOT EXACT (counted ${second.status429} of ${clients} clients; allowed again e.g. ${allowedAgain.slice(0, 3).join(', ')})`}${stats.degraded || stats.storeErrors ? `; DEGRADED ${stats.degraded}, store errors ${stats.storeErrors}` : ''}`,
        )
      } finally {
        await server.stop()
      }
    }
  }

  await admin.quit()
  await redis.stop()

  const results: BenchResults = {
    kind: 'http',
    machine,
    settings: {
      quick: settings.quick,
      seconds: settings.seconds,
      warmup: settings.warmup,
      rounds: settings.rounds,
      connections: settings.connections,
      loader,
      clients: settings.clients,
      checkClients: settings.checkClients,
      windowMs: settings.windowMs,
      floodLimit: FLOOD_LIMIT,
      hugeLimit: HUGE_LIMIT,
      scenarios: settings.scenarios,
    },
    contenders: contenders.map((c) => ({ ...c, headers: headersOf(c) })),
    skipped: Object.fromEntries(skipped),
    summaries: summarize(contenders, records),
    checks,
    runs: records,
  }
  mkdirSync(resultsDir, { recursive: true })
  const name = process.env.BENCH_RESULTS_NAME ?? (settings.quick ? 'quick' : 'latest')
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`)
  const written = writeReports(resultsDir, name)
  console.log(`\nwrote ${join(resultsDir, `${name}.json`)}, ${written.join(', ')}`)
}

function progressLine(
  scenario: string,
  round: number,
  position: number,
  count: number,
  contender: Contender,
  record: RunRecord,
): string {
  const m = record.measured
  const redis = record.redis
    ? `  redis ${fmt(record.redis.commandsPerRequest, 2)} cmd/req ${fmt(record.redis.usecPerCall, 1)}µs/call`
    : ''
  return (
    `[${scenario} r${round + 1} ${position + 1}/${count}] ${contender.label.padEnd(44)} ` +
    `${fmt(m.reqPerSec).padStart(7)} req/s  p50 ${m.p50}ms p99 ${m.p99}ms  ` +
    `2xx ${m.status2xx} 429 ${m.status429} other ${m.statusOther + m.errors}  ` +
    `cpu ${fmt(record.cpuUsPerRequest, 1)}µs/req${redis}${record.server.degraded || record.server.storeErrors ? `  DEGRADED ${record.server.degraded} (store errors ${record.server.storeErrors})` : ''}  (startup ${record.startupMs}ms, ${((record.endedAt - record.startedAt) / 1000).toFixed(1)}s)`
  )
}

/** Medians per contender and scenario; ratios against the bare framework in the same round. */
function summarize(contenders: Contender[], records: RunRecord[]): ScenarioSummary[] {
  const summaries: ScenarioSummary[] = []
  const byId = new Map(contenders.map((c) => [c.id, c]))
  for (const scenario of settings.scenarios) {
    for (const contender of contenders) {
      const runs = records.filter((r) => r.contender === contender.id && r.scenario === scenario)
      if (runs.length === 0) continue
      const bareId = `${contender.framework}/bare`
      const ratios = runs.map((r) => {
        const bare = records.find(
          (b) => b.contender === bareId && b.scenario === scenario && b.round === r.round,
        )
        return bare ? r.measured.reqPerSec / bare.measured.reqPerSec : Number.NaN
      })
      const sum = (f: (r: RunRecord) => number) => runs.reduce((a, r) => a + f(r), 0)
      const flood = scenario === 'flood' && contender.library !== 'bare'
      // 2xx over warm-up and measured run together: the limiter's whole life in this run.
      const allowedPerRun = runs.map(
        (r) =>
          r.warmup.status2xx +
          r.measured.status2xx +
          (r.probe && r.probe.status >= 200 && r.probe.status < 300 ? 1 : 0),
      )
      const windowsSpanned = runs.map(
        (r) =>
          Math.floor(r.endedAt / settings.windowMs) -
          Math.floor(r.startedAt / settings.windowMs) +
          1,
      )
      const degraded = sum((r) => r.server.degraded)
      const storeErrors = sum((r) => r.server.storeErrors)
      let limited: ScenarioSummary['limited']
      if (degraded > 0 || storeErrors > 0) {
        limited = {
          ok: false,
          note: `${degraded} requests answered by the fail policy (degraded), ${storeErrors} failed store calls (slower than failure.timeoutMs, or errors)`,
        }
      } else if (flood) {
        const ok = allowedPerRun.every(
          (allowed, i) => allowed >= FLOOD_LIMIT && allowed <= FLOOD_LIMIT * windowsSpanned[i]!,
        )
        limited = {
          ok,
          note: `allowed per run (warm-up + measured) ${allowedPerRun.join(', ')}; expected ${FLOOD_LIMIT}`,
        }
      } else if (contender.library !== 'bare') {
        const denied = sum((r) => r.warmup.status429 + r.measured.status429)
        limited = {
          ok: denied === 0,
          note:
            denied === 0
              ? 'no request reached the limit, as intended'
              : `${denied} unexpected 429s`,
        }
      }
      summaries.push({
        contender: contender.id,
        label: byId.get(contender.id)!.label,
        framework: contender.framework,
        library: contender.library,
        scenario,
        rounds: runs.length,
        reqPerSec: median(runs.map((r) => r.measured.reqPerSec)),
        reqPerSecPerRound: runs.map((r) => r.measured.reqPerSec),
        ratioToBare: median(ratios),
        p50: median(runs.map((r) => r.measured.p50)),
        p99: median(runs.map((r) => r.measured.p99)),
        status2xx: sum((r) => r.measured.status2xx),
        status429: sum((r) => r.measured.status429),
        statusOther: sum((r) => r.measured.statusOther + r.measured.errors + r.measured.timeouts),
        degraded,
        storeErrors,
        cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
        redisCommandsPerRequest:
          contender.store === 'redis'
            ? median(runs.map((r) => r.redis?.commandsPerRequest ?? Number.NaN))
            : undefined,
        redisUsecPerCall:
          contender.store === 'redis'
            ? median(runs.map((r) => r.redis?.usecPerCall ?? Number.NaN))
            : undefined,
        redisUsecPerRequest:
          contender.store === 'redis'
            ? median(runs.map((r) => r.redis?.usecPerRequest ?? Number.NaN))
            : undefined,
        redisCpuUsPerRequest:
          contender.store === 'redis'
            ? median(runs.map((r) => r.redisCpuUsPerRequest ?? Number.NaN))
            : undefined,
        scriptKeysPerCall:
          contender.store === 'redis'
            ? runs.reduce<Record<string, number>>((sum, r) => {
                for (const [bucket, n] of Object.entries(r.server.scriptKeysPerCall ?? {}))
                  sum[bucket] = (sum[bucket] ?? 0) + n
                return sum
              }, {})
            : undefined,
        redisSent: runs.at(-1)?.redis?.sent,
        limited,
      })
    }
  }
  return summaries
}

main().catch((error) => {
  console.error(error)
  killChildren()
  process.exit(1)
})
