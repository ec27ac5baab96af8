import { isIP } from 'node:net'

/** The key of a request whose address is unknown (a socket closed before the limiter ran). */
export const UNKNOWN_IP_KEY = 'unknown'

function pushGroups(part: string, into: number[]): void {
  if (part === '') return
  for (const group of part.split(':')) {
    if (group.includes('.')) {
      const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number]
      into.push((a << 8) | b, (c << 8) | d)
    } else {
      into.push(Number.parseInt(group, 16))
    }
  }
}

/**
 * Parses a valid IPv6 address (zone id already removed) into 8 hextets. A trailing dotted IPv4
 * part gives two hextets.
 */
function hextets(ip: string): number[] {
  const gap = ip.indexOf('::')
  const out: number[] = []
  if (gap === -1) {
    pushGroups(ip, out)
    return out
  }
  pushGroups(ip.slice(0, gap), out)
  const rest: number[] = []
  pushGroups(ip.slice(gap + 2), rest)
  while (out.length + rest.length < 8) out.push(0)
  for (const x of rest) out.push(x)
  return out
}

/** RFC 5952 text of 8 hextets: lowercase, no leading zeros, longest zero run (>= 2) as `::`. */
function canonical(h: readonly number[]): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (h[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && h[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart === -1) return h.map((x) => x.toString(16)).join(':')
  const left = h.slice(0, bestStart).map((x) => x.toString(16))
  const right = h.slice(bestStart + bestLength).map((x) => x.toString(16))
  return `${left.join(':')}::${right.join(':')}`
}

/**
 * The rate-limit key of a client address, as express-rate-limit 8 groups them: IPv4 as is
 * (IPv4-mapped IPv6 `::ffff:a.b.c.d` unmapped to `a.b.c.d`); IPv6 grouped by its /56 network,
 * written `<canonical network address>/56` (e.g. `2001:db8:1234:5600::/56`), because one IPv6
 * client usually owns a whole /64 or larger and could otherwise rotate addresses freely.
 * Anything that is not an IP address is returned unchanged; `undefined` (no address) gives
 * {@link UNKNOWN_IP_KEY}.
 *
 * @example
 * ipKey('::ffff:10.0.0.1')          // '10.0.0.1'
 * ipKey('2001:db8:1234:56ff:1::1')  // '2001:db8:1234:5600::/56'
 */
export function ipKey(ip: string | undefined): string {
  if (ip === undefined || ip === '') return UNKNOWN_IP_KEY
  // IPv4, and anything else without a colon, is its own key.
  if (!ip.includes(':')) return ip
  // Fast path for what a dual-stack server reports for every IPv4 client.
  if (
    ip.length > 7 &&
    ip.charCodeAt(0) === 0x3a &&
    (ip.startsWith('::ffff:') || ip.startsWith('::FFFF:'))
  ) {
    const v4 = ip.slice(7)
    if (isIP(v4) === 4) return v4
  }
  const cached = v6Cache.get(ip)
  if (cached !== undefined) return cached
  const family = isIP(ip)
  if (family !== 6) return ip
  const key = ipv6Key(ip)
  // Parsing IPv6 costs microseconds; active clients repeat their address.
  if (v6Cache.size >= V6_CACHE_MAX) v6Cache.clear()
  v6Cache.set(ip, key)
  return key
}

/** Keys of recent IPv6 addresses, cleared when full (a bound, not an LRU). */
const V6_CACHE_MAX = 10_000
const v6Cache = new Map<string, string>()

function ipv6Key(ip: string): string {
  let address = ip
  const zone = address.indexOf('%')
  if (zone !== -1) address = address.slice(0, zone)
  const h = hextets(address)
  // IPv4-mapped (::ffff:a.b.c.d in any spelling): what a dual-stack server reports for IPv4.
  if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
    const x = h[6]!
    const y = h[7]!
    return `${x >> 8}.${x & 0xff}.${y >> 8}.${y & 0xff}`
  }
  h[3] = h[3]! & 0xff00
  h[4] = 0
  h[5] = 0
  h[6] = 0
  h[7] = 0
  return `${canonical(h)}/56`
}
