import { join } from 'node:path'
import t from 'tap'
import { runReview } from '../src/commands/review.js'
import { digestKey } from '../src/digest.js'
import { runCommand } from './helpers/command.js'
import { deniedEvent, usageEvent, writeUsageDb } from './helpers/usage-db.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const DAY = 86_400_000
/** The records start 90 days before NOW: long enough to call a key unused for 30 days. */
const RECORDS_START = NOW - 90 * DAY

/** A key that passes every check; `fields` replace or add YAML lines (undefined removes one). */
function key (id: string, fields: Record<string, string | undefined> = {}): string {
  const lines = Object.entries({
    id,
    owner: 'soc@example.org',
    purpose: 'Indicator pull for the SIEM',
    hash: digestKey(`key ${id}`),
    allowed_ips: '[127.0.0.1]',
    expires: '2027-01-31T00:00:00Z',
    read_only: 'true',
    labels: `{ account: svc-${id} }`,
    ...fields
  }).filter(([, value]) => value !== undefined).map(([name, value]) => `${name}: ${value ?? ''}`)
  return lines.map((line, index) => (index === 0 ? '  - ' : '    ') + line).join('\n')
}

interface Fixture {
  readonly policy: string
  readonly db: string
}

function fixture (t: { testdir: (files: Record<string, string>) => string }, keys: readonly string[], events: Parameters<typeof writeUsageDb>[2]): Fixture {
  const dir = t.testdir({ 'policy.yaml': `version: 1\nkeys:\n${keys.join('\n')}\n` })
  const db = join(dir, 'usage.sqlite')
  writeUsageDb(db, RECORDS_START, events)
  return { policy: join(dir, 'policy.yaml'), db }
}

interface JsonRow {
  key_id: string
  severity: string
  checks: Record<string, { severity: string, message: string }>
}

async function review (f: Fixture, ...args: string[]): Promise<{ status: number, rows: Map<string, JsonRow>, table: string }> {
  const common = ['--policy', f.policy, '--usage-db', f.db]
  const json = await runCommand(runReview, [...common, '--format', 'json', ...args], { now: NOW })
  const table = await runCommand(runReview, [...common, ...args], { now: NOW })
  t.equal(table.status, json.status, 'both formats exit alike')
  const rows = (JSON.parse(json.stdout) as { keys: JsonRow[] }).keys
  return { status: json.status, rows: new Map(rows.map((row) => [row.key_id, row])), table: table.stdout }
}

/** Severity of each check that is neither ok nor not applicable. */
function findings (row: JsonRow | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(row?.checks ?? {}).filter(([, check]) => check.severity === 'warning' || check.severity === 'critical').map(([name, check]) => [name, check.severity]))
}

const recent = (keyId: string, fields = {}): ReturnType<typeof usageEvent> => usageEvent(keyId, NOW - DAY, fields)

