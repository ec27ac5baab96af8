import type { AlgorithmName, Contender, Framework, Library, StoreKind } from './protocol.js'

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
  const id = `${framework}/${library === 'bare' ? 'bare' : `${short[library]}${storePart}`}${algoPart}`
  const label =
    library === 'bare'
      ? `${framework} bare`
      : `${framework} ${short[library]} ${storeName}${algorithm ? ` ${algorithm}` : ''}`
  return { id, label, framework, library, store, ...(algorithm ? { algorithm } : {}) }
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
    contender('fastify', 'bare', 'none'),
    contender('fastify', 'tollgate', 'memory', 'fixedWindow'),
    ...redisAlgorithmsFastify.map((a) => contender('fastify', 'tollgate', 'redis', a)),
    contender('fastify', '@fastify/rate-limit', 'memory'),
    contender('fastify', '@fastify/rate-limit', 'redis'),
  ]
}

/** Names of the headers each contender is configured to send (the common kind: legacy X-RateLimit-*). */
export function headersOf(c: Contender): string {
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
