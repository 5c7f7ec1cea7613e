import ipaddr from 'ipaddr.js'
import { formatIpAddress, isIpv4Mapped, parseIpAddressKeepMapped, type IpAddress } from './ip.js'

/** A network range: the address with every host bit zero, and the prefix length. */
export interface IpRange {
  readonly network: IpAddress
  readonly prefixLength: number
  /** Canonical text, such as `10.0.0.0/8` or `2001:db8::/48`. */
  readonly text: string
}

export type CidrResult = { ok: true, range: IpRange } | { ok: false, message: string }

const PREFIX_PATTERN = /^(?:0|[1-9][0-9]{0,2})$/
/** Bits of an IPv6 address in front of an IPv4-mapped address (`::ffff:0:0/96`). */
const IPV4_MAPPED_PREFIX_LENGTH = 96

/**
 * Parses one allowlist entry: a bare address (a /32 or /128 range) or `address/prefix`
 * with the host bits zero. IPv4-mapped IPv6 ranges (`::ffff:0:0/96` and narrower) become
 * their IPv4 range. Returns a message naming the entry, the rule and the fix otherwise.
 */
export function parseCidr (text: string): CidrResult {
  if (text.includes('%')) {
    return invalid(`${quote(text)} has a zone id (the part from "%"), which names an interface of one host. Remove it`)
  }

  const slash = text.indexOf('/')
  const addressText = slash === -1 ? text : text.slice(0, slash)
  const address = parseIpAddressKeepMapped(addressText)
  if (address === undefined) return invalid(describeBadAddress(text, addressText))

  const maxPrefixLength = address.kind() === 'ipv4' ? 32 : 128
  const prefixText = slash === -1 ? String(maxPrefixLength) : text.slice(slash + 1)
  if (!PREFIX_PATTERN.test(prefixText)) {
    return invalid(`${quote(text)} has prefix length ${quote(prefixText)}, which is not a whole number. Write the prefix length as a whole number from 0 to ${maxPrefixLength} without leading zeros`)
  }
  const prefixLength = Number(prefixText)
  if (prefixLength > maxPrefixLength) {
    return invalid(`${quote(text)} has prefix length ${prefixLength}, which is out of range for ${address.kind() === 'ipv4' ? 'IPv4' : 'IPv6'}. Write a prefix length from 0 to ${maxPrefixLength}`)
  }

  return toRange(text, address, prefixLength)
}

function toRange (text: string, address: IpAddress, prefixLength: number): CidrResult {
  const bytes = address.toByteArray()
  const networkBytes = maskBytes(bytes, prefixLength)
  const range = makeRange(ipaddr.fromByteArray(networkBytes), prefixLength)
  if (networkBytes.some((byte, index) => byte !== bytes[index])) {
    return invalid(`${text} has host bits set; write ${range.text}`)
  }
  return { ok: true, range }
}

function makeRange (network: IpAddress, prefixLength: number): IpRange {
  if (network instanceof ipaddr.IPv6 && isIpv4Mapped(network) && prefixLength >= IPV4_MAPPED_PREFIX_LENGTH) {
    return makeRange(network.toIPv4Address(), prefixLength - IPV4_MAPPED_PREFIX_LENGTH)
  }
  return { network, prefixLength, text: `${formatIpAddress(network)}/${prefixLength}` }
}

function maskBytes (bytes: readonly number[], prefixLength: number): number[] {
  return bytes.map((byte, index) => {
    const bitsKept = Math.min(8, Math.max(0, prefixLength - index * 8))
    return byte & (0xff << (8 - bitsKept)) & 0xff
  })
}

function describeBadAddress (text: string, addressText: string): string {
  if (text.trim() === '') return 'an empty entry is not an address. Remove it or write an address such as 192.0.2.10 or 198.51.100.0/24'
  if (addressText.startsWith('[')) {
    return `${quote(text)} is not a valid address because of the brackets. Write the IPv6 address without them, such as 2001:db8::/48`
  }
  if (addressText.includes(':')) {
    return `${quote(text)} is not a valid IPv6 address: write it in RFC 4291 text form, such as 2001:db8::/48 or ::ffff:192.0.2.10`
  }
  return `${quote(text)} is not a valid IPv4 address: write four decimal parts 0-255 without leading zeros, such as 10.0.0.0/8 (forms like 010.0.0.0, 10.1, 0x0a.0.0.0 or 167772161 are ambiguous)`
}

function invalid (message: string): CidrResult {
  return { ok: false, message }
}

function quote (text: string): string {
  return JSON.stringify(text)
}
