import t from 'tap'
import { classifyAddress, refusalOf, type AddressRefusalKind } from '../src/index.js'

const REFUSED: ReadonlyArray<readonly [string, AddressRefusalKind]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['::', 'unspecified'],
  ['10.0.0.5', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'carrier-grade-nat'],
  ['100.127.255.255', 'carrier-grade-nat'],
  ['169.254.169.254', 'link-local'],
  ['169.254.0.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['febf::1', 'link-local'],
  ['fd00::1', 'unique-local'],
  ['fc00::1', 'unique-local'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['ff02::1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['192.0.2.10', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.99', 'documentation'],
  ['2001:db8::1', 'documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['192.0.0.8', 'ietf-protocol'],
  // IPv6 forms that carry an IPv4 address take the IPv4 address's class.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::FFFF:7F00:0001', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:a9fe:a9fe', 'link-local'],
  ['::127.0.0.1', 'loopback'],
  ['::ffff:0:a00:1', 'private'],
  ['64:ff9b::a9fe:a9fe', 'link-local'],
  ['64:ff9b::169.254.169.254', 'link-local'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['2002:a00:1::', 'private'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a9fe:a9fe::', 'link-local'],
  ['64:ff9b:1::a00:1', 'reserved'],
  ['2001::1', 'ietf-protocol'],
  ['100::1', 'reserved'],
  ['4000::1', 'reserved'],
]

t.test('each non-public address is refused with its kind', async (t) => {
  for (const [address, kind] of REFUSED) {
    t.same(refusalOf(address), { kind, address }, address)
    t.equal(classifyAddress(address), kind, address)
  }
})

t.test('public IPv4 and IPv6 addresses are allowed', async (t) => {
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2a00:1450:4001:80b::200e']) {
    t.equal(refusalOf(address), undefined, address)
    t.equal(classifyAddress(address), 'public', address)
  }
})

t.test('IPv6 forms embedding a public IPv4 address take its class', async (t) => {
  for (const address of ['::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) t.equal(refusalOf(address), undefined, address)
})

t.test('allowLoopback lets loopback through and nothing else', async (t) => {
  for (const address of ['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
    t.equal(refusalOf(address, { allowLoopback: true }), undefined, address)
  }
  for (const [address, kind] of REFUSED.filter(([, kind]) => kind !== 'loopback')) {
    t.same(refusalOf(address, { allowLoopback: true }), { kind, address }, address)
  }
})

t.test('strings that are not plain IP addresses are refused as invalid', async (t) => {
  for (const address of ['example.com', '127.1', '0x7f000001', '2130706433', 'fe80::1%eth0', '', '1.2.3.4:80', '[::1]']) {
    t.same(refusalOf(address, { allowLoopback: true }), { kind: 'invalid', address }, JSON.stringify(address))
  }
})
