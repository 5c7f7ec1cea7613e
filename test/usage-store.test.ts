import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { digestKey } from '../src/digest.js'
import { generateMispKey } from '../src/keygen.js'
import { createLogger } from '../src/log.js'
import { Metrics } from '../src/metrics.js'
import { loadPolicy } from '../src/policy/load.js'
import { PolicyStore } from '../src/policy/store.js'
import { openUsageReader } from '../src/usage/reader.js'
import type { UsageEvent } from '../src/usage/recorder.js'
import { UsageStore, type UsageStoreOptions } from '../src/usage/store.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const DAY = 86_400_000

interface Setup {
  readonly dir: string
  readonly dbPath: string
  readonly policies: PolicyStore
  readonly metrics: Metrics
  readonly logs: string[]
  open (options?: Partial<UsageStoreOptions>): Promise<UsageStore>
}

async function setup (t: Test, policyKeys = ['alpha', 'beta'], extra = ''): Promise<Setup> {
  const dir = t.testdir()
  const policyFile = join(dir, 'policy.yaml')
  const entries = policyKeys.map((id) => `  - id: ${id}\n    owner: t@example.org\n    purpose: test ${id}\n    hash: ${digestKey(generateMispKey())}\n    allowed_ips: [127.0.0.0/8]\n${extra}`)
  writeFileSync(policyFile, `version: 1\nkeys:\n${entries.join('')}`)
  const policies = new PolicyStore(await loadPolicy(policyFile, { now: NOW, env: {} }))
  const metrics = new Metrics()
  const logs: string[] = []
  const logger = createLogger({ write: (line: string) => { logs.push(line) } } as unknown as pino.DestinationStream)
  const dbPath = join(dir, 'db', 'usage.sqlite')
  const open = async (options: Partial<UsageStoreOptions> = {}): Promise<UsageStore> => {
    const store = await UsageStore.open({ path: dbPath, flushIntervalMs: 3_600_000, retentionDays: 400, policies, metrics, logger, clock: () => NOW, ...options })
    t.teardown(() => store.close())
    return store
  }
  return { dir, dbPath, policies, metrics, logs, open }
}

function event (fields: Partial<UsageEvent> & { keyId: string | undefined }): UsageEvent {
  return {
    time: NOW,
    requestId: 'req-' + Math.random().toString(36).slice(2),
    address: '127.0.0.1',
    method: 'GET',
    route: 'events/index',
    category: undefined,
    routeKind: 'read',
    status: 200,
    reason: undefined,
    outcome: 'allowed',
    ...fields
  }
}

function messages (logs: readonly string[], msg: string): Array<Record<string, unknown>> {
  return logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === msg)
}

async function metricValue (metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return value?.value
}

t.test('counts survive a restart', async (t) => {
  const s = await setup(t)
  const first = await s.open()
  for (let i = 0; i < 5; i++) first.record(event({ keyId: 'alpha', time: NOW + i }))
  first.record(event({ keyId: 'alpha', time: NOW + 10, outcome: 'denied', reason: 'read_only', status: 403, route: 'events/add', routeKind: 'write' }))
  await first.close()

  const second = await s.open()
  for (let i = 0; i < 3; i++) second.record(event({ keyId: 'alpha', time: NOW + 100 + i, address: '127.0.0.2' }))
  await second.flush()
  const keys = await second.keys()
  t.equal(keys.length, 1, 'one key recorded')
  t.equal(keys[0]?.allowed, 8, 'allowed from both runs')
  t.equal(keys[0]?.denied, 1, 'denied from the first run')
  t.equal(keys[0]?.firstUsed, NOW, 'first use from the first run')
  t.equal(keys[0]?.lastUsed, NOW + 102, 'last use from the second run')
  t.equal(keys[0]?.addresses, 2, 'two addresses')
  t.equal(keys[0]?.lastWrite, undefined, 'a denied write is not a write')
  await second.close()

  const reader = openUsageReader(s.dbPath)
  t.teardown(() => { reader.close() })
  t.same(reader.addresses('alpha').map((a) => [a.address, a.allowed, a.denied]), [['127.0.0.2', 3, 0], ['127.0.0.1', 5, 1]])
  t.same(reader.events({ keyId: 'alpha' }).map((e) => e.type), ['first_use', 'new_address', 'denial', 'new_address'])
})

