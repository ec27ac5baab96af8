import {
  algorithmSignature,
  assertAlgorithm,
  checkTrustProxy,
  type Decision,
  denialResponse,
  denialStatus,
  describeValue,
  type HeaderEntry,
  HTTP_OPTIONS,
  type HttpConfig,
  type HttpLimitOptions,
  ipKey,
  parseHeadersOptions,
  parseHttpOptions,
  rateLimitHeaders,
  rejectUnknownOptions,
  requireObject,
  TollgateTypeError,
} from '@tollgate/core'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  RouteOptions,
} from 'fastify'
import fp from 'fastify-plugin'

/**
 * Replaces the whole denial response. Rate-limit headers, `Retry-After` and the status (429, or
 * 503 when fail-closed) are already set on `reply` when it runs; it must send the reply.
 */
export type TollgateHandler = (
  request: FastifyRequest,
  reply: FastifyReply,
  decision: Decision,
) => unknown

/**
 * Options of a route's `config.rateLimit`: the options both adapters share (see
 * `@tollgate/core`). Unset options are inherited from the plugin options, except `name` and
 * `prefix`; a route's `limiter` takes none of the plugin's limiter options (`algorithm`, `store`,
 * `failure`, `onStoreError`, `denyCache`).
 */
export interface TollgateRouteOptions extends HttpLimitOptions<FastifyRequest, TollgateHandler> {}

/** Options of the {@link tollgate} plugin. */
export interface TollgateOptions extends TollgateRouteOptions {
  /**
   * Limit every route registered after the plugin (in its scope and below); `false` limits only
   * routes with a `config.rateLimit` object.
   * @default true
   */
  global?: boolean
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's own limiter (its own counter), or `false` to opt out of the global one. */
    rateLimit?: TollgateRouteOptions | false
  }
  interface FastifyRequest {
    /** The decision of the limiter that ran on this request; null when none did. */
    rateLimit: Decision | null
  }
}

/**
 * The limiters that counted a request, in order: a limiter never counts a request twice, and
 * stacked limiters (the plugin registered more than once) combine their headers.
 */
const kEntries: unique symbol = Symbol('tollgate.entries')
/** Set on route options once a route's own `config.rateLimit` limiter is attached. */
const kRouteLimited: unique symbol = Symbol('tollgate.routeLimited')
/** The global hooks already attached to a route, so one registration attaches once. */
const kGlobalHooks: unique symbol = Symbol('tollgate.globalHooks')

type CountedRequest = FastifyRequest & { [kEntries]: HeaderEntry[] | null }
type Config = HttpConfig<FastifyRequest, TollgateHandler>

/** Plugin options a route inherits: every shared option but its own limiter, name and prefix. */
const INHERITED = HTTP_OPTIONS.filter(
  (name) => name !== 'limiter' && name !== 'name' && name !== 'prefix',
)
/** Options that build a limiter; a route that brings its own `limiter` takes none of them. */
const LIMITER_BUILDING = ['algorithm', 'store', 'failure', 'onStoreError', 'denyCache']

function createHook(config: Config): onRequestAsyncHookHandler {
  const { limiter, policy, key: keyOf, skip, costOf, limitOptions, handler } = config
  let forwardedChecked = false

  return async function tollgateOnRequest(request: FastifyRequest, reply: FastifyReply) {
    let entries = (request as CountedRequest)[kEntries]
    if (entries !== null && countedBy(entries, policy)) return
    if (!forwardedChecked && request.headers['x-forwarded-for'] !== undefined) {
      forwardedChecked = true
      // Fastify does not expose trustProxy; an IP equal to the socket peer means it was ignored.
      if (request.ip === request.socket.remoteAddress) checkTrustProxy(false, true)
    }
    if (skip !== undefined) {
      const answer = skip(request)
      if (answer === true || (answer !== false && (await answer) === true)) return
    }
    let key = keyOf === undefined ? ipKey(request.ip) : keyOf(request)
    if (typeof key !== 'string') key = await key
    const decision = await limiter.limit(
      key,
      costOf === undefined ? limitOptions : { cost: costOf(request) },
    )
    request.rateLimit = decision
    const entry: HeaderEntry = { decision, policy, key }
    if (entries === null) {
      entries = [entry]
      ;(request as CountedRequest)[kEntries] = entries
    } else {
      entries.push(entry)
    }
    const headers = rateLimitHeaders(entries)
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i]!, headers[i + 1]!)
    if (decision.allowed) return
    if (handler !== undefined) {
      reply.code(denialStatus(config, decision))
      const done = handler(request, reply, decision)
      if (done instanceof Promise) await done
      return reply
    }
    let denial = denialResponse(config, request, decision, request.headers.accept)
    if (denial instanceof Promise) denial = await denial
    return reply.code(denial.status).header('content-type', denial.contentType).send(denial.body)
  }
}

/** Whether this limiter (its policy object) already counted the request. */
function countedBy(entries: readonly HeaderEntry[], policy: HeaderEntry['policy']): boolean {
  for (let i = 0; i < entries.length; i++) if (entries[i]!.policy === policy) return true
  return false
}

