import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { get, startUsageProxy, usageFixture } from './helpers/usage-proxy.js'

// promtool comes with Debian's prometheus package: apt-get install prometheus.
t.test('promtool accepts a scrape of /metrics', async (t) => {
  const fixture = await usageFixture(t, [
    { id: 'alpha', fields: ['expires: 2099-01-01T00:00:00Z'] },
    { id: 'beta', readOnly: false }
  ])
  const proxy = await startUsageProxy(t, fixture, join(fixture.dir, 'usage.sqlite'), { flushIntervalMs: 20 })
  // One request of each kind, so every labelled series has at least one sample.
  t.equal(await get(proxy.pool, '/servers/getVersion', fixture.keys.alpha as string), 200)
  t.equal(await get(proxy.pool, '/events/add', fixture.keys.alpha as string), 403)
  t.equal(await get(proxy.pool, '/servers/getVersion', 'A'.repeat(40)), 401)
  await proxy.running.usage.flush()

  const scrape = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  for (const name of [
    'keygate_key_expiry_timestamp_seconds', 'keygate_key_last_used_timestamp_seconds', 'keygate_key_source_addresses',
    'keygate_key_new_source_addresses_total', 'keygate_unknown_key_attempts_total', 'keygate_unknown_key_max_attempts_per_address',
    'keygate_usage_flush_lag_seconds', 'keygate_usage_flush_duration_seconds', 'keygate_usage_flush_errors_total'
  ]) {
    t.match(scrape, new RegExp(`^${name}(\\{|_bucket|_count| )`, 'm'), `${name} has a sample`)
  }
  t.match(scrape, /^keygate_unknown_key_attempts_total 1$/m)
  t.notMatch(scrape, /127\.0\.0\.1/, 'no address in any label')

  const check = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' })
  t.equal(check.error, undefined, 'promtool runs (install Debian\'s prometheus package when it is missing)')
  t.equal(check.stdout + check.stderr, '', 'promtool reports no problem')
  t.equal(check.status, 0, 'promtool exit status')
})
