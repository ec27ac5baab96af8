import {
  type Decision,
  describeValue,
  type HttpLimitOptions,
  TollgateTypeError,
} from '@tollgate/core'
import {
  asError,
  type HeaderEntry,
  type HttpConfig,
  handleRequest,
  type Outcome,
  parseHttpOptions,
  type RequestFacts,
  routeOptions,
  settle,
  validateHttpOptions,
} from '@tollgate/core/http'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  preHandlerHookHandler,
  RouteOptions,
} from 'fastify'
import fp from 'fastify-plugin'

/**
 * Replaces the whole denial response. Rate-limit headers, `Retry-After` and the status (429, or
 * 503 when fail-closed) are already set on `reply` when it runs; it must send the reply (if it
 * does not, the default denial is sent).
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
export interface TollgateRouteOptions
  extends HttpLimitOptions<FastifyRequest, TollgateHandler, FastifyReply> {}

/** The request hooks a limiter can run in. */
export type TollgateHook = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler'

/** Options of the {@link tollgate} plugin. */
export interface TollgateOptions extends TollgateRouteOptions {
  /**
   * Limit every route registered after the plugin (in its scope and below); `false` limits only
   * routes with a `config.rateLimit` object.
   * @default true
   */
  global?: boolean
  /**
   * The route hook the limiter runs in: a later hook can limit by a user that an earlier one
   * authenticated (`preHandler`), at the cost of doing that earlier work for denied requests.
   * @default 'onRequest'
   */
  hook?: TollgateHook
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
  interface FastifyInstance {
    /**
     * A hook that rate-limits a route the plugin does not see (the not-found handler):
     * `app.setNotFoundHandler({ preHandler: app.rateLimit() }, handler)`. Without options it uses
     * the plugin's global limiter (its counter); with options, its own limiter over the plugin's.
     */
    rateLimit(options?: TollgateRouteOptions): preHandlerHookHandler
  }
}

/** The limiters that counted a request, in order (stacked registrations combine headers). */
const kEntries: unique symbol = Symbol('tollgate.entries')
/** Set on route options once a route's own `config.rateLimit` limiter is attached. */
const kRouteLimited: unique symbol = Symbol('tollgate.routeLimited')
/** The global hooks already attached to a route, so one registration attaches once. */
const kGlobalHooks: unique symbol = Symbol('tollgate.globalHooks')

type CountedRequest = FastifyRequest & { [kEntries]: HeaderEntry[] | null }
type Config = HttpConfig<FastifyRequest, TollgateHandler, FastifyReply>
type MarkedRoute = RouteOptions & {
  [kRouteLimited]?: true
  [kGlobalHooks]?: AnyHook[]
}
// The four hook shapes differ only in preParsing's payload argument.
type AnyHook = onRequestHookHandler

const HOOKS: readonly unknown[] = ['onRequest', 'preParsing', 'preValidation', 'preHandler']

/**
 * The request I/O around core's pipeline, as a callback hook (so a synchronous outcome stays so)
 * of the shape `hook` wants: preParsing gets and passes on the payload.
 */
function createHook(config: Config, hook: TollgateHook = 'onRequest'): AnyHook {
  const run = runner(config)
  if (hook === 'preParsing') {
    return function tollgatePreParsing(
      request: FastifyRequest,
      reply: FastifyReply,
      payload: unknown,
      done: (error: Error | null, payload?: unknown) => void,
    ) {
      run(request, reply, (error?: Error) =>
        (done as (e: unknown, p?: unknown) => void)(error ?? null, payload),
      )
    } as unknown as AnyHook
  }
  return function tollgateHook(request, reply, done) {
    run(request, reply, done)
  }
}

function runner(config: Config) {
  function write(
    o: Outcome,
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    if (o.kind === 'skip') return done()
    ;(request as CountedRequest)[kEntries] = o.entries
    request.rateLimit = o.decision
    const h = o.headers
    for (let i = 0; i < h.length; i += 2) reply.header(h[i]!, h[i + 1]!)
    if (o.kind === 'pass') {
      const ticket = o.ticket
      if (ticket !== undefined) {
        // Refund or release once the response is done: finished, or the client hung up first.
        const raw = reply.raw
        raw.once('finish', () => settle(config, ticket, request, reply, reply.statusCode, true))
        raw.once('close', () => settle(config, ticket, request, reply, reply.statusCode, false))
      }
      return done()
    }
    reply.code(o.status)
    if (o.response !== undefined) {
      reply.header('content-type', o.response.contentType).send(o.response.body)
      return
    }
    const sent = config.handler!(request, reply, o.decision)
    const fallback = () => {
      // A denied request never reaches the route, even when the handler forgot to send.
      if (!reply.sent)
        reply.send({ error: 'Too Many Requests', retryAfterMs: o.decision.retryAfterMs })
    }
    if (sent instanceof Promise) sent.then(fallback, (error: unknown) => reply.send(asError(error)))
    else fallback()
  }

  return function tollgate(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ) {
    let outcome: Outcome | Promise<Outcome>
    try {
      outcome = handleRequest(
        config,
        request,
        facts(request),
        (request as CountedRequest)[kEntries] ?? undefined,
      )
      if (!(outcome instanceof Promise)) return write(outcome, request, reply, done)
    } catch (error) {
      return done(asError(error))
    }
    outcome.then(
      (o) => write(o, request, reply, done),
      (error: unknown) => done(asError(error)),
    )
  }
}

