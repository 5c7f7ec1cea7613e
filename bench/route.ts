// Measures canonicalize() + classifyRoute() per call over a mix of accepted and rejected
// targets. Run: node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/route.ts
import { cpus } from 'node:os'
import { canonicalize } from '../src/route/canonical.js'
import { classifyRoute } from '../src/route/catalogue.js'

const CALLS = 1_000_000
const WARMUP_CALLS = 100_000
const MIX: ReadonlyArray<readonly [string, string]> = [
  ['POST', '/events/restSearch'],
  ['POST', '/attributes/restSearch.json'],
  ['GET', '/users/view/me'],
  ['GET', '/servers/getVersion.json'],
  ['HEAD', '/events/view/c99506a6-1255-4b71-afa5-7b8ba48c3b1b'],
  ['GET', '/events/index/page:2/limit:50?sort=date'],
  ['DELETE', '/events/12345'],
  ['POST', '/admin/users/edit/7'],
  ['POST', '/sharing_groups/addOrg/1/2'],
  ['GET', '/events/..%2fadmin/users'],
  ['GET', '/admin/users/view/1.JSON'],
  ['GET', '/%61dmin/users/index']
]

function run (calls: number): number {
  let accepted = 0
  for (let i = 0; i < calls; i++) {
    const [method, target] = MIX[i % MIX.length] ?? ['GET', '/']
    const result = canonicalize(method, target)
    if (result.ok && classifyRoute(result.route).known) accepted++
  }
  return accepted
}

run(WARMUP_CALLS)
const start = process.hrtime.bigint()
const accepted = run(CALLS)
const elapsed = Number(process.hrtime.bigint() - start)

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}`)
console.log(`${CALLS} calls over ${MIX.length} targets (${accepted} accepted and known)`)
console.log(`canonicalize + classifyRoute: ${(elapsed / CALLS).toFixed(0)} ns/call`)
