// Measures the proxy's throughput and latency against a MISP stand-in, next to the same
// load sent to the stand-in directly. The proxy runs from dist/ in a child process; the
// stand-in and the load generator share this process.
// Run: npm run build && node bench/proxy.mjs [seconds] [connections]
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { digestKey } from '../dist/digest.js'
import { generateMispKey } from '../dist/keygen.js'
import { MispStandin } from '../dist/standin/server.js'

const SECONDS = Number(process.argv[2] ?? 10)
const CONNECTIONS = Number(process.argv[3] ?? 32)

const key = generateMispKey()
const standin = new MispStandin({ keys: new Map([[key, { id: 1, email: 'bench@admin.test' }]]) })
const upstream = await standin.listen()
const dir = await mkdtemp(join(tmpdir(), 'keygate-bench-'))
await writeFile(join(dir, 'policy.yaml'), `version: 1\nkeys:\n  - id: bench\n    owner: b@example.org\n    purpose: benchmark\n    hash: ${digestKey(key)}\n    allowed_ips: [127.0.0.1]\n`)

const child = spawn(process.execPath, [new URL('../test/helpers/proxy-process.mjs', import.meta.url).pathname, join(dir, 'policy.yaml'), upstream.origin], { stdio: ['ignore', 'ignore', 'pipe'] })
const port = await new Promise((resolve) => {
  let text = ''
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    text += chunk
    const line = /^\{"port":\d+.*$/m.exec(text)
    if (line !== null) resolve(JSON.parse(line[0]).port)
  })
})

/** Sends requests on CONNECTIONS connections for SECONDS seconds; returns rate and latency percentiles. */
async function load (origin, method, path, headers, body) {
  const pool = new Pool(origin, { connections: CONNECTIONS })
  const latencies = []
  const statuses = new Map()
  const end = Date.now() + SECONDS * 1000
  const worker = async () => {
    while (Date.now() < end) {
      const start = process.hrtime.bigint()
      const response = await pool.request({ method, path, headers, body })
      await response.body.dump()
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  await pool.close()
  latencies.sort((a, b) => a - b)
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2)
  return `${(latencies.length / SECONDS).toFixed(0).padStart(6)} req/s  p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  statuses ${JSON.stringify(Object.fromEntries(statuses))}`
}

const search = ['POST', '/events/restSearch', { authorization: key, 'content-type': 'application/json' }, '{"last":"1d"}']
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}; ${SECONDS} s per run, ${CONNECTIONS} connections`)
console.log(`direct to stand-in, restSearch:        ${await load(upstream.origin, ...search)}`)
console.log(`through proxy, restSearch allowed:     ${await load(`http://127.0.0.1:${port}`, ...search)}`)
console.log(`through proxy, denied (unknown key):   ${await load(`http://127.0.0.1:${port}`, 'GET', '/events/index', { authorization: 'A'.repeat(40) })}`)
console.log(`through proxy, denied (read-only add): ${await load(`http://127.0.0.1:${port}`, 'POST', '/events/add', { authorization: key, 'content-type': 'application/json' }, '{}')}`)

child.kill('SIGTERM')
await standin.close()
await rm(dir, { recursive: true, force: true })
