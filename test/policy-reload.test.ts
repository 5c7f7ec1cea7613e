import { readFile, rename, rm, symlink, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { pino } from 'pino'
import t from 'tap'
import { Pool } from 'undici'
import { buildAdmin } from '../src/admin.js'
import { runKeys } from '../src/commands/keys.js'
import { digestKey } from '../src/digest.js'
import { createLogger } from '../src/log.js'
import { diffPolicies } from '../src/policy/diff.js'
import { parsePolicy } from '../src/policy/load.js'
import { decodeTransfer, encodeForTransfer } from '../src/policy/transfer.js'
import { parseIpAddress } from '../src/net/address.js'
import { PolicyReloader, type ReloadResult } from '../src/reload.js'
import { runCommand } from './helpers/command.js'
import { NOW, send, startHarness, type Harness } from './helpers/harness.js'

interface LogLine { readonly at: number, readonly msg: string, readonly [field: string]: unknown }

/** Starts a reloader over the harness's store, with a logger whose lines carry the time they were written. */
function startReloader (t: { teardown: (fn: () => void) => void }, h: Harness, options: { workerThresholdBytes?: number, file?: string } = {}): { reloader: PolicyReloader, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = createLogger({ write: (line: string) => { lines.push({ ...JSON.parse(line) as Record<string, unknown>, at: performance.now() } as LogLine) } } as unknown as pino.DestinationStream, 'info')
  const reloader = new PolicyReloader({
    file: options.file ?? h.policyFile,
    store: h.policies,
    logger,
    metrics: h.metrics.reload,
    env: {},
    clock: () => h.clock.now,
    debounceMs: 50,
    workerThresholdBytes: options.workerThresholdBytes
  })
  t.teardown(() => { reloader.close() })
  return { reloader, lines }
}

async function waitFor<T> (find: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = find()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

interface Outcome { readonly key: string, readonly start: number, readonly end: number, readonly status: number, readonly reason: unknown }

/** Sends requests with each key on `connections` connections until stop() is called (or 20,000 requests). */
function streamRequests (h: Harness, keyIds: readonly string[], connections = 4): { outcomes: Outcome[], stop: () => Promise<void> } {
  const pool = new Pool(h.proxyUrl.origin, { connections: connections * keyIds.length })
  const outcomes: Outcome[] = []
  let stopped = false
  const loop = async (keyId: string): Promise<void> => {
    while (!stopped && outcomes.length < 20_000) {
      const start = performance.now()
      const response = await pool.request({ method: 'GET', path: '/servers/getVersion', headers: { authorization: h.keys[keyId] as string } })
      const body = await response.body.json() as { reason?: unknown }
      outcomes.push({ key: keyId, start, end: performance.now(), status: response.statusCode, reason: body.reason })
    }
  }
  const loops = keyIds.flatMap((keyId) => Array.from({ length: connections }, async () => await loop(keyId)))
  return {
    outcomes,
    stop: async () => {
      stopped = true
      await Promise.all(loops)
      await pool.close()
    }
  }
}

async function revoke (h: Harness, id: string): Promise<void> {
  await runCommand(runKeys, ['revoke', id, '--reason', 'leaked in a test', '--policy', h.policyFile], { now: h.clock.now })
}

async function checkRevocationUnderLoad (t: Tap, h: Harness, lines: LogLine[]): Promise<void> {
  const stream = streamRequests(h, ['leaked', 'steady'])
  await waitFor(() => stream.outcomes.length > 50 ? true : undefined, 'requests before the revocation')
  await revoke(h, 'leaked')
  const logged = await waitFor(() => lines.find((line) => line.msg === 'policy reloaded'), 'the reload log line')
  const countAtLog = stream.outcomes.length
  await waitFor(() => stream.outcomes.length > countAtLog + 200 ? true : undefined, 'requests after the reload')
  await stream.stop()

  const leakedAfter = stream.outcomes.filter((outcome) => outcome.key === 'leaked' && outcome.start > logged.at)
  t.ok(leakedAfter.length > 20, `requests with the revoked key after the reload: ${leakedAfter.length}`)
  t.same(leakedAfter.filter((outcome) => outcome.status !== 401 || outcome.reason !== 'revoked_key'), [], 'every one of them refused as revoked')
  t.ok(stream.outcomes.some((outcome) => outcome.key === 'leaked' && outcome.status === 200), 'the key worked before')
  const steady = stream.outcomes.filter((outcome) => outcome.key === 'steady')
  t.same(steady.filter((outcome) => outcome.status !== 200), [], `no request with the other key failed (${steady.length} sent)`)
  t.same(logged.revoked, ['leaked'], 'the log line names the revoked key')
  t.same([logged.added, logged.removed, logged.changed], [[], [], []], 'and nothing else')
}

type Tap = Pick<typeof t, 'ok' | 'same' | 'equal' | 'match'>

t.test('keys revoke under load: refused from the reload on', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'leaked' }, { id: 'steady' }] })
  const { reloader, lines } = startReloader(t, h)
  await reloader.watch()
  await checkRevocationUnderLoad(t, h, lines)
  t.equal(lines.find((line) => line.msg === 'policy reloaded')?.worker, false, 'a small file loads on the main thread')
  t.equal(lines.find((line) => line.msg === 'policy reloaded')?.trigger, 'watch', 'the file watch noticed the rename')
})

