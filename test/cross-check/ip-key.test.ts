/**
 * Differential test of `ipKey` against ipaddr.js (a dev dependency only: the per-request path has
 * no runtime dependencies): for any IPv6 address and prefix length, tollgate's key is the network
 * address ipaddr.js computes, in RFC 5952 form, and IPv4-mapped addresses are keyed as IPv4.
 */
import { ipKey } from '@tollgate/core'
import fc from 'fast-check'
import ipaddr from 'ipaddr.js'
import { describe, expect, it } from 'vitest'

/**
 * The address with an embedded dotted IPv4 tail written as two hex groups. ipaddr.js reads the
 * deprecated IPv4-compatible form `::a.b.c.d` as if it were mapped (`::ffff:a.b.c.d`); RFC 4291
 * gives it the groups 0:…:0:ab:cd, as tollgate does (pinned below).
 */
function hexTail(ip: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip)
  if (!match) return ip
  const [, head, a, b, c, d] = match
  const group = (x: string, y: string) => ((Number(x) << 8) | Number(y)).toString(16)
  return `${head}${group(a!, b!)}:${group(c!, d!)}`
}

const mappedPrefix = [0, 0, 0, 0, 0, 0xffff]
function isMapped(address: ipaddr.IPv6): boolean {
  return mappedPrefix.every((part, i) => address.parts[i] === part)
}

describe('ipKey against ipaddr.js', () => {
  it('groups any IPv6 address by its /n network, IPv4-mapped ones as IPv4', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 1, max: 128 }), (ip, bits) => {
        const address = ipaddr.IPv6.parse(hexTail(ip))
        const expected = isMapped(address)
          ? address.toIPv4Address().toString()
          : `${ipaddr.IPv6.networkAddressFromCIDR(`${hexTail(ip)}/${bits}`).toRFC5952String()}/${bits}`
        expect(ipKey(ip, bits)).toBe(expected)
      }),
      { numRuns: 2_000 },
    )
  })

  it('with ipv6Subnet false keys the whole address in RFC 5952 form (mapped ones stay mapped)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const address = ipaddr.IPv6.parse(hexTail(ip))
        const expected = isMapped(address)
          ? `::ffff:${address.toIPv4Address().toString()}`
          : address.toRFC5952String()
        expect(ipKey(ip, false)).toBe(expected)
      }),
      { numRuns: 2_000 },
    )
  })

  it('reads ::a.b.c.d as IPv4-compatible (RFC 4291), where ipaddr.js reads it as mapped', () => {
    expect(ipaddr.IPv6.parse('::1.2.3.4').toRFC5952String()).toBe('::ffff:102:304')
    expect(ipKey('::1.2.3.4', false)).toBe('::102:304')
    expect(ipKey('::ffff:1.2.3.4')).toBe('1.2.3.4')
  })

  it('keys any IPv4 address as itself', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(ipKey(ip)).toBe(ipaddr.IPv4.parse(ip).toString())
      }),
    )
  })
})