t.test('review rows for a fixture policy', async (t) => {
  const f = fixture(t, [
    key('clean'),
    key('idle'),
    key('never-used'),
    key('rw-reader', { read_only: 'false', profile: 'search' }),
    key('rw-writer', { read_only: 'false', profile: 'ingest' }),
    key('leaked'),
    key('busy', { allowed_ips: '[127.0.0.0/24]' }),
    key('anywhere', { allowed_ips: '[0.0.0.0/0, "::/0"]' }),
    key('wide', { allowed_ips: '[10.0.0.0/8, 127.0.0.1]' }),
    key('expiring', { expires: '2026-12-09T00:00:00Z' }),
    key('forever', { expires: undefined }),
    key('too-long', { expires: '2027-12-31T00:00:00Z' }),
    key('revoked-tried', { revoked: '{ at: 2026-11-20T00:00:00Z, reason: leaked in a CI log }' }),
    key('expired-quiet', { expires: '2026-11-01T00:00:00Z' }),
    key('old-gen'),
    key('new-gen', { replaces: 'old-gen' }),
    key('team-a', { labels: '{ account: svc-shared }' }),
    key('team-b', { labels: '{ account: svc-shared }' }),
    key('placeholder', { purpose: 'TODO', labels: undefined })
  ], [
    recent('clean'),
    usageEvent('idle', NOW - 45 * DAY),
    recent('rw-reader', { method: 'POST', route: 'events/restsearch' }),
    recent('rw-writer', { method: 'POST', route: 'events/add', routeKind: 'write' }),
    recent('leaked'),
    deniedEvent('leaked', NOW - DAY, 'ip_not_allowed', 403, { address: '203.0.113.9', route: undefined, routeKind: undefined }),
    ...['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => recent('busy', { address })),
    recent('anywhere'), recent('wide'), recent('expiring'), recent('forever'), recent('too-long'),
    usageEvent('revoked-tried', NOW - 20 * DAY),
    deniedEvent('revoked-tried', NOW - 2 * DAY, 'revoked_key', 401, { address: '198.51.100.4' }),
    deniedEvent('revoked-tried', NOW - DAY, 'revoked_key', 401, { address: '198.51.100.5' }),
    usageEvent('new-gen', NOW - 3 * DAY),
    usageEvent('old-gen', NOW - DAY),
    recent('team-a'), recent('team-b'), recent('placeholder')
  ])
  const { rows, status, table } = await review(f)
  t.equal(status, 0, 'exit 0 without --fail-on')

  const expected: Record<string, Record<string, string>> = {
    clean: {},
    idle: { in_use: 'warning' },
    'never-used': { in_use: 'warning' },
    'rw-reader': { read_only: 'warning' },
    'rw-writer': {},
    leaked: { not_shared: 'critical' },
    busy: { not_shared: 'warning' },
    anywhere: { restricted: 'warning' },
    wide: { restricted: 'warning' },
    expiring: { ephemeral: 'warning' },
    forever: { ephemeral: 'warning' },
    'too-long': { ephemeral: 'warning' },
    'revoked-tried': { in_use: 'critical' },
    'expired-quiet': { ephemeral: 'warning' },
    'old-gen': {},
    'new-gen': { rotation: 'warning' },
    'team-a': { account: 'warning' },
    'team-b': { account: 'warning' },
    placeholder: { documented: 'warning', account: 'warning' }
  }
  t.same([...rows.keys()], Object.keys(expected), 'one row per key, in policy order')
  for (const [id, checks] of Object.entries(expected)) {
    t.same(findings(rows.get(id)), checks, `findings of ${id}`)
  }
  t.equal(rows.get('leaked')?.severity, 'critical')
  t.equal(rows.get('clean')?.severity, 'ok')
  t.match(rows.get('leaked')?.checks.not_shared?.message, /203\.0\.113\.9/, 'names the outside address')
  t.match(rows.get('revoked-tried')?.checks.in_use?.message, /presented 2 time\(s\) since it was revoked.*from 198\.51\.100\.5/, 'counts attempts after revocation')
  t.match(rows.get('idle')?.checks.in_use?.message, /unused for 45 days/)
  t.match(rows.get('new-gen')?.checks.rotation?.message, /replaces "old-gen", which is still in use/)
  t.match(rows.get('rw-writer')?.checks.read_only, { severity: 'info', message: /last write/ })

  const lines = table.split('\n')
  const pathLines = /^(Policy|Usage records): /
  t.same(lines.filter((line) => line.length > 100 && !pathLines.test(line)), [], 'every line but the file names fits 100 columns')
  t.match(table, /^leaked +\d{4}-\d{2}-\d{2} +2 in 58d +ok +ok +ro +ok +ok +CRIT +ok +- +CRITICAL$/m, 'the leaked row')
  t.match(table, /^never-used +never +0 /m, 'a key never used')
  t.match(table, /^revoked-tried +2026-11-14 +3 revoked +- +- +- +- +- +- +CRIT +- +CRITICAL$/m, 'a revoked key: only attempts after revocation count')
  t.match(table, /^ {6}misp-keygate keys revoke idle --reason unused$/m, 'a command is never split across lines')
  t.match(table, /^19 key\(s\): 3 ok, 14 with warnings, 2 critical$/m, 'summary')
})

t.test('review: expiring key with a successor', async (t) => {
  const f = fixture(t, [
    key('siem-pull', { expires: '2026-12-05T12:00:00Z' }),
    key('siem-pull-2', { replaces: 'siem-pull' }),
    key('lone', { expires: '2026-12-05T12:00:00Z' }),
    key('revoked-successor-of', { expires: '2026-12-05T12:00:00Z' }),
    key('gone', { replaces: 'revoked-successor-of', revoked: '{ at: 2026-12-01T00:00:00Z, reason: test }' })
  ], [])
  const { rows } = await review(f)
  const message = (id: string): string | undefined => rows.get(id)?.checks.ephemeral?.message
  t.match(message('siem-pull'), /Successor "siem-pull-2" exists: move the integration, then revoke: misp-keygate keys revoke siem-pull/, 'advises revoking, not rotating')
  t.notMatch(message('siem-pull'), /keys rotate/, 'no second rotation advised')
  t.match(message('lone'), /Rotate it: misp-keygate keys rotate lone/, 'a key without a successor is still told to rotate')
  t.match(message('revoked-successor-of'), /Rotate it: misp-keygate keys rotate/, 'a revoked successor does not count')
})

t.test('review exit codes follow --fail-on', async (t) => {
  const withCritical = fixture(t, [key('clean'), key('leaked')], [
    recent('clean'), deniedEvent('leaked', NOW - DAY, 'ip_not_allowed', 403, { address: '203.0.113.9' })
  ])
  t.equal((await review(withCritical, '--fail-on', 'critical')).status, 1, 'critical fails --fail-on critical')
  t.equal((await review(withCritical, '--fail-on', 'warning')).status, 1, 'critical fails --fail-on warning')

  const withWarning = fixture(t, [key('clean'), key('forever', { expires: undefined })], [recent('clean'), recent('forever')])
  t.equal((await review(withWarning, '--fail-on', 'critical')).status, 0, 'a warning passes --fail-on critical')
  t.equal((await review(withWarning, '--fail-on', 'warning')).status, 1, 'a warning fails --fail-on warning')
  t.equal((await review(withWarning)).status, 0, 'no --fail-on: exit 0')

  const clean = fixture(t, [key('clean')], [recent('clean')])
  t.equal((await review(clean, '--fail-on', 'warning')).status, 0, 'a clean policy passes')
})

t.test('review options change the thresholds', async (t) => {
  const f = fixture(t, [key('idle'), key('busy', { allowed_ips: '[127.0.0.0/24]' }), key('wide', { allowed_ips: '[10.0.0.0/20, 127.0.0.1]' })], [
    usageEvent('idle', NOW - 10 * DAY),
    ...['127.0.0.1', '127.0.0.2'].map((address) => recent('busy', { address })),
    recent('wide')
  ])
  const defaults = await review(f)
  t.same(findings(defaults.rows.get('idle')), {}, '10 days is not unused by default')
  t.same(findings(defaults.rows.get('busy')), {}, 'two addresses are not many by default')
  t.same(findings(defaults.rows.get('wide')), {}, '/20 is not wide by default')
  const strict = await review(f, '--unused-days', '7', '--max-addresses', '1', '--min-ipv4-prefix', '24')
  t.same(findings(strict.rows.get('idle')), { in_use: 'warning' })
  t.same(findings(strict.rows.get('busy')), { not_shared: 'warning' })
  t.same(findings(strict.rows.get('wide')), { restricted: 'warning' })
})

t.test('review rejects bad arguments', async (t) => {
  const f = fixture(t, [key('clean')], [])
  await t.rejects(review(f, '--fail-on', 'info'), { name: 'UsageError', message: /--fail-on "info"/ })
  await t.rejects(review(f, '--unused-days', 'soon'), { name: 'UsageError', message: /--unused-days "soon"/ })
  await t.rejects(runCommand(runReview, ['--policy', f.policy, '--usage-db', join(f.db, '..', 'missing.sqlite')], { now: NOW }), { name: 'UsageError', message: /No usage database at/ })
})
