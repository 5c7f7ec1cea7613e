import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { connect, type AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { Client } from 'undici'
import { digestKey } from '../../src/digest.js'
import { generateMispKey } from '../../src/keygen.js'
import { createLogger } from '../../src/log.js'
import { Metrics } from '../../src/metrics.js'
import { AddressSet } from '../../src/net/address.js'
import { loadPolicy } from '../../src/policy/load.js'
import { PolicyStore } from '../../src/policy/store.js'
import { buildProxy, type UpstreamTimeouts } from '../../src/server.js'
import { MispStandin, type StandinOptions } from '../../src/standin/server.js'
import { UsageMemory } from '../../src/usage/memory.js'

const fixtures = new URL('../fixtures/', import.meta.url)
export const EVENT = { Event: JSON.parse(readFileSync(new URL('existing_event.json', fixtures), 'utf8')) as Record<string, unknown> }
export const DESCRIBE_TYPES = (JSON.parse(readFileSync(new URL('describeTypes.json', fixtures), 'utf8')) as { result: unknown }).result

/** 2026-12-04T12:00:00Z: the tests' default clock. */
export const NOW = Date.parse('2026-12-04T12:00:00Z')

export interface TestKeySpec {
  readonly id: string
  /** YAML lines of the entry after id and hash, each without indentation. */
  readonly fields?: readonly string[]
  readonly allowedIps?: readonly string[]
  readonly readOnly?: boolean
  /** Swap mode: the proxy sends this harness's upstream key. */
  readonly swap?: boolean
}

export interface Harness {
  readonly proxyUrl: URL
  readonly standin: MispStandin
  readonly client: Client
  readonly logs: string[]
  readonly keys: Record<string, string>
  /** The key the stand-in accepts, sent upstream in swap mode. */
  readonly upstreamKey: string
  readonly clock: { now: number }
  readonly usage: UsageMemory
  readonly metrics: Metrics
  readonly proxy: FastifyInstance
  readonly policies: PolicyStore
  /** The policy file the harness wrote, in a directory of the test's own. */
  readonly policyFile: string
}

export interface HarnessOptions {
  readonly keys: readonly TestKeySpec[]
  readonly trustedProxies?: readonly string[]
  readonly standin?: Partial<StandinOptions>
  readonly upstreamTimeouts?: UpstreamTimeouts
  /** Listen address of the proxy; '::' to receive IPv4 clients as IPv4-mapped IPv6. */
  readonly host?: string
  /** Local address the test client connects from. */
  readonly localAddress?: string
  /** PEM CA bundle the proxy trusts for MISP's certificate. */
  readonly upstreamCa?: string
  /** Largest URL-encoded form body the proxy reads, in bytes. */
  readonly formBodyLimit?: number
  readonly formBodyTimeoutMs?: number
  /** Milliseconds a request body or keep-alive connection may stay idle. */
  readonly clientTimeoutMs?: number
  /** Request headers forwarded besides the built-in list, in lower case. */
  readonly forwardHeaders?: readonly string[]
  /** The policy's `profiles`: rule lists by profile name. */
  readonly profiles?: Readonly<Record<string, readonly string[]>>
}

interface Tap {
  testdir (files?: Record<string, string>): string
  teardown (fn: () => unknown): void
}

/**
 * Starts a MISP stand-in on port 0 and the proxy in front of it with a policy written from
 * `specs`, and checks at teardown that no key reached any log line.
 */
export async function startHarness (t: Tap, options: HarnessOptions): Promise<Harness> {
  const upstreamKey = generateMispKey()
  const keys: Record<string, string> = {}
  for (const spec of options.keys) keys[spec.id] = generateMispKey()

  const standin = new MispStandin({
    keys: new Map([[upstreamKey, { id: 1, email: 'admin@admin.test' }], ...Object.values(keys).map((key, i) => [key, { id: i + 10, email: `user${i}@admin.test` }] as const)]),
    describeTypes: DESCRIBE_TYPES,
    event: EVENT as { Event: Record<string, unknown> },
    ...options.standin
  })
  const upstream = await standin.listen()
  const dir = t.testdir({ 'upstream.key': upstreamKey + '\n' })
  const policyFile = join(dir, 'policy.yaml')
  await writeFile(policyFile, policyYaml(options.keys, keys) + profilesYaml(options.profiles))

  const logs: string[] = []
  const logger = createLogger({ write: (line: string) => { logs.push(line) } } as unknown as pino.DestinationStream, 'trace')
  const clock = { now: NOW }
  const policies = new PolicyStore(await loadPolicy(policyFile, { now: NOW, env: {} }))
  const trusted = AddressSet.parse(options.trustedProxies ?? [])
  if (!trusted.ok) throw new Error(trusted.message)
  const usage = new UsageMemory()
  const metrics = new Metrics()
  const proxy = await buildProxy({
    upstream, upstreamCa: options.upstreamCa, trustedProxies: trusted.set, policies, logger, metrics, usage, clock: () => clock.now, upstreamTimeouts: options.upstreamTimeouts, formBodyLimit: options.formBodyLimit, formBodyTimeoutMs: options.formBodyTimeoutMs,
    clientTimeoutMs: options.clientTimeoutMs, forwardHeaders: options.forwardHeaders
  })
  await proxy.listen({ host: options.host ?? '127.0.0.1', port: 0 })
  const port = (proxy.server.address() as AddressInfo).port
  const proxyUrl = new URL(`http://127.0.0.1:${port}`)
  const client = new Client(proxyUrl.origin, options.localAddress === undefined ? {} : { localAddress: options.localAddress })

  t.teardown(async () => {
    await client.close()
    await proxy.close()
    await standin.close()
    const leaks = linesHoldingKeys(logs, [...Object.values(keys), upstreamKey])
    if (leaks > 0) throw new Error(`${leaks} of ${logs.length} log lines hold key material`)
  })
  return { proxyUrl, standin, client, logs, keys, upstreamKey, clock, usage, metrics, proxy, policies, policyFile }
}

function policyYaml (specs: readonly TestKeySpec[], keys: Record<string, string>): string {
  const entries = specs.map((spec) => {
    const lines = [
      `id: ${spec.id}`,
      'owner: tests@example.org',
      `purpose: test key ${spec.id}`,
      `hash: ${digestKey(keys[spec.id] as string)}`,
      `allowed_ips: ${JSON.stringify(spec.allowedIps ?? ['127.0.0.0/8', '::1/128'])}`,
      `read_only: ${spec.readOnly ?? true}`,
      ...(spec.swap === true ? ['upstream_key: file:upstream.key'] : []),
      ...(spec.fields ?? [])
    ]
    return '  - ' + lines.join('\n    ')
  })
  return `version: 1\nkeys:\n${entries.join('\n')}\n`
}

function profilesYaml (profiles: HarnessOptions['profiles']): string {
  if (profiles === undefined) return ''
  const entries = Object.entries(profiles).map(([name, rules]) => `  ${name}: { rules: ${JSON.stringify(rules)} }`)
  return `profiles:\n${entries.join('\n')}\n`
}

/** Counts the lines that hold a key, in clear or in base64 (alone or as a Basic credential). */
export function linesHoldingKeys (lines: readonly string[], keys: readonly string[]): number {
  const needles = keys.flatMap((key) => [key, ...[key, `${key}:`, `:${key}`].map((text) => Buffer.from(text).toString('base64').replace(/=+$/, ''))])
  return lines.filter((line) => needles.some((needle) => line.includes(needle))).length
}

export interface Sent {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Record<string, unknown>
  readonly text: string
}

/** Sends one request through the proxy; `headers` is a flat list so names may repeat. */
export async function send (h: Harness, method: string, path: string, headers: string[] = [], body?: string | Buffer | Readable): Promise<Sent> {
  const response = await h.client.request({ method: method as 'GET', path, headers, body })
  const text = await response.body.text()
  let parsed: Record<string, unknown> = {}
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {}
  return { status: response.statusCode, headers: response.headers, body: parsed, text }
}

/** Number of requests the stand-in has received. */
export function upstreamCount (h: Harness): number {
  return h.standin.requests.length
}

/** Sends raw bytes and returns the status line and body. */
export async function sendRaw (h: Harness, text: string): Promise<{ statusLine: string, body: string }> {
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(h.proxyUrl.port), '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => { received += chunk.toString('latin1') })
    socket.on('end', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n', 2)
      resolve({ statusLine: head.split('\r\n')[0] ?? '', body })
    })
    socket.on('error', reject)
    socket.write(text)
  })
}

