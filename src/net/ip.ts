import ipaddr from 'ipaddr.js'
import { parseIpv4Octets, parseIpv6Parts } from './ip-text.js'

/** An IP address. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are always IPv4. */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6

/** Length of the longest strict text form, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_ADDRESS_TEXT_LENGTH = 45

/**
 * Parses an address strictly: IPv4 only as four decimal parts 0-255 without leading
 * zeros, IPv6 in the RFC 4291 text forms without zone id or brackets. Returns undefined
 * for anything else. `::ffff:10.1.2.3` returns the IPv4 address 10.1.2.3.
 */
export function parseIpAddress (text: string): IpAddress | undefined {
  const address = parseIpAddressKeepMapped(text)
  return address === undefined ? undefined : unwrapIpv4Mapped(address)
}

/** Parses like parseIpAddress but returns IPv4-mapped addresses as IPv6. */
export function parseIpAddressKeepMapped (text: string): IpAddress | undefined {
  if (text.length > MAX_ADDRESS_TEXT_LENGTH) return undefined

  const octets = parseIpv4Octets(text)
  if (octets !== undefined) return new ipaddr.IPv4(octets)

  const parts = parseIpv6Parts(text)
  return parts === undefined ? undefined : new ipaddr.IPv6(parts)
}

export function unwrapIpv4Mapped (address: IpAddress): IpAddress {
  if (address instanceof ipaddr.IPv6 && isIpv4Mapped(address)) return address.toIPv4Address()
  return address
}

/**
 * Tells whether an address is in ::ffff:0:0/96. It reads the parts directly because
 * ipaddr.js 2.5.0 isIPv4MappedAddress() walks its whole table of special ranges.
 */
export function isIpv4Mapped (address: ipaddr.IPv6): boolean {
  const parts = address.parts
  return parts[0] === 0 && parts[1] === 0 && parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0xffff
}

/** Formats an address as dotted quad or RFC 5952 text (`10.1.2.3`, `2001:db8::1`). */
export function formatIpAddress (address: IpAddress): string {
  return address instanceof ipaddr.IPv4 ? address.toString() : address.toRFC5952String()
}
