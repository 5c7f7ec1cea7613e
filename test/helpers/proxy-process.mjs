// Runs the built proxy (dist/) in a process of its own, without the test runner's loaders,
// so a test can measure its memory as deployed. Reads the policy file and MISP's URL from
// argv, listens on loopback port 0 and prints the ports as one JSON line on stderr;
// stdout carries the JSON log lines.
// With KEYGATE_USAGE_DB set, usage goes to that SQLite file, written every
// KEYGATE_USAGE_FLUSH_MS milliseconds (default 1000); otherwise it stays in memory.
import { AddressSet } from '../../dist/net/address.js'
import { closeOnSignals, startProxy } from '../../dist/commands/serve.js'

const [policyFile, upstream] = process.argv.slice(2)
const none = AddressSet.parse([])
if (!none.ok || policyFile === undefined || upstream === undefined) throw new Error('usage: proxy-process.mjs POLICY_FILE MISP_URL')

const running = await startProxy({
  policyFile,
  upstream: new URL(upstream),
  listen: { host: '127.0.0.1', port: 0 },
  adminListen: { host: '127.0.0.1', port: 0 },
  trustedProxies: none.set,
  upstreamCa: undefined,
  usage: process.env.KEYGATE_USAGE_DB === undefined
    ? undefined
    : { path: process.env.KEYGATE_USAGE_DB, flushIntervalMs: Number(process.env.KEYGATE_USAGE_FLUSH_MS ?? 1000), retentionDays: 400 }
})
closeOnSignals(running)
process.stderr.write(JSON.stringify({ port: running.proxy.server.address().port, adminPort: running.admin.server.address().port }) + '\n')
