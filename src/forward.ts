import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { KeyEntry } from './policy/types.js'

/**
 * Client request headers forwarded to MISP. Every other header is dropped, because MISP
 * can be configured to trust any header for the client address (MISP.log_client_ip_header)
 * or for the user it logs in (Plugin.CustomAuth_header).
 * These are the headers that MISP and CakePHP 2 read for content negotiation and the
 * request body, plus caching and range headers that keep their HTTP meaning.
 * NOTE: not checked against every MISP controller. A header that some MISP feature reads
 * and that is missing here is dropped, and --forward-header can add it.
 */
export const FORWARDED_REQUEST_HEADERS: readonly string[] = [
  'accept', 'accept-encoding', 'accept-language', 'content-type', 'content-length', 'content-encoding',
  'user-agent', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since',
  'cache-control', 'pragma', 'range', 'x-requested-with',
  // MISP's own sync client sends these to the remote server (ServerSyncTool, MISP 2.5).
  'misp-version', 'misp-uuid', 'commit'
]

/** Headers that --forward-header rejects: the proxy sets or removes them on purpose. */
const PROXY_CONTROLLED_HEADERS = new Set([
  'authorization', 'x-misp-auth', 'proxy-authorization', 'cookie',
  'x-http-method-override', 'x-http-method', 'x-method-override',
  'forwarded', 'x-real-ip', 'true-client-ip', 'client-ip', 'x-client-ip', 'x-cluster-client-ip',
  'cf-connecting-ip', 'fastly-client-ip', 'expect', 'host', 'x-request-id'
])

/** An HTTP field name (RFC 9110 section 5.1). */
const FIELD_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

/** Hop-by-hop headers (RFC 9110 section 7.6.1): they describe MISP's connection to the proxy. */
const HOP_BY_HOP_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']

export interface ForwardContext {
  readonly key: KeyEntry
  /** The key the client sent, forwarded in pass-through mode only. */
  readonly clientKey: string
  readonly client: string
  readonly requestId: string
  /** Ask MISP for an uncompressed response, so the proxy can filter it. */
  readonly identityEncoding: boolean
  /** Lower-case names forwarded besides FORWARDED_REQUEST_HEADERS (--forward-header). */
  readonly extraHeaders?: ReadonlySet<string>
}

/**
 * Returns why `name` cannot be added with --forward-header, or undefined when it can:
 * it must be a valid header name that the proxy does not set or remove itself.
 */
export function forwardHeaderProblem (name: string): string | undefined {
  const lower = name.toLowerCase()
  if (!FIELD_NAME.test(name)) return `"${name.slice(0, 64)}" is not a valid HTTP header name`
  const controlled = PROXY_CONTROLLED_HEADERS.has(lower) || HOP_BY_HOP_HEADERS.includes(lower) ||
    lower.startsWith('x-forwarded-')
  if (controlled) return `"${name}" is a header the proxy sets or removes itself, so it cannot be forwarded from clients`
  return undefined
}

/**
 * Rewrites the client's headers for MISP: only FORWARDED_REQUEST_HEADERS and the
 * context's extra headers pass, minus any that Connection names as hop-by-hop. The key
 * is the policy's upstream key (swap mode) or the client's own.
 */
export function rewriteRequestHeaders (headers: IncomingHttpHeaders, context: ForwardContext): IncomingHttpHeaders {
  const hopByHop = new Set(listedInConnection(headers.connection))
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    const allowed = FORWARDED_REQUEST_HEADERS.includes(name) || context.extraHeaders?.has(name) === true
    if (allowed && !hopByHop.has(name)) out[name] = value
  }

  out.authorization = context.key.upstreamKey ?? context.clientKey
  out['x-forwarded-for'] = context.client
  out['x-request-id'] = context.requestId
  if (context.identityEncoding) out['accept-encoding'] = 'identity'
  return out
}

/**
 * Rewrites MISP's response headers: no session cookie reaches the client, and the key
 * expiry header describes the client's key, not the upstream one.
 */
export function rewriteResponseHeaders (headers: OutgoingHttpHeaders, key: KeyEntry, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ...headers }
  const connection = headers.connection
  for (const name of listedInConnection(typeof connection === 'string' ? connection : undefined)) delete out[name]
  for (const name of HOP_BY_HOP_HEADERS) delete out[name]
  delete out['set-cookie']
  delete out['x-auth-key-expiration']
  delete out['x-request-id']
  if (key.expires !== undefined) out['x-auth-key-expiration'] = new Date(key.expires).toISOString()
  out['x-request-id'] = requestId
  return out
}

function listedInConnection (value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '')
}
