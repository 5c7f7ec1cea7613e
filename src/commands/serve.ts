import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildAdmin } from '../admin.js'
import { parseListenAddress, parseUpstreamUrl, UsageError, type ListenAddress } from '../config.js'
import { forwardHeaderProblem } from '../forward.js'
import { createLogger } from '../log.js'
import { Metrics } from '../metrics.js'
import { AddressSet } from '../net/address.js'
import { loadPolicy } from '../policy/load.js'
import { PolicyStore } from '../policy/store.js'
import { PolicyReloader } from '../reload.js'
import { buildProxy, DEFAULT_UPSTREAM_TIMEOUTS, type UpstreamTimeouts } from '../server.js'
import { openUsageStore, resolveUsageSettings, type UsageFlags, type UsageSettings } from '../usage/settings.js'
import type { UsageStore } from '../usage/store.js'

export interface ServeSettings {
  readonly policyFile: string
  readonly upstream: URL
  readonly listen: ListenAddress
  readonly adminListen: ListenAddress
  readonly trustedProxies: AddressSet
  readonly upstreamCa: Buffer | undefined
  /** Unset means DEFAULT_UPSTREAM_TIMEOUTS. */
  readonly upstreamTimeouts?: UpstreamTimeouts
  /** Bytes; unset means DEFAULT_FORM_BODY_LIMIT. */
  readonly formBodyLimit?: number
  /** Milliseconds a request body or keep-alive connection may stay idle; unset means DEFAULT_CLIENT_TIMEOUT_MS. */
  readonly clientTimeoutMs?: number
  /** Lower-case request header names forwarded to MISP besides the built-in list. */
  readonly forwardHeaders?: readonly string[]
  /** Unset keeps usage records in memory only, for tests and the demo. */
  readonly usage?: UsageSettings
}

/** Defaults of `serve`: all interfaces, IPv4 and IPv6, for the proxy; loopback for the admin listener. */
export const DEFAULT_LISTEN = '[::]:8080'
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:9464'
export const DEFAULT_POLICY = 'config/policy.yaml'
/** The commented example shipped in the repository, with public example keys. */
export const EXAMPLE_POLICY = 'config/policy.example.yaml'
/** Upper bound of --form-body-limit: URL-encoded bodies are held in memory whole. */
const MAX_FORM_BODY_LIMIT = 64 * 1024 * 1024 // 64 MiB

export interface ServeFlags extends UsageFlags {
  policy?: string
  upstream?: string
  listen?: string
  'admin-listen'?: string
  'trusted-proxy'?: string[]
  'upstream-ca'?: string
  'upstream-timeout'?: string
  'form-body-limit'?: string
  'client-timeout'?: string
  'forward-header'?: string[]
}

/** Reads each flag, falling back to its environment variable and then its default. */
export async function resolveServeSettings (flags: ServeFlags, env: NodeJS.ProcessEnv): Promise<ServeSettings> {
  const upstreamText = flags.upstream ?? env.MISP_URL
  if (upstreamText === undefined || upstreamText === '') {
    throw new UsageError("No MISP URL: pass --upstream https://misp.example.org or set MISP_URL. Without a MISP, 'misp-keygate demo' shows the proxy in front of a stand-in.")
  }
  const trustedText = flags['trusted-proxy'] ?? (env.KEYGATE_TRUSTED_PROXIES ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const trusted = AddressSet.parse(trustedText)
  if (!trusted.ok) {
    throw new UsageError(`Trusted proxy "${trustedText[trusted.index]}" is invalid: ${trusted.message}`)
  }
  const caFile = flags['upstream-ca'] ?? env.KEYGATE_UPSTREAM_CA
  return {
    policyFile: flags.policy ?? env.KEYGATE_POLICY ?? DEFAULT_POLICY,
    upstream: parseUpstreamUrl(upstreamText, flags.upstream !== undefined ? '--upstream' : 'MISP_URL'),
    listen: parseListenAddress(flags.listen ?? env.KEYGATE_LISTEN ?? DEFAULT_LISTEN, '--listen'),
    adminListen: parseListenAddress(flags['admin-listen'] ?? env.KEYGATE_ADMIN_LISTEN ?? DEFAULT_ADMIN_LISTEN, '--admin-listen'),
    trustedProxies: trusted.set,
    upstreamCa: caFile === undefined || caFile === '' ? undefined : await readCa(caFile),
    upstreamTimeouts: parseUpstreamTimeout(flags['upstream-timeout'] ?? env.KEYGATE_UPSTREAM_TIMEOUT),
    formBodyLimit: parseFormBodyLimit(flags['form-body-limit'] ?? env.KEYGATE_FORM_BODY_LIMIT),
    clientTimeoutMs: parseClientTimeout(flags['client-timeout'] ?? env.KEYGATE_CLIENT_TIMEOUT),
    forwardHeaders: parseForwardHeaders(flags['forward-header'] ?? splitList(env.KEYGATE_FORWARD_HEADERS)),
    usage: resolveUsageSettings(flags, env)
  }
}

/** Seconds MISP may take to start its response, and to send each next chunk of it. */
function parseUpstreamTimeout (text: string | undefined): UpstreamTimeouts | undefined {
  if (text === undefined || text === '') return undefined
  const seconds = Number(text)
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > 86_400) {
    throw new UsageError(`Upstream timeout "${text}" must be a whole number of seconds from 1 to 86400 (--upstream-timeout or KEYGATE_UPSTREAM_TIMEOUT).`)
  }
  return { ...DEFAULT_UPSTREAM_TIMEOUTS, headersMs: seconds * 1000, bodyMs: seconds * 1000 }
}

