import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { Pool } from 'undici'
import { auditSensitive, findSensitiveRoute } from './acl/audit.js'
import { decide, type Decision } from './decide.js'
import { checkFormBody, DEFAULT_FORM_BODY_LIMIT } from './request/form-body.js'
import { DENIALS, deny, denialBody, type Denial, type DenialReason } from './errors.js'
import { rewriteRequestHeaders, rewriteResponseHeaders } from './forward.js'
import type { Metrics } from './metrics.js'
import type { AddressSet } from './net/address.js'
import type { PolicyStore } from './policy/store.js'
import { readWithoutAuthkeys } from './redact.js'
import type { UsageRecorder } from './usage/recorder.js'

export interface UpstreamTimeouts {
  /** Milliseconds to open a connection to MISP. */
  readonly connectMs: number
  /** Milliseconds from sending the request to MISP's response headers. */
  readonly headersMs: number
  /** Milliseconds of silence allowed between two chunks of MISP's response body. */
  readonly bodyMs: number
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = {
  connectMs: 10_000,
  headersMs: 300_000, // restSearch exports can take minutes before the first byte
  bodyMs: 300_000
}

/** Default of --client-timeout: seconds a client may leave its request body idle. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000
/** Time a client has to send all request headers, checked every few seconds. */
const CLIENT_HEADERS_TIMEOUT_MS = 30_000
const CONNECTIONS_CHECKING_INTERVAL_MS = 5_000

export interface ProxyOptions {
  /** MISP's origin, such as https://misp.example.org. */
  readonly upstream: URL
  /** PEM bundle that replaces the system CAs for verifying MISP's certificate. */
  readonly upstreamCa?: string | Buffer
  readonly upstreamTimeouts?: UpstreamTimeouts
  readonly trustedProxies: AddressSet
  readonly policies: PolicyStore
  /** Milliseconds since the epoch; tests inject a fixed clock. */
  readonly clock?: () => number
  readonly logger: Logger
  readonly metrics: Metrics
  readonly usage: UsageRecorder
  /** Largest URL-encoded form body, in bytes, read to check its fields; DEFAULT_FORM_BODY_LIMIT when unset. */
  readonly formBodyLimit?: number
  /** Milliseconds a URL-encoded form body may take to arrive in all; default FORM_BODY_TIMEOUT_MS. */
  readonly formBodyTimeoutMs?: number
  /**
   * Milliseconds a client may leave its request body, or its keep-alive connection, idle
   * before the proxy closes it; DEFAULT_CLIENT_TIMEOUT_MS when unset.
   */
  readonly clientTimeoutMs?: number
  /** Lower-case request header names forwarded besides FORWARDED_REQUEST_HEADERS (--forward-header). */
  readonly forwardHeaders?: readonly string[]
}

/** Per-request state, set by the onRequest hook. */
interface RequestState {
  /** Replaced by a denial when the form-body check stops a request the headers allowed. */
  decision: Decision
  readonly time: number
  /** Body bytes of a streamed MISP response; the socket's own counter is slow to read. */
  streamedBytes: number | undefined
  failure: DenialReason | undefined
}

// @fastify/reply-from types its callbacks for HTTP/2 servers too; this proxy serves HTTP/1.1.
type AnyRequest = FastifyRequest
type AnyReply = FastifyReply

declare module 'fastify' {
  interface FastifyRequest {
    keygate: RequestState | null
  }
}

/** Builds the proxy server; the caller listens and closes it. */
export async function buildProxy (options: ProxyOptions): Promise<FastifyInstance> {
  const clock = options.clock ?? Date.now
  const extraHeaders = new Set(options.forwardHeaders ?? [])
  const clientTimeoutMs = options.clientTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
  const app = Fastify({
    // No requestTimeout: an upload of hundreds of megabytes may take longer than any fixed
    // limit. An idle body is closed by closeIdleBody() instead.
    http: {
      headersTimeout: Math.min(CLIENT_HEADERS_TIMEOUT_MS, clientTimeoutMs),
      connectionsCheckingInterval: Math.min(CONNECTIONS_CHECKING_INTERVAL_MS, clientTimeoutMs)
    },
    keepAliveTimeout: clientTimeoutMs,
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 65_536 },
    clientErrorHandler: (err, socket) => rejectMalformed(err, socket, options),
    frameworkErrors: (error, request, reply) => {
      // The router failed on the target before any hook ran: decide now, so the usual
      // order of checks still picks the reason.
      const denial = decideRequest(request, reply, options, clock())
      void sendDenial(request, reply, denial ?? deny('malformed_request', `The request could not be routed: ${error.message}.`))
    }
  })
  app.decorateRequest('keygate', null)
  // Without a 'connect' listener, Node closes a CONNECT request's socket without a response.
  app.server.on('connect', (_request: unknown, socket: Socket) => {
    rejectMalformed(Object.assign(new Error('CONNECT'), { code: 'CONNECT_NOT_SUPPORTED' }), socket, options)
  })

