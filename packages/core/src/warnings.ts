/** Receives tollgate warnings: a stable code and a human message. */
export type WarningHandler = (code: string, message: string) => void

const defaultWarningHandler: WarningHandler = (code, message) => {
  process.emitWarning(message, { code, type: 'TollgateWarning' })
}

let warningHandler: WarningHandler | null = defaultWarningHandler
const warned = new Set<string>()

/**
 * Emits a warning the first time its code is seen in this process (misconfiguration visible only
 * at request time, such as `trust proxy`). Goes to `process.emitWarning` unless
 * {@link setWarningHandler} installed another handler.
 */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  warningHandler?.(code, message)
}

/** Emits a warning every time (a user callback that threw: each throw is reported once). */
export function warn(code: string, message: string): void {
  warningHandler?.(code, message)
}

/**
 * Replaces where warnings go; `null` silences them (tests). Returns the previous handler.
 * @example
 * setWarningHandler((code, message) => logger.warn({ code }, message))
 */
export function setWarningHandler(handler: WarningHandler | null): WarningHandler | null {
  const previous = warningHandler
  warningHandler = handler
  return previous
}

/** Forgets which warnings were emitted, so each can fire once more (tests). */
export function resetWarnings(): void {
  warned.clear()
}

/** Warning code: X-Forwarded-For arrived but the framework does not trust proxies. */
export const WARN_FORWARDED_WITHOUT_TRUST_PROXY = 'WARN_TOLLGATE_FORWARDED_WITHOUT_TRUST_PROXY'
/** Warning code: trust proxy is `true`, so any client can choose its own IP. */
export const WARN_PERMISSIVE_TRUST_PROXY = 'WARN_TOLLGATE_PERMISSIVE_TRUST_PROXY'

/**
 * Checks a framework's trust-proxy setting against what a request shows, warning once:
 * - X-Forwarded-For arrived while proxies are not trusted: every client behind that proxy shares
 *   the proxy's IP (one counter for all), unless the app is reachable directly;
 * - trust proxy is `true`: any client can set its own IP with X-Forwarded-For and escape limits.
 *
 * @param trustProxy - Express `app.get('trust proxy')`; `false` when the framework is known to
 *   have ignored X-Forwarded-For; `null` when the setting is unknown but proxies are trusted.
 */
export function checkTrustProxy(trustProxy: unknown, hasForwardedFor: boolean): void {
  if (trustProxy === true) {
    warnOnce(
      WARN_PERMISSIVE_TRUST_PROXY,
      'trust proxy is true, so any client can choose its IP (and rate-limit key) with X-Forwarded-For; trust only your proxies: their addresses or CIDRs (Fastify trustProxy: "10.0.0.1" or "10.0.0.0/8"; Express also accepts a hop count).',
    )
  } else if (hasForwardedFor && (trustProxy === false || trustProxy === undefined)) {
    warnOnce(
      WARN_FORWARDED_WITHOUT_TRUST_PROXY,
      'a request has an X-Forwarded-For header but trust proxy is off, so every client behind that proxy shares the proxy IP as its rate-limit key; trust your proxies by address or CIDR (Fastify trustProxy: "10.0.0.1" or "10.0.0.0/8"; Express trust proxy: addresses, CIDRs or a hop count).',
    )
  }
}
