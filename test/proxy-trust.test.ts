/**
 * Proxy trust as users configure it on the frameworks the lockfile resolves (issue 12, item 3):
 * Express takes a hop count, Fastify >= 5.12.1 takes only addresses or CIDRs. With the right
 * setting, clients behind the proxy get their own counters; a numeric Fastify `trustProxy` (which
 * Fastify now ignores, so every client would share the proxy's counter) is reported clearly.
 */
import { fixedWindow, setWarningHandler, type WarningHandler } from '@tollgate/core'
import { resetWarnings } from '@tollgate/core/http'
import { rateLimit } from '@tollgate/express'
import { tollgate } from '@tollgate/fastify'
import express from 'express'
import Fastify from 'fastify'
import request from 'supertest'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const CLIENTS = ['203.0.113.1', '203.0.113.2', '203.0.113.3']
let warnings: Array<{ code: string; message: string }>
let previous: WarningHandler | null

beforeEach(() => {
  warnings = []
  resetWarnings()
  previous = setWarningHandler((code, message) => warnings.push({ code, message }))
})
afterEach(() => {
  setWarningHandler(previous)
  resetWarnings()
})

const algorithm = fixedWindow({ limit: 1, windowMs: 60_000 })

describe('proxy trust', () => {
  it('Express with a hop count: each client behind the proxy has its own counter', async () => {
    const app = express()
    app.set('trust proxy', 1)
    app.use(rateLimit({ algorithm }))
    app.get('/', (_req, res) => {
      res.send('ok')
    })
    const statuses: number[] = []
    for (const client of CLIENTS) {
      statuses.push((await request(app).get('/').set('x-forwarded-for', client)).status)
    }
    expect(statuses).toEqual([200, 200, 200])
    expect(warnings).toEqual([])
  })

  it('Fastify with the proxy address as trustProxy: each client has its own counter', async () => {
    const app = Fastify({ trustProxy: '127.0.0.1' })
    await app.register(tollgate, { algorithm })
    app.get('/', async () => 'ok')
    const statuses: number[] = []
    for (const client of CLIENTS) {
      statuses.push(
        (await app.inject({ url: '/', headers: { 'x-forwarded-for': client } })).statusCode,
      )
    }
    expect(statuses).toEqual([200, 200, 200])
    expect(warnings).toEqual([])
    await app.close()
  })

  it('Fastify with a hop count (ignored by Fastify >= 5.12.1): a warning says to use addresses or CIDRs', async () => {
    // Not in Fastify's types any more either; a JavaScript user, or an old README, passes it.
    const app = Fastify({ trustProxy: 1 as unknown as string })
    await app.register(tollgate, { algorithm })
    app.get('/', async () => 'ok')
    const statuses: number[] = []
    for (const client of CLIENTS) {
      statuses.push(
        (await app.inject({ url: '/', headers: { 'x-forwarded-for': client } })).statusCode,
      )
    }
    // Every client is the proxy (127.0.0.1) to Fastify, so they share one counter ...
    expect(statuses).toEqual([200, 429, 429])
    // ... and tollgate says so once, naming the fix.
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.code).toBe('WARN_TOLLGATE_FORWARDED_WITHOUT_TRUST_PROXY')
    expect(warnings[0]!.message).toMatch(/Fastify trustProxy/)
    expect(warnings[0]!.message).toMatch(/CIDR/)
    await app.close()
  })
})
