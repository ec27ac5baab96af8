import type {
  AlgorithmName,
  Contender,
  Framework,
  Library,
  StoreKind,
  Variant,
} from './protocol.js'

export const ALGORITHMS: readonly AlgorithmName[] = [
  'fixedWindow',
  'slidingWindow',
  'slidingLog',
  'tokenBucket',
]

function contender(
  framework: Framework,
  library: Library,
  store: StoreKind,
  algorithm?: AlgorithmName,
  variant?: Variant,
): Contender {
  const short: Record<Library, string> = {
    bare: 'bare',
    tollgate: 'tollgate',
    'express-rate-limit': 'express-rate-limit',
    'rate-limiter-flexible': 'rate-limiter-flexible',
    '@fastify/rate-limit': '@fastify/rate-limit',
  }
  // @fastify/rate-limit calls its in-process store "local".
  const storeName = store === 'memory' && library === '@fastify/rate-limit' ? 'local' : store
  const storePart = store === 'none' ? '' : `-${store}`
  const algoPart = algorithm ? `/${algorithm}` : ''
  const variantPart = variant ? `+${variant}` : ''
  const id = `${framework}/${library === 'bare' ? 'bare' : `${short[library]}${storePart}`}${algoPart}${variantPart}`
  const variantLabel =
    variant === 'defaultHeaders'
      ? ' (default headers)'
      : variant === 'compound'
        ? ' ×2 compound'
        : ''
  const label =
    library === 'bare'
      ? `${framework} bare`
      : `${framework} ${short[library]} ${storeName}${algorithm ? ` ${algorithm}` : ''}${variantLabel}`
  return {
    id,
    label,
    framework,
    library,
    store,
    ...(algorithm ? { algorithm } : {}),
    ...(variant ? { variant } : {}),
  }
}

/**
 * Every contender of issue 5. tollgate memory uses a fixed window, the algorithm every peer
 * implements; tollgate Redis runs each algorithm on Express and `redisAlgorithmsFastify` on Fastify.
 */
export function allContenders(
  redisAlgorithmsExpress: readonly AlgorithmName[] = ALGORITHMS,
  redisAlgorithmsFastify: readonly AlgorithmName[] = ['fixedWindow'],
): Contender[] {
  return [
    contender('express', 'bare', 'none'),
    contender('express', 'tollgate', 'memory', 'fixedWindow'),
    ...redisAlgorithmsExpress.map((a) => contender('express', 'tollgate', 'redis', a)),
    contender('express', 'express-rate-limit', 'memory'),
    contender('express', 'express-rate-limit', 'redis'),
    contender('express', 'rate-limiter-flexible', 'memory'),
    contender('express', 'rate-limiter-flexible', 'redis'),
    // tollgate with its own default headers (draft-8 with a partition key). express-rate-limit's
    // defaults are the legacy X-RateLimit-* set every row above already sends (standardHeaders
    // false, legacyHeaders true in 8.x); rate-limiter-flexible has no headers of its own.
    contender('express', 'tollgate', 'memory', 'fixedWindow', 'defaultHeaders'),
    contender('express', 'tollgate', 'redis', 'fixedWindow', 'defaultHeaders'),
    contender('fastify', 'bare', 'none'),
    contender('fastify', 'tollgate', 'memory', 'fixedWindow'),
    ...redisAlgorithmsFastify.map((a) => contender('fastify', 'tollgate', 'redis', a)),
    contender('fastify', 'tollgate', 'redis', 'fixedWindow', 'compound'),
    contender('fastify', '@fastify/rate-limit', 'memory'),
    contender('fastify', '@fastify/rate-limit', 'redis'),
    contender('fastify', 'rate-limiter-flexible', 'memory'),
    contender('fastify', 'rate-limiter-flexible', 'redis'),
    // @fastify/rate-limit above already sends its defaults.
    contender('fastify', 'tollgate', 'memory', 'fixedWindow', 'defaultHeaders'),
    contender('fastify', 'tollgate', 'redis', 'fixedWindow', 'defaultHeaders'),
  ]
}

/** Names of the headers each contender is configured to send (the common kind: legacy X-RateLimit-*). */
export function headersOf(c: Contender): string {
  if (c.variant === 'defaultHeaders') {
    return c.library === 'tollgate'
      ? 'RateLimit-Policy + RateLimit (draft-8, with pk) + Retry-After on 429 (its defaults)'
      : 'its defaults'
  }
  switch (c.library) {
    case 'bare':
      return 'none'
    case 'tollgate':
      return 'X-RateLimit-Limit/Remaining/Reset (epoch s) + Retry-After on 429 (headers: { standard: false, legacy: true })'
    case 'express-rate-limit':
      return 'X-RateLimit-Limit/Remaining/Reset (epoch s) + Retry-After on 429 (standardHeaders: false, legacyHeaders: true)'
    case 'rate-limiter-flexible':
      return 'X-RateLimit-Limit/Remaining/Reset (epoch s) + Retry-After on 429 (written by the middleware, as its README shows)'
    case '@fastify/rate-limit':
      return 'x-ratelimit-limit/remaining/reset (seconds from now) + retry-after on 429 (its defaults)'
  }
}
