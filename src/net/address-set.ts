import ipaddr from 'ipaddr.js'
import { parseCidr, type IpRange } from './cidr.js'
import type { IpAddress } from './ip.js'

type AddressSetResult = { ok: true, set: AddressSet } | { ok: false, index: number, message: string }

/** IPv4 networks of one prefix length, as unsigned 32-bit numbers. */
interface Ipv4Bucket {
  readonly mask: number
  readonly networks: ReadonlySet<number>
}

/**
 * An allowlist of address ranges. IPv4 lookups cost one set lookup per distinct prefix
 * length, so large lists stay cheap per request. IPv6 ranges are matched one by one.
 * NOTE: IPv6 ranges wider than /96 that contain ::ffff:0:0/96 (such as ::/0) match no
 * IPv4-mapped client, because parseIpAddress turns those clients into IPv4 addresses.
 */
export class AddressSet {
  /** Canonical text of each range, such as `10.0.0.0/8`, in the order given. */
  readonly entries: readonly string[]
  /** Whether the set contains 0.0.0.0/0 or ::/0. */
  readonly anywhere: boolean
  readonly #ipv4Buckets: readonly Ipv4Bucket[]
  readonly #ipv6Ranges: readonly IpRange[]

  private constructor (ranges: readonly IpRange[]) {
    this.entries = Object.freeze(ranges.map((range) => range.text))
    this.anywhere = ranges.some((range) => range.prefixLength === 0)
    this.#ipv4Buckets = bucketIpv4(ranges)
    this.#ipv6Ranges = ranges.filter((range) => range.network.kind() === 'ipv6')
  }

  /** Parses allowlist entries with parseCidr. Returns the first invalid entry's index and message. */
  static parse (entries: readonly string[]): AddressSetResult {
    const ranges: IpRange[] = []
    for (const [index, entry] of entries.entries()) {
      const result = parseCidr(entry)
      if (!result.ok) return { ok: false, index, message: result.message }
      ranges.push(result.range)
    }
    return { ok: true, set: new AddressSet(ranges) }
  }

  static fromRanges (ranges: readonly IpRange[]): AddressSet {
    return new AddressSet(ranges)
  }

  has (address: IpAddress): boolean {
    if (address instanceof ipaddr.IPv4) return this.#hasIpv4(address)
    return this.#ipv6Ranges.some((range) => address.match(range.network, range.prefixLength))
  }

  #hasIpv4 (address: ipaddr.IPv4): boolean {
    const value = ipv4ToNumber(address.octets)
    for (const bucket of this.#ipv4Buckets) {
      if (bucket.networks.has((value & bucket.mask) >>> 0)) return true
    }
    return false
  }
}

function bucketIpv4 (ranges: readonly IpRange[]): Ipv4Bucket[] {
  const byPrefixLength = new Map<number, Set<number>>()
  for (const range of ranges) {
    if (!(range.network instanceof ipaddr.IPv4)) continue
    const networks = byPrefixLength.get(range.prefixLength) ?? new Set<number>()
    networks.add(ipv4ToNumber(range.network.octets))
    byPrefixLength.set(range.prefixLength, networks)
  }
  return [...byPrefixLength].map(([prefixLength, networks]) => ({ mask: ipv4Mask(prefixLength), networks }))
}

function ipv4Mask (prefixLength: number): number {
  // A shift count of 32 is taken modulo 32 in JavaScript, so /0 needs its own case.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0
}

function ipv4ToNumber (octets: readonly number[]): number {
  return (((octets[0] ?? 0) << 24) | ((octets[1] ?? 0) << 16) | ((octets[2] ?? 0) << 8) | (octets[3] ?? 0)) >>> 0
}
