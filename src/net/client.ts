import type { AddressSet } from './address-set.js'
import { formatIpAddress, parseIpAddress, type IpAddress } from './ip.js'

export type ClientAddressResult =
  | { ok: true, address: IpAddress, text: string }
  | { ok: false, message: string }

/** Maximum number of characters of a rejected header value quoted in a message. */
const MAX_QUOTED_LENGTH = 64

/**
 * Decides the client address. `peer` is the socket's remote address (possibly undefined
 * or IPv4-mapped IPv6). `forwardedFor` contains the value of every X-Forwarded-For header
 * line in the order received. X-Forwarded-For is read only when the peer is inside
 * `trusted`: its entries are walked right to left, skipping trusted addresses, and the
 * first untrusted one is the client. When every hop is trusted, the left-most is the
 * client. An entry that does not parse strictly before the client is found is an error.
 */
export function resolveClientAddress (
  peer: string | undefined,
  forwardedFor: readonly string[],
  trusted: AddressSet
): ClientAddressResult {
  if (peer === undefined) return invalid('the connection has no peer address, so the client address cannot be decided (the socket is already closed)')
  const peerAddress = parseIpAddress(peer)
  if (peerAddress === undefined) return invalid(`the peer address ${quote(peer)} is not a valid IP address`)

  if (!trusted.has(peerAddress) || forwardedFor.length === 0) return found(peerAddress)
  return walkForwardedFor(forwardedFor.join(',').split(','), trusted)
}

function walkForwardedFor (entries: readonly string[], trusted: AddressSet): ClientAddressResult {
  let leftmost: IpAddress | undefined
  for (let index = entries.length - 1; index >= 0; index--) {
    const entry = trimOptionalWhitespace(entries[index] ?? '')
    const address = parseIpAddress(entry)
    if (address === undefined) return invalid(describeBadEntry(entry, entries.length - index))
    if (!trusted.has(address)) return found(address)
    leftmost = address
  }

  // Unreachable with entries from split(), which always returns at least one element.
  if (leftmost === undefined) return invalid('X-Forwarded-For has no entries')
  return found(leftmost)
}

function describeBadEntry (entry: string, positionFromRight: number): string {
  const problem = entry === '' ? 'is empty' : `${quote(entry)} is not a plain IPv4 or IPv6 address`
  return `X-Forwarded-For entry ${positionFromRight} from the right ${problem}. ` +
    'The trusted proxy in front of misp-keygate must send only addresses, without ports, brackets, zone ids or placeholders'
}

/** Trims spaces and tabs, the optional whitespace of HTTP (RFC 9110 section 5.6.3). */
function trimOptionalWhitespace (text: string): string {
  let start = 0
  let end = text.length
  while (start < end && isOptionalWhitespace(text.charCodeAt(start))) start++
  while (end > start && isOptionalWhitespace(text.charCodeAt(end - 1))) end--
  return text.slice(start, end)
}

function isOptionalWhitespace (code: number): boolean {
  return code === 0x20 || code === 0x09
}

function found (address: IpAddress): ClientAddressResult {
  return { ok: true, address, text: formatIpAddress(address) }
}

function invalid (message: string): ClientAddressResult {
  return { ok: false, message }
}

function quote (text: string): string {
  if (text.length <= MAX_QUOTED_LENGTH) return JSON.stringify(text)
  return `${JSON.stringify(text.slice(0, MAX_QUOTED_LENGTH))} (cut, ${text.length} characters)`
}
