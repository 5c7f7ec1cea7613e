import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { pino } from 'pino'
import t from 'tap'
import { buildAdmin } from '../src/admin.js'
import { runPolicyCheck } from '../src/commands/policy-check.js'
import { createLogger } from '../src/log.js'
import { loadPolicy, PolicyLoadError } from '../src/policy/load.js'
import { PolicyReloader } from '../src/reload.js'
import { runCommand } from './helpers/command.js'
import { NOW, startHarness } from './helpers/harness.js'

/** More problems than a spread argument list held on Node.js 20 (it failed between 100,000 and 125,000). */
const BROKEN_KEYS = 150_000

/** Writes a policy of keys that each lack `purpose`: one problem per key. */
function keysWithoutPurpose (count: number): string {
  const lines = ['version: 1', 'keys:']
  for (let index = 0; index < count; index++) {
    lines.push(`  - { id: k${index}, owner: a@b, hash: "sha256:${index.toString(16).padStart(64, '0')}", allowed_ips: [10.0.0.1] }`)
  }
  return lines.join('\n') + '\n'
}

const silent = createLogger({ write: () => {} } as unknown as pino.DestinationStream)

t.test('150,000 problems: loader keeps 1,000', async (t) => {
  const file = join(t.testdir({ 'policy.yaml': keysWithoutPurpose(BROKEN_KEYS) }), 'policy.yaml')
  const error = await loadPolicy(file, { now: NOW, env: {} }).then(() => undefined, (caught: unknown) => caught)
  t.ok(error instanceof PolicyLoadError, 'a PolicyLoadError, not a RangeError')
  if (!(error instanceof PolicyLoadError)) return
  t.equal(error.problemCount, BROKEN_KEYS, 'every problem counted')
  t.equal(error.problems.length, 1000, 'the first 1,000 kept')
  t.match(error.message, /\(150000 problems\)/, 'the message gives the count')
  t.match(error.message, /\.\.\. and 149980 more problems/, 'and lists 20')

  const check = await runCommand(runPolicyCheck, [file], { now: NOW })
  t.equal(check.status, 2, 'policy check exits 2')
  t.match(check.stdout + check.stderr, /149000 more problems are not listed/, 'policy check says how many it left out')
  t.match(check.stdout, /: 150000 error\(s\): the proxy will not load this policy/, 'the summary counts every problem')
})

t.test('200,000 aliases of one key: duplicates counted', async (t) => {
  const entry = '  - &k { id: a, owner: o, purpose: p, hash: "sha256:' + '0'.repeat(64) + '", allowed_ips: [10.0.0.1] }\n'
  const file = join(t.testdir({ 'policy.yaml': 'version: 1\nkeys:\n' + entry + '  - *k\n'.repeat(199_999) }), 'policy.yaml')
  const error = await loadPolicy(file, { now: NOW, env: {} }).then(() => undefined, (caught: unknown) => caught)
  t.ok(error instanceof PolicyLoadError, 'a PolicyLoadError, not a RangeError')
  t.equal((error as PolicyLoadError).problemCount, 2 * 199_999, 'a duplicate id and a duplicate hash per alias')
})

t.test('POST /reload: 150,000 problems, small body', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'steady' }] })
  const reloader = new PolicyReloader({ file: h.policyFile, store: h.policies, logger: silent, metrics: h.metrics.reload, env: {}, clock: () => h.clock.now })
  const admin = await buildAdmin({ metrics: h.metrics, policies: h.policies, usage: { keys: async () => [], key: async () => { throw new Error('no usage in this test') } }, logger: silent, reloader, isServing: () => true })
  t.teardown(async () => { reloader.close(); await admin.close() })
  await writeFile(h.policyFile, keysWithoutPurpose(BROKEN_KEYS))

  const response = await admin.inject({ method: 'POST', url: '/reload' })
  t.equal(response.statusCode, 422, 'rejected')
  const body = response.json() as { problems: string[], problem_count: number }
  t.equal(body.problems.length, 100, 'lists 100 problems')
  t.equal(body.problem_count, BROKEN_KEYS, 'counts them all')
  t.ok(response.body.length < 100_000, `a small body: ${response.body.length} bytes`)
})
