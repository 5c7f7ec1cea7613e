import { dirname, join } from 'node:path'
import t from 'tap'
import { runPolicyCheck } from '../src/commands/policy-check.js'
import { digestKey } from '../src/digest.js'
import { isWideRange } from '../src/policy/lint.js'
import { openWritable } from '../src/usage/database.js'
import { runCommand } from './helpers/command.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const DAY = 86_400_000

interface Warning { key_id: string | null, check: string, message: string }

/** Writes a key that passes every check; `fields` replace or add YAML lines. */
function key (id: string, fields: Record<string, string | undefined> = {}): string {
  const lines = Object.entries({
    id,
    owner: 'soc@example.org',
    purpose: 'Indicator pull',
    hash: digestKey(`key ${id}`),
    allowed_ips: '[192.0.2.10]',
    expires: '2027-01-31T00:00:00Z',
    read_only: 'true',
    labels: '{ account: svc-pull }',
    ...fields
  }).filter(([, value]) => value !== undefined).map(([name, value]) => `${name}: ${value ?? ''}`)
  return lines.map((line, index) => (index === 0 ? '  - ' : '    ') + line).join('\n')
}

function policyFile (t: { testdir: (files: Record<string, string>) => string }, ...keys: string[]): string {
  const text = `version: 1\nkeys:\n${keys.join('\n')}\n`
  return join(t.testdir({ 'policy.yaml': text, 'up.key': 'U'.repeat(40) + '\n', 'other.key': 'V'.repeat(40) + '\n', 'third.key': 'W'.repeat(40) + '\n' }), 'policy.yaml')
}

async function check (file: string, ...args: string[]): Promise<{ status: number, warnings: Warning[], errors: string[], text: string }> {
  const json = await runCommand(runPolicyCheck, [file, '--format', 'json', ...args], { now: NOW, env: { MISP_KEY_A: 'A'.repeat(40) } })
  const text = await runCommand(runPolicyCheck, [file, ...args], { now: NOW, env: { MISP_KEY_A: 'A'.repeat(40) } })
  const report = JSON.parse(json.stdout) as { warnings: Warning[], errors: string[] }
  return { status: json.status, warnings: report.warnings, errors: report.errors, text: text.stdout }
}

function checksOf (warnings: readonly Warning[], keyId: string | null): string[] {
  return warnings.filter((warning) => warning.key_id === keyId).map((warning) => warning.check).sort()
}

t.test('a clean policy passes even with --strict', async (t) => {
  const result = await check(policyFile(t, key('clean'), key('swap', { upstream_key: 'env:MISP_KEY_A', read_only: 'false', profile: 'ingest' })), '--strict')
  t.same(result.warnings, [], 'no warnings')
  t.equal(result.status, 0, 'exit 0')
  t.match(result.text, /valid, 0 warning\(s\)\n$/, 'summary line')
})

t.test('schema errors exit 2 and name key and field', async (t) => {
  const result = await check(policyFile(t, key('bad', { allowed_ips: '[10.1.2.3/8]' })))
  t.equal(result.status, 2, 'exit 2')
  t.equal(result.errors.length, 1, 'one error')
  t.match(result.errors[0], /key "bad".*field "allowed_ips\[0\]"/, 'names key and field')
  t.match(result.text, /^error: /, 'text output starts with the error')
})

t.test('swap_key_exposed: swap key with auth_keys or users', async (t) => {
  const file = policyFile(t,
    key('swap-auth', { upstream_key: 'file:up.key', allow_sensitive: '[auth_keys]' }),
    key('swap-users', { upstream_key: 'file:up.key', allow_sensitive: '[users, roles]' }),
    key('swap-roles', { upstream_key: 'file:other.key', allow_sensitive: '[roles]' }),
    key('swap-sync', { upstream_key: 'file:third.key', allow_sensitive: '[sync_servers]' }),
    key('pass-auth', { allow_sensitive: '[auth_keys]' }),
    key('swap-plain', { upstream_key: 'env:MISP_KEY_A' })
  )
  const { warnings } = await check(file)
  const exposed = (id: string): boolean => checksOf(warnings, id).includes('swap_key_exposed')
  t.ok(exposed('swap-auth'), 'auth_keys on a swap key warns')
  t.ok(exposed('swap-users'), 'users on a swap key warns')
  t.match(warnings.find((warning) => warning.key_id === 'swap-users' && warning.check === 'swap_key_exposed')?.message, /may call users routes/, 'names the category')
  t.ok(exposed('swap-sync'), 'sync_servers on a swap key warns: servers/createSync returns a key')
  t.notOk(exposed('swap-roles'), 'another sensitive category does not')
  t.notOk(exposed('pass-auth'), 'a pass-through key does not: the client already has its MISP key')
  t.notOk(exposed('swap-plain'), 'a swap key without sensitive categories does not')
})

