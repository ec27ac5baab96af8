import { spawn } from 'node:child_process'
import net from 'node:net'
import os from 'node:os'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  platform: string
  node: string
  redis: string
  date: string
  /** What one small loopback write costs the writer on this host (see measureMachine). */
  wakeCost?: WakeCost
}

/**
 * µs of wall time inside `socket.write` of 300 bytes to a reader in another process, the mean of
 * 500 writes 1 ms apart: `sleepingUs` while the reader waits in epoll, `busyUs` while it computes.
 * On a VM, waking a sleeping process on the other core is an interrupt between virtual CPUs and
 * can cost far more than the bytes: it is the price every Redis call and every HTTP response pays
 * here, so it sets how much batching Redis calls can save, and why ratios move from host to host.
 */
export interface WakeCost {
  sleepingUs: number
  busyUs: number
}

export function machineInfo(redisVersion: string): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisVersion,
    date: new Date().toISOString(),
  }
}

export function describeMachine(m: MachineInfo): string {
  const wake =
    m.wakeCost === undefined
      ? ''
      : `; a 300-byte loopback write costs ${m.wakeCost.sleepingUs.toFixed(1)} µs to a sleeping reader, ${m.wakeCost.busyUs.toFixed(1)} µs to a busy one`
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, Redis ${m.redis}${wake}`
}

// The reader: a loopback sink on an ephemeral port that prints its port; with `spin`, it keeps
// its thread busy in 5 ms slices (yielding between them, so it still reads).
const READER = `
const net = require('node:net')
const server = net.createServer((c) => c.on('data', () => {}))
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
if (process.argv[1] === 'spin') {
  const spin = () => { const t = Date.now(); while (Date.now() - t < 5); setImmediate(spin) }
  spin()
}
`

async function writeCost(mode: 'sleep' | 'spin'): Promise<number> {
  const child = spawn(process.execPath, ['-e', READER, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`wake-cost reader exited ${code}`)))
    })
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const payload = 'x'.repeat(300)
    const writes = 500
    let totalMs = 0
    for (let i = 0; i < writes; i++) {
      const start = performance.now()
      socket.write(payload)
      totalMs += performance.now() - start
      await new Promise((r) => setTimeout(r, 1))
    }
    socket.destroy()
    return (totalMs * 1000) / writes
  } finally {
    child.kill()
  }
}

/** machineInfo with the wake cost measured now (about 1.5 s; left out when the probe fails). */
export async function measureMachine(redisVersion: string): Promise<MachineInfo> {
  const info = machineInfo(redisVersion)
  try {
    const sleepingUs = await writeCost('sleep')
    const busyUs = await writeCost('spin')
    return { ...info, wakeCost: { sleepingUs, busyUs } }
  } catch {
    return info
  }
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