t.test('events keep time, address, route, status and request id', async (t) => {
  const s = await setup(t)
  const store = await s.open()
  store.record(event({ keyId: 'alpha', requestId: 'r1', time: NOW, method: 'POST', route: 'admin/users/add', category: 'users', routeKind: 'sensitive', status: 200 }))
  store.record(event({ keyId: 'alpha', requestId: 'r2', time: NOW + 1, method: 'POST', route: 'auth_keys/add', category: 'auth_keys', routeKind: 'sensitive', status: 403, outcome: 'denied', reason: 'sensitive_action' }))
  store.record(event({ keyId: 'alpha', requestId: 'r3', time: NOW + 2, address: '198.51.100.7', status: 403, outcome: 'denied', reason: 'ip_not_allowed', route: undefined, routeKind: undefined }))
  store.record(event({ keyId: 'beta', requestId: 'r4', time: NOW + 3, method: 'POST', route: 'events/add', routeKind: 'write', status: 502, reason: 'upstream_unavailable' }))
  await store.flush()
  const detail = await store.key('alpha')
  const byRequest = new Map(detail.events.filter((e) => e.type === 'sensitive' || e.type === 'denial').map((e) => [e.requestId, e]))
  t.match(byRequest.get('r1'), { type: 'sensitive', outcome: 'allowed', category: 'users', route: 'admin/users/add', method: 'POST', status: 200, address: '127.0.0.1', time: NOW })
  t.match(byRequest.get('r2'), { type: 'sensitive', outcome: 'denied', reason: 'sensitive_action', category: 'auth_keys', status: 403 })
  t.match(byRequest.get('r3'), { type: 'denial', reason: 'ip_not_allowed', address: '198.51.100.7', route: undefined })
  t.equal(detail.usage?.lastWrite, NOW, 'the allowed sensitive request is a write')
  const beta = await store.key('beta')
  t.equal(beta.usage?.errors, 1, 'an upstream failure counts as an error')
  t.equal(beta.usage?.allowed, 0, 'and not as allowed')
  t.equal(beta.usage?.lastWrite, NOW + 3, 'a forwarded write that failed upstream still reached MISP')
  t.equal(beta.events.filter((e) => e.type === 'denial').length, 0, 'an upstream failure is no denial event')
})

t.test('new source address warns and counts', async (t) => {
  const s = await setup(t)
  const store = await s.open()
  store.record(event({ keyId: 'alpha', address: '127.0.0.1' }))
  await store.flush()
  store.record(event({ keyId: 'alpha', address: '127.0.0.1' }))
  await store.flush()
  store.record(event({ keyId: 'alpha', address: '127.0.0.9', requestId: 'from-new' }))
  await store.flush()
  const warnings = messages(s.logs, 'new source address for key')
  t.equal(warnings.length, 2, 'one warning per new address, none for a known one')
  t.match(warnings[1], { level: 40, key_id: 'alpha', client: '127.0.0.9', request_id: 'from-new' })
  t.equal(await metricValue(s.metrics, 'keygate_key_new_source_addresses_total', { key_id: 'alpha' }), 2)
  t.equal(await metricValue(s.metrics, 'keygate_key_source_addresses', { key_id: 'alpha' }), 2)
  t.equal(await metricValue(s.metrics, 'keygate_key_source_addresses', { key_id: 'beta' }), 0, 'an unused key has none')
  t.equal(await metricValue(s.metrics, 'keygate_key_last_used_timestamp_seconds', { key_id: 'alpha' }), NOW / 1000)
})

