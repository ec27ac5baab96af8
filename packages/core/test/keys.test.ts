import { ipKey, UNKNOWN_IP_KEY } from '@tollgate/core'
import { describe, expect, it } from 'vitest'

describe('ipKey', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['0:0:0:0:0:ffff:192.168.1.20', '192.168.1.20'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['2001:db8:1234:56ff:1::1', '2001:db8:1234:5600::/56'],
    ['2001:db8:1234:5600::', '2001:db8:1234:5600::/56'],
    ['2001:DB8:ABCD:12FF:FFFF:FFFF:FFFF:FFFF', '2001:db8:abcd:1200::/56'],
    ['2001:0db8:0000:00ff:0000:0000:0000:0001', '2001:db8::/56'],
    ['2001:db8:0:1ff::', '2001:db8:0:100::/56'],
    ['2001:0:0:ff::1', '2001::/56'],
    ['::1', '::/56'],
    ['::', '::/56'],
    ['fe80::1%eth0', 'fe80::/56'],
    ['1:2:3:4:5:6:7:8', '1:2:3::/56'],
    ['1:2:3:4ff:5:6:7:8', '1:2:3:400::/56'],
    ['64:ff9b::1.2.3.4', '64:ff9b::/56'],
    ['::ffff:0:1.2.3.4', '::/56'],
  ])('keys %s as %s', (ip, key) => {
    expect(ipKey(ip)).toBe(key)
  })

  it('groups two addresses of one /56 under one key and splits neighbouring /56s', () => {
    expect(ipKey('2001:db8:1:200::1')).toBe(ipKey('2001:db8:1:2ff:ffff::9'))
    expect(ipKey('2001:db8:1:200::1')).not.toBe(ipKey('2001:db8:1:300::1'))
  })

  it('answers the same for an address seen before, also after many distinct addresses', () => {
    const first = ipKey('2001:db8:aaaa:bb11::1')
    for (let i = 0; i < 12_000; i++) ipKey(`2001:db8:${i.toString(16)}::1`)
    expect(ipKey('2001:db8:aaaa:bb11::1')).toBe(first)
    expect(first).toBe('2001:db8:aaaa:bb00::/56')
    expect(ipKey('2001:db8:2ee0::1')).toBe('2001:db8:2ee0::/56')
  })

  it('returns what is not an IP address unchanged', () => {
    expect(ipKey('not-an-ip')).toBe('not-an-ip')
    expect(ipKey('01.2.3.4')).toBe('01.2.3.4')
  })

  it('gives the unknown key when there is no address', () => {
    expect(ipKey(undefined)).toBe(UNKNOWN_IP_KEY)
    expect(ipKey('')).toBe(UNKNOWN_IP_KEY)
    expect(UNKNOWN_IP_KEY).toBe('unknown')
  })
})