t.test('keys revoke under load with the worker thread', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'leaked' }, { id: 'steady' }] })
  const { reloader, lines } = startReloader(t, h, { workerThresholdBytes: 0 })
  await reloader.watch()
  await checkRevocationUnderLoad(t, h, lines)
  t.equal(lines.find((line) => line.msg === 'policy reloaded')?.worker, true, 'loaded on the worker thread')
})

t.test('a broken file mid-stream keeps the last good policy', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'steady' }, { id: 'gone', fields: ['revoked: { at: 2026-12-01T00:00:00Z, reason: left }'] }, { id: 'leaked' }] })
  const { reloader, lines } = startReloader(t, h)
  await reloader.watch()
  const good = await readFile(h.policyFile, 'utf8')
  const stream = streamRequests(h, ['steady', 'gone'], 3)
  await waitFor(() => stream.outcomes.length > 50 ? true : undefined, 'requests before the change')

  // Un-revokes "gone" and breaks the YAML: neither may take effect.
  const broken = good.replace(/\n {4}revoked: .*\n/, '\n') + '  - id: [unterminated\n'
  await writeFile(h.policyFile, broken)
  const failed = await waitFor(() => lines.find((line) => line.msg === 'policy reload failed; the policy in force stays'), 'the failure log line')
  const countAtLog = stream.outcomes.length
  await waitFor(() => stream.outcomes.length > countAtLog + 100 ? true : undefined, 'requests after the failure')
  await stream.stop()

  t.match(String((failed.problems as string[])[0]), /invalid YAML at line \d+, column \d+/, 'the log line gives the place')
  t.equal(failed.generation, 1, 'the first policy stays')
  t.same(stream.outcomes.filter((outcome) => outcome.key === 'steady' && outcome.status !== 200), [], 'the valid key kept working')
  t.same(stream.outcomes.filter((outcome) => outcome.key === 'gone' && outcome.status !== 401), [], 'the revoked key stayed refused: no fail-open')
  t.equal(reloader.state.stale, true, 'state is stale')
  t.match(reloader.state.error, /line \d+, column \d+/, 'state keeps the error')
  t.equal(await metricValue(h, 'keygate_policy_reloads_total{result="failure"}'), 1, 'failure counted')
  t.equal(await metricValue(h, 'keygate_policy_stale'), 1, 'stale gauge set')

  const invalid = good.replace('allowed_ips: ["127.0.0.0/8","::1/128"]', 'allowed_ips: [127.0.0.1/8]')
  await writeFile(h.policyFile, invalid)
  await waitFor(() => lines.filter((line) => line.msg === 'policy reload failed; the policy in force stays').length >= 2 ? true : undefined, 'the second failure')
  const second = lines.filter((line) => line.msg === 'policy reload failed; the policy in force stays')[1]
  t.match(String((second?.problems as string[])[0]), /key "steady" \(keys\[0\]\), field "allowed_ips\[0\]"/, 'a schema problem names the key and field')

  await writeFile(h.policyFile, good)
  await waitFor(() => lines.find((line) => line.msg === 'policy reloaded'), 'the recovery')
  t.equal(reloader.state.stale, false, 'a good file clears the stale state')
  t.equal(h.policies.generation, 2, 'and is applied')
})

