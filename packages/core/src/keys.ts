import { isIP } from 'node:net'
import { describeValue, TollgateRangeError, TollgateTypeError } from './errors.js'

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
 * (IPv4-mapped IPv6 `::ffff:a.b.c.d` unmapped to `a.b.c.d`); IPv6 grouped by its network of
 * `subnet` bits (default 56), written `<canonical network address>/<subnet>` (e.g.
 * `2001:db8:1234:5600::/56`), because one IPv6 client usually owns a whole /64 or larger and
 * could otherwise rotate addresses freely. With `subnet: false` every address is its own key
 * (IPv6 in canonical form, IPv4-mapped addresses left mapped). Anything that is not an IP address
 * is returned unchanged; `undefined` (no address) gives {@link UNKNOWN_IP_KEY}.
 *
 * @param subnet - IPv6 prefix length, an integer from 1 to 128, or `false`. @default 56
 * @example
 * ipKey('::ffff:10.0.0.1')              // '10.0.0.1'
 * ipKey('2001:db8:1234:56ff:1::1')      // '2001:db8:1234:5600::/56'
 * ipKey('2001:db8:1234:56ff:1::1', 64)  // '2001:db8:1234:56ff::/64'
 */
export function ipKey(ip: string | undefined, subnet: number | false = 56): string {
  if (ip === undefined || ip === '') return UNKNOWN_IP_KEY
  // IPv4, and anything else without a colon, is its own key.
  if (!ip.includes(':')) return ip
  // Fast path for what a dual-stack server reports for every IPv4 client.
  if (
    subnet !== false &&
    ip.length > 7 &&
    ip.charCodeAt(0) === 0x3a &&
    (ip.startsWith('::ffff:') || ip.startsWith('::FFFF:'))
  ) {
    const v4 = ip.slice(7)
    if (isIP(v4) === 4) return v4
  }
  const bits = subnet === false ? 0 : subnet
  let cache = v6Caches.get(bits)
  if (cache === undefined) {
    if (bits !== 0 && (!Number.isInteger(bits) || bits < 1 || bits > 128)) {
      throw new TollgateRangeError(
        `ipv6Subnet must be an integer from 1 to 128 or false, got ${describeValue(subnet)}`,
      )
    }
    cache = new Map()
    v6Caches.set(bits, cache)
  }
  const cached = cache.get(ip)
  if (cached !== undefined) return cached
  const family = isIP(ip)
  if (family !== 6) return ip
  const key = ipv6Key(ip, bits)
  // Parsing IPv6 costs microseconds; active clients repeat their address.
  if (cache.size >= V6_CACHE_MAX) cache.clear()
  cache.set(ip, key)
  return key
}

/** Keys of recent IPv6 addresses per prefix length (0: whole addresses), cleared when full. */
const V6_CACHE_MAX = 10_000
const v6Caches = new Map<number, Map<string, string>>()

/** `bits` 0: the whole address in canonical form (mapped IPv4 stays mapped). */
function ipv6Key(ip: string, bits: number): string {
  let address = ip
  const zone = address.indexOf('%')
  if (zone !== -1) address = address.slice(0, zone)
  const h = hextets(address)
  if (bits === 0) {
    if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
      return `::ffff:${h[6]! >> 8}.${h[6]! & 0xff}.${h[7]! >> 8}.${h[7]! & 0xff}`
    }
    return canonical(h)
  }
  // IPv4-mapped (::ffff:a.b.c.d in any spelling): what a dual-stack server reports for IPv4.
  if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
    const x = h[6]!
    const y = h[7]!
    return `${x >> 8}.${x & 0xff}.${y >> 8}.${y & 0xff}`
  }
  for (let i = 0; i < 8; i++) {
    const keep = Math.min(16, Math.max(0, bits - 16 * i))
    h[i] = keep === 0 ? 0 : h[i]! & ((0xffff << (16 - keep)) & 0xffff)
  }
  return `${canonical(h)}/${bits}`
}

/**
 * Checks the `ipv6Subnet` option: an integer from 1 to 128, or `false`. @default 56
 */
export function parseIpv6Subnet(value: unknown): number | false {
  if (value === undefined) return 56
  if (value === false) return false
  if (typeof value !== 'number') {
    throw new TollgateTypeError(
      `ipv6Subnet must be an integer from 1 to 128 or false, got ${describeValue(value)}`,
    )
  }
  if (!Number.isInteger(value) || value < 1 || value > 128) {
    throw new TollgateRangeError(
      `ipv6Subnet must be an integer from 1 to 128 or false, got ${describeValue(value)}`,
    )
  }
  return value
}
