// Checks that reject request targets whose MISP route is ambiguous: the web server, PHP,
// CakePHP or the proxy's URL library could read them differently from the canonicalizer.

const WHATWG_CHANGED = new Map([
  ['\\', 'a backslash (WHATWG URL parsing turns it into \'/\')'],
  ['"', 'a raw \'"\''], ['<', 'a raw \'<\''], ['>', 'a raw \'>\''], ['`', 'a raw backtick'],
  ['{', 'a raw \'{\''], ['}', 'a raw \'}\''], ['|', 'a raw \'|\''], ['^', 'a raw \'^\'']
])
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/
const ENCODED_SEPARATOR = /%(?:2f|5c)/i
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const URL_BASE = 'http://h'

/** Returns what makes the raw target ambiguous before decoding, or undefined. */
export function checkRawTarget (rawTarget: string, rawPath: string): string | undefined {
  if (!rawTarget.startsWith('/')) {
    return 'the target must be a path starting with \'/\' (origin-form), not an absolute URL or \'*\''
  }
  if (!PRINTABLE_ASCII.test(rawTarget)) {
    return 'the target contains a space, control character or non-ASCII byte; percent-encode it'
  }
  if (rawTarget.includes('#')) return 'the target contains \'#\'; a fragment is never sent to a server'
  return checkRawPath(rawPath)
}

/** Returns what makes the percent-decoded path ambiguous, or undefined. */
export function checkDecodedPath (path: string): string | undefined {
  if (CONTROL.test(path)) return 'the path decodes to a control character'
  if (path.includes(';')) return 'the path decodes to \';\', which some servers treat as a parameter separator'
  if (/[?#]/.test(path)) return 'the path decodes to \'?\' or \'#\'; encode the route without them'
  if (/\.php/i.test(path)) return 'the path names a \'.php\' file, which the web server may run directly'
  return checkSegments(path)
}

function checkRawPath (rawPath: string): string | undefined {
  for (const [char, name] of WHATWG_CHANGED) {
    if (rawPath.includes(char)) return `the path contains ${name}; percent-encode it or remove it`
  }
  if (ENCODED_SEPARATOR.test(rawPath)) {
    return 'the path contains an encoded \'/\' or \'\\\' (%2F, %5C), which PHP decodes into a separator'
  }
  if (rawPath.includes(';')) return 'the path contains \';\', which some servers treat as a parameter separator'
  if (rawPath.includes('://')) return 'the path contains \'://\', which makes CakePHP drop it'
  return undefined
}

/**
 * Rejects a path that WHATWG URL parsing would change, because the proxy's forwarding
 * library rebuilds the path with `new URL(path, base)` and would not send it byte for
 * byte. The query string is forwarded as received, so only the path is checked.
 */
export function checkUrlLibrary (rawPath: string): string | undefined {
  if (new URL(rawPath, URL_BASE).pathname === rawPath) return undefined

  return 'WHATWG URL parsing would rewrite the path (dot segments or characters it encodes); ' +
    'send it in normalized form'
}

function checkSegments (path: string): string | undefined {
  const segments = path.slice(1).split('/')
  const last = segments.length - 1
  for (const [index, segment] of segments.entries()) {
    if (segment === '.' || segment === '..') {
      return 'the path contains a \'.\' or \'..\' segment (raw or percent-encoded)'
    }
    if (segment === '' && (index !== last || index === 0) && path !== '/') {
      return 'the path contains an empty segment (\'//\'); only one trailing \'/\' is allowed'
    }
  }
  return undefined
}
