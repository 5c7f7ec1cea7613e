import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { DEMO_DESCRIBE_TYPES, DEMO_EVENT } from './bodies.js'

/** One request as the stand-in received it. */
export interface RecordedRequest {
  readonly method: string
  readonly url: string
  /** Header lines exactly as received, names in their original case. */
  readonly rawHeaders: readonly string[]
  readonly bodyBytes: number
}

export interface StandinUser {
  readonly id: number
  readonly email: string
}

export interface StandinOptions {
  /** API keys the stand-in accepts, each for one user; without it, any well-formed key is user 1. */
  readonly keys?: ReadonlyMap<string, StandinUser>
  /** The `result` of attributes/describeTypes.json. */
  readonly describeTypes?: unknown
  /** The event served by events/view and events/restSearch, as `{ Event: {...} }`. */
  readonly event?: { Event: Record<string, unknown> }
  /** Returns the user's authkey from users/view, as MISP does when advanced authkeys are off. */
  readonly exposeAuthkeys?: boolean
  /** Serves HTTPS with this PEM key and certificate instead of HTTP. */
  readonly tls?: { readonly key: string | Buffer, readonly cert: string | Buffer }
}

export type StandinHandler = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void

/** Largest request body the stand-in keeps in memory; longer ones are counted and dropped. */
const MAX_KEPT_BODY = 1024 * 1024

/**
 * A MISP stand-in: responds like MISP 2.5 to the calls PyMISP makes at start-up, searches,
 * event views and event creation, checks the API key as MISP does, and records every
 * request. Tests add routes of their own with `route()`.
 */
export class MispStandin {
  readonly requests: RecordedRequest[] = []
  readonly #options: StandinOptions
  readonly #routes = new Map<string, StandinHandler>()
  readonly #server: Server

  constructor (options: StandinOptions) {
    this.#options = options
    const receive = (request: IncomingMessage, response: ServerResponse): void => { this.#receive(request, response) }
    this.#server = options.tls === undefined ? createServer(receive) : createTlsServer(options.tls, receive)
  }

  /** Adds or replaces the handler for METHOD and a path such as `/events/export`. */
  route (method: string, path: string, handler: StandinHandler): void {
    this.#routes.set(`${method} ${path.toLowerCase()}`, handler)
  }

  async listen (host = '127.0.0.1', port = 0): Promise<URL> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => { resolve() })
    })
    const address = this.#server.address() as AddressInfo
    const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return new URL(`${this.#options.tls === undefined ? 'http' : 'https'}://${hostText}:${address.port}`)
  }

  async close (): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => { this.#server.close(() => { resolve() }) })
  }

  #receive (request: IncomingMessage, response: ServerResponse): void {
    const kept: Buffer[] = []
    let bodyBytes = 0
    request.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length
      if (bodyBytes <= MAX_KEPT_BODY) kept.push(chunk)
    })
    request.on('end', () => {
      this.requests.push({ method: request.method ?? '', url: request.url ?? '', rawHeaders: request.rawHeaders, bodyBytes })
      this.#answer(request, response, Buffer.concat(kept), bodyBytes)
    })
  }

  #answer (request: IncomingMessage, response: ServerResponse, body: Buffer, bodyBytes: number): void {
    const path = (request.url ?? '/').split('?')[0]!.toLowerCase().replace(/\.(json|xml|csv)$/, '').replace(/\/$/, '')
    const custom = this.#routes.get(`${request.method} ${path}`)
    if (custom !== undefined) {
      custom(request, response, body)
      return
    }
    const user = this.#authenticate(request)
    if (user === undefined) {
      sendJson(response, 403, {
        name: 'Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.',
        message: 'Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header.',
        url: request.url
      })
      return
    }
    this.#answerMisp(request, response, path, user, body, bodyBytes)
  }

  #authenticate (request: IncomingMessage): { key: string, user: StandinUser } | undefined {
    const value = request.headers['x-misp-auth'] ?? request.headers.authorization
    if (typeof value !== 'string') return undefined
    const key = value.trim()
    if (this.#options.keys === undefined) {
      return /^[A-Za-z0-9]{40}$/.test(key) ? { key, user: { id: 1, email: 'admin@standin.test' } } : undefined
    }
    const user = this.#options.keys.get(key)
    return user === undefined ? undefined : { key, user }
  }

  #answerMisp (
    request: IncomingMessage, response: ServerResponse, path: string,
    auth: { key: string, user: StandinUser }, body: Buffer, bodyBytes: number
  ): void {
    const method = request.method ?? 'GET'
    const event = this.#options.event ?? DEMO_EVENT

    if (method === 'GET' && path === '/servers/getversion') {
      sendJson(response, 200, { version: '2.5.1', pymisp_recommended_version: '2.5.1', perm_sync: false, perm_sighting: false, perm_galaxy_editor: false, request_encoding: ['gzip', 'br'], filter_sightings: true })
    } else if (method === 'GET' && (path === '/users/view/me' || path === `/users/view/${auth.user.id}`)) {
      sendJson(response, 200, this.#userView(auth))
    } else if (method === 'GET' && path === '/attributes/describetypes') {
      sendJson(response, 200, { result: this.#options.describeTypes ?? DEMO_DESCRIBE_TYPES })
    } else if (method === 'POST' && path === '/events/restsearch') {
      sendJson(response, 200, { response: [event] })
    } else if (method === 'POST' && path === '/attributes/restsearch') {
      sendJson(response, 200, { response: { Attribute: event.Event.Attribute ?? [] } })
    } else if ((method === 'GET' || method === 'HEAD') && /^\/events\/view\/[^/]+$/.test(path)) {
      this.#eventView(response, path.slice('/events/view/'.length), event)
    } else if (method === 'POST' && (path === '/events/add' || path === '/events')) {
      sendJson(response, 200, { Event: { ...parseJsonObject(body), id: '1234', received_bytes: bodyBytes } })
    } else if (method === 'POST' && path === '/events/upload') {
      sendJson(response, 200, { received_bytes: bodyBytes })
    } else {
      sendJson(response, 404, { name: 'Not Found', message: 'Not Found', url: request.url })
    }
  }

  #userView (auth: { key: string, user: StandinUser }): Record<string, unknown> {
    const user: Record<string, unknown> = { id: String(auth.user.id), email: auth.user.email, org_id: '1', role_id: '3', disabled: false }
    if (this.#options.exposeAuthkeys === true) user.authkey = auth.key
    return { User: user, Role: { id: '3', name: 'User', perm_auth: true }, Organisation: { id: '1', name: 'ORGNAME' } }
  }

  #eventView (response: ServerResponse, id: string, event: { Event: Record<string, unknown> }): void {
    const known = id === String(event.Event.id) || id === String(event.Event.uuid).toLowerCase()
    if (known) {
      sendJson(response, 200, event)
    } else {
      sendJson(response, 404, { name: 'Invalid event', message: 'Invalid event', url: `/events/view/${id}` })
    }
  }
}

function sendJson (response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}

function parseJsonObject (body: Buffer): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'))
    const inner = (parsed as { Event?: unknown }).Event ?? parsed
    return typeof inner === 'object' && inner !== null ? inner as Record<string, unknown> : {}
  } catch {
    return {}
  }
}
