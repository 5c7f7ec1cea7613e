// PHP's reading of URL text as MISP receives it: urldecode() and the rewriting of query
// field names that PHP 7 and 8 apply when they fill $_GET.
// NOTE: the field-name rules are written from PHP's known behaviour, not run against PHP.

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const HEX = /^[0-9A-Fa-f]{2}$/

export type Decoded = { ok: true, text: string } | { ok: false, problem: string }

/**
 * Decodes like PHP urldecode(): `%XX` escapes and `+` as a space, once. Unlike PHP,
 * a `%` without two hex digits and bytes that are not UTF-8 are problems, not text.
 * The input must be ASCII.
 */
export function urldecodeStrict (raw: string): Decoded {
  const bytes = new Uint8Array(raw.length)
  let length = 0
  for (let i = 0; i < raw.length; i++) {
    const char = raw.charCodeAt(i)
    if (char === 0x25) {
      const hex = raw.slice(i + 1, i + 3)
      if (!HEX.test(hex)) return { ok: false, problem: `invalid percent escape '%${hex}'` }
      bytes[length++] = parseInt(hex, 16)
      i += 2
    } else {
      bytes[length++] = char === 0x2b ? 0x20 : char
    }
  }
  return decodeUtf8(bytes.subarray(0, length))
}

/**
 * Decodes like PHP urldecode() exactly, one character per byte (a binary string): an
 * invalid escape stays as text. Enough to compare against ASCII names.
 */
export function urldecodeLenient (raw: string): string {
  return raw.replaceAll('+', ' ').replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    return String.fromCharCode(parseInt(hex, 16))
  })
}

/**
 * Returns the name PHP registers for a raw query field name: urldecoded, cut at a NUL,
 * leading spaces dropped, ' ' and '.' turned into '_' up to the first '[', and a
 * `[...]` array suffix removed. A '[' without a closing ']' becomes '_' as in PHP.
 */
export function phpFieldName (rawName: string): string {
  const decoded = urldecodeLenient(rawName)
  const name = decoded.split('\0', 1)[0]?.replace(/^ +/, '') ?? ''
  const bracket = name.indexOf('[')
  const base = (bracket === -1 ? name : name.slice(0, bracket)).replace(/[ .]/g, '_')
  if (bracket === -1 || name.includes(']', bracket)) return base

  return base + '_' + name.slice(bracket + 1)
}

/** Returns the raw names of the fields of a query string, split as PHP splits on '&'. */
export function rawFieldNames (query: string): string[] {
  return query.split('&').map((pair) => pair.split('=', 1)[0] ?? '')
}

function decodeUtf8 (bytes: Uint8Array): Decoded {
  try {
    return { ok: true, text: utf8.decode(bytes) }
  } catch {
    return { ok: false, problem: 'percent escapes that decode to invalid UTF-8' }
  }
}
