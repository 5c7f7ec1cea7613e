import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { openUsageReader } from '../src/usage/reader.js'
import { get, logLines, startProxyProcess, startUsageProxy, usageFixture } from './helpers/usage-proxy.js'

/** The user the read-only test runs the proxy as when the tests run as root, which ignores file modes. */
const NOBODY = 65_534

t.test('10,000 requests from 1,000 addresses give exact counts', async (t) => {
  const fixture = await usageFixture(t, [{ id: 'spray', allowedIps: ['10.1.0.0/16'] }])
  const dbPath = join(fixture.dir, 'data', 'usage.sqlite')
  const proxy = await startUsageProxy(t, fixture, dbPath, { flushIntervalMs: 50, trustedProxies: ['127.0.0.1'] })
  const key = fixture.keys.spray as string
  // Addresses 0-899 are in 10.1.0.0/16 and allowed; 900-999 are in 10.2.0.0/16 and denied.
  const address = (i: number): string => `10.${i < 900 ? 1 : 2}.${i >> 8}.${i & 255}`
  const statuses = new Map<number, number>()
  for (let round = 0; round < 10; round++) {
    const results = await Promise.all(Array.from({ length: 1000 }, async (_, i) => await get(proxy.pool, '/servers/getVersion', key, { 'x-forwarded-for': address(i) })))
    for (const status of results) statuses.set(status, (statuses.get(status) ?? 0) + 1)
  }
  t.same(Object.fromEntries(statuses), { 200: 9000, 403: 1000 }, 'every request answered')
  await proxy.running.close()

  const reader = openUsageReader(dbPath)
  t.teardown(() => { reader.close() })
  const usage = reader.key('spray')
  t.equal(usage?.allowed, 9000)
  t.equal(usage?.denied, 1000)
  t.equal(usage?.errors, 0)
  t.equal(usage?.addresses, 1000)
  const addresses = reader.addresses('spray')
  t.equal(addresses.filter((a) => a.address.startsWith('10.1.') && a.allowed === 10 && a.denied === 0).length, 900, '900 addresses with 10 allowed each')
  t.equal(addresses.filter((a) => a.address.startsWith('10.2.') && a.allowed === 0 && a.denied === 10).length, 100, '100 addresses with 10 denied each')
  const events = reader.events({ keyId: 'spray' })
  t.equal(events.filter((e) => e.type === 'denial' && e.reason === 'ip_not_allowed').length, 1000, 'one denial event per denied request')
  t.equal(events.filter((e) => e.type === 'new_address').length, 1000, 'one new-address event per address')
  t.equal(events.filter((e) => e.type === 'first_use').length, 1)
  const hourly = reader.hourly('spray', 0, Date.now() + 3_600_000)
  t.equal(hourly.reduce((sum, row) => sum + row.requests, 0), 10_000, 'hourly counts add up')
})

t.test('admin listener serves usage from the store', async (t) => {
  const fixture = await usageFixture(t, [{ id: 'alpha' }, { id: 'beta' }])
  const dbPath = join(fixture.dir, 'usage.sqlite')
  const proxy = await startUsageProxy(t, fixture, dbPath, { flushIntervalMs: 20 })
  t.equal(await get(proxy.pool, '/servers/getVersion', fixture.keys.alpha as string), 200)
  t.equal(await get(proxy.pool, '/events/add', fixture.keys.alpha as string), 403, 'read-only key denied')
  await proxy.running.usage.flush()

  const list = await (await request(`${proxy.adminUrl}/usage`)).body.json() as { keys: Array<Record<string, unknown>> }
  t.match(list.keys, [{ key_id: 'alpha', total: 2, allowed: 1, denied: 1, address_count: 1 }, { key_id: 'beta', total: 0, last_used: null }])
  const one = await request(`${proxy.adminUrl}/usage/alpha`)
  const detail = await one.body.json() as Record<string, unknown>
  t.match(detail, { key_id: 'alpha', addresses: [{ address: '127.0.0.1', allowed: 1, denied: 1 }] })
  t.match(detail.recent_events, [{ type: 'denial', reason: 'read_only', route: 'events/add', status: 403 }, { type: 'new_address' }, { type: 'first_use' }])
  const missing = await request(`${proxy.adminUrl}/usage/nobody`)
  t.equal(missing.statusCode, 404)
  t.match(await missing.body.json(), { name: 'Not Found', message: 'No key "nobody" in the policy or the usage records.' })
})

t.test('SIGTERM writes pending usage before exit', async (t) => {
  const fixture = await usageFixture(t, [{ id: 'alpha' }])
  const dbPath = join(fixture.dir, 'usage.sqlite')
  // One flush an hour: only the shutdown path can write these records.
  const child = await startProxyProcess(t, fixture, dbPath, { flushIntervalMs: 3_600_000 })
  for (let i = 0; i < 25; i++) {
    const response = await request(`http://127.0.0.1:${child.port}/servers/getVersion`, { headers: { authorization: fixture.keys.alpha as string } })
    await response.body.dump()
  }
  child.child.kill('SIGTERM')
  t.equal(await child.exited, 0, 'clean exit')
  const reader = openUsageReader(dbPath)
  t.teardown(() => { reader.close() })
  t.equal(reader.key('alpha')?.allowed, 25, 'all 25 requests written')
})

t.test('a read-only database directory does not stop requests', async (t) => {
  const fixture = await usageFixture(t, [{ id: 'alpha' }])
  const dbDir = join(fixture.dir, 'db')
  const dbPath = join(dbDir, 'usage.sqlite')
  const asRoot = process.getuid?.() === 0
  mkdirSync(dbDir)
  if (asRoot) chownSync(dbDir, NOBODY, NOBODY)
  const child = await startProxyProcess(t, fixture, dbPath, { flushIntervalMs: 50, ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}) })
  const send = async (): Promise<number> => {
    const response = await request(`http://127.0.0.1:${child.port}/servers/getVersion`, { headers: { authorization: fixture.keys.alpha as string } })
    await response.body.dump()
    return response.statusCode
  }
  t.equal(await send(), 200)
  await waitFor(() => logLines(child.logs, 'new source address for key').length === 1)

  // The proxy's user may not create a file in the new directory.
  rmSync(dbDir, { recursive: true })
  mkdirSync(dbDir)
  chmodSync(dbDir, 0o555)
  const during = await Promise.all(Array.from({ length: 20 }, send))
  t.same(new Set(during), new Set([200]), 'requests keep flowing')
  await waitFor(() => logLines(child.logs, 'writing usage records failed; they are kept and retried at the next flush').length >= 2)
  const metrics = await (await request(`http://127.0.0.1:${child.adminPort}/metrics`)).body.text()
  t.match(metrics, /^keygate_usage_flush_errors_total [1-9]\d*$/m, 'failed flushes counted')

  chmodSync(dbDir, 0o755)
  if (asRoot) chownSync(dbDir, NOBODY, NOBODY)
  await waitFor(() => logLines(child.logs, 'usage records written again after failed flushes').length === 1)
  child.child.kill('SIGTERM')
  await child.exited
  const reader = openUsageReader(dbPath)
  t.teardown(() => { reader.close() })
  t.equal(reader.key('alpha')?.allowed, 20, 'the requests made during the outage are in the new file')
})

async function waitFor (condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