  app.addHook('onRequest', async (request, reply) => {
    const denial = decideRequest(request, reply, options, clock())
    if (denial !== undefined) return sendDenial(request, reply, denial)
    closeIdleBody(request, clientTimeoutMs)
  })
  app.addHook('onResponse', async (request, reply) => record(request, reply, options, clock()))

  // server.close() only closes connections that are idle when it is called. A keep-alive
  // connection whose request was in flight would stay open until its idle timeout, so
  // while closing, each response ends its connection.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })
  app.addHook('onResponse', async (request) => { if (closing) request.raw.socket.end() })
  app.setErrorHandler(async (err: Error & { code?: string, statusCode?: number }, request, reply) => {
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify could not read the request, such as a Content-Type it cannot parse.
      const denial = deny('malformed_request', `The request could not be read (${err.code}). Check its Content-Type header and body.`)
      if (request.keygate !== null) request.keygate.decision = { ...request.keygate.decision, denial }
      request.log.info({ err_code: err.code }, 'request rejected while reading it')
      return sendDenial(request, reply, denial)
    }
    if (isClientAbort(err, request)) {
      // The socket is closed, so no client reads this denial. Sending it ends the reply.
      const denial = deny('malformed_request', 'The client closed the connection before the request body ended.')
      if (request.keygate !== null) request.keygate.decision = { ...request.keygate.decision, denial }
      request.log.info({ err_code: err.code }, 'client closed the connection')
      return sendDenial(request, reply, denial)
    }
    request.log.error({ err }, 'request failed inside the proxy')
    return sendDenial(request, reply, deny('internal_error', 'The proxy failed to handle the request; its log has the details under this request id.'))
  })

  await app.register(httpProxy, {
    upstream: options.upstream.origin,
    undici: createUpstreamPool(options),
    disableRequestLogging: true,
    internalRewriteLocationHeader: false,
    // reply.from() without a source forwards req.url's path as received and its query
    // string byte for byte; the default handler would re-encode the query.
    handler: async (request, reply, _dest, replyOptions) => await forward(request, reply, replyOptions, options),
    replyOptions: {
      retryDelay: () => null, // never retry: MISP changes state on some GETs
      rewriteRequestHeaders: (request, headers) => rewriteRequestHeaders(headers, forwardContext(request as unknown as AnyRequest, extraHeaders)),
      rewriteHeaders: (headers, request) => {
        const key = stateOf(request as unknown as AnyRequest).decision.key
        if (key === undefined) return headers
        return rewriteResponseHeaders(headers, key, (request as unknown as AnyRequest).id) as typeof headers
      },
      onResponse: (request, reply, response) => {
        sendUpstreamResponse(request as unknown as AnyRequest, reply as AnyReply, response.stream)
      },
      onError: (reply, { error }) => failUpstream(reply as unknown as AnyReply, error, options)
    }
  })
  return app
}

/**
 * Closes the connection when the client sends no body bytes for `timeoutMs` while the
 * body is read. The timer stops at the body's end, so a slow MISP response is not cut.
 */
function closeIdleBody (request: FastifyRequest, timeoutMs: number): void {
  const raw = request.raw
  if (!declaresBody(raw) || raw.complete) return

  const socket = raw.socket
  const onTimeout = (): void => {
    request.log.info({ timeout_ms: timeoutMs }, 'request body idle for too long; connection closed')
    socket.destroy()
  }
  socket.setTimeout(timeoutMs)
  socket.once('timeout', onTimeout)
  raw.once('end', () => {
    socket.setTimeout(0)
    socket.off('timeout', onTimeout)
  })
}

function declaresBody (raw: FastifyRequest['raw']): boolean {
  return raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0
}

/** True when the error comes from the client closing its connection while the body was read. */
function isClientAbort (err: Error & { code?: string }, request: FastifyRequest): boolean {
  return err.code === 'ECONNRESET' || (request.raw.destroyed && request.raw.socket.destroyed)
}

function decideRequest (request: FastifyRequest, reply: FastifyReply, options: ProxyOptions, now: number): Denial | undefined {
  const raw = request.raw
  const decision = decide(
    { method: raw.method ?? '', target: raw.url ?? '', rawHeaders: raw.rawHeaders, peer: raw.socket.remoteAddress },
    { policy: options.policies.current, now, trustedProxies: options.trustedProxies }
  )
  request.keygate = { decision, time: now, streamedBytes: undefined, failure: undefined }
  reply.header('x-request-id', request.id)
  return decision.denial
}

