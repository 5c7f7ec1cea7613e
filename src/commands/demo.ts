import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { parseListenAddress, type ListenAddress } from '../config.js'
import { digestKey } from '../digest.js'
import { generateMispKey } from '../keygen.js'
import { createLogger } from '../log.js'
import { AddressSet } from '../net/address.js'
import { MispStandin } from '../standin/server.js'
import { startProxy, type RunningProxy } from './serve.js'

export const DEMO_LISTEN = '127.0.0.1:8080'
export const DEMO_ADMIN_LISTEN = '127.0.0.1:9464'

export interface Demo {
  readonly running: RunningProxy
  readonly standin: MispStandin
  readonly keys: { readonly siem: string, readonly ingest: string, readonly partner: string }
  readonly proxyUrl: string
  readonly adminUrl: string
  close (): Promise<void>
}

/**
 * Starts a MISP stand-in on a free loopback port and the proxy in front of it, with a demo
 * policy of three fresh keys in a temporary directory that close() removes.
 */
export async function startDemo (listen: ListenAddress, adminListen: ListenAddress, logger = createLogger()): Promise<Demo> {
  const upstreamKey = generateMispKey()
  const keys = { siem: generateMispKey(), ingest: generateMispKey(), partner: generateMispKey() }
  const standin = new MispStandin({ keys: new Map([[upstreamKey, { id: 1, email: 'admin@demo.test' }]]) })
  const upstream = await standin.listen('127.0.0.1', 0)

  const dir = await mkdtemp(join(tmpdir(), 'misp-keygate-demo-'))
  await writeFile(join(dir, 'upstream.key'), upstreamKey + '\n', { mode: 0o600 })
  await writeFile(join(dir, 'policy.yaml'), demoPolicy(keys), { mode: 0o600 })

  const running = await startProxy({
    policyFile: join(dir, 'policy.yaml'),
    upstream,
    listen,
    adminListen,
    trustedProxies: (AddressSet.parse([]) as { ok: true, set: AddressSet }).set,
    upstreamCa: undefined
  }, logger).catch(async (err: unknown) => {
    await standin.close()
    await rm(dir, { recursive: true, force: true })
    throw err
  })

  return {
    running,
    standin,
    keys,
    proxyUrl: `http://${hostPort(boundAddress(running.proxy))}`,
    adminUrl: `http://${hostPort(boundAddress(running.admin))}`,
    close: async () => {
      await running.close()
      await standin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function demoPolicy (keys: Demo['keys']): string {
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z')
  return `version: 1
keys:
  - id: demo-siem
    owner: soc@demo.test
    purpose: Demo SIEM pull, read-only
    hash: ${digestKey(keys.siem)}
    allowed_ips: [127.0.0.0/8, "::1/128"]
    expires: ${expires}
    upstream_key: file:upstream.key
    labels: { account: svc-demo-siem }
  - id: demo-ingest
    owner: soc@demo.test
    purpose: Demo ingest, read-write
    hash: ${digestKey(keys.ingest)}
    allowed_ips: [127.0.0.0/8, "::1/128"]
    expires: ${expires}
    read_only: false
    upstream_key: file:upstream.key
    labels: { account: svc-demo-ingest }
  - id: demo-partner
    owner: partner@demo.test
    purpose: Demo partner pull, allowed only from the partner's network
    hash: ${digestKey(keys.partner)}
    allowed_ips: [192.0.2.0/24]
    expires: ${expires}
    upstream_key: file:upstream.key
`
}

/** Returns the address a listener is bound to, with the port it was given for port 0. */
function boundAddress (app: FastifyInstance): ListenAddress {
  const address = app.server.address() as AddressInfo
  return { host: address.address, port: address.port }
}

function hostPort (address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

/** Returns the text `misp-keygate demo` prints: the demo keys and commands to paste. */
export function demoInstructions (demo: Demo): string {
  const url = demo.proxyUrl
  return `misp-keygate demo: the proxy listens on ${url}, in front of a MISP stand-in.
Each request it decides prints one JSON access line below (key ids, never keys).

Demo keys (fresh for this run, gone when it stops):
  SIEM=${demo.keys.siem}      # read-only
  INGEST=${demo.keys.ingest}    # read-write
  PARTNER=${demo.keys.partner}   # allowed only from 192.0.2.0/24

Paste these in another terminal:

  export SIEM=${demo.keys.siem} INGEST=${demo.keys.ingest} PARTNER=${demo.keys.partner}

  # allowed: a read-only search
  curl -s -H "Authorization: $SIEM" -H 'Accept: application/json' -H 'Content-Type: application/json' \\
    -d '{"returnFormat":"json","last":"7d"}' ${url}/events/restSearch

  # refused, 403 read_only: the read-only key tries to add an event
  curl -s -H "Authorization: $SIEM" -H 'Content-Type: application/json' \\
    -d '{"Event":{"info":"test"}}' ${url}/events/add

  # allowed: the read-write key adds it
  curl -s -H "Authorization: $INGEST" -H 'Content-Type: application/json' \\
    -d '{"Event":{"info":"test"}}' ${url}/events/add

  # refused, 403 ip_not_allowed: the partner key from this machine's address
  curl -s -H "Authorization: $PARTNER" ${url}/servers/getVersion

  # usage so far, and Prometheus metrics
  curl -s ${demo.adminUrl}/usage
  curl -s ${demo.adminUrl}/metrics | grep keygate_requests_total

Press Ctrl-C to stop.
`
}

export function demoListenAddresses (listen: string | undefined, adminListen: string | undefined): [ListenAddress, ListenAddress] {
  return [parseListenAddress(listen ?? DEMO_LISTEN, '--listen'), parseListenAddress(adminListen ?? DEMO_ADMIN_LISTEN, '--admin-listen')]
}