/** The admin listener needs a usage source; these tests read none. */
const NO_USAGE = { keys: async () => [], key: async () => { throw new Error('no usage in this test') } }

async function metricValue (h: Harness, name: string): Promise<number | undefined> {
  const text = await h.metrics.registry.metrics()
  const line = text.split('\n').find((entry) => entry.startsWith(name + ' '))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

t.test('POST /reload and /readyz report the reload state', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'first' }] })
  const { reloader } = startReloader(t, h)
  const admin = await buildAdmin({ metrics: h.metrics, policies: h.policies, usage: NO_USAGE, logger: createLogger({ write: () => {} } as unknown as pino.DestinationStream), reloader, isServing: () => true })
  t.teardown(async () => { await admin.close() })
  const good = await readFile(h.policyFile, 'utf8')

  const added = good + `  - id: second\n    owner: o\n    purpose: p\n    hash: ${digestKey('second')}\n    allowed_ips: [192.0.2.1]\n`
  await writeFile(h.policyFile, added)
  const applied = await admin.inject({ method: 'POST', url: '/reload' })
  t.equal(applied.statusCode, 200, 'applied: 200')
  t.same(applied.json(), { status: 'applied', generation: 2, added: ['second'], removed: [], revoked: [], changed: [] }, 'names the added key')

  await writeFile(h.policyFile, 'version: 2\nkeys: []\n')
  const rejected = await admin.inject({ method: 'POST', url: '/reload' })
  t.equal(rejected.statusCode, 422, 'rejected: 422')
  t.match(rejected.json(), { status: 'rejected', generation: 2, problems: [/field "version"/] }, 'names the field')

  const ready = await admin.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200, 'a stale policy is still ready')
  t.match(ready.json(), { status: 'ready', policy: { keys: 2, generation: 2, stale: true, error: /version/ } }, 'readyz shows the stale policy and why')
  t.match(await h.metrics.registry.metrics(), /keygate_policy_generation 2\n/, 'generation metric')
})

t.test('SIGHUP-style reloads queue behind a running one', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'first' }] })
  const { reloader } = startReloader(t, h)
  const results = await Promise.all([reloader.reload('signal'), reloader.reload('signal'), reloader.reload('signal')]) as ReloadResult[]
  t.same(results.map((result) => result.generation), [2, 3, 3], 'the second and third requests share one reload after the first')
})

t.test('a symbolic link swap in the directory is seen', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'first' }, { id: 'second' }] })
  const directory = dirname(h.policyFile)
  const good = await readFile(h.policyFile, 'utf8')
  await mkdir(join(directory, 'v1'))
  await mkdir(join(directory, 'v2'))
  await writeFile(join(directory, 'v1', 'policy.yaml'), good.replace(/upstream_key: file:upstream.key/g, 'upstream_key: file:../upstream.key'))
  const revoked = good.replace('read_only: true\n  - id: second', 'read_only: true\n    revoked: { at: 2026-12-01T00:00:00Z, reason: swap }\n  - id: second')
  await writeFile(join(directory, 'v2', 'policy.yaml'), revoked)
  await symlink('v1', join(directory, 'data'))
  const linked = join(directory, 'linked.yaml')
  await symlink('data/policy.yaml', linked)

  const { reloader, lines } = startReloader(t, h, { file: linked })
  await reloader.watch()
  await symlink('v2', join(directory, 'data.new'))
  await rename(join(directory, 'data.new'), join(directory, 'data'))
  const logged = await waitFor(() => lines.find((line) => line.msg === 'policy reloaded'), 'the reload after the swap')
  t.same(logged.revoked, ['first'], 'the swapped-in file revoked the first key')
  await rm(join(directory, 'v1'), { recursive: true })
})