function facts(request: FastifyRequest): RequestFacts {
  const headers = request.headers
  const forwardedFor = headers['x-forwarded-for'] !== undefined
  // request.ip is a getter that parses X-Forwarded-For through proxy-addr on every read (most of
  // the limiter's cost per request with a proxy in front): read it once.
  const ip = request.ip
  return {
    ip,
    accept: headers.accept,
    forwardedFor,
    // Fastify does not expose trustProxy: an IP equal to the socket peer means it was ignored
    // (remoteAddress is cached per socket). A value, not a getter (see RequestFacts).
    trustProxy: forwardedFor && ip === request.socket.remoteAddress ? false : null,
  }
}

function routeName(route: RouteOptions): string {
  const method = Array.isArray(route.method) ? route.method.join(',') : route.method
  return `${method} ${route.url}`
}

async function tollgatePlugin(fastify: FastifyInstance, options: TollgateOptions): Promise<void> {
  // Every plugin-level value is checked now, even when only routes will use it.
  validateHttpOptions(options, 'tollgate plugin', ['global', 'hook'])
  const global = options.global ?? true
  if (typeof global !== 'boolean') {
    throw new TollgateTypeError(`global must be a boolean, got ${describeValue(global)}`)
  }
  const hookName = options.hook ?? 'onRequest'
  if (!HOOKS.includes(hookName)) {
    throw new TollgateTypeError(
      `hook must be 'onRequest', 'preParsing', 'preValidation' or 'preHandler', got ${describeValue(hookName)}`,
    )
  }
  const { global: _, hook: __, ...inherited } = options
  const globalConfig = global
    ? parseHttpOptions<FastifyRequest, TollgateHandler, FastifyReply>(inherited, 'tollgate plugin')
    : undefined
  const globalHook = globalConfig === undefined ? undefined : createHook(globalConfig, hookName)

  // For routes the plugin does not see (the not-found handler): a preHandler-shaped hook.
  let calls = 0
  // The first registration in a scope provides app.rateLimit(); a second one (stacked limiters)
  // leaves it as it is.
  if (!fastify.hasDecorator('rateLimit'))
    fastify.decorate('rateLimit', function rateLimit(routeLimit?: TollgateRouteOptions) {
      if (routeLimit === undefined) {
        if (globalConfig !== undefined) return createHook(globalConfig, 'preHandler')
        return createHook(parseHttpOptions(inherited, 'app.rateLimit()'), 'preHandler')
      }
      const name = `app.rateLimit(#${++calls})`
      const own = routeOptions<FastifyRequest, TollgateHandler>(inherited, routeLimit, name)
      return createHook(parseHttpOptions(own, name), 'preHandler')
    } as unknown as FastifyInstance['rateLimit'])

  if (!fastify.hasRequestDecorator('rateLimit')) fastify.decorateRequest('rateLimit', null)
  // Decorated (not added per request) so every request object keeps one shape.
  if (!fastify.hasRequestDecorator(kEntries)) fastify.decorateRequest(kEntries, null)

  // One hook per config object: the HEAD route Fastify derives from a GET route shares the GET
  // route's config object, and so its counter.
  const routeHooks = new WeakMap<object, AnyHook>()

  fastify.addHook('onRoute', (route) => {
    const marked = route as MarkedRoute
    const value = route.config?.rateLimit
    if (value === false || marked[kRouteLimited]) return
    let hook: AnyHook | undefined
    if (value === undefined) {
      // Every registration's global limiter applies (stacked), each attached once.
      if (globalHook === undefined) return
      const attached = marked[kGlobalHooks]
      if (attached === undefined) marked[kGlobalHooks] = [globalHook]
      else if (attached.includes(globalHook)) return
      else attached.push(globalHook)
      hook = globalHook
    } else {
      // A route's own limiter replaces the global ones; the first registration that sees it
      // builds it, later registrations leave the route alone.
      marked[kRouteLimited] = true
      hook = routeHooks.get(value)
      if (hook === undefined) {
        const name = routeName(route)
        const own = routeOptions<FastifyRequest, TollgateHandler>(inherited, value, name)
        hook = createHook(parseHttpOptions(own, `config.rateLimit of ${name}`), hookName)
        routeHooks.set(value, hook)
      }
    }
    const slot = route as unknown as Record<TollgateHook, AnyHook | AnyHook[] | undefined>
    const existing = slot[hookName]
    const hooks = existing === undefined ? [] : Array.isArray(existing) ? [...existing] : [existing]
    // Before the route's own hooks (limit before authentication and other work), after the
    // tollgate hooks attached by earlier registrations, so stacked limiters run in order.
    hooks.splice((marked[kGlobalHooks]?.length ?? 1) - 1, 0, hook)
    slot[hookName] = hooks
  })
}

/**
 * Fastify plugin that rate-limits requests with a tollgate limiter, in `onRequest` (or the
 * `hook` option's hook).
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
