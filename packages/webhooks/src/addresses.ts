import { BlockList, isIP } from 'node:net'

/** Why an address is not a place webhooks may be sent to. */
export type AddressRefusalKind =
  | 'invalid'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'carrier-grade-nat'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'benchmarking'
  | 'ietf-protocol'

export type AddressClass = 'public' | AddressRefusalKind

export interface AddressRefusal {
  readonly kind: AddressRefusalKind
  /** The address as it was given, so a message shows what the user or their DNS produced. */
  readonly address: string
}

export interface AddressPolicy {
  /** Lets loopback through (and nothing else) so a developer can receive webhooks on their own machine. */
  readonly allowLoopback?: boolean
}

type Range = readonly [network: string, prefix: number]

// Order matters only where ranges overlap; the more specific meaning is listed first.
const IPV4_RANGES: ReadonlyArray<readonly [AddressRefusalKind, readonly Range[]]> = [
  ['unspecified', [['0.0.0.0', 8]]],
  ['loopback', [['127.0.0.0', 8]]],
  ['private', [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16]]],
  ['carrier-grade-nat', [['100.64.0.0', 10]]],
  // 169.254.169.254 is the cloud metadata service, the classic SSRF prize.
  ['link-local', [['169.254.0.0', 16]]],
  ['multicast', [['224.0.0.0', 4]]],
  ['documentation', [['192.0.2.0', 24], ['198.51.100.0', 24], ['203.0.113.0', 24]]],
  ['benchmarking', [['198.18.0.0', 15]]],
  ['ietf-protocol', [['192.0.0.0', 24]]],
  // 240/4 includes the limited broadcast address 255.255.255.255; 192.88.99/24 is the retired 6to4 relay anycast.
  ['reserved', [['240.0.0.0', 4], ['192.88.99.0', 24]]],
]

const IPV6_RANGES: ReadonlyArray<readonly [AddressRefusalKind, readonly Range[]]> = [
  ['unique-local', [['fc00::', 7]]],
  ['link-local', [['fe80::', 10]]],
  ['multicast', [['ff00::', 8]]],
  ['documentation', [['2001:db8::', 32], ['3fff::', 20]]],
  // Teredo (2001::/32) hides its IPv4 address XOR-ed; the whole IETF block is refused rather than decoded.
  ['ietf-protocol', [['2001::', 23]]],
  // Local-use NAT64 places the IPv4 address depending on the operator's prefix length, so it cannot be decoded.
  ['reserved', [['64:ff9b:1::', 48], ['100::', 64], ['fec0::', 10]]],
]

function blockListsOf(
  ranges: ReadonlyArray<readonly [AddressRefusalKind, readonly Range[]]>,
  family: 'ipv4' | 'ipv6',
): Array<readonly [AddressRefusalKind, BlockList]> {
  return ranges.map(([kind, subnets]) => {
    const list = new BlockList()
    for (const [network, prefix] of subnets) list.addSubnet(network, prefix, family)
    return [kind, list] as const
  })
}

const IPV4_BLOCK_LISTS = blockListsOf(IPV4_RANGES, 'ipv4')
const IPV6_BLOCK_LISTS = blockListsOf(IPV6_RANGES, 'ipv6')

/** Only 2000::/3 is handed out as global unicast; anything else not named above is unallocated. */
const IPV6_GLOBAL_UNICAST = new BlockList()
IPV6_GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6')

/**
 * Classifies an IPv4 or IPv6 address (no brackets, no port) as `public` or the kind of
 * non-public address it is. IPv6 forms that carry an IPv4 address (mapped, compatible,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) take the class of the IPv4 address inside them,
 * because that is where a packet to them ends up.
 */
export function classifyAddress(address: string): AddressClass {
  // A zone id (fe80::1%eth0) only means something for non-global addresses; DNS never returns one.
  if (typeof address !== 'string' || address.includes('%')) return 'invalid'
  const family = isIP(address)
  if (family === 4) return classifyIpv4(address)
  if (family === 6) return classifyIpv6(address)
  return 'invalid'
}

