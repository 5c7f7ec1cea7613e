import type { Readable } from 'node:stream'
import type t from 'tap'
import { send, upstreamCount, type Harness } from './harness.js'

export type Asserts = Pick<typeof t, 'equal' | 'type'>

export type RequestSpec = [method: string, path: string, headers?: string[], body?: string | Buffer | Readable]

/** Asserts a denial in MISP's error shape with its status and reason, and that MISP received nothing. */
export async function expectDenied (t: Asserts, h: Harness, request: RequestSpec, status: number, reason: string, label = ''): Promise<void> {
  const before = upstreamCount(h)
  const [method, path, headers, body] = request
  const name = `${label}${method} ${path}`
  const response = await send(h, method, path, headers, body)
  t.equal(response.status, status, `${name}: status`)
  t.equal(upstreamCount(h), before, `${name}: MISP received nothing`)
  if (method === 'HEAD') return // a HEAD response has no body to check
  t.equal(response.body.reason, reason, `${name}: reason`)
  t.type(response.body.message, 'string', `${name}: MISP error message`)
  t.equal(response.body.request_id, response.headers['x-request-id'], `${name}: request id`)
}

/** Asserts that MISP received the request with its target unchanged. */
export async function expectForwarded (t: Asserts, h: Harness, request: RequestSpec, status = 200, label = ''): Promise<void> {
  const before = upstreamCount(h)
  const [method, path, headers, body] = request
  const name = `${label}${method} ${path}`
  const response = await send(h, method, path, headers, body)
  t.equal(response.status, status, `${name}: status`)
  t.equal(upstreamCount(h), before + 1, `${name}: MISP received it`)
  t.equal(h.standin.requests.at(-1)?.url, path, `${name}: forwarded byte for byte`)
}

export const auth = (key: string): string[] => ['authorization', key]
