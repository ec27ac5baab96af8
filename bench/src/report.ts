/**
 * Turns bench/results/*.json into RESULTS.md and ratio.svg (hand-written SVG, no dependencies).
 * RESULTS.md shows the full run (latest.json) when there is one, else the quick run (quick.json),
 * next to micro.json when present.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeMachine, median } from './machine.js'
import type { BenchResults, MicroResults, ScenarioSummary } from './results.js'

function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined
}

const num = (n: number | undefined | null, digits = 0): string =>
  n === undefined || n === null || !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
/** Latency in ms: whole ms as such (autocannon), finer ones (wrk, µs) with two decimals. */
const ms = (n: number | undefined | null): string =>
  num(n, n == null || Number.isInteger(n) ? 0 : 2)

/** The req/s targets of issue 9, item 4 (numerator / denominator ≥ min, same scenario and round). */
const TARGETS: { what: string; a: string; b: string; min: number; scenarios?: string[] }[] = [
  {
    what: 'Fastify tollgate Redis vs @fastify/rate-limit Redis',
    a: 'fastify/tollgate-redis/fixedWindow',
    b: 'fastify/@fastify/rate-limit-redis',
    min: 1.5,
  },
  {
    what: 'Fastify tollgate Redis vs rate-limiter-flexible Redis',
    a: 'fastify/tollgate-redis/fixedWindow',
    b: 'fastify/rate-limiter-flexible-redis',
    min: 1.4,
  },
  {
    what: 'Express tollgate Redis vs express-rate-limit + rate-limit-redis',
    a: 'express/tollgate-redis/fixedWindow',
    b: 'express/express-rate-limit-redis',
    min: 1.2,
  },
  {
    what: 'Express tollgate Redis vs rate-limiter-flexible Redis',
    a: 'express/tollgate-redis/fixedWindow',
    b: 'express/rate-limiter-flexible-redis',
    min: 1.1,
  },
  {
    what: 'Fastify tollgate Redis (default headers) vs @fastify/rate-limit Redis (its defaults)',
    a: 'fastify/tollgate-redis/fixedWindow+defaultHeaders',
    b: 'fastify/@fastify/rate-limit-redis',
    min: 1.5,
  },
  {
    what: 'Express tollgate Redis (default headers) vs express-rate-limit + rate-limit-redis (its defaults)',
    a: 'express/tollgate-redis/fixedWindow+defaultHeaders',
    b: 'express/express-rate-limit-redis',
    min: 1.2,
  },
]

/**
 * The server-CPU targets of issue 9 (tollgate's CPU µs per request above bare ≤ `max` × the
 * peer's, same scenario) and issue 11's compound figure (a two-member compound ≤ 1.2 × one limiter).
 */
const CPU_TARGETS: { what: string; a: string; b: string; max: number }[] = [
  {
    what: 'Fastify: tollgate Redis +CPU ÷ @fastify/rate-limit Redis +CPU',
    a: 'fastify/tollgate-redis/fixedWindow',
    b: 'fastify/@fastify/rate-limit-redis',
    max: 0.5,
  },
  {
    what: 'Fastify: tollgate memory +CPU ÷ @fastify/rate-limit local +CPU',
    a: 'fastify/tollgate-memory/fixedWindow',
    b: 'fastify/@fastify/rate-limit-memory',
    max: 0.5,
  },
  {
    what: 'Express: tollgate memory +CPU ÷ express-rate-limit memory +CPU',
    a: 'express/tollgate-memory/fixedWindow',
    b: 'express/express-rate-limit-memory',
    max: 0.5,
  },
  {
    what: 'Fastify: tollgate Redis (default headers) +CPU ÷ @fastify/rate-limit Redis +CPU',
    a: 'fastify/tollgate-redis/fixedWindow+defaultHeaders',
    b: 'fastify/@fastify/rate-limit-redis',
    max: 0.5,
  },
  {
    what: 'Fastify: tollgate memory (default headers) +CPU ÷ @fastify/rate-limit local +CPU',
    a: 'fastify/tollgate-memory/fixedWindow+defaultHeaders',
    b: 'fastify/@fastify/rate-limit-memory',
    max: 0.5,
  },
  {
    what: 'Express: tollgate memory (default headers) +CPU ÷ express-rate-limit memory +CPU',
    a: 'express/tollgate-memory/fixedWindow+defaultHeaders',
    b: 'express/express-rate-limit-memory',
    max: 0.5,
  },
  {
    what: 'Fastify: tollgate Redis two-member compound +CPU ÷ one fixedWindow +CPU (issue 11)',
    a: 'fastify/tollgate-redis/fixedWindow+compound',
    b: 'fastify/tollgate-redis/fixedWindow',
    max: 1.2,
  },
]