/** `undefined` when webhooks may be sent to the address under the policy, otherwise why not. */
export function refusalOf(address: string, policy: AddressPolicy = {}): AddressRefusal | undefined {
  const kind = classifyAddress(address)
  if (kind === 'public') return undefined
  if (kind === 'loopback' && policy.allowLoopback === true) return undefined
  return { kind, address }
}

const KIND_DESCRIPTIONS: Record<AddressRefusalKind, string> = {
  invalid: 'not a valid IP address',
  unspecified: 'an unspecified ("this host") address',
  loopback: 'a loopback address (this machine)',
  private: 'a private network address',
  'carrier-grade-nat': 'a carrier-grade NAT (shared) address',
  'link-local': 'a link-local address (this includes cloud metadata services)',
  'unique-local': 'a unique-local (private) IPv6 address',
  multicast: 'a multicast address',
  reserved: 'a reserved or broadcast address',
  documentation: 'an address reserved for documentation',
  benchmarking: 'an address reserved for benchmarking',
  'ietf-protocol': 'an address reserved for IETF protocol use',
}

/** A sentence fragment such as `10.0.0.5 is a private network address`, for messages shown to users. */
export function describeRefusal(refusal: AddressRefusal): string {
  return `${refusal.address} is ${KIND_DESCRIPTIONS[refusal.kind]}`
}

function classifyIpv4(address: string): AddressClass {
  for (const [kind, list] of IPV4_BLOCK_LISTS) if (list.check(address, 'ipv4')) return kind
  return 'public'
}

function classifyIpv6(address: string): AddressClass {
  const bytes = ipv6Bytes(address)
  const embedded = embeddedIpv4(bytes)
  if (embedded !== undefined) return classifyIpv4(embedded)
  for (const [kind, list] of IPV6_BLOCK_LISTS) if (list.check(address, 'ipv6')) return kind
  return IPV6_GLOBAL_UNICAST.check(address, 'ipv6') ? 'public' : 'reserved'
}

/**
 * The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one.
 * `::` and `::1` are handled before the compatible form, which would otherwise read them as 0.0.0.0/8.
 */
function embeddedIpv4(bytes: Uint8Array): string | undefined {
  const startsWith = (...prefix: number[]) => prefix.every((value, index) => bytes[index] === value)
  const zeros = (count: number) => new Array<number>(count).fill(0)
  const last32 = () => Array.from(bytes.subarray(12, 16)).join('.')
  if (startsWith(...zeros(15), 0)) return '0.0.0.0'
  if (startsWith(...zeros(15), 1)) return '127.0.0.1'
  // ::a.b.c.d (compatible), ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT translated)
  if (startsWith(...zeros(12)) || startsWith(...zeros(10), 0xff, 0xff) || startsWith(...zeros(8), 0xff, 0xff, 0, 0)) {
    return last32()
  }
  if (startsWith(0x00, 0x64, 0xff, 0x9b, ...zeros(8))) return last32()
  if (startsWith(0x20, 0x02)) return Array.from(bytes.subarray(2, 6)).join('.')
  return undefined
}

/** Expands an IPv6 address already validated by net.isIP into its 16 bytes. */
function ipv6Bytes(address: string): Uint8Array {
  let text = address.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined]
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'))
  const headGroups = groupsOf(head)
  const tailGroups = tail === undefined ? [] : groupsOf(tail)
  const missing = 8 - headGroups.length - tailGroups.length
  const groups = [...headGroups, ...new Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups]
  const bytes = new Uint8Array(16)
  groups.forEach((group, index) => {
    const value = parseInt(group, 16)
    bytes[index * 2] = value >> 8
    bytes[index * 2 + 1] = value & 0xff
  })
  return bytes
}