t.test('a locked database delays writes without losing them', async (t) => {
  const s = await setup(t)
  const store = await s.open()
  store.record(event({ keyId: 'alpha' }))
  await store.flush()

  const blocker = new Sqlite(s.dbPath)
  blocker.exec('BEGIN EXCLUSIVE')
  for (let i = 0; i < 4; i++) store.record(event({ keyId: 'alpha', time: NOW + 1000 + i }))
  await store.flush()
  await store.flush()
  t.equal(await metricValue(s.metrics, 'keygate_usage_flush_errors_total'), 2, 'each failed flush is counted')
  const failures = messages(s.logs, 'writing usage records failed; they are kept and retried at the next flush')
  t.equal(failures.length, 2, 'one error line per failed flush, not per request')
  t.equal(failures[0]?.err_code, 'SQLITE_BUSY')
  t.equal(await metricValue(s.metrics, 'keygate_usage_flush_lag_seconds'), 0, 'the test clock has not moved')

  blocker.exec('ROLLBACK')
  blocker.close()
  await store.flush()
  t.equal((await store.keys())[0]?.allowed, 5, 'the retried records are written once')
  t.equal(messages(s.logs, 'usage records written again after failed flushes').length, 1, 'recovery is logged')
})

t.test('flush lag grows while writes fail', async (t) => {
  const s = await setup(t)
  const clock = { now: NOW }
  const store = await s.open({ clock: () => clock.now })
  const blocker = new Sqlite(s.dbPath)
  blocker.exec('BEGIN EXCLUSIVE')
  t.teardown(() => { if (blocker.open) blocker.close() })
  store.record(event({ keyId: 'alpha', time: NOW }))
  await store.flush()
  clock.now = NOW + 5_000
  t.equal(await metricValue(s.metrics, 'keygate_usage_flush_lag_seconds'), 5, 'age of the oldest unwritten request')
  blocker.exec('ROLLBACK')
  await store.flush()
  t.equal(await metricValue(s.metrics, 'keygate_usage_flush_lag_seconds'), 0, 'nothing left to write')
})

t.test('a deleted database directory does not stop recording', async (t) => {
  const s = await setup(t)
  const store = await s.open()
  store.record(event({ keyId: 'alpha' }))
  await store.flush()

  rmSync(join(s.dir, 'db'), { recursive: true })
  store.record(event({ keyId: 'alpha', time: NOW + 1 }))
  store.record(event({ keyId: 'beta', time: NOW + 2 }))
  await store.flush()
  t.equal(await metricValue(s.metrics, 'keygate_usage_flush_errors_total'), 1, 'the failed flush is counted')
  t.match(messages(s.logs, 'writing usage records failed; they are kept and retried at the next flush')[0], { err_code: 'not_writable' })

  mkdirSync(join(s.dir, 'db'))
  await store.flush()
  t.equal(messages(s.logs, 'usage database file was deleted or replaced; writing to a new one').length, 1, 'the new file is logged')
  const keys = await store.keys()
  t.same(keys.map((k) => [k.keyId, k.allowed]), [['alpha', 1], ['beta', 1]], 'the records kept during the outage are in the new file')
})

t.test('a full buffer drops rows and counts them', async (t) => {
  const s = await setup(t)
  const store = await s.open({ limits: { maxRows: 10, maxEvents: 3 } })
  const blocker = new Sqlite(s.dbPath)
  blocker.exec('BEGIN EXCLUSIVE')
  for (let i = 0; i < 20; i++) {
    store.record(event({ keyId: 'alpha', address: `10.0.0.${i}`, outcome: 'denied', reason: 'ip_not_allowed', status: 403 }))
  }
  await store.flush()
  blocker.exec('ROLLBACK')
  blocker.close()
  await store.flush()
  const usage = (await store.keys())[0]
  t.equal(usage?.denied, 20, 'key totals are never dropped')
  t.equal(usage?.addresses, 5, 'address and hourly rows share the limit of 10')
  t.equal(await metricValue(s.metrics, 'keygate_usage_records_dropped_total', { kind: 'address' }), 15)
  t.equal(await metricValue(s.metrics, 'keygate_usage_records_dropped_total', { kind: 'event' }), 17)
  t.ok(messages(s.logs, 'usage buffer full: records dropped since the last flush').length >= 1, 'the loss is logged')
})