/** Median over rounds of a's req/s ÷ b's req/s in the same round. */
function sameRoundRatio(a: ScenarioSummary, b: ScenarioSummary): number {
  const n = Math.min(a.reqPerSecPerRound.length, b.reqPerSecPerRound.length)
  const ratios = Array.from(
    { length: n },
    (_, i) => a.reqPerSecPerRound[i]! / b.reqPerSecPerRound[i]!,
  )
  return median(ratios)
}

function targetRows(http: BenchResults): string[] {
  const rows: string[] = []
  for (const scenario of http.settings.scenarios as string[]) {
    const find = (id: string) =>
      http.summaries.find((s) => s.contender === id && s.scenario === scenario)
    const rowsOf = http.summaries.filter((s) => s.scenario === scenario)
    if (scenario !== 'flood') {
      for (const t of TARGETS) {
        const a = find(t.a)
        const b = find(t.b)
        if (!a || !b) {
          rows.push(`| ${scenario} | ${t.what} (req/s) | ≥ ${t.min} | – | not measured |`)
          continue
        }
        const ratio = sameRoundRatio(a, b)
        // The most any limiter could show here: the bare server (a limiter that costs nothing)
        // against the peer, same rounds. Below the goal, the goal is out of reach in this run.
        const bare = find(`${a.framework}/bare`)
        const ceiling = bare ? sameRoundRatio(bare, b) : Number.NaN
        const verdict =
          ratio >= t.min
            ? 'met'
            : ceiling < t.min
              ? `NOT met; out of reach in this run (bare itself: ${num(ceiling, 2)})`
              : 'NOT met'
        rows.push(
          `| ${scenario} | ${t.what} (req/s; p50/p99 ${ms(a.p50)}/${ms(a.p99)} vs ${ms(b.p50)}/${ms(b.p99)} ms) | ≥ ${t.min} | ${num(ratio, 2)} (bare ${num(ceiling, 2)}) | ${verdict} |`,
        )
      }
      for (const t of CPU_TARGETS) {
        const a = find(t.a)
        const b = find(t.b)
        if (!a || !b) {
          rows.push(`| ${scenario} | ${t.what} | ≤ ${t.max} | – | not measured |`)
          continue
        }
        const over = cpuOverBare(a, rowsOf)
        const peer = cpuOverBare(b, rowsOf)
        const ratio = over / peer
        rows.push(
          `| ${scenario} | ${t.what} | ≤ ${t.max} | ${num(ratio, 2)} (${num(over, 1)} / ${num(peer, 1)} µs) | ${peer > 0 && ratio <= t.max ? 'met' : 'NOT met'} |`,
        )
      }
      // Issue 11's figure read literally: the server's CPU with the compound against the server's
      // CPU with one limiter (framework included), beside the stricter "+CPU over bare" row above.
      const compound = find('fastify/tollgate-redis/fixedWindow+compound')
      const one = find('fastify/tollgate-redis/fixedWindow')
      if (compound && one) {
        const ratio = compound.cpuUsPerRequest / one.cpuUsPerRequest
        rows.push(
          `| ${scenario} | Fastify: server CPU with the two-member compound ÷ with one fixedWindow (whole server, issue 11) | ≤ 1.2 | ${num(ratio, 2)} (${num(compound.cpuUsPerRequest, 1)} / ${num(one.cpuUsPerRequest, 1)} µs) | ${ratio <= 1.2 ? 'met' : 'NOT met'} |`,
        )
      }
    } else {
      for (const id of [
        'express/tollgate-redis/fixedWindow',
        'fastify/tollgate-redis/fixedWindow',
        'fastify/tollgate-redis/fixedWindow+compound',
      ]) {
        const a = find(id)
        if (a?.redisCommandsPerRequest !== undefined) {
          rows.push(
            `| flood | ${a.label}: Redis commands per denied request | ≤ 0.01 | ${num(a.redisCommandsPerRequest, 4)} | ${a.redisCommandsPerRequest <= 0.01 ? 'met' : 'NOT met'} |`,
          )
        }
      }
      const a = find('fastify/tollgate-redis/fixedWindow')
      const frl = find('fastify/@fastify/rate-limit-redis')
      if (a && frl) {
        const ratio = sameRoundRatio(a, frl)
        rows.push(
          `| flood | Fastify tollgate Redis vs @fastify/rate-limit Redis (req/s) | ≥ 1.5 | ${num(ratio, 2)} | ${ratio >= 1.5 ? 'met' : 'NOT met'} |`,
        )
      }
    }
  }
  return rows
}

