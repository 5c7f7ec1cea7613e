// Measures the per-request profile match and the multipart scanner's throughput.
// Run: node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/acl.ts
import { cpus } from 'node:os'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BUILT_IN_PROFILES } from '../src/acl/builtin.js'
import { routeName } from '../src/acl/pattern.js'
import { compileProfile, findMatchingRule } from '../src/acl/profile.js'
import { MultipartScanner } from '../src/request/multipart.js'
import { canonicalize, type CanonicalRoute } from '../src/route/canonical.js'

const CALLS = 1_000_000
const WARMUP_CALLS = 100_000
const MULTIPART_BYTES = 256 * 1024 * 1024
const CHUNK_BYTES = 64 * 1024

const TARGETS: ReadonlyArray<readonly [string, string]> = [
  ['POST', '/events/restSearch'], ['GET', '/users/view/me'], ['HEAD', '/events/view/1'],
  ['POST', '/attributes/add/1'], ['DELETE', '/events/12'], ['GET', '/admin/users/index'],
  ['POST', '/sharing_groups/addOrg/1/2'], ['GET', '/tags/index']
]
const ROUTES = TARGETS.map(([method, target]) => [method, routeOf(method, target)] as const)

// A profile of 20 rules whose last rule is a catch-all, so most requests walk far.
const WIDE = compileProfile('wide', [
  ...Array.from({ length: 18 }, (_, i) => `allow POST controller${i}/action*`),
  'deny * admin/*', 'allow GET,HEAD *'
], false)

function routeOf (method: string, target: string): CanonicalRoute {
  const canonical = canonicalize(method, target)
  if (!canonical.ok) throw new Error(canonical.message)
  return canonical.route
}

function matchAll (profileName: string, calls: number): number {
  const profile = profileName === 'wide' && WIDE.ok ? WIDE.profile : BUILT_IN_PROFILES.get(profileName)
  if (profile === undefined) throw new Error(`no profile ${profileName}`)
  let allowed = 0
  for (let i = 0; i < calls; i++) {
    const [method, route] = ROUTES[i % ROUTES.length] ?? ['GET', routeOf('GET', '/')]
    if (findMatchingRule(profile, method, routeName(route))?.effect === 'allow') allowed++
  }
  return allowed
}

function measureMatch (profileName: string): void {
  matchAll(profileName, WARMUP_CALLS)
  const start = process.hrtime.bigint()
  const allowed = matchAll(profileName, CALLS)
  const nanoseconds = Number(process.hrtime.bigint() - start)
  console.log(`profile ${profileName}: ${(nanoseconds / CALLS).toFixed(0)} ns per match (${allowed} of ${CALLS} allowed)`)
}

async function measureMultipart (): Promise<void> {
  const head = Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n')
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x41)
  for (let i = 1023; i < chunk.length; i += 1024) chunk[i] = 0x0a // a line every KiB
  const chunks = MULTIPART_BYTES / CHUNK_BYTES
  let seen = 0
  const source = Readable.from((function * () {
    yield head
    for (let i = 0; i < chunks; i++) yield chunk
    yield Buffer.from('\r\n--XyZ--\r\n')
  })())
  const sink = new Writable({ write (data: Buffer, _encoding, done) { seen += data.length; done() } })

  const start = process.hrtime.bigint()
  await pipeline(source, new MultipartScanner('XyZ'), sink)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  console.log(`multipart scanner: ${(seen / 1024 / 1024).toFixed(0)} MiB in ${seconds.toFixed(2)} s, ${(seen / 1024 / 1024 / seconds).toFixed(0)} MiB/s (lines of 1 KiB, chunks of ${CHUNK_BYTES / 1024} KiB)`)
}

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}`)
for (const name of ['search', 'ingest', 'sync-push', 'wide']) measureMatch(name)
await measureMultipart()
