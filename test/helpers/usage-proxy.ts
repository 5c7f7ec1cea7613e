import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { Pool } from 'undici'
import { startProxy, type RunningProxy } from '../../src/commands/serve.js'
import { digestKey } from '../../src/digest.js'
import { generateMispKey } from '../../src/keygen.js'
import { createLogger } from '../../src/log.js'
import { AddressSet } from '../../src/net/address.js'
import { MispStandin } from '../../src/standin/server.js'

export interface UsageKeySpec {
  readonly id: string
  readonly allowedIps?: readonly string[]
  readonly readOnly?: boolean
  /** YAML lines of the entry after the generated ones, without indentation. */
  readonly fields?: readonly string[]
}

/** A policy file with fresh keys, and a MISP stand-in that accepts them. */
export interface UsageFixture {
  readonly dir: string
  readonly policyFile: string
  readonly keys: Record<string, string>
  readonly standin: MispStandin
  readonly upstream: URL
}

interface Tap {
  testdir (files?: Record<string, string>): string
  teardown (fn: () => unknown): void
}

export async function usageFixture (t: Tap, specs: readonly UsageKeySpec[]): Promise<UsageFixture> {
  const keys: Record<string, string> = {}
  for (const spec of specs) keys[spec.id] = generateMispKey()
  const standin = new MispStandin({})
  const upstream = await standin.listen()
  t.teardown(() => standin.close())
  const dir = t.testdir()
  const policyFile = join(dir, 'policy.yaml')
  await writeFile(policyFile, policyYaml(specs, keys))
  return { dir, policyFile, keys, standin, upstream }
}

export function policyYaml (specs: readonly UsageKeySpec[], keys: Record<string, string>): string {
  const entries = specs.map((spec) => {
    const lines = [
      `id: ${spec.id}`,
      'owner: tests@example.org',
      `purpose: test key ${spec.id}`,
      `hash: ${digestKey(keys[spec.id] as string)}`,
      `allowed_ips: ${JSON.stringify(spec.allowedIps ?? ['127.0.0.0/8'])}`,
      `read_only: ${spec.readOnly ?? true}`,
      ...(spec.fields ?? [])
    ]
    return '  - ' + lines.join('\n    ')
  })
  return `version: 1\nkeys:\n${entries.join('\n')}\n`
}

export interface UsageProxy {
  readonly running: RunningProxy
  readonly pool: Pool
  readonly adminUrl: string
  readonly logs: string[]
}

/** Runs startProxy in this process on loopback port 0 with the usage store at `usageDb`. */
export async function startUsageProxy (
  t: Tap, fixture: UsageFixture, usageDb: string, options: { flushIntervalMs?: number, trustedProxies?: readonly string[] } = {}
): Promise<UsageProxy> {
  const logs: string[] = []
  const logger = createLogger({ write: (line: string) => { logs.push(line) } } as unknown as pino.DestinationStream)
  const trusted = AddressSet.parse(options.trustedProxies ?? [])
  if (!trusted.ok) throw new Error(trusted.message)
  const running = await startProxy({
    policyFile: fixture.policyFile,
    upstream: fixture.upstream,
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    trustedProxies: trusted.set,
    upstreamCa: undefined,
    usage: { path: usageDb, flushIntervalMs: options.flushIntervalMs ?? 100, retentionDays: 400 }
  }, logger)
  const port = (running.proxy.server.address() as { port: number }).port
  const adminPort = (running.admin.server.address() as { port: number }).port
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 })
  let closed = false
  const close = running.close
  const wrapped: RunningProxy = {
    ...running,
    close: async () => {
      if (closed) return
      closed = true
      await pool.close()
      await close()
    }
  }
  t.teardown(() => wrapped.close())
  return { running: wrapped, pool, adminUrl: `http://127.0.0.1:${adminPort}`, logs }
}

/** Sends one GET with the key and returns the status; the body is read and dropped. */
export async function get (pool: Pool, path: string, key: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await pool.request({ method: 'GET', path, headers: { authorization: key, ...headers } })
  await response.body.dump()
  return response.statusCode
}

export interface ProxyProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly adminPort: number
  /** JSON log lines of the proxy, as they arrive. */
  readonly logs: string[]
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
}

/**
 * Runs the built proxy (dist/) in a child process, through test/helpers/proxy-process.mjs,
 * with the usage store at `usageDb`. `uid` and `gid` run it as another user.
 */
export async function startProxyProcess (
  t: Tap, fixture: UsageFixture, usageDb: string, options: { flushIntervalMs: number, uid?: number, gid?: number }
): Promise<ProxyProcess> {
  const script = new URL('proxy-process.mjs', import.meta.url).pathname
  const child = spawn(process.execPath, [script, fixture.policyFile, fixture.upstream.origin], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KEYGATE_USAGE_DB: usageDb, KEYGATE_USAGE_FLUSH_MS: String(options.flushIntervalMs) },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid })
  })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const logs: string[] = []
  child.stdout?.setEncoding('utf8').on('data', (text: string) => { logs.push(...text.split('\n').filter((line) => line !== '')) })
  const ports = await new Promise<{ port: number, adminPort: number }>((resolve, reject) => {
    let errors = ''
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      errors += text
      const line = /^\{"port":\d+.*$/m.exec(errors)
      if (line !== null) resolve(JSON.parse(line[0]) as { port: number, adminPort: number })
    })
    void exited.then((code) => { reject(new Error(`proxy process exited with ${code}: ${errors}`)) })
  })
  return { child, ...ports, logs, exited }
}

/** Log lines, parsed, whose msg is `message`. */
export function logLines (logs: readonly string[], message: string): Array<Record<string, unknown>> {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === message)
}
