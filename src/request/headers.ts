import { deny, type Denial } from '../errors.js'

/** Facts the decision needs from the request headers, read once from `rawHeaders`. */
export interface HeaderFacts {
  /**
   * The first header name with a character other than a letter, digit or `-`. The web
   * server hands headers to PHP as `HTTP_*` variables, where `_` (and, under Apache, any
   * other such character) reads like `-`: `X_MISP_AUTH` and `X.MISP.AUTH` would be
   * `X-MISP-AUTH` to MISP.
   */
  readonly oddHeaderName: string | undefined
  /** Every `Authorization` and `X-MISP-AUTH` line, in order. */
  readonly keyLines: readonly string[]
  /** The first method-override header name seen. */
  readonly methodOverride: string | undefined
  /** Every `X-Forwarded-For` line, in order. */
  readonly forwardedFor: readonly string[]
  readonly contentType: string | undefined
  /** True when Content-Length is above zero or Transfer-Encoding is present. */
  readonly hasBody: boolean
}

const HEADER_NAME = /^[a-z0-9-]+$/

const METHOD_OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override'])

/** A MISP API key: 40 characters of [A-Za-z0-9], as MISP generates and accepts them. */
const MISP_KEY = /^[A-Za-z0-9]{40}$/

const KNOWN_SCHEMES = new Set(['basic', 'bearer', 'digest', 'token', 'apikey', 'negotiate', 'hoba', 'mutual'])

export function scanHeaders (rawHeaders: readonly string[]): HeaderFacts {
  let oddHeaderName: string | undefined
  let methodOverride: string | undefined
  let contentType: string | undefined
  let hasBody = false
  const keyLines: string[] = []
  const forwardedFor: string[] = []

  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase()
    const value = rawHeaders[i + 1] as string
    if (oddHeaderName === undefined && !HEADER_NAME.test(name)) oddHeaderName = name
    if (name === 'authorization' || name === 'x-misp-auth') {
      keyLines.push(value)
    } else if (name === 'x-forwarded-for') {
      forwardedFor.push(value)
    } else if (name === 'content-type') {
      contentType ??= value
    } else if (name === 'transfer-encoding' || (name === 'content-length' && value.trim() !== '0')) {
      hasBody = true
    } else if (methodOverride === undefined && METHOD_OVERRIDE_HEADERS.has(name)) {
      methodOverride = name
    }
  }

  return { oddHeaderName, keyLines, methodOverride, forwardedFor, contentType, hasBody }
}

/**
 * Reads the API key the way MISP does, but strictly: one header line, no scheme, one key.
 * Returns undefined when no key header was sent.
 */
export function readKey (keyLines: readonly string[]): { key: string } | { denial: Denial } | undefined {
  if (keyLines.length === 0) return undefined
  if (keyLines.length > 1) {
    return {
      denial: deny('malformed_key_header',
        'Send the API key once, in either the Authorization or the X-MISP-AUTH header, not both and not twice.')
    }
  }

  const value = (keyLines[0] as string).trim()
  if (value.includes(',')) {
    return { denial: deny('malformed_key_header', 'Send one API key per request; the header held several, separated by commas.') }
  }
  const scheme = /^(\S+)\s+\S/.exec(value)?.[1]
  if (scheme !== undefined) {
    // Only a well-known scheme word is echoed back: the first word could be a key.
    const named = KNOWN_SCHEMES.has(scheme.toLowerCase()) ? `The ${scheme} scheme is` : 'Authorization schemes are'
    return {
      denial: deny('malformed_key_header', `${named} not supported; send the API key alone: "Authorization: <key>".`)
    }
  }
  if (!MISP_KEY.test(value)) {
    return { denial: deny('malformed_key_header', 'A MISP API key is 40 letters and digits; the header held something else.') }
  }
  return { key: value }
}

/**
 * True for content types that PHP turns into `$_POST` and CakePHP reads `_method` from.
 * PHP compares the type case-insensitively up to `;`, `,` or a space, and CakePHP checks
 * PUT and DELETE bodies with a plain prefix match, so a prefix match covers both.
 */
export function isFormContentType (contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = contentType.trimStart().toLowerCase()
  return type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')
}
