import { checkProfile, checkSensitive } from './acl/check.js'
import { digestKey } from './digest.js'
import { deny, type Denial } from './errors.js'
import type { AddressSet } from './net/address.js'
import { resolveClientAddress } from './net/client.js'
import type { KeyEntry, Policy } from './policy/types.js'
import { canonicalize, findKeyInUrl, hasMethodOverrideInQuery, type CanonicalRoute } from './route/canonical.js'
import { classifyRoute, type RouteClass } from './route/catalogue.js'
import { isFormContentType, readKey, scanHeaders } from './request/headers.js'

/** Facts of a request available before its body is read. */
export interface RequestFacts {
  readonly method: string
  /** The request target exactly as received. */
  readonly target: string
  readonly rawHeaders: readonly string[]
  /** The socket's remote address. */
  readonly peer: string | undefined
}

export interface DecideContext {
  readonly policy: Policy
  /** Milliseconds since the epoch. */
  readonly now: number
  readonly trustedProxies: AddressSet
}

/**
 * The outcome of the checks. Fields are filled as far as the checks got, so a denial at
 * the address check still names the key, for the logs and usage records.
 */
export interface Decision {
  readonly denial: Denial | undefined
  readonly key: KeyEntry | undefined
  /** Normalized client address, when it could be decided. */
  readonly client: string | undefined
  readonly route: CanonicalRoute | undefined
  readonly routeClass: RouteClass | undefined
}

const FORWARDED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])

/** Decides one request against the policy, in the order the design fixes. No I/O. */
export function decide (request: RequestFacts, context: DecideContext): Decision {
  const headers = scanHeaders(request.rawHeaders)
  const address = resolveClientAddress(request.peer, headers.forwardedFor, context.trustedProxies)
  const client = address.ok ? address.text : undefined
  const denied = (denial: Denial, key?: KeyEntry, route?: CanonicalRoute): Decision =>
    ({ denial, key, client, route, routeClass: undefined })

  if (headers.oddHeaderName !== undefined) {
    return denied(deny('malformed_request',
      `Header names may hold only letters, digits and "-" ("${headers.oddHeaderName.slice(0, 64)}"): MISP reads "_" and other characters like "-". Use the "-" spelling.`))
  }
  if (headers.hasBody && (request.method === 'GET' || request.method === 'HEAD')) {
    return denied(deny('malformed_request', `A ${request.method} request must not carry a body; send searches as POST.`))
  }
  if (!request.target.startsWith('/')) {
    return denied(deny('malformed_request', 'The request target must be a path starting with "/", not an absolute URL.'))
  }

  const read = readKey(headers.keyLines)
  if (read !== undefined && 'denial' in read) return denied(read.denial)
  const inUrl = findKeyInUrl(request.target)
  if (inUrl !== undefined) {
    return denied(deny('key_in_url',
      `The URL carries an API key (${inUrl}). Remove it, send the key in the Authorization header, and replace the key: URLs end up in logs.`))
  }
  if (read === undefined) {
    return denied(deny('missing_key', 'No API key: send it in the Authorization header.'))
  }

  const key = context.policy.byDigest.get(digestKey(read.key))
  if (key === undefined) {
    return denied(deny('unknown_key', 'The API key is not known to this proxy. Check the key, or ask the MISP administrator to register it.'))
  }
  const stateDenial = checkKeyState(key, context.now)
  if (stateDenial !== undefined) return denied(stateDenial, key)

  if (!address.ok) return denied(deny('ip_not_allowed', address.message), key)
  if (!key.allowedIps.has(address.address)) {
    return denied(deny('ip_not_allowed',
      `Requests with key "${key.id}" are not allowed from ${address.text}. Ask the MISP administrator to add the address to the key's allowed_ips.`), key)
  }

  return decideRoute(request, headers.methodOverride, headers.contentType, key, client, context.policy)
}

function checkKeyState (key: KeyEntry, now: number): Denial | undefined {
  if (key.revoked !== undefined) {
    return deny('revoked_key', `The API key "${key.id}" was revoked at ${iso(key.revoked.at)}. Ask its owner for a new key.`)
  }
  if (key.notBefore !== undefined && now < key.notBefore) {
    return deny('key_not_yet_valid', `The API key "${key.id}" is valid from ${iso(key.notBefore)}.`)
  }
  if (key.expires !== undefined && now >= key.expires) {
    return deny('expired_key', `The API key "${key.id}" expired at ${iso(key.expires)}. Ask its owner for a new key.`)
  }
  return undefined
}

function decideRoute (
  request: RequestFacts, methodOverride: string | undefined, contentType: string | undefined,
  key: KeyEntry, client: string | undefined, policy: Policy
): Decision {
  const canonical = canonicalize(request.method, request.target)
  if (!canonical.ok) {
    return { denial: deny('ambiguous_path', canonical.message), key, client, route: undefined, routeClass: undefined }
  }
  const route = canonical.route
  const routeClass = classifyRoute(route)
  const result = (denial: Denial | undefined): Decision => ({ denial, key, client, route, routeClass })

  if (methodOverride !== undefined) {
    return result(deny('method_override', `The ${methodOverride} header is not allowed: MISP would obey it. Send the request with the method you mean.`))
  }
  if (hasMethodOverrideInQuery(request.target)) {
    return result(deny('method_override', 'A _method field in the query string is not allowed: MISP would obey it. Send the request with the method you mean.'))
  }
  if (!FORWARDED_METHODS.has(request.method)) {
    return result(deny('method_not_allowed', `The ${request.method} method is not forwarded to MISP.`))
  }
  if (key.readOnly && !readOnlyAllows(request.method, routeClass, contentType)) {
    return result(deny('read_only',
      `The API key "${key.id}" is read-only and may not ${request.method} ${route.route}. Read-only keys may GET read routes and POST searches with a JSON body.`))
  }
  return result(checkProfile(key, request.method, route, policy) ?? checkSensitive(key, request.method, route, routeClass))
}

/** GET and HEAD on read routes, POST on read routes that take search bodies, never a form body. */
function readOnlyAllows (method: string, routeClass: RouteClass, contentType: string | undefined): boolean {
  if (routeClass.kind !== 'read') return false
  if (isFormContentType(contentType)) return false
  if (method === 'GET' || method === 'HEAD') return true
  return method === 'POST' && routeClass.searchBody
}

function iso (ms: number): string {
  return new Date(ms).toISOString()
}
