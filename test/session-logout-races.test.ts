/**
 * Issue 14, item 3: "log out everywhere" misses no live session. A save racing a logout used to
 * leave the session alive but out of the user index (299 of 300 trials), and a login racing
 * destroyUser left new sessions out of the index, surviving a second destroyUser. Each race runs
 * 300 times on two connections (two app servers), on one Redis and on the Cluster, for both
 * clients: 0 missed.
 */
import { RedisSessionStore, type SessionRedisClient } from '@tollgate/session'
import type { SessionData } from 'express-session'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type ClientKind, clientKinds } from '../packages/session/test/support/clients.js'

const TRIALS = 300
/** 300 trials of several round trips each, on a loaded 2-core machine. */
const RACE_TIMEOUT_MS = 90_000

function sessionOf(user: string, extra: Record<string, unknown> = {}): SessionData {
  return {
    cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), path: '/' },
    user: { id: user },
    ...extra,
  } as unknown as SessionData
}

const userKey = (session: SessionData) => (session as { user?: { id: string } }).user?.id

const topologies = [
  { name: 'one Redis', make: (kind: ClientKind) => kind.single(inject('redisUrl')) },
  { name: 'the Cluster', make: (kind: ClientKind) => kind.cluster(inject('clusterPorts')) },
]

describe.each(clientKinds)('$name', (kind) => {
  describe.each(topologies)('on $name', (topology) => {
    const prefix = `test-session-races-${kind.name}-${topology.name.replace(/\W/g, '')}:`
    let clients: SessionRedisClient[] = []
    let a: RedisSessionStore
    let b: RedisSessionStore

    beforeAll(async () => {
      clients = [await topology.make(kind), await topology.make(kind)]
      a = new RedisSessionStore({ client: clients[0]!, prefix, userKey })
      b = new RedisSessionStore({ client: clients[1]!, prefix, userKey })
      await a.clear()
    })

    afterAll(async () => {
      await a?.clear()
      for (const client of clients) await kind.close(client)
    })

    // One user per trial: each race starts from a clean index, as a real logout would.
    it(
      'a save racing a logout never leaves a live session out of the user index',
      async () => {
        const outcome = { missed: 0, survivedDestroyUser: 0 }
        for (let i = 0; i < TRIALS; i++) {
          const user = `ada-${i}`
          const sid = `save-logout-${i}`
          await a.set(sid, sessionOf(user, { v: 0 }))
          await Promise.all([a.set(sid, sessionOf(user, { v: 1 })), b.destroy(sid)])
          if ((await a.get(sid)) !== null && !(await a.userSessions(user)).includes(sid)) {
            outcome.missed++
          }
          // Log out everywhere: whatever the race left alive ends now.
          await b.destroyUser(user)
          if ((await a.get(sid)) !== null) outcome.survivedDestroyUser++
        }
        expect(outcome).toEqual({ missed: 0, survivedDestroyUser: 0 })
      },
      RACE_TIMEOUT_MS,
    )

    it(
      'a login racing destroyUser is destroyed or stays listed, so a second destroyUser ends it',
      async () => {
        const outcome = { oldSurvived: 0, missed: 0, survivedSecond: 0 }
        for (let i = 0; i < TRIALS; i++) {
          const user = `bob-${i}`
          const before = `before-${i}`
          const login = `login-${i}`
          await a.set(before, sessionOf(user))
          await Promise.all([b.destroyUser(user), a.set(login, sessionOf(user))])
          if ((await a.get(before)) !== null) outcome.oldSurvived++
          if ((await a.get(login)) !== null && !(await a.userSessions(user)).includes(login)) {
            outcome.missed++
          }
          await b.destroyUser(user)
          if ((await a.get(login)) !== null) outcome.survivedSecond++
        }
        expect(outcome).toEqual({ oldSurvived: 0, missed: 0, survivedSecond: 0 })
      },
      RACE_TIMEOUT_MS,
    )
  })
})