/** Seconds a client may leave its request body or keep-alive connection idle. */
function parseClientTimeout (text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined
  const seconds = Number(text)
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > 3600) {
    throw new UsageError(`Client timeout "${text}" must be a whole number of seconds from 1 to 3600 (--client-timeout or KEYGATE_CLIENT_TIMEOUT).`)
  }
  return seconds * 1000
}

/** Checks each --forward-header name; returns them in lower case. */
function parseForwardHeaders (names: readonly string[]): string[] {
  for (const name of names) {
    const problem = forwardHeaderProblem(name)
    if (problem !== undefined) throw new UsageError(`Forward header ${problem}. Remove it from --forward-header or KEYGATE_FORWARD_HEADERS.`)
  }
  return names.map((name) => name.toLowerCase())
}

function splitList (text: string | undefined): string[] {
  return (text ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
}

function parseFormBodyLimit (text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined
  const bytes = Number(text)
  if (!/^\d+$/.test(text) || bytes < 1 || bytes > MAX_FORM_BODY_LIMIT) {
    throw new UsageError(`Form body limit "${text}" must be a whole number of bytes from 1 to ${MAX_FORM_BODY_LIMIT} (--form-body-limit or KEYGATE_FORM_BODY_LIMIT).`)
  }
  return bytes
}

async function readCa (file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new UsageError(`Cannot read the upstream CA file "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)}); pass a PEM file with --upstream-ca or KEYGATE_UPSTREAM_CA.`)
  }
}

/** A running proxy with its admin listener. */
export interface RunningProxy {
  readonly proxy: FastifyInstance
  readonly admin: FastifyInstance
  readonly policies: PolicyStore
  /** Reloads the policy file on a change, on SIGHUP (see closeOnSignals) and on POST /reload. */
  readonly reloader: PolicyReloader
  readonly usage: UsageStore
  readonly logger: Logger
  /** Stops accepting requests, lets those in flight finish, closes both listeners, then writes pending usage. */
  close (): Promise<void>
}

export async function startProxy (settings: ServeSettings, logger: Logger = createLogger()): Promise<RunningProxy> {
  const policy = await loadPolicy(settings.policyFile, { now: Date.now(), env: process.env })
  const policies = new PolicyStore(policy)
  const metrics = new Metrics()
  const usage = await openUsageStore(settings.usage, { policies, metrics, logger })
  const reloader = new PolicyReloader({ file: settings.policyFile, store: policies, logger, metrics: metrics.reload })
  let serving = true

  const proxy = await buildProxy({
    upstream: settings.upstream,
    upstreamCa: settings.upstreamCa,
    upstreamTimeouts: settings.upstreamTimeouts,
    formBodyLimit: settings.formBodyLimit,
    clientTimeoutMs: settings.clientTimeoutMs,
    forwardHeaders: settings.forwardHeaders,
    trustedProxies: settings.trustedProxies,
    policies,
    logger,
    metrics,
    usage
  })
  const admin = await buildAdmin({ metrics, policies, usage, logger, reloader, isServing: () => serving })
  await listen(proxy, settings.listen).then(async () => { await listen(admin, settings.adminListen) }).catch(async (err: unknown) => {
    await proxy.close()
    await usage.close()
    throw err
  })
  await reloader.watch()
  logger.info({ listen: proxy.addresses(), admin: admin.addresses(), upstream: settings.upstream.origin, policy: policy.file, keys: policy.keys.length }, 'misp-keygate started')

  return {
    proxy,
    admin,
    policies,
    reloader,
    usage,
    logger,
    close: async () => {
      serving = false
      reloader.close()
      await proxy.close()
      await admin.close()
      await usage.close()
    }
  }
}

async function listen (app: FastifyInstance, address: ListenAddress): Promise<void> {
  try {
    await app.listen({ host: address.host, port: address.port, ipv6Only: false })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (address.host === '::' && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
      // A host with IPv6 turned off: "all interfaces" then means all IPv4 interfaces.
      app.log.warn({ err_code: code }, 'IPv6 is not available; listening on IPv4 only')
      return await listen(app, { host: '0.0.0.0', port: address.port })
    }
    const hostPort = address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
    if (code === 'EADDRINUSE') throw new UsageError(`Cannot listen on ${hostPort}: the port is in use. Choose another with --listen or --admin-listen.`)
    if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') throw new UsageError(`Cannot listen on ${hostPort}: no such address on this machine.`)
    throw err
  }
}

/** Drains on SIGTERM or SIGINT: requests in flight finish, then the process exits. Reloads the policy on SIGHUP. */
export function closeOnSignals (running: RunningProxy): void {
  process.on('SIGHUP', () => { void running.reloader.reload('signal') })
  let closing = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) return
    closing = true
    running.logger.info({ signal }, 'draining in-flight requests before exit')
    running.close().then(
      () => { running.logger.info('misp-keygate stopped'); process.exit(0) },
      (err: unknown) => { running.logger.error({ err }, 'shutdown failed'); process.exit(1) }
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