/** Server CPU µs per request above the bare server of the same framework and scenario. */
function cpuOverBare(s: ScenarioSummary, rows: ScenarioSummary[]): number {
  const bare = rows.find((b) => b.contender === `${s.framework}/bare`)
  return bare ? s.cpuUsPerRequest - bare.cpuUsPerRequest : Number.NaN
}

function scenarioTable(rows: ScenarioSummary[]): string[] {
  const out = [
    '| contender | req/s | × bare | p50 ms | p99 ms | 2xx | 429 | other | CPU µs/req | +CPU µs vs bare | Redis cmd/req | Redis µs/call | Redis CPU µs/req | limited? |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ]
  for (const s of rows) {
    out.push(
      `| ${s.label} | ${num(s.reqPerSec)} | ${num(s.ratioToBare, 2)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.status2xx} | ${s.status429} | ${s.statusOther} | ${num(s.cpuUsPerRequest, 1)} | ${s.library === 'bare' ? '–' : num(cpuOverBare(s, rows), 1)} | ${num(s.redisCommandsPerRequest, 3)} | ${num(s.redisUsecPerCall, 2)} | ${num(s.redisCpuUsPerRequest, 2)} | ${s.limited ? `${s.limited.ok ? 'yes' : '**NO**'}: ${s.limited.note}` : '–'} |`,
    )
  }
  // Batch sizes: how many keys each script call carried (one per decision for a rate algorithm).
  const batched = rows.filter((s) => s.scriptKeysPerCall && Object.keys(s.scriptKeysPerCall).length)
  if (batched.length) {
    out.push('', 'Script calls by number of keys (summed over rounds):', '')
    for (const s of batched) {
      const order = (b: string) => (b.startsWith('>') ? 1e9 : Number(b.split('-')[0]))
      const parts = Object.entries(s.scriptKeysPerCall!)
        .sort(([a], [b]) => order(a) - order(b))
        .map(([bucket, n]) => `${bucket}: ${n}`)
      out.push(`- ${s.label}: ${parts.join(', ')}`)
    }
  }
  return out
}

function httpSection(http: BenchResults, source: string): string[] {
  const st = http.settings
  const out = [
    `## HTTP (\`pnpm bench\`${st.quick ? ', BENCH_QUICK=1: a smoke run, not a measurement' : ''})`,
    '',
    `Source: \`${source}\`. Machine: ${describeMachine(http.machine)}; run ${http.machine.date}.`,
    `${st.rounds} interleaved round(s) per scenario, ${st.warmup}s warm-up + ${st.seconds}s measured per run, ` +
      `${st.connections} connections (${st.loader ?? 'autocannon'}), medians over rounds. Limits: \`single\` and \`multi\` ` +
      `${num(st.hugeLimit as number)} per ${num((st.windowMs as number) / 1000)}s (never reached), \`flood\` ` +
      `${st.floodLimit} per ${num((st.windowMs as number) / 1000)}s; \`multi\` rotates ${num(st.clients as number)} X-Forwarded-For addresses.`,
    '',
    '![ratio to bare](ratio.svg)',
    '',
  ]
  for (const scenario of st.scenarios as string[]) {
    const rows = http.summaries.filter((s) => s.scenario === scenario)
    if (rows.length === 0) continue
    out.push(`### ${scenario}`, '', ...scenarioTable(rows), '')
  }
  if (http.checks.length) {
    out.push(
      '### Exactness check (`multi`)',
      '',
      `Limit 1 per client and hour; ${num(http.checks[0]!.clients)} clients (X-Forwarded-For) send one request each, then a second one each. An exact limiter allows every first and denies every second request.`,
      '',
      '| contender | pass 1 allowed | pass 2 denied | pass 2 allowed again | verdict |',
      '|---|--:|--:|--:|---|',
    )
    for (const c of http.checks) {
      const label = http.contenders.find((x) => x.id === c.contender)?.label ?? c.contender
      out.push(
        `| ${label} | ${c.firstPass.status2xx} | ${c.secondPass.status429} | ${c.secondPass.status2xx} | ${c.exact ? 'exact' : `**not exact**: counted ${c.countedClients} of ${c.clients} clients`}${c.degraded || c.storeErrors ? ` (${c.degraded} degraded answers, ${c.storeErrors} failed store calls)` : ''} |`,
      )
    }
    out.push('')
  }
  out.push(
    '### Targets (issue 9, item 4; issue 11, item 3)',
    '',
    '| scenario | target | goal | measured | |',
    '|---|---|--:|--:|---|',
    ...targetRows(http),
    '',
  )
  const skipped = Object.entries(http.skipped)
  if (skipped.length) {
    out.push('### Skipped contenders', '', ...skipped.map(([id, why]) => `- \`${id}\`: ${why}`), '')
  }
  out.push(
    '### Headers each contender sends',
    '',
    'Configured, and as observed on one request outside the measurement (a 200 in `single`, a 429 in `flood`).',
    '',
    '| contender | configured | observed on 200 | observed on 429 |',
    '|---|---|---|---|',
  )
  const observed = (id: string, scenario: string) => {
    const run = http.runs.find((r) => r.contender === id && r.scenario === scenario && r.probe)
    if (!run?.probe) return '–'
    const names = Object.entries(run.probe.headers).map(([k, v]) => `\`${k}: ${v}\``)
    return `${run.probe.status}: ${names.length ? names.join(' ') : 'none'}`
  }
  for (const c of http.contenders) {
    out.push(
      `| ${c.label} | ${c.headers} | ${observed(c.id, 'single')} | ${observed(c.id, 'flood')} |`,
    )
  }
  out.push('')
  return out
}

function microSection(micro: MicroResults): string[] {
  const st = micro.settings
  const out = [
    '## In-process (`pnpm bench:micro`)',
    '',
    `Machine: ${describeMachine(micro.machine)}; run ${micro.machine.date}. ${st.rounds} round(s) of ${st.seconds}s per figure, medians.`,
    '',
    `### Memory limiters (decisions/s, one caller awaiting each decision)`,
    '',
    `| limiter | 1 key | ${num(st.manyKeys as number)} keys | heap + ArrayBuffer bytes per key (${num(st.heapKeys as number)} keys) | exact over ${num(st.manyKeys as number)} keys |`,
    '|---|--:|--:|--:|---|',
  ]
  for (const m of micro.memory) {
    out.push(
      m.skipped
        ? `| ${m.name} | skipped: ${m.skipped} | | | |`
        : `| ${m.name} | ${num(m.oneKey)} | ${num(m.manyKeys)} | ${num(m.heapBytesPerKey)} | ${m.exact ?? '–'} |`,
    )
  }
  out.push(
    '',
    `### Redis (decisions/s with ${st.inFlight} in flight, one client; × floor is the EVALSHA floor of the same client library)`,
    '',
    '| limiter | client | decisions/s | × floor | Redis cmd/decision | Redis µs/call | Redis µs/decision | Redis CPU µs/decision | Node CPU µs/decision |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  )
  for (const r of micro.redis) {
    out.push(
      r.skipped
        ? `| ${r.name} | ${r.client ?? 'ioredis'} | skipped: ${r.skipped} | | | | | | |`
        : `| ${r.name} | ${r.client ?? 'ioredis'} | ${num(r.decisionsPerSec)} | ${num(r.ratioToFloor, 2)} | ${num(r.commandsPerDecision, 3)} | ${num(r.redisUsecPerCall, 2)} | ${num(r.redisUsecPerDecision, 2)} | ${num(r.redisCpuUsecPerDecision, 2)} | ${num(r.nodeCpuUsecPerDecision, 2)} |`,
    )
  }
  // Issue 9, item 4: batching against one EVALSHA per decision, per client library.
  out.push(
    '',
    '### Targets (issue 9, item 4: batched Redis decisions)',
    '',
    '| target | goal | measured | |',
    '|---|--:|--:|---|',
  )
  for (const client of ['ioredis', 'node-redis'] as const) {
    const suffix = client === 'ioredis' ? '' : ' (node-redis)'
    const on = micro.redis.find(
      (r) => r.name === `tollgate RedisStore fixedWindow${suffix}` && !r.skipped,
    )
    const off = micro.redis.find(
      (r) => r.name === `tollgate RedisStore fixedWindow, batch: false${suffix}` && !r.skipped,
    )
    if (on?.ratioToFloor !== undefined) {
      out.push(
        `| fixedWindow on ${client}, batch on: decisions/s ÷ ${client} EVALSHA floor | ≥ 2 | ${num(on.ratioToFloor, 2)} | ${on.ratioToFloor >= 2 ? 'met' : 'NOT met'} |`,
      )
    }
    if (on?.redisCpuUsecPerDecision !== undefined && off?.redisCpuUsecPerDecision !== undefined) {
      const ratio = on.redisCpuUsecPerDecision / off.redisCpuUsecPerDecision
      out.push(
        `| fixedWindow on ${client}: Redis CPU µs/decision, batch on ÷ batch off | ≤ 0.5 | ${num(ratio, 2)} (${num(on.redisCpuUsecPerDecision, 2)} / ${num(off.redisCpuUsecPerDecision, 2)}) | ${ratio <= 0.5 ? 'met' : 'NOT met'} |`,
      )
    }
  }
  out.push(
    '',
    '### Targets (issues 5 and 9: memory limiters)',
    '',
    '| target | goal | measured | |',
    '|---|--:|--:|---|',
  )
  const erl = micro.memory.find((m) => m.name.startsWith('express-rate-limit'))
  for (const m of micro.memory.filter((x) => x.name.startsWith('tollgate') && !x.skipped)) {
    if (erl?.manyKeys && m.manyKeys) {
      const ratio = m.manyKeys / erl.manyKeys
      out.push(
        `| ${m.name}: decisions/s over ${num(st.manyKeys as number)} keys ÷ express-rate-limit MemoryStore | ≥ 2 | ${num(ratio, 2)} | ${ratio >= 2 ? 'met' : 'NOT met'} |`,
      )
    }
    if (m.heapBytesPerKey !== undefined) {
      out.push(
        `| ${m.name}: heap bytes per tracked key | ≤ 120 | ${num(m.heapBytesPerKey)} | ${m.heapBytesPerKey <= 120 ? 'met' : 'NOT met'} |`,
      )
    }
  }
  const peerUsec = micro.redis
    .filter((r) => !r.name.startsWith('tollgate') && !r.name.startsWith('floor') && !r.skipped)
    .map((r) => r.redisUsecPerCall ?? Number.NaN)
  // The peers all count fixed windows: that is the same job as tollgate's fixedWindow script.
  const bestPeer = Math.min(...peerUsec.filter(Number.isFinite))
  for (const r of micro.redis.filter((x) => x.name.startsWith('tollgate') && !x.skipped)) {
    out.push(
      `| ${r.name}: decisions/s ÷ EVALSHA floor | ≥ 0.95 | ${num(r.ratioToFloor, 2)} | ${(r.ratioToFloor ?? 0) >= 0.95 ? 'met' : 'NOT met'} |`,
    )
    if (Number.isFinite(bestPeer) && r.name.endsWith('fixedWindow')) {
      out.push(
        `| ${r.name}: Redis µs per call vs every peer's fixed-window script | ≤ ${num(bestPeer, 2)} | ${num(r.redisUsecPerCall, 2)} | ${(r.redisUsecPerCall ?? Number.POSITIVE_INFINITY) <= bestPeer ? 'met' : 'NOT met'} |`,
      )
    }
  }
  out.push('')
  return out
}

const COLORS: Record<string, string> = {
  tollgate: '#2b6cb0',
  'express-rate-limit': '#c05621',
  'rate-limiter-flexible': '#2f855a',
  '@fastify/rate-limit': '#6b46c1',
  bare: '#718096',
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Horizontal bars: req/s ratio to the bare framework, one panel per scenario. */
export function ratioSvg(http: BenchResults): string {
  const barHeight = 16
  const gap = 4
  const labelWidth = 330
  const chartWidth = 460
  const width = labelWidth + chartWidth + 70
  const scenarios = (http.settings.scenarios as string[]).filter((s) =>
    http.summaries.some((x) => x.scenario === s),
  )
  const maxRatio = Math.max(
    1.1,
    ...http.summaries.map((s) => (Number.isFinite(s.ratioToBare) ? s.ratioToBare : 0)),
  )
  const x = (ratio: number) => labelWidth + (ratio / maxRatio) * chartWidth
  const parts: string[] = []
  let y = 58
  for (const scenario of scenarios) {
    const rows = http.summaries.filter((s) => s.scenario === scenario)
    parts.push(
      `<text x="10" y="${y + 12}" font-weight="bold" font-size="14">${escapeXml(scenario)}</text>`,
    )
    y += 22
    const top = y
    for (const s of rows) {
      const library =
        http.contenders.find((c) => c.id === s.contender)?.library ?? s.contender.split('/')[1]!
      const ratio = Number.isFinite(s.ratioToBare) ? s.ratioToBare : 0
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 12}" text-anchor="end" font-size="12">${escapeXml(s.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${Math.max(0, x(ratio) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${COLORS[library] ?? '#999'}"/>`,
        `<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + 12}" font-size="11">${ratio.toFixed(2)}</text>`,
      )
      y += barHeight + gap
    }
    parts.push(
      `<line x1="${x(1).toFixed(1)}" y1="${top - 4}" x2="${x(1).toFixed(1)}" y2="${y}" stroke="#000" stroke-dasharray="3,3"/>`,
    )
    y += 14
  }
  const legend = Object.entries(COLORS)
    .map(
      ([name, color], i) =>
        `<rect x="${10 + i * 170}" y="${y}" width="12" height="12" fill="${color}"/><text x="${26 + i * 170}" y="${y + 11}" font-size="12">${escapeXml(name)}</text>`,
    )
    .join('')
  y += 24
  const m = http.machine
  const header = [
    `<text x="10" y="20" font-size="16" font-weight="bold">req/s relative to the bare framework (same scenario and round, median of ${http.settings.rounds})${http.settings.quick ? ' — QUICK smoke run' : ''}</text>`,
    `<text x="10" y="40" font-size="12">${escapeXml(describeMachine(m))}; ${escapeXml(m.date)}</text>`,
  ]
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...header,
    ...parts,
    legend,
    '</svg>',
    '',
  ].join('\n')
}

/** Writes RESULTS.md and ratio.svg; returns the paths written. */
export function writeReports(dir: string, _justWritten?: string): string[] {
  const latest = readJson<BenchResults>(join(dir, 'latest.json'))
  const quick = readJson<BenchResults>(join(dir, 'quick.json'))
  const micro = readJson<MicroResults>(join(dir, 'micro.json'))
  const http = latest ?? quick
  const source = latest ? 'bench/results/latest.json' : 'bench/results/quick.json'
  const written: string[] = []
  const md = [
    '# tollgate benchmark results',
    '',
    'Generated by `pnpm bench` / `pnpm bench:micro` (see bench/README.md for what each column means).',
    '',
  ]
  if (http) {
    md.push(...httpSection(http, source))
    writeFileSync(join(dir, 'ratio.svg'), ratioSvg(http))
    written.push(join(dir, 'ratio.svg'))
  }
  if (micro) md.push(...microSection(micro))
  writeFileSync(join(dir, 'RESULTS.md'), `${md.join('\n')}\n`)
  written.push(join(dir, 'RESULTS.md'))
  return written
}