t.test('each hygiene check warns with the key id', async (t) => {
  const file = policyFile(t,
    key('no-expiry', { expires: undefined }),
    key('long-life', { expires: '2027-06-01T00:00:00Z' }),
    key('window', { not_before: '2026-01-01T00:00:00Z', expires: '2027-01-31T00:00:00Z' }),
    key('anywhere', { allowed_ips: '[0.0.0.0/0, "::/0"]' }),
    key('wide', { allowed_ips: '[10.0.0.0/15, "2001:db8::/31", 172.16.0.0/16, "2001:db8::/32"]' }),
    key('writer', { read_only: 'false' }),
    key('admin', { allow_sensitive: '[auth_keys]' }),
    key('no-account', { labels: '{ team: soc }' }),
    key('example', { hash: digestKey('ExampleSiemPullKeyDoNotUseInProduction01') }),
    key('lapsed', { expires: '2026-12-01T00:00:00Z' }),
    key('revoked', { expires: undefined, allowed_ips: '[0.0.0.0/0]', revoked: '{ at: 2026-12-01T00:00:00Z, reason: left }' }),
    key('unset-env', { upstream_key: 'env:MISP_KEY_UNSET' })
  )
  const { warnings, status, text } = await check(file)
  t.same(checksOf(warnings, 'no-expiry'), ['no_expiry'], 'no expiry')
  t.same(checksOf(warnings, 'long-life'), ['lifetime_over_max'], 'expiry beyond 90 days from now')
  t.same(checksOf(warnings, 'window'), ['lifetime_over_max'], 'validity window over 90 days')
  t.same(checksOf(warnings, 'anywhere'), ['allowed_anywhere'], 'anywhere, and not also wide')
  t.same(checksOf(warnings, 'wide'), ['wide_range'], 'wide ranges')
  t.match(warnings.find((warning) => warning.key_id === 'wide')?.message, /\(10\.0\.0\.0\/15, 2001:db8::\/31:/, 'lists only the ranges past the limits')
  t.same(checksOf(warnings, 'writer'), ['read_write_without_profile'], 'read-write without profile')
  t.same(checksOf(warnings, 'admin'), ['sensitive_allowed'], 'sensitive categories')
  t.same(checksOf(warnings, 'no-account'), ['missing_account_label'], 'missing account label')
  t.same(checksOf(warnings, 'example'), ['public_example_key'], 'public example key')
  t.same(checksOf(warnings, 'lapsed'), ['expired_not_revoked'], 'expired but not revoked')
  t.same(checksOf(warnings, 'revoked'), [], 'revoked keys are records')
  t.same(checksOf(warnings, 'unset-env'), ['upstream_variable_unset'], 'unset upstream variable')
  t.equal(status, 0, 'exit 0 without --strict')
  t.match(text, /warning: key "no-expiry" has no expiry/, 'text names the key')
  t.equal((await check(file, '--strict')).status, 1, 'exit 1 with --strict')
  t.same(checksOf((await check(file, '--max-lifetime', '400d')).warnings, 'long-life'), [], '--max-lifetime raises the limit')
})

t.test('a shared upstream key is fine only within a rotation', async (t) => {
  const file = policyFile(t,
    key('siem', { upstream_key: 'file:up.key', expires: '2026-12-05T00:00:00Z' }),
    key('siem-2', { upstream_key: 'file:up.key', replaces: 'siem' }),
    key('siem-3', { upstream_key: 'file:up.key', replaces: 'siem-2' }),
    key('soar', { upstream_key: 'file:up.key' }),
    key('alone', { upstream_key: 'file:other.key' }),
    key('gone', { upstream_key: 'file:other.key', revoked: '{ at: 2026-12-01T00:00:00Z, reason: left }' })
  )
  const { warnings } = await check(file)
  const shared = warnings.filter((warning) => warning.check === 'shared_upstream_key')
  t.same(shared.map((warning) => warning.key_id).sort(), ['siem', 'siem-2', 'siem-3', 'soar'], 'every key of the pair of families warned')
  t.match(shared.find((warning) => warning.key_id === 'siem')?.message, /"soar"/, 'siem is told about soar')
  t.notMatch(shared.find((warning) => warning.key_id === 'siem')?.message, /"siem-2"/, 'but not about its successor')
  t.match(shared.find((warning) => warning.key_id === 'soar')?.message, /"siem", "siem-2", "siem-3"/, 'soar is told about the whole family')
  t.same(checksOf(warnings, 'alone'), [], 'a revoked key does not share')
})

t.test('profile rules matching no route are warnings', async (t) => {
  const text = `version: 1\nprofiles:\n  custom:\n    rules: ["allow GET events/index", "allow GET evnts/view"]\nkeys:\n${key('k', { read_only: 'false', profile: 'custom' })}\n`
  const file = join(t.testdir({ 'policy.yaml': text }), 'policy.yaml')
  const { warnings } = await check(file)
  t.equal(warnings.length, 1, 'one warning')
  t.equal(warnings[0]?.check, 'unmatched_rule', 'unmatched rule')
  t.match(warnings[0]?.message, /evnts\/view/, 'quotes the rule')
})

t.test('--usage-db warns about long-unused keys', async (t) => {
  const file = policyFile(t, key('busy'), key('idle'), key('never'), key('denied-only'), key('lapsed', { expires: '2026-12-01T00:00:00Z' }))
  const path = join(dirname(file), 'usage.sqlite')
  const { db } = openWritable(path, NOW - 60 * DAY)
  const insert = db.prepare('INSERT INTO key_usage (key_id, first_used, last_used, last_allowed, last_write, allowed, denied, errors) VALUES (?, ?, ?, ?, NULL, 1, 0, 0)')
  insert.run('busy', NOW - 50 * DAY, NOW - DAY, NOW - DAY)
  insert.run('idle', NOW - 50 * DAY, NOW - 40 * DAY, NOW - 40 * DAY)
  db.prepare('INSERT INTO key_usage (key_id, first_used, last_used, last_allowed, last_write, allowed, denied, errors) VALUES (?, ?, ?, NULL, NULL, 0, 3, 0)').run('denied-only', NOW - 5 * DAY, NOW - DAY)
  db.close()

  const { warnings } = await check(file, '--usage-db', path)
  const unused = warnings.filter((warning) => warning.check === 'long_unused')
  t.same(unused.map((warning) => warning.key_id).sort(), ['denied-only', 'idle', 'never'], 'idle, never used and only denied')
  t.match(unused.find((warning) => warning.key_id === 'idle')?.message, /last forwarded request at 2026-10-25/, 'gives the last use')
  t.same((await check(file, '--usage-db', path, '--unused-days', '45')).warnings.filter((warning) => warning.check === 'long_unused').map((warning) => warning.key_id).sort(), ['denied-only', 'never'], '--unused-days widens the window')
  t.same((await check(file, '--usage-db', path, '--unused-days', '90')).warnings.filter((warning) => warning.check === 'long_unused').map((warning) => warning.key_id), [], 'a database younger than the window shows nothing for unused keys')

  const missing = await runCommand(runPolicyCheck, [file, '--usage-db', join(dirname(file), 'none.sqlite')], { now: NOW }).catch((error: unknown) => error as Error)
  t.match((missing as Error).message, /^--usage-db: /, 'a missing database is a usage error')
})

t.test('isWideRange draws the line at /16 and /32', async (t) => {
  t.equal(isWideRange('10.0.0.0/16'), false, 'IPv4 /16')
  t.equal(isWideRange('10.0.0.0/15'), true, 'IPv4 /15')
  t.equal(isWideRange('2001:db8::/32'), false, 'IPv6 /32')
  t.equal(isWideRange('2001:db8::/31'), true, 'IPv6 /31')
  t.equal(isWideRange('0.0.0.0/0'), false, 'anywhere has its own check')
})
