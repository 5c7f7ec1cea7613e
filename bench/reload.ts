// Measures request latency through the proxy while a large policy reloads, with the
// policy parsed on the main thread and on a worker thread.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@tapjs/typescript/import bench/reload.ts [key count]
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { pino } from 'pino'
import { Pool } from 'undici'
import { digestKey } from '../src/digest.js'
import { generateMispKey } from '../src/keygen.js'
import { createLogger } from '../src/log.js'
import { Metrics } from '../src/metrics.js'
import { AddressSet } from '../src/net/address.js'
import { loadPolicy } from '../src/policy/load.js'
import { PolicyStore } from '../src/policy/store.js'
import { PolicyReloader } from '../src/reload.js'
import { buildProxy } from '../src/server.js'
import { MispStandin } from '../src/standin/server.js'
import { UsageMemory } from '../src/usage/memory.js'

const KEY_COUNT = Number(process.argv[2] ?? 100_000)
const CONNECTIONS = 4
const BASELINE_MS = 2000

function policyText (clientKey: string): string {
  const lines = ['version: 1', 'keys:']
  for (let index = 0; index < KEY_COUNT; index++) {
    const hash = index === 0 ? digestKey(clientKey) : 'sha256:' + createHash('sha256').update(`bench-key-${index}`).digest('hex')
    lines.push(
      `  - id: key-${index}`,
      `    owner: team-${index % 50}@example.org`,
      `    purpose: Integration number ${index}`,
      `    hash: ${hash}`,
      `    allowed_ips: [127.0.0.1, 10.${index % 200}.0.0/16, "2001:db8:${(index % 65535).toString(16)}::/48"]`,
      '    expires: 2099-01-31T00:00:00Z',
      `    read_only: ${index % 2 === 0 ? 'true' : 'false'}`,
      `    labels: { account: svc-${index} }`
    )
  }
  return lines.join('\n') + '\n'
}

/** Sends requests on CONNECTIONS connections until `until` resolves; returns each latency in milliseconds. */
async function measure (origin: string, key: string, until: Promise<unknown>): Promise<[number[], string]> {
  const delay = monitorEventLoopDelay({ resolution: 5 })
  delay.enable()
  const pool = new Pool(origin, { connections: CONNECTIONS })
  const latencies: number[] = []
  let done = false
  void until.finally(() => { done = true })
  const loop = async (): Promise<void> => {
    while (!done) {
      const start = performance.now()
      const response = await pool.request({ method: 'GET', path: '/servers/getVersion', headers: { authorization: key } })
      await response.body.dump()
      if (response.statusCode !== 200) throw new Error(`request failed with ${response.statusCode}`)
      latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, loop))
  await pool.close()
  delay.disable()
  return [latencies, `  event loop delay max ${(delay.max / 1e6).toFixed(0)} ms`]
}

function summarize (label: string, latencies: number[], extra = ''): string {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (quantile: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] ?? 0).toFixed(1)
  return `${label.padEnd(28)} ${String(sorted.length).padStart(6)} requests  p50 ${at(0.5).padStart(6)} ms  p99 ${at(0.99).padStart(7)} ms  max ${(sorted[sorted.length - 1] ?? 0).toFixed(1).padStart(7)} ms${extra}`
}

async function main (): Promise<void> {
  console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`)
  const clientKey = generateMispKey()
  const standin = new MispStandin({ keys: new Map([[clientKey, { id: 1, email: 'bench@admin.test' }]]) })
  const upstream = await standin.listen()
  const directory = await mkdtemp(join(tmpdir(), 'keygate-reload-bench-'))
  const file = join(directory, 'policy.yaml')
  const text = policyText(clientKey)
  await writeFile(file, text)
  console.log(`policy: ${KEY_COUNT} keys, ${(text.length / 2 ** 20).toFixed(1)} MiB; ${CONNECTIONS} connections sending GET /servers/getVersion`)

  const logger = createLogger({ write: () => {} } as unknown as pino.DestinationStream, 'warn')
  const store = new PolicyStore(await loadPolicy(file, { now: Date.now(), env: {} }))
  const metrics = new Metrics()
  const none = AddressSet.parse([])
  if (!none.ok) throw new Error(none.message)
  const proxy = await buildProxy({ upstream, trustedProxies: none.set, policies: store, logger, metrics, usage: new UsageMemory() })
  await proxy.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(proxy.server.address() as { port: number }).port}`

  try {
    console.log(summarize('no reload', ...await measure(origin, clientKey, new Promise((resolve) => setTimeout(resolve, BASELINE_MS)))))
    for (const [label, threshold] of [['reload on the main thread', Number.POSITIVE_INFINITY], ['reload on a worker thread', 0]] as const) {
      const reloader = new PolicyReloader({ file, store, logger, metrics: metrics.reload, env: {}, workerThresholdBytes: threshold })
      const start = performance.now()
      const reload = reloader.reload('admin').then((result) => { if (result.status !== 'applied') throw new Error(result.status) })
      const [latencies, delay] = await measure(origin, clientKey, reload)
      console.log(summarize(label, latencies, `${delay}, reload took ${((performance.now() - start) / 1000).toFixed(1)} s`))
    }
  } finally {
    await proxy.close()
    await standin.close()
    await rm(directory, { recursive: true, force: true })
  }
}

await main()
