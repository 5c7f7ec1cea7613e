import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { runIncident } from '../src/commands/incident.js'
import { digestKey } from '../src/digest.js'
import { runCommand } from './helpers/command.js'
import { deniedEvent, usageEvent, writeUsageDb } from './helpers/usage-db.js'
import { get, startUsageProxy, usageFixture } from './helpers/usage-proxy.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const HOUR = 3_600_000
const SINCE = '2026-12-03T00:00:00Z'
const UNTIL = '2026-12-04T00:00:00Z'
const T0 = Date.parse(SINCE)

const POLICY = `version: 1
keys:
  - id: leaked
    owner: soc@example.org
    purpose: Indicator pull for the SIEM
    hash: ${digestKey('leaked key')}
    allowed_ips: [192.0.2.0/24]
    read_only: false
    labels: { account: svc-leaked }
  - id: bystander
    owner: soc@example.org
    purpose: Another integration
    hash: ${digestKey('bystander key')}
    allowed_ips: [192.0.2.0/24]
`

interface EventJson { time: string, address: string, route: string, status: number, category: string, outcome: string, reason: string | null }

function sensitive (time: number, route: string, category: string, fields = {}): ReturnType<typeof usageEvent> {
  return usageEvent('leaked', time, { method: 'POST', route, category, routeKind: 'sensitive', address: '192.0.2.7', ...fields })
}

function fixture (t: { testdir: (files: Record<string, string>) => string }): { policy: string, db: string } {
  const dir = t.testdir({ 'policy.yaml': POLICY })
  const db = join(dir, 'usage.sqlite')
  writeUsageDb(db, NOW - 30 * 24 * HOUR, [
    sensitive(T0 - 1, 'admin/users/add', 'users'),
    sensitive(T0, 'admin/users/add', 'users', { requestId: 'first-in-window' }),
    sensitive(T0 + 2 * HOUR, 'authKeys/add', 'auth_keys', { address: '203.0.113.50', status: 403, outcome: 'denied', reason: 'ip_not_allowed' }),
    sensitive(T0 + 5 * HOUR, 'servers/add', 'sync_servers', { status: 403, outcome: 'denied', reason: 'sensitive_action' }),
    sensitive(T0 + 23 * HOUR + 59 * 60_000, 'admin/roles/edit', 'roles', { requestId: 'last-in-window' }),
    sensitive(T0 + 24 * HOUR, 'admin/users/delete', 'users'),
    usageEvent('leaked', T0 + HOUR, { address: '192.0.2.7' }),
    usageEvent('leaked', T0 + HOUR, { address: '192.0.2.8', method: 'POST', route: 'events/add', routeKind: 'write' }),
    deniedEvent('leaked', T0 + 3 * HOUR, 'ip_not_allowed', 403, { address: '203.0.113.50', route: undefined, routeKind: undefined }),
    sensitive(T0 + HOUR, 'admin/users/add', 'users', { keyId: 'bystander' }),
    usageEvent('bystander', T0 + HOUR)
  ])
  return { policy: join(dir, 'policy.yaml'), db }
}

async function incident (f: { policy: string, db: string }, ...args: string[]): Promise<{ json: Record<string, unknown>, text: string }> {
  const common = ['--policy', f.policy, '--usage-db', f.db]
  const json = await runCommand(runIncident, ['leaked', ...common, '--format', 'json', ...args], { now: NOW })
  const text = await runCommand(runIncident, ['leaked', ...common, ...args], { now: NOW })
  t.equal(json.status, 0, 'exit 0')
  return { json: JSON.parse(json.stdout) as Record<string, unknown>, text: text.stdout }
}