t.test('revocations are recorded once', async (t) => {
  const s = await setup(t, ['alpha'], '    revoked: { at: 2026-12-01T08:00:00Z, reason: leaked in a CI log }\n')
  const first = await s.open()
  await first.flush()
  await first.close()
  const second = await s.open()
  await second.flush()
  const detail = await second.key('alpha')
  const revocations = detail.events.filter((e) => e.type === 'revocation')
  t.equal(revocations.length, 1, 'one revocation event across restarts')
  t.match(revocations[0], { time: Date.parse('2026-12-01T08:00:00Z'), reason: 'leaked in a CI log', keyId: 'alpha' })
})

t.test('pruning keeps key totals', async (t) => {
  const s = await setup(t)
  const store = await s.open({ retentionDays: 30 })
  store.record(event({ keyId: 'alpha', time: NOW - 40 * DAY, address: '127.0.0.5', outcome: 'denied', reason: 'read_only', status: 403 }))
  store.record(event({ keyId: 'alpha', time: NOW - 1 * DAY, address: '127.0.0.6', outcome: 'denied', reason: 'read_only', status: 403 }))
  store.record(event({ keyId: undefined, time: NOW - 40 * DAY, reason: 'unknown_key', outcome: 'denied', status: 401 }))
  await store.flush()
  const deleted = await store.prune()
  t.equal(deleted, 6, 'three old events, one hourly, one keyless and one address row')
  const detail = await store.key('alpha')
  t.equal(detail.usage?.denied, 2, 'the totals still count both requests')
  t.equal(detail.usage?.firstUsed, NOW - 40 * DAY, 'and the first use')
  t.same(detail.addresses.map((a) => a.address), ['127.0.0.6'], 'the old address is gone')
  t.same(detail.events.map((e) => e.type), ['denial', 'new_address'], 'only recent events remain')
})

t.test('unknown keys are counted without a key label', async (t) => {
  const s = await setup(t)
  const clock = { now: NOW }
  const store = await s.open({ clock: () => clock.now })
  const unknown = (address: string, time: number): UsageEvent => event({ keyId: undefined, address, time, reason: 'unknown_key', outcome: 'denied', status: 401, route: undefined, routeKind: undefined })
  for (let i = 0; i < 5; i++) store.record(unknown('203.0.113.5', NOW + i))
  for (let i = 0; i < 2; i++) store.record(unknown('203.0.113.6', NOW + i))
  store.record(event({ keyId: undefined, reason: 'missing_key', outcome: 'denied', status: 401 }))
  t.equal(await metricValue(s.metrics, 'keygate_unknown_key_attempts_total'), 7, 'missing keys are not unknown keys')
  t.equal(await metricValue(s.metrics, 'keygate_unknown_key_max_attempts_per_address'), 5)
  clock.now = NOW + 61_000
  t.equal(await metricValue(s.metrics, 'keygate_unknown_key_max_attempts_per_address'), 0, 'the window has passed')
  await store.flush()
  const reader = openUsageReader(s.dbPath)
  t.teardown(() => { reader.close() })
  t.same(reader.allKeys(), [], 'no key row for keyless requests')
})

t.test('an unwritable path fails at open', async (t) => {
  const s = await setup(t)
  writeFileSync(join(s.dir, 'plain-file'), '')
  await t.rejects(s.open({ path: join(s.dir, 'plain-file', 'usage.sqlite') }), { name: 'UsageDbError', code: 'not_writable' })
})