t.test('diffPolicies names added, removed, revoked and changed keys', async (t) => {
  const key = (id: string, extra = ''): string => `  - id: ${id}\n    owner: o\n    purpose: p\n    hash: ${digestKey(id)}\n    allowed_ips: [192.0.2.1]\n${extra}`
  const load = async (...keys: string[]): Promise<Awaited<ReturnType<typeof parsePolicy>>> => await parsePolicy(`version: 1\nkeys:\n${keys.join('')}`, 'p.yaml', { now: NOW, env: {} })
  const before = await load(key('same'), key('gone'), key('revoked'), key('narrowed'), key('labelled'))
  const after = await load(key('same'), key('revoked', '    revoked: { at: 2026-12-01T00:00:00Z, reason: r }\n'), key('narrowed').replace('192.0.2.1', '192.0.2.2'), key('labelled', '    labels: { account: x }\n'), key('new'))
  t.same(await diffPolicies(before, after), { added: ['new'], removed: ['gone'], revoked: ['revoked'], changed: ['narrowed', 'labelled'] }, 'each kind of change')
  t.same(await diffPolicies(before, await load(key('same'), key('gone'), key('revoked'), key('narrowed'), key('labelled'))), { added: [], removed: [], revoked: [], changed: [] }, 'a reload of the same text changes nothing')
})

t.test('encodeForTransfer round-trips a loaded policy', async (t) => {
  const text = `version: 1\nprofiles:\n  mine:\n    rules: ["allow GET events/index"]\nkeys:\n  - id: a\n    owner: o\n    purpose: p\n    hash: ${digestKey('a')}\n    allowed_ips: [192.0.2.0/24, "2001:db8::/48"]\n    read_only: false\n    profile: mine\n    allow_sensitive: [auth_keys]\n    labels: { account: x }\n`
  const policy = await parsePolicy(text, 'p.yaml', { now: NOW, env: {} })
  const key = policy.keys[0]
  const copy = decodeTransfer(structuredClone(encodeForTransfer(key))) as typeof key
  t.same(copy, key, 'same fields')
  t.ok(copy?.allowedIps.has(parseIpAddress('192.0.2.77') as NonNullable<ReturnType<typeof parseIpAddress>>), 'the address set matches inside the range')
  t.notOk(copy?.allowedIps.has(parseIpAddress('192.0.3.1') as NonNullable<ReturnType<typeof parseIpAddress>>), 'and not outside it')
  t.ok(Object.isFrozen(copy), 'frozen again')
  t.ok(copy?.allowSensitive.has('auth_keys'), 'sets kept')
  t.throws(() => encodeForTransfer({ when: new Date(0) }), /policy\.when is a Date/, 'an unknown class is named')
  t.throws(() => encodeForTransfer(policy.profiles), /is a function/, 'functions are refused')
})

t.test('the worker thread reports problems like the loader', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'first' }] })
  const { reloader } = startReloader(t, h, { workerThresholdBytes: 0 })
  const good = await readFile(h.policyFile, 'utf8')
  await writeFile(h.policyFile, good.replace('owner: tests@example.org', 'owner: ""'))
  const result = await reloader.reload('admin')
  t.equal(result.status, 'rejected', 'rejected')
  t.match(result.status === 'rejected' ? result.problems[0]?.message : '', /key "first" \(keys\[0\]\), field "owner"/, 'names key and field')
  t.equal(h.policies.generation, 1, 'nothing applied')

  await writeFile(h.policyFile, good.replace('read_only: true', 'read_only: false'))
  const applied = await reloader.reload('admin')
  t.same(applied.status === 'applied' ? applied.changes.changed : undefined, ['first'], 'a changed key is named')
  t.equal(h.policies.current.keys[0]?.readOnly, false, 'the new policy is in force')
})

t.test('a removed key is refused after the reload', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'kept' }, { id: 'removed' }] })
  const { reloader } = startReloader(t, h)
  const before = await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys.removed as string])
  t.equal(before.status, 200, 'works before')
  const text = await readFile(h.policyFile, 'utf8')
  await writeFile(h.policyFile, text.slice(0, text.indexOf('  - id: removed')))
  const result = await reloader.reload('admin')
  t.same(result.status === 'applied' ? result.changes.removed : undefined, ['removed'], 'reported as removed')
  const after = await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys.removed as string])
  t.equal(after.status, 401, 'refused after the reload')
  t.equal(after.body.reason, 'unknown_key', 'as an unknown key')
  t.equal((await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys.kept as string])).status, 200, 'the other key still works')
})