function stateOf (request: FastifyRequest): RequestState {
  if (request.keygate === null) throw new Error('request reached forwarding without a decision')
  return request.keygate
}

/** Returns true for swap-mode users routes, whose responses can contain the upstream key. */
function filtersAuthkeys (decision: Decision): boolean {
  return decision.key?.upstreamKey !== undefined && decision.route?.controller === 'users'
}

function forwardContext (request: FastifyRequest, extraHeaders: ReadonlySet<string>): Parameters<typeof rewriteRequestHeaders>[1] {
  const { decision } = stateOf(request)
  const headers = request.raw.headers
  const clientKey = String(headers.authorization ?? headers['x-misp-auth'] ?? '').trim()
  return {
    key: decision.key!,
    clientKey,
    client: decision.client!,
    requestId: request.id,
    identityEncoding: filtersAuthkeys(decision),
    extraHeaders
  }
}

function sendUpstreamResponse (request: FastifyRequest, reply: FastifyReply, body: NodeJS.ReadableStream): void {
  const state = stateOf(request)
  const { decision } = state
  if (!filtersAuthkeys(decision)) {
    void reply.send(body)
    // Counting starts only once the stream is piped, so no chunk is read before the reply takes it.
    if ((body as import('node:stream').Readable).readableFlowing === true) {
      state.streamedBytes = 0
      body.on('data', (chunk: Buffer) => { state.streamedBytes! += chunk.length })
    }
    return
  }
  // reply-from has copied MISP's response headers to the reply by now.
  const encoding = reply.getHeader('content-encoding')
  const contentEncoding = Array.isArray(encoding) ? encoding.join(',') : encoding?.toString()
  readWithoutAuthkeys(body as import('node:stream').Readable, decision.key!.upstreamKey!, contentEncoding).then(
    (filtered) => {
      reply.removeHeader('content-length')
      reply.removeHeader('content-encoding')
      void reply.send(filtered)
    },
    (err: unknown) => {
      request.log.error({ err }, 'could not filter a users response from MISP')
      stateOf(request).failure = 'upstream_unavailable'
      void sendDenial(request, reply, deny('upstream_unavailable', 'MISP returned a users response the proxy could not check for keys.'))
    }
  )
}

/**
 * Time a URL-encoded form body, at most --form-body-limit bytes, may take to arrive before
 * the proxy responds 408. The idle timeout alone lets a body sent a byte at a time keep a
 * buffer without end.
 */
export const FORM_BODY_TIMEOUT_MS = 60_000

/** Checks a form body that MISP would read `_method` from, then forwards the request. */
async function forward (request: FastifyRequest, reply: FastifyReply, replyOptions: NonNullable<FastifyHttpProxyOptions['replyOptions']>, options: ProxyOptions): Promise<FastifyReply> {
  const limit = options.formBodyLimit ?? DEFAULT_FORM_BODY_LIMIT
  const onStreamDenial = (denial: Denial): void => { stateOf(request).decision = { ...stateOf(request).decision, denial } }
  const form = await checkFormBody(request.raw, limit, onStreamDenial, options.formBodyTimeoutMs ?? FORM_BODY_TIMEOUT_MS)
  if (form.kind === 'denied') {
    stateOf(request).decision = { ...stateOf(request).decision, denial: form.denial }
    return sendDenial(request, reply.header('connection', 'close'), form.denial)
  }
  if (form.kind === 'buffered') return reply.from(undefined, { ...replyOptions, body: form.body, contentType: form.contentType })
  if (form.kind === 'scanned') request.body = form.stream
  return reply.from(undefined, replyOptions)
}

function failUpstream (reply: FastifyReply, error: Error & { code?: string, statusCode?: number }, options: ProxyOptions): void {
  const request = reply.request
  const bodyDenial = stateOf(request).decision.denial
  if (bodyDenial !== undefined) {
    // The form-body scanner stopped the body, which aborted the upstream request.
    void sendDenial(request, reply.header('connection', 'close'), bodyDenial)
    return
  }
  if (request.raw.socket.destroyed && !request.raw.complete) {
    // The client went away while its body streamed to MISP: not a MISP failure.
    const denial = deny('malformed_request', 'The client closed the connection before the request body ended.')
    stateOf(request).decision = { ...stateOf(request).decision, denial }
    request.log.info({ err_code: error.code }, 'client closed the connection')
    void sendDenial(request, reply, denial)
    return
  }
  const timedOut = error.statusCode === 504 || (error.code ?? '').includes('TIMEOUT')
  const reason: DenialReason = timedOut ? 'upstream_timeout' : 'upstream_unavailable'
  const cause = (error.cause as { code?: string } | undefined)?.code ?? error.code
  stateOf(request).failure = reason
  options.metrics.upstreamErrors.inc({ reason })
  const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(cause ?? '')
  request.log.error({ err_code: cause, reason }, certificate
    ? "forwarding to MISP failed: its TLS certificate was not verified; give MISP's CA with --upstream-ca"
    : 'forwarding to MISP failed')
  const message = timedOut
    ? 'MISP did not respond in time. Retry later, and narrow the search for long exports.'
    : `The proxy could not reach MISP (${cause ?? 'connection failed'}). Retry later, or tell the MISP administrator.`
  void sendDenial(request, reply, deny(reason, message))
}