function routeName(route: RouteOptions): string {
  const method = Array.isArray(route.method) ? route.method.join(',') : route.method
  return `${method} ${route.url}`
}

/** The options of a route limiter: the route's own over the inherited plugin options. */
function routeLimiterOptions(
  plugin: Record<string, unknown>,
  value: unknown,
  where: string,
  route: RouteOptions,
): TollgateRouteOptions {
  const own = requireObject(where, value)
  const merged: Record<string, unknown> = {}
  const ownLimiter = own.limiter !== undefined
  for (const name of INHERITED) {
    if (plugin[name] === undefined) continue
    if (ownLimiter && LIMITER_BUILDING.includes(name)) continue
    merged[name] = plugin[name]
  }
  Object.assign(merged, own)
  if (!ownLimiter && merged.algorithm === undefined && plugin.limiter !== undefined) {
    throw new TollgateTypeError(
      `${where} needs its own algorithm or limiter: the plugin's limiter cannot be shared by a route with its own counter`,
    )
  }
  if (!ownLimiter && merged.prefix === undefined && merged.store !== undefined) {
    // Its own counter in a shared store: the route is part of the key prefix.
    const algorithm = assertAlgorithm(merged.algorithm)
    merged.prefix = `${typeof own.name === 'string' ? own.name : algorithmSignature(algorithm)}:${routeName(route)}:`
  }
  return merged as TollgateRouteOptions
}

async function tollgatePlugin(fastify: FastifyInstance, options: TollgateOptions): Promise<void> {
  const o = requireObject('tollgate plugin', options)
  rejectUnknownOptions('tollgate plugin', o, [...HTTP_OPTIONS, 'global'])
  const global = o.global ?? true
  if (typeof global !== 'boolean') {
    throw new TollgateTypeError(`global must be a boolean, got ${describeValue(global)}`)
  }
  // Checked now even when only routes use it, so a bad value fails at registration.
  parseHeadersOptions(o.headers)
  const globalHook = global
    ? createHook(
        parseHttpOptions<FastifyRequest, TollgateHandler>(options, 'tollgate plugin', ['global']),
      )
    : undefined

  if (!fastify.hasRequestDecorator('rateLimit')) fastify.decorateRequest('rateLimit', null)
  // Decorated (not added per request) so every request object keeps one shape.
  if (!fastify.hasRequestDecorator(kEntries)) fastify.decorateRequest(kEntries, null)

  // One hook per config object: the HEAD route Fastify derives from a GET route shares the GET
  // route's config object, and so its counter.
  const routeHooks = new WeakMap<object, onRequestAsyncHookHandler>()

  fastify.addHook('onRoute', (route) => {
    const marked = route as RouteOptions & {
      [kRouteLimited]?: true
      [kGlobalHooks]?: onRequestAsyncHookHandler[]
    }
    const value = route.config?.rateLimit
    if (value === false || marked[kRouteLimited]) return
    let hook: onRequestAsyncHookHandler | undefined
    if (value === undefined) {
      // Every registration's global limiter applies (stacked), each attached once.
      if (globalHook === undefined) return
      const attached = marked[kGlobalHooks]
      if (attached === undefined) marked[kGlobalHooks] = [globalHook]
      else if (attached.includes(globalHook)) return
      else attached.push(globalHook)
      hook = globalHook
    } else if (typeof value === 'object' && value !== null) {
      // A route's own limiter replaces the global ones; the first registration that sees it
      // builds it, later registrations leave the route alone.
      marked[kRouteLimited] = true
      hook = routeHooks.get(value)
      if (hook === undefined) {
        const where = `config.rateLimit of ${routeName(route)}`
        const routeOptions = routeLimiterOptions(o, value, where, route)
        hook = createHook(parseHttpOptions<FastifyRequest, TollgateHandler>(routeOptions, where))
        routeHooks.set(value, hook)
      }
    } else {
      throw new TollgateTypeError(
        `config.rateLimit of ${routeName(route)} must be an options object or false, got ${describeValue(value)}`,
      )
    }
    if (hook === undefined) return
    const existing = route.onRequest
    const hooks = existing === undefined ? [] : Array.isArray(existing) ? [...existing] : [existing]
    // Before the route's own hooks (limit before authentication and other work), after the
    // tollgate hooks attached by earlier registrations, so stacked limiters run in order.
    hooks.splice((marked[kGlobalHooks]?.length ?? 1) - 1, 0, hook)
    route.onRequest = hooks
  })
}

/**
 * Fastify plugin that rate-limits requests with a tollgate limiter, in `onRequest`.
 *
 * @example
 * import Fastify from 'fastify'
 * import { fixedWindow, slidingWindow } from '@tollgate/core'
 * import { tollgate } from '@tollgate/fastify'
 *
 * const app = Fastify()
 * await app.register(tollgate, { algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) })
 * app.post('/login', { config: { rateLimit: { algorithm: slidingWindow({ limit: 5, windowMs: 60_000 }) } } }, login)
 * app.get('/health', { config: { rateLimit: false } }, () => 'ok')
 */
export const tollgate = fp<TollgateOptions>(tollgatePlugin, {
  fastify: '5.x',
  name: '@tollgate/fastify',
})

export default tollgate