t.test('incident lists exactly the sensitive actions of the window', async (t) => {
  const { json, text } = await incident(fixture(t), '--since', SINCE, '--until', UNTIL)
  const actions = json.sensitive_actions as EventJson[]
  t.same(actions.map((a) => [a.time, a.route, a.status, a.outcome]), [
    ['2026-12-03T00:00:00.000Z', 'admin/users/add', 200, 'allowed'],
    ['2026-12-03T02:00:00.000Z', 'authKeys/add', 403, 'denied'],
    ['2026-12-03T05:00:00.000Z', 'servers/add', 403, 'denied'],
    ['2026-12-03T23:59:00.000Z', 'admin/roles/edit', 200, 'allowed']
  ], 'inside [since, until), in time order, and none of another key')
  t.equal(actions[1]?.address, '203.0.113.50', 'with the address')
  t.match(json.denials_by_reason, { ip_not_allowed: 2, sensitive_action: 1 })
  t.same((json.addresses as Array<{ address: string }>).map((a) => a.address).sort(), ['192.0.2.7', '192.0.2.8', '203.0.113.50'])
  t.match(json.route_kinds, { read: { allowed: 1 }, write: { allowed: 1 }, sensitive: { allowed: 2, denied: 2 }, not_routed: { denied: 1 } }, 'hourly counts cover whole hours')
  t.match(json.sensitive_categories, { users: { allowed: 1, denied: 0 }, auth_keys: { denied: 1 }, sync_servers: { denied: 1 }, roles: { allowed: 1 } }, 'exact counts by category')
  t.same((json.follow_up as Array<{ category: string, forwarded: number }>).filter((item) => item.forwarded > 0).map((item) => item.category), ['users', 'roles'])

  t.match(text, /^Sensitive actions \(4\)$/m)
  t.match(text, /^ {2}\[x\] users: [^[]* - 1 forwarded through the\s+proxy with this key\n/m, 'users marked as passed through')
  t.match(text, /^ {2}\[ \] auth_keys: [^[]* - 1 denied\n/m, 'a denied attempt is listed but not marked')
  t.match(text, /^ {2}\[ \] the key itself: the proxy passes it through/m, 'a pass-through key must also go in MISP')
  t.same(text.split('\n').filter((line) => line.length > 100 && !/^(Policy|Usage records):/.test(line)), [], 'fits 100 columns')
})

t.test('incident accepts relative and date windows', async (t) => {
  const f = fixture(t)
  const byDate = await incident(f, '--since', '2026-12-03', '--until', '2026-12-04')
  t.equal((byDate.json.sensitive_actions as unknown[]).length, 4, 'dates are midnight UTC')
  const recent = await incident(f, '--since', '12h')
  t.equal(recent.json.since, '2026-12-04T00:00:00.000Z', '12h before now')
  t.same((recent.json.sensitive_actions as EventJson[]).map((a) => a.route), ['admin/users/delete'])
})

t.test('incident rejects bad arguments', async (t) => {
  const f = fixture(t)
  const run = async (...args: string[]): Promise<unknown> => await runCommand(runIncident, [...args, '--policy', f.policy, '--usage-db', f.db], { now: NOW })
  await t.rejects(run('leaked'), { name: 'UsageError', message: /--since is required/ })
  await t.rejects(run('leaked', '--since', 'yesterday'), { name: 'UsageError', message: /--since "yesterday" is not a time/ })
  await t.rejects(run('leaked', '--since', UNTIL, '--until', SINCE), { name: 'UsageError', message: /window would be empty/ })
  await t.rejects(run('leaked', '--since', SINCE, '--revoke'), { name: 'UsageError', message: /--revoke needs --reason/ })
  await t.rejects(run('nobody', '--since', SINCE), { name: 'UsageError', message: /No key "nobody"/ })
  t.notMatch(readFileSync(f.policy, 'utf8'), /revoked/, 'nothing revoked by a rejected command')
})

t.test('incident --revoke without a running proxy says reload pending', async (t) => {
  const f = fixture(t)
  const closedPort = await unusedPort()
  const { text } = await incident(f, '--since', SINCE, '--revoke', '--reason', 'found in a paste site', '--admin-url', `http://127.0.0.1:${closedPort}`)
  t.match(readFileSync(f.policy, 'utf8'), /- id: leaked[\s\S]*revoked:\n\s+at: 2026-12-04T12:00:00Z\n\s+reason: found in a paste site/, 'the policy file marks the key revoked')
  t.match(text, /^ {2}(revoked now|already revoked) in .*policy\.yaml: at 2026-12-04T12:00:00Z, reason: found in a paste site$/m)
  t.match(text, /running proxy: reload pending: no admin listener responded/)
})

t.test('incident --revoke reports the proxy reload', async (t) => {
  const fixture = await usageFixture(t, [{ id: 'alpha' }, { id: 'beta' }])
  const proxy = await startUsageProxy(t, fixture, join(fixture.dir, 'usage.sqlite'), { flushIntervalMs: 20 })
  t.equal(await get(proxy.pool, '/servers/getVersion', fixture.keys.alpha as string), 200)
  await proxy.running.usage.flush()

  const result = await runCommand(runIncident, [
    'alpha', '--since', '1h', '--revoke', '--reason', 'laptop stolen', '--format', 'json',
    '--policy', fixture.policyFile, '--usage-db', join(fixture.dir, 'usage.sqlite'), '--admin-url', proxy.adminUrl
  ], { now: Date.now() })
  const report = JSON.parse(result.stdout) as { revocation: { status: string, proxy: { state: string, generation: number } }, addresses: Array<{ address: string }> }
  t.equal(report.revocation.status, 'revoked')
  t.equal(report.revocation.proxy.state, 'reloaded', 'the proxy has the new policy')
  t.ok(report.revocation.proxy.generation >= 2, 'a new policy generation')
  t.same(report.addresses.map((a) => a.address), ['127.0.0.1'])
  t.equal(await get(proxy.pool, '/servers/getVersion', fixture.keys.alpha as string), 401, 'the revoked key is refused')
  t.equal(await get(proxy.pool, '/servers/getVersion', fixture.keys.beta as string), 200, 'other keys still work')

  const again = await runCommand(runIncident, [
    'alpha', '--since', '1h', '--revoke', '--reason', 'second report', '--format', 'json',
    '--policy', fixture.policyFile, '--usage-db', join(fixture.dir, 'usage.sqlite'), '--admin-url', proxy.adminUrl
  ], { now: Date.now() })
  t.match(JSON.parse(again.stdout), { revocation: { status: 'already', proxy: { state: 'reloaded' } }, key: { revoked: { reason: 'laptop stolen' } } }, 'the first revocation is kept')
})

t.test('incident --revoke: another proxy\'s policy.yaml', async (t) => {
  const served = await usageFixture(t, [{ id: 'alpha' }])
  const proxy = await startUsageProxy(t, served, join(served.dir, 'usage.sqlite'), { flushIntervalMs: 20 })
  t.equal(await get(proxy.pool, '/servers/getVersion', served.keys.alpha as string), 200, 'the served key works')
  await proxy.running.usage.flush()
  const other = { policyFile: join(served.dir, 'staging', 'policy.yaml') }
  await mkdir(dirname(other.policyFile))
  await copyFile(served.policyFile, other.policyFile)

  const result = await runCommand(runIncident, [
    'alpha', '--since', '1h', '--revoke', '--reason', 'laptop stolen', '--format', 'json',
    '--policy', other.policyFile, '--usage-db', join(served.dir, 'usage.sqlite'), '--admin-url', proxy.adminUrl
  ], { now: Date.now() })
  const report = JSON.parse(result.stdout) as { revocation: { proxy: unknown } }
  t.same(report.revocation.proxy, { state: 'pending', detail: `the proxy at ${proxy.adminUrl} serves ${served.policyFile}, not ${other.policyFile}` }, 'reported as pending, naming both files')
  const ready = await request(`${proxy.adminUrl}/readyz`).then(async (response) => await response.body.json()) as { policy: { generation: number, file: string } }
  t.equal(ready.policy.generation, 1, 'no POST /reload reached the other proxy')
  t.equal(ready.policy.file, served.policyFile, '/readyz names the absolute path')
  t.equal(await get(proxy.pool, '/servers/getVersion', served.keys.alpha as string), 200, 'its own key "alpha" still works')
})

async function unusedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}
