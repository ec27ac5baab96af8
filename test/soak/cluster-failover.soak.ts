/**
 * `pnpm failover` (issue 14, item 10): a Redis Cluster of 3 masters + 3 replicas on loopback,
 * a limiter (RedisStore, fail-open, timeoutMs 100) and a session store on it under load; one
 * master is killed (SIGKILL) and the run shows:
 * 1. every decision during the outage is answered within timeoutMs (+ slack), the dead shard's
 *    keys fail open (degraded), the other shards' keys keep their exact Redis answers;
 * 2. once the replica is promoted, limiting is exact again on the failed shard's slots;
 * 3. no session on the other shards is lost (and the failed shard's were replicated).
 * About a minute (the promotion takes cluster-node-timeout, 2 s, plus the election). Not part of
 * `pnpm test`. Loopback only; every wait is bounded.
 */
import { execFileSync } from 'node:child_process'
import { createLimiter, type Decision, slidingLog } from '@tollgate/core'
import { RedisStore } from '@tollgate/redis'
import { RedisSessionStore } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { Cluster } from 'ioredis'
import { expect, it } from 'vitest'
import { type RedisServer, rawCommand, startRedisServer } from '../support/redis-server.js'

const TIMEOUT_MS = 100
const SLACK_MS = 250
const LIMIT = 5
const SESSIONS = 300

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`failover: timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `CLUSTER SLOTS`-free slot lookup: CLUSTER KEYSLOT on any live node. */
async function slotOf(port: number, key: string): Promise<number> {
  const reply = await rawCommand(port, `CLUSTER KEYSLOT ${key}`)
  return Number(reply.replace(/^:/, '').trim())
}

/** The port of the master serving `slot`, from CLUSTER NODES of a live node. */
async function masterOf(port: number, slot: number): Promise<number> {
  const nodes = execFileSync('redis-cli', ['-p', String(port), 'CLUSTER', 'NODES'], {
    encoding: 'utf8',
  })
  for (const line of nodes.trim().split('\n')) {
    const fields = line.split(' ')
    if (!fields[2]!.includes('master') || fields[2]!.includes('fail')) continue
    for (const range of fields.slice(8)) {
      const [from, to = from] = range.split('-').map(Number)
      if (slot >= from! && slot <= to!) return Number(fields[1]!.split(':')[1]!.split('@')[0])
    }
  }
  throw new Error(`no live master serves slot ${slot}`)
}

function sessionOf(i: number): SessionData {
  return {
    cookie: { originalMaxAge: 600_000, expires: new Date(Date.now() + 600_000), path: '/' },
    n: i,
  } as unknown as SessionData
}

it('survives the loss of a master: fail-open within timeoutMs, exact after promotion, no session lost', {
  timeout: 180_000,
}, async () => {
  const nodes: RedisServer[] = []
  const args = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000']
  for (let i = 0; i < 6; i++) nodes.push(await startRedisServer({ args }))
  const cluster = new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { scaleReads: 'master', redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 } },
  )
  cluster.on('error', () => {})
  try {
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    )
    await until('cluster_state:ok', 30_000, async () =>
      (await Promise.all(nodes.map((n) => rawCommand(n.port, 'CLUSTER INFO')))).every((i) =>
        i.includes('cluster_state:ok'),
      ),
    )
    // Every replica has caught up with its master's (empty) data set and is known to all.
    await until('3 replicas', 30_000, async () => {
      const text = execFileSync('redis-cli', ['-p', String(nodes[0]!.port), 'CLUSTER', 'NODES'], {
        encoding: 'utf8',
      })
      return (
        text.split('\n').filter((l) => l.includes('slave') && l.includes('connected')).length === 3
      )
    })

    const errors: unknown[] = []
    const limiter = createLimiter({
      algorithm: slidingLog({ limit: LIMIT, windowMs: 600_000 }),
      store: new RedisStore({ client: cluster, prefix: 'fo:' }),
      // No limiter prefix: the Redis key is fo:{<key>}:..., so <key> alone decides the slot.
      prefix: '',
      failure: { mode: 'open', timeoutMs: TIMEOUT_MS, breaker: false },
      onStoreError: (error) => errors.push(error),
      denyCache: false,
    })
    const sessions = new RedisSessionStore({ client: cluster, prefix: 'fo-sess:' })
    for (let i = 0; i < SESSIONS; i++) await sessions.set(`s${i}`, sessionOf(i))
    // Wait until the replicas hold the sessions (WAIT on each master: acknowledged by 1 replica).
    const masters = new Set<number>()
    for (let slot = 0; slot < 16384; slot += 1000) masters.add(await masterOf(nodes[0]!.port, slot))
    for (const port of masters) {
      expect(
        execFileSync('redis-cli', ['-p', String(port), 'WAIT', '1', '5000'], {
          encoding: 'utf8',
        }).trim(),
      ).toBe('1')
    }

    // The victim: the master serving the slot of key 'victim-0' (the user key is the hash tag).
    const victimKey = (i: number) => `victim-${i}`
    const keyOnShard = async (port: number, prefix: string): Promise<string> => {
      for (let i = 0; i < 10_000; i++) {
        const key = `${prefix}-${i}`
        if ((await masterOf(nodes[0]!.port, await slotOf(nodes[0]!.port, key))) === port) return key
      }
      throw new Error('no key found on that shard')
    }
    const victimPort = await masterOf(nodes[0]!.port, await slotOf(nodes[0]!.port, victimKey(0)))
    const victim = nodes.find((n) => n.port === victimPort)!
    const survivorPort = [...masters].find((p) => p !== victimPort)!
    const liveKey = await keyOnShard(survivorPort, 'live')
    const deadKey = await keyOnShard(victimPort, 'dead')
    const sessionShard = new Map<string, number>()
    for (let i = 0; i < SESSIONS; i++) {
      sessionShard.set(
        `s${i}`,
        await masterOf(nodes[0]!.port, await slotOf(nodes[0]!.port, `fo-sess:s${i}`)),
      )
    }

    // Load: both keys decided continuously; the outage starts once the load runs.
    const answers: Array<{ key: string; d: Decision; ms: number; phase: string }> = []
    let phase = 'before'
    let stop = false
    const load = (key: string) =>
      (async () => {
        for (let i = 0; !stop && i < 100_000; i++) {
          const t0 = performance.now()
          const d = await limiter.limit(key)
          answers.push({ key, d, ms: performance.now() - t0, phase })
          await new Promise((r) => setTimeout(r, 5))
        }
      })()
    const loops = [load(liveKey), load(deadKey)]
    await new Promise((r) => setTimeout(r, 300))

    phase = 'outage'
    const killedAt = Date.now()
    await victim.kill()
    await until('a replica promoted for the victim slots', 60_000, async () => {
      const port = await masterOf(survivorPort, await slotOf(survivorPort, deadKey))
      return port !== victimPort
    })
    // ioredis learns the new layout on its next refresh or MOVED; give it the same bound.
    await until('the limiter answering from Redis again on the failed shard', 30_000, async () => {
      const d = await limiter.limit(`${deadKey}-probe`)
      return d.degraded === undefined
    })
    phase = 'after'
    const promotedMs = Date.now() - killedAt
    await new Promise((r) => setTimeout(r, 300))
    stop = true
    await Promise.all(loops)

    const outage = answers.filter((a) => a.phase === 'outage')
    const slowest = Math.max(...outage.map((a) => a.ms))
    console.log(
      `failover: master ${victimPort} killed; replica serving its slots after ${promotedMs} ms; ` +
        `${outage.length} decisions during the outage, slowest ${slowest.toFixed(0)} ms, ` +
        `${outage.filter((a) => a.d.degraded).length} degraded (fail-open), ${errors.length} store errors`,
    )
    // 1. Bounded answers; the dead shard's keys failed open; the live shard's stayed exact.
    expect(slowest).toBeLessThan(TIMEOUT_MS + SLACK_MS)
    const deadDuring = outage.filter((a) => a.key === deadKey)
    expect(deadDuring.some((a) => a.d.degraded === true && a.d.allowed)).toBe(true)
    expect(deadDuring.every((a) => a.d.degraded === undefined || a.d.allowed)).toBe(true)
    const liveDuring = outage.filter((a) => a.key === liveKey)
    expect(liveDuring.length).toBeGreaterThan(0)
    expect(liveDuring.filter((a) => a.d.degraded).length).toBeLessThan(liveDuring.length)

    // 2. Exact limiting again on the promoted shard: a fresh key there admits exactly LIMIT.
    const fresh = await keyOnShard(
      await masterOf(survivorPort, await slotOf(survivorPort, deadKey)),
      'fresh',
    )
    const got: Decision[] = []
    for (let i = 0; i < LIMIT + 3; i++) got.push(await limiter.limit(fresh))
    expect(got.every((d) => d.degraded === undefined)).toBe(true)
    expect(got.map((d) => d.allowed)).toEqual([
      ...Array.from({ length: LIMIT }, () => true),
      false,
      false,
      false,
    ])

    // 3. No session lost: those on the other shards, and (replicated before the kill) the victim's.
    const lost: string[] = []
    for (let i = 0; i < SESSIONS; i++) {
      const s = (await sessions.get(`s${i}`)) as { n?: number } | null
      if (s?.n !== i) lost.push(`s${i}@${sessionShard.get(`s${i}`)}`)
    }
    console.log(
      `failover: ${SESSIONS - lost.length}/${SESSIONS} sessions read back after the failover ` +
        `(${[...sessionShard.values()].filter((p) => p === victimPort).length} were on the killed master)`,
    )
    expect(lost).toEqual([])
  } finally {
    cluster.disconnect()
    await Promise.all(nodes.map((n) => n.stop()))
  }
})