function sendDenial (request: FastifyRequest, reply: FastifyReply, denial: Denial): FastifyReply {
  // Node would otherwise read the rest of the body, however slowly it arrives, before
  // the connection could take the next request. The hooks run before Node has parsed any
  // body bytes, so whether the body is complete is not known here.
  if (declaresBody(request.raw)) reply.header('connection', 'close')
  return reply
    .code(DENIALS[denial.reason].status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(denialBody(denial, errorUrl(request.raw.url ?? '', denial), request.id))
}

/** Returns the path for the error's `url` field: no query string, and no path at all when it contains a key. */
function errorUrl (target: string, denial: Denial): string {
  if (denial.reason === 'key_in_url' || denial.reason === 'malformed_request') return ''
  const end = target.indexOf('?')
  return end === -1 ? target : target.slice(0, end)
}

function record (request: FastifyRequest, reply: FastifyReply, options: ProxyOptions, now: number): void {
  const state = request.keygate
  if (state === null) return
  const { decision } = state
  const reason = decision.denial?.reason ?? state.failure
  let outcome: 'allowed' | 'denied' | 'error' = 'allowed'
  if (decision.denial !== undefined) outcome = 'denied'
  else if (state.failure !== undefined) outcome = 'error'
  const keyId = decision.key?.id
  const durationMs = now - state.time
  const method = request.raw.method ?? ''
  const sensitive = findSensitiveRoute(decision, method, request.raw.url ?? '')

  options.metrics.requests.inc({ key_id: keyId ?? '', outcome })
  if (reason !== undefined) options.metrics.denials.inc({ key_id: keyId ?? '', reason })
  options.metrics.duration.observe({ outcome }, reply.elapsedTime / 1000)
  options.usage.record({
    time: state.time,
    requestId: request.id,
    keyId,
    address: decision.client,
    method: request.raw.method ?? '',
    route: decision.route?.route ?? sensitive?.route,
    category: sensitive?.category,
    routeKind: decision.routeClass?.kind,
    status: reply.statusCode,
    reason,
    outcome: outcome === 'denied' ? 'denied' : 'allowed'
  })
  if (sensitive !== undefined && keyId !== undefined) {
    const client = decision.client
    auditSensitive(request.log, options.metrics, { ...sensitive, keyId, client, method, status: reply.statusCode, outcome, reason, time: state.time })
  }
  request.log.info({
    key_id: keyId,
    client: decision.client,
    method: request.raw.method,
    route: decision.route?.route,
    status: reply.statusCode,
    reason,
    duration_ms: Math.max(durationMs, Math.round(reply.elapsedTime)),
    bytes_out: state.streamedBytes ?? Number(reply.getHeader('content-length') ?? 0)
  }, 'request')
}

function createUpstreamPool (options: ProxyOptions): Pool {
  const timeouts = options.upstreamTimeouts ?? DEFAULT_UPSTREAM_TIMEOUTS
  return new Pool(options.upstream.origin, {
    // Set here because @fastify/reply-from turns certificate checks off when it builds the pool.
    connect: { rejectUnauthorized: true, ca: options.upstreamCa, timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    connections: 128,
    pipelining: 1
  })
}

/** Responds to what Node's HTTP parser could not read, in MISP's error shape, and closes the connection. */
function rejectMalformed (err: Error & { code?: string }, socket: Socket, options: ProxyOptions): void {
  options.metrics.clientErrors.inc()
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const requestId = randomUUID()
  const body = JSON.stringify(denialBody(deny('malformed_request', malformedMessage(err.code)), '', requestId))
  options.logger.info({ request_id: requestId, reason: 'malformed_request', err_code: err.code }, 'malformed request rejected')
  socket.end(`HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
    'content-type: application/json; charset=utf-8\r\nconnection: close\r\n' +
    `x-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

function malformedMessage (code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return 'The request headers are too large.'
  if (code === 'CONNECT_NOT_SUPPORTED') return 'The CONNECT method is not supported: the proxy forwards requests to MISP only. Send the request itself.'
  return `The request is not valid HTTP/1.1 (${code ?? 'parse error'}).`
}
