import {
  algorithmSignature,
  assertAlgorithm,
  checkTrustProxy,
  type Decision,
  denialResponse,
  denialStatus,
  describeValue,
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

/** Set on a request once a tollgate hook counted it, so a second hook cannot count it again. */
const kCounted: unique symbol = Symbol('tollgate.counted')
/** Set on route options once a tollgate hook is attached (a plugin registered twice). */
const kAttached: unique symbol = Symbol('tollgate.attached')

type CountedRequest = FastifyRequest & { [kCounted]: boolean }
type Config = HttpConfig<FastifyRequest, TollgateHandler>

/** Plugin options a route inherits (every one but global, name, prefix and limiter). */
const INHERITED = [
  'algorithm',
  'store',
  'key',
  'cost',
  'skip',
  'headers',
  'statusCode',
  'message',
  'handler',
  'failure',
  'onStoreError',
  'denyCache',
]
/** Options that build a limiter; a route that brings its own `limiter` takes none of them. */
const LIMITER_BUILDING = ['algorithm', 'store', 'failure', 'onStoreError', 'denyCache']

function createHook(config: Config): onRequestAsyncHookHandler {
  const { limiter, policy, key: keyOf, skip, costOf, limitOptions, handler } = config
  let forwardedChecked = false

  return async function tollgateOnRequest(request: FastifyRequest, reply: FastifyReply) {
    if ((request as CountedRequest)[kCounted]) return
    ;(request as CountedRequest)[kCounted] = true
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
    const headers = rateLimitHeaders([{ decision, policy, key }])
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
  for (const name of Object.keys(own)) merged[name] = own[name]
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
  if (!fastify.hasRequestDecorator(kCounted)) fastify.decorateRequest(kCounted, false)

  // One hook per config object: the HEAD route Fastify derives from a GET route shares the GET
  // route's config object, and so its counter.
  const routeHooks = new WeakMap<object, onRequestAsyncHookHandler>()

  fastify.addHook('onRoute', (route) => {
    const marked = route as RouteOptions & { [kAttached]?: true }
    if (marked[kAttached]) return
    const value = route.config?.rateLimit
    if (value === false) return
    let hook: onRequestAsyncHookHandler | undefined
    if (value === undefined) {
      hook = globalHook
    } else if (typeof value === 'object' && value !== null) {
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
    marked[kAttached] = true
    const existing = route.onRequest
    // First among the route's own hooks: limit before authentication and other work.
    route.onRequest =
      existing === undefined
        ? [hook]
        : Array.isArray(existing)
          ? [hook, ...existing]
          : [hook, existing]
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
