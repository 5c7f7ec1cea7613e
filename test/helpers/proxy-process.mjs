// Runs the built proxy (dist/) in a process of its own, without the test runner's loaders,
// so a test can measure its memory as deployed. Reads the policy file and MISP's URL from
// argv, listens on loopback port 0 and prints the ports as one JSON line on stderr;
// stdout carries the JSON log lines.
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
  upstreamCa: undefined
})
closeOnSignals(running)
process.stderr.write(JSON.stringify({ port: running.proxy.server.address().port, adminPort: running.admin.server.address().port }) + '\n')
