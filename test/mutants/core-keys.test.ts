/**
 * The IP keys of packages/core/src/keys.ts where the StrykerJS run of issue 15 item 4 (session 6)
 * found behaviour no test pinned: the `ipv6Subnet` checks and their messages, the bounds 1 and
 * 128, IPv4-mapped addresses with `subnet: false`, and the spellings the IPv4 fast path skips.
 */
import { ipKey, TollgateRangeError, TollgateTypeError } from '@tollgate/core'
import { describe, expect, it } from 'vitest'
import { parseIpv6Subnet } from '../../packages/core/src/keys.js'
import { thrown } from '../support/thrown.js'

describe('parseIpv6Subnet', () => {
  it('defaults to 56 and keeps false, 1, 64 and 128', () => {
    expect(parseIpv6Subnet(undefined)).toBe(56)
    expect(parseIpv6Subnet(false)).toBe(false)
    expect(parseIpv6Subnet(1)).toBe(1)
    expect(parseIpv6Subnet(64)).toBe(64)
    expect(parseIpv6Subnet(128)).toBe(128)
  })

  it.each([
    [true, 'true'],
    ['56', '"56"'],
    [null, 'null'],
  ])('a value that is not a number (%j) is a TypeError naming it', (value, shown) => {
    const error = thrown(() => parseIpv6Subnet(value))
    expect(error).toBeInstanceOf(TollgateTypeError)
    expect(error).not.toBeInstanceOf(RangeError)
    expect(error.message).toBe(
      `tollgate: ipv6Subnet must be an integer from 1 to 128 or false, got ${shown}`,
    )
  })

  it.each([
    [0, '0'],
    [129, '129'],
    [-1, '-1'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
  ])('a number outside 1..128 or not an integer (%j) is a RangeError naming it', (value, shown) => {
    const error = thrown(() => parseIpv6Subnet(value))
    expect(error).toBeInstanceOf(TollgateRangeError)
    expect(error.message).toBe(
      `tollgate: ipv6Subnet must be an integer from 1 to 128 or false, got ${shown}`,
    )
  })
})

describe('ipKey subnet argument', () => {
  it.each([
    [129, '129'],
    [-8, '-8'],
    [56.5, '56.5'],
  ])('an invalid prefix length (%j) is a RangeError naming it', (subnet, shown) => {
    const error = thrown(() => ipKey('2001:db8::1', subnet))
    expect(error).toBeInstanceOf(TollgateRangeError)
    expect(error.message).toBe(
      `tollgate: ipv6Subnet must be an integer from 1 to 128 or false, got ${shown}`,
    )
    // Refused again on the next call: no cache was made for the bad value.
    expect(() => ipKey('2001:db8::2', subnet)).toThrow(TollgateRangeError)
  })

  it('an invalid prefix length is refused even for an IPv4 address written mapped', () => {
    expect(() => ipKey('::ffff:zz', 200)).toThrow(TollgateRangeError)
  })

  it('keys IPv4 text first, before it looks at the IPv6 prefix length', () => {
    expect(ipKey('10.0.0.1', 200)).toBe('10.0.0.1')
    expect(ipKey('not-an-ip', 0.5)).toBe('not-an-ip')
  })

  it('the prefix lengths 1 and 128 are accepted: the first bit, and the whole address', () => {
    expect(ipKey('ffff:db8::1', 1)).toBe('8000::/1')
    expect(ipKey('7fff:db8::1', 1)).toBe('::/1')
    expect(ipKey('2001:db8::1', 128)).toBe('2001:db8::1/128')
    expect(ipKey('2001:db8:0:0:1:0:0:1', 128)).toBe('2001:db8::1:0:0:1/128')
  })

  it('a prefix inside a hextet keeps its high bits only', () => {
    expect(ipKey('2001:db8:1234:56ff::1', 52)).toBe('2001:db8:1234:5000::/52')
    expect(ipKey('2001:db8:1234:56ff::1', 63)).toBe('2001:db8:1234:56fe::/63')
    expect(ipKey('2001:db8:1234:56ff:8000::1', 65)).toBe('2001:db8:1234:56ff:8000::/65')
    expect(ipKey('2001:db8:1234:56ff:ffff::1', 64)).toBe('2001:db8:1234:56ff::/64')
  })

  it('the key of one address differs per prefix length (each length its own cache)', () => {
    expect(ipKey('2001:db8:1234:56ff::1', 48)).toBe('2001:db8:1234::/48')
    expect(ipKey('2001:db8:1234:56ff::1', 64)).toBe('2001:db8:1234:56ff::/64')
    expect(ipKey('2001:db8:1234:56ff::1')).toBe('2001:db8:1234:5600::/56')
    expect(ipKey('2001:db8:1234:56ff::1', false)).toBe('2001:db8:1234:56ff::1')
  })
})

describe('ipKey with subnet false', () => {
  it('keeps an IPv4-mapped address mapped, in any spelling', () => {
    expect(ipKey('::ffff:10.0.0.1', false)).toBe('::ffff:10.0.0.1')
    expect(ipKey('::FFFF:10.0.0.1', false)).toBe('::ffff:10.0.0.1')
    expect(ipKey('0:0:0:0:0:ffff:a00:102', false)).toBe('::ffff:10.0.1.2')
    expect(ipKey('::ffff:255.254.253.252', false)).toBe('::ffff:255.254.253.252')
  })

  it('writes a whole address in RFC 5952 form, with its zone id dropped', () => {
    expect(ipKey('2001:DB8:0:0:0:0:0:1', false)).toBe('2001:db8::1')
    expect(ipKey('fe80::1%eth0', false)).toBe('fe80::1')
    expect(ipKey('1:0:0:2:0:0:0:3', false)).toBe('1:0:0:2::3')
    expect(ipKey('1:0:0:2:0:0:3:4', false)).toBe('1::2:0:0:3:4')
    expect(ipKey('1:0:2:3:4:5:6:7', false)).toBe('1:0:2:3:4:5:6:7')
    expect(ipKey('1:2:3:4:5:6:7:0', false)).toBe('1:2:3:4:5:6:7:0')
    expect(ipKey('0:0:1:2:3:4:5:6', false)).toBe('::1:2:3:4:5:6')
    expect(ipKey('1:2:3:4:5:6:0:0', false)).toBe('1:2:3:4:5:6::')
  })

  it('reads a dotted IPv4 tail as two hextets', () => {
    expect(ipKey('64:ff9b::192.0.2.33', false)).toBe('64:ff9b::c000:221')
    expect(ipKey('1:2:3:4:5:6:1.2.3.4', false)).toBe('1:2:3:4:5:6:102:304')
  })
})

describe('ipKey IPv4-mapped addresses', () => {
  it('unmaps every spelling of ::ffff:a.b.c.d to the IPv4 address', () => {
    expect(ipKey('::ffff:255.254.253.252')).toBe('255.254.253.252')
    expect(ipKey('::ffff:fffe:fdfc')).toBe('255.254.253.252')
    expect(ipKey('::Ffff:1.2.3.4')).toBe('1.2.3.4')
    expect(ipKey('0::ffff:1.2.3.4')).toBe('1.2.3.4')
    expect(ipKey('::ffff:1.2.3.4', 64)).toBe('1.2.3.4')
  })

  it('keys what only looks mapped as the IPv6 address it is', () => {
    expect(ipKey('::ffff:')).toBe('::ffff:')
    expect(ipKey('::ffff:1.2.3')).toBe('::ffff:1.2.3')
    expect(ipKey('::fffe:1.2.3.4', 128)).toBe('::fffe:102:304/128')
    expect(ipKey('1::ffff:1.2.3.4', 128)).toBe('1::ffff:102:304/128')
  })

  it.each([0, 1, 2, 3, 4])(
    'an address with ffff in hextet 5 and a non-zero hextet %i is not mapped',
    (k) => {
      const h = ['0', '0', '0', '0', '0', 'ffff', '102', '304']
      h[k] = '1'
      const ip = h.join(':')
      const whole = ipKey(ip, false)
      expect(whole).not.toMatch(/\./)
      expect(whole).toContain('ffff:102:304')
      expect(ipKey(ip, 128)).toBe(`${whole}/128`)
      expect(ipKey(ip)).not.toBe('1.2.3.4')
    },
  )

  it('an address with 0 instead of ffff in hextet 5 is not mapped', () => {
    expect(ipKey('::102:304', false)).toBe('::102:304')
    expect(ipKey('0:0:0:0:0:fffe:102:304', false)).toBe('::fffe:102:304')
    expect(ipKey('0:0:0:0:0:fffe:102:304', 128)).toBe('::fffe:102:304/128')
  })

  it('drops a zone id before reading a dotted IPv4 tail', () => {
    expect(ipKey('::ffff:1.2.3.4%eth0')).toBe('1.2.3.4')
    expect(ipKey('::ffff:1.2.3.4%eth0', false)).toBe('::ffff:1.2.3.4')
    expect(ipKey('fe80::1.2.3.4%eth0', false)).toBe('fe80::102:304')
  })

  it('keys text whose tail from the 8th character is an IPv4 address as it is', () => {
    expect(ipKey('1:2:3:41.2.3.4')).toBe('1:2:3:41.2.3.4')
    expect(ipKey('::abcd:1.2.3.4', 128)).toBe('::abcd:102:304/128')
  })

  it('returns text that only starts like an address unchanged', () => {
    expect(ipKey('2001:db8::zz')).toBe('2001:db8::zz')
    expect(ipKey('2001:db8::zz', false)).toBe('2001:db8::zz')
    expect(ipKey(':::')).toBe(':::')
  })
})
