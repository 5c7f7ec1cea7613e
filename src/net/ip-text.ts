// Strict text forms of IP addresses. ipaddr.js does not decide validity here because it
// also accepts inet_aton forms (`012.1.2.3` as octal, `127.1`, `0x7f.0.0.1`, `2130706433`),
// which other software reads as different addresses.

const IPV4_PART = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
const IPV4_PATTERN = new RegExp(`^${IPV4_PART}(?:\\.${IPV4_PART}){3}$`)
const IPV6_GROUP_PATTERN = /^[0-9A-Fa-f]{1,4}$/
const IPV6_GROUP_COUNT = 8

/** Parses four decimal parts 0-255 without leading zeros into four octets. */
export function parseIpv4Octets (text: string): number[] | undefined {
  if (!IPV4_PATTERN.test(text)) return undefined
  return text.split('.').map(Number)
}

/**
 * Parses the IPv6 text forms of RFC 4291 section 2.2 into eight 16-bit parts. The forms
 * are eight groups of 1-4 hex digits, with at most one `::` for one or more zero groups.
 * A strict dotted quad may replace the last two groups.
 */
export function parseIpv6Parts (text: string): number[] | undefined {
  const halves = text.split('::')
  if (halves.length > 2) return undefined

  if (halves.length === 1) {
    const groups = parseGroups(text, true)
    return groups?.length === IPV6_GROUP_COUNT ? groups : undefined
  }

  const head = parseGroups(halves[0] ?? '', false)
  const tail = parseGroups(halves[1] ?? '', true)
  if (head === undefined || tail === undefined) return undefined
  const zeroCount = IPV6_GROUP_COUNT - head.length - tail.length
  if (zeroCount < 1) return undefined
  return [...head, ...new Array<number>(zeroCount).fill(0), ...tail]
}

function parseGroups (text: string, dottedQuadAllowed: boolean): number[] | undefined {
  if (text === '') return []
  const pieces = text.split(':')
  const groups: number[] = []

  for (const [index, piece] of pieces.entries()) {
    if (dottedQuadAllowed && index === pieces.length - 1 && piece.includes('.')) {
      const octets = parseIpv4Octets(piece)
      if (octets === undefined) return undefined
      groups.push(octetPair(octets[0], octets[1]), octetPair(octets[2], octets[3]))
    } else if (IPV6_GROUP_PATTERN.test(piece)) {
      groups.push(parseInt(piece, 16))
    } else {
      return undefined
    }
  }
  return groups
}

function octetPair (high: number | undefined, low: number | undefined): number {
  return ((high ?? 0) << 8) | (low ?? 0)
}
