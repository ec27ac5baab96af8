// A @fastify/session user's app: @tollgate/session with neither express-session nor
// @types/express-session installed (issue 12, item 4). Compiled against the packed tarballs under
// the strictest settings a user may have (strict, exactOptionalPropertyTypes, skipLibCheck: false)
// as ESM and as CJS, then run.
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { RedisSessionStore, type SessionRecord } from '@tollgate/session'
import Fastify, { type Session } from 'fastify'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface Session {
    visits?: number
    owner?: string
  }
}

export async function main(redisUrl: string | undefined): Promise<string[]> {
  const seen: string[] = []
  const client = new Redis(redisUrl ?? 'redis://127.0.0.1:1', {
    lazyConnect: redisUrl === undefined,
    maxRetriesPerRequest: 1,
  })
  // Hooks typed with @fastify/session's own Session, and with the store's SessionRecord.
  const store = new RedisSessionStore({
    client,
    prefix: 'consumer:fastify-sess:',
    ttl: (session: SessionRecord) => (session.cookie?.expires ? 60 : 120),
    userKey: (session: Session) => session.owner,
  })
  // No express-session: the store's base class is a plain EventEmitter.
  seen.push(`base ${Object.getPrototypeOf(RedisSessionStore.prototype).constructor.name}`)

  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: 'a consumer check secret of at least 32 characters',
    store,
    cookie: { secure: false },
  })
  app.get('/visit', async (request) => {
    request.session.visits = (request.session.visits ?? 0) + 1
    request.session.owner = 'ada'
    return { visits: request.session.visits }
  })
  await app.ready()

  if (redisUrl !== undefined) {
    await store.clear()
    const first = await app.inject('/visit')
    const cookie = String(first.headers['set-cookie']).split(';')[0] ?? ''
    const second = await app.inject({ url: '/visit', headers: { cookie } })
    const { visits: firstVisits } = first.json<{ visits: number }>()
    const { visits: secondVisits } = second.json<{ visits: number }>()
    seen.push(`visits ${firstVisits} ${secondVisits}`)
    const stored = await store.all<Session>()
    seen.push(
      `stored ${stored.length} ${stored[0]?.visits} ${await store.userSessions('ada').then((ids) => ids.length)}`,
    )
    await store.clear()
  }

  await app.close()
  if (redisUrl === undefined) client.disconnect()
  else await client.quit()
  return seen
}
