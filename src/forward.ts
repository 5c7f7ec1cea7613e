import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { KeyEntry } from './policy/types.js'

/** Headers MISP would read as the key, the method, the client address or a session. */
const STRIPPED_REQUEST_HEADERS = [
  'authorization', 'x-misp-auth', 'proxy-authorization', 'cookie',
  'x-http-method-override', 'x-http-method', 'x-method-override',
  'forwarded', 'x-real-ip', 'true-client-ip', 'client-ip', 'x-client-ip', 'x-cluster-client-ip',
  'cf-connecting-ip', 'fastly-client-ip',
  // Set by the proxy's own HTTP client or below.
  'expect', 'host', 'x-request-id'
]

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
}

/**
 * Rewrites the client's headers for MISP: no client credentials, overrides or address
 * claims survive; the key is the policy's upstream key (swap mode) or the client's own.
 */
export function rewriteRequestHeaders (headers: IncomingHttpHeaders, context: ForwardContext): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers }
  for (const name of listedInConnection(headers.connection)) delete out[name]
  for (const name of HOP_BY_HOP_HEADERS) delete out[name]
  for (const name of STRIPPED_REQUEST_HEADERS) delete out[name]
  for (const name of Object.keys(out)) {
    if (name.startsWith('x-forwarded-')) delete out[name]
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
