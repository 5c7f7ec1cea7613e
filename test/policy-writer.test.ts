import { spawnSync } from 'node:child_process'
import { chmod, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { digestKey } from '../src/digest.js'
import { loadPolicy } from '../src/policy/load.js'
import { addKey, editPolicy, PolicyWriteError, revokeKey, setExpiry, type NewKey, type PolicyWriteErrorCode } from '../src/policy/writer.js'

type Test = Pick<typeof t, 'ok' | 'type' | 'equal' | 'fail' | 'testdir'>

const NOW = Date.parse('2026-12-04T12:00:00Z')
const EXAMPLE = readFileSync(new URL('../config/policy.example.yaml', import.meta.url), 'utf8')
const ENV = { MISP_KEY_INGEST: 'IngestUpstreamKey0000000000000000000000' }

function newKey (id: string, fields: Partial<NewKey> = {}): NewKey {
  return {
    id,
    owner: 'soc@example.org',
    purpose: `Test key ${id}`,
    hash: digestKey(`key of ${id}`),
    allowedIps: ['192.0.2.10', '2001:db8::/48'],
    expires: Date.parse('2027-01-03T12:00:00Z'),
    readOnly: true,
    ...fields
  }
}

function policyDir (t: Test, text = EXAMPLE): string {
  return join(t.testdir({ 'policy.yaml': text }), 'policy.yaml')
}

/** Asserts that every line of `before` is in `after`, in the same order. */
function assertLinesKept (t: Test, before: string, after: string): void {
  const lines = after.split('\n')
  let index = 0
  for (const line of before.split('\n')) {
    const found = lines.indexOf(line, index)
    t.ok(found >= 0, `line kept in order: ${JSON.stringify(line)}`)
    if (found >= 0) index = found + 1
  }
}

async function expectWriteError (t: Test, work: Promise<unknown>, code: PolicyWriteErrorCode): Promise<PolicyWriteError | undefined> {
  try {
    await work
  } catch (error) {
    t.type(error, PolicyWriteError, 'a PolicyWriteError')
    t.equal((error as PolicyWriteError).code, code, `code: ${(error as Error).message}`)
    return error as PolicyWriteError
  }
  t.fail(`no error, expected ${code}`)
  return undefined
}

t.test('addKey keeps every line of the example and appends the key', async (t) => {
  const file = policyDir(t)
  const policy = await addKey(file, newKey('siem-new', { labels: { account: 'svc-new', ticket: '123' }, upstreamKey: 'env:MISP_KEY_INGEST' }), { now: NOW, env: ENV })
  const text = await readFile(file, 'utf8')

  t.ok(text.startsWith(EXAMPLE.trimEnd()), 'the original text is untouched up to the new entry')
  assertLinesKept(t, EXAMPLE, text)
  t.match(text, /read_only: true\n\n {2}- id: siem-new\n {4}owner: soc@example.org\n/, 'entry follows a blank line, as the others do')
  t.match(text, /allowed_ips: \[192\.0\.2\.10, 2001:db8::\/48\]/, 'addresses as a flow list')
  t.match(text, /labels: \{ account: svc-new, ticket: "123" \}/, 'labels as a flow mapping, the number-like value quoted')
  const key = policy.keys.find((entry) => entry.id === 'siem-new')
  t.equal(key?.hash, digestKey('key of siem-new'), 'hash loaded')
  t.equal(key?.expires, Date.parse('2027-01-03T12:00:00Z'), 'expiry loaded')
  t.same(key?.labels, { account: 'svc-new', ticket: '123' }, 'labels loaded')
  t.equal((await loadPolicy(file, { now: NOW, env: ENV })).keys.length, 4, 'the file loads with four keys')
})

t.test('addKey fills an empty keys list', async (t) => {
  const file = policyDir(t, '# header comment\nversion: 1\nkeys: []  # none yet\n')
  await addKey(file, newKey('first'), { now: NOW })
  await addKey(file, newKey('second'), { now: NOW })
  const text = await readFile(file, 'utf8')
  t.match(text, /^# header comment\nversion: 1\nkeys:\n {2}- id: first\n/, 'a block list replaces []')
  t.match(text, /# none yet/, 'the comment after [] is kept')
  t.same((await loadPolicy(file, { now: NOW, env: {} })).keys.map((key) => key.id), ['first', 'second'], 'both keys load in order')
})

t.test('addKey quotes text that YAML would misread', async (t) => {
  const file = policyDir(t, 'version: 1\nkeys: []\n')
  const owner = 'soc: #1 team'
  const purpose = 'yes'
  const policy = await addKey(file, newKey('quoted', { owner, purpose, labels: { 'odd key': 'true', account: 'a, b' } }), { now: NOW })
  const key = policy.keys[0]
  t.equal(key?.owner, owner, 'owner with colon and hash reads back')
  t.equal(key?.purpose, purpose, 'a YAML 1.1 boolean word reads back as text')
  t.same(key?.labels, { 'odd key': 'true', account: 'a, b' }, 'labels read back')
})

t.test('addKey rejects an existing id and leaves the file alone', async (t) => {
  const file = policyDir(t)
  const error = await expectWriteError(t, addKey(file, newKey('siem-pull'), { now: NOW, env: ENV }), 'key_exists')
  t.equal(error?.keyId, 'siem-pull', 'names the key')
  t.equal(error?.field, 'id', 'names the field')
  t.match(error?.message ?? '', file, 'names the file')
  t.equal(await readFile(file, 'utf8'), EXAMPLE, 'file unchanged')
})

t.test('an edit that would not load is not written', async (t) => {
  const file = policyDir(t)
  const error = await expectWriteError(t, addKey(file, newKey('bad-range', { allowedIps: ['10.1.2.3/8'] }), { now: NOW, env: ENV }), 'invalid_result')
  t.equal(error?.keyId, 'bad-range', 'names the key')
  t.equal(error?.field, 'allowed_ips[0]', 'names the field')
  t.match(error?.message ?? '', /10\.0\.0\.0\/8/, 'gives the loader\'s fix')
  t.equal(await readFile(file, 'utf8'), EXAMPLE, 'file unchanged')

  const duplicate = await expectWriteError(t, addKey(file, newKey('same-hash', { hash: digestKey('ExampleSiemPullKeyDoNotUseInProduction01') }), { now: NOW, env: ENV }), 'invalid_result')
  t.match(duplicate?.message ?? '', /same as the hash of key "siem-pull"/, 'a reused key is refused')
})

t.test('revokeKey adds revoked and keeps trailing comments', async (t) => {
  const source = 'version: 1\nkeys:\n  - id: a  # the first\n    owner: o\n    purpose: p\n' +
    `    hash: ${digestKey('a')}\n    allowed_ips: [192.0.2.1]\n    read_only: true   # keep me\n  # about b\n  - id: b\n    owner: o\n    purpose: p\n    hash: ${digestKey('b')}\n    allowed_ips: [192.0.2.2]\n`
  const file = policyDir(t, source)
  const policy = await revokeKey(file, 'a', 'leaked in CI log', NOW + 1500)
  const text = await readFile(file, 'utf8')
  t.match(text, /read_only: true {3}# keep me\n {4}revoked:\n {6}at: 2026-12-04T12:00:01Z\n {6}reason: leaked in CI log\n {2}# about b\n/, 'revoked added under the last field, before the next entry\'s comment')
  t.same(policy.keys[0]?.revoked, { at: Date.parse('2026-12-04T12:00:01Z'), reason: 'leaked in CI log' }, 'loaded revocation')
  t.equal(policy.keys[1]?.revoked, undefined, 'the other key is untouched')
  assertLinesKept(t, source, text)

  const again = await expectWriteError(t, revokeKey(file, 'a', 'again', NOW + 5000), 'already_revoked')
  t.equal(again?.field, 'revoked', 'names the field')
  t.match(again?.message ?? '', /leaked in CI log/, 'shows the first reason')
  await expectWriteError(t, revokeKey(file, 'missing', 'x', NOW), 'key_not_found')
})

t.test('setExpiry replaces the value and keeps its comment', async (t) => {
  const file = policyDir(t)
  await setExpiry(file, 'siem-pull', Date.parse('2027-01-01T00:00:00.750Z'), { now: NOW, env: ENV })
  await setExpiry(file, 'misp-ingest', Date.parse('2026-12-24T00:00:00Z'), { now: NOW, env: ENV })
  const text = await readFile(file, 'utf8')
  t.match(text, /\n {4}expires: 2027-01-01T00:00:00Z\n {4}read_only: true\n {4}labels: \{ account: svc-siem, ticket: SEC-1042 \}/, 'siem-pull expiry replaced in place')
  t.match(text, /expires: 2026-12-24T00:00:00Z\n/, 'misp-ingest expiry replaced')
  t.equal(text.split('\n').length, EXAMPLE.split('\n').length, 'no line added or removed')

  const withComment = policyDir(t, `version: 1\nkeys:\n  - id: a\n    owner: o\n    purpose: p\n    hash: ${digestKey('a')}\n    allowed_ips: [192.0.2.1]\n    expires: 2027-06-30T00:00:00Z # end of contract\n`)
  await setExpiry(withComment, 'a', Date.parse('2027-01-31T00:00:00Z'), { now: NOW })
  t.match(await readFile(withComment, 'utf8'), /expires: 2027-01-31T00:00:00Z # end of contract\n$/, 'same-line comment kept')
})

t.test('edits a key written as a flow mapping', async (t) => {
  const file = policyDir(t, `version: 1\nkeys:\n  - { id: a, owner: o, purpose: p, hash: "${digestKey('a')}", allowed_ips: [192.0.2.1] }\n`)
  const policy = await revokeKey(file, 'a', 'rotated', NOW)
  t.equal(policy.keys[0]?.revoked?.reason, 'rotated', 'revocation loaded')
  t.match(await readFile(file, 'utf8'), /allowed_ips: \[192\.0\.2\.1\], revoked: \{ at: 2026-12-04T12:00:00Z, reason: rotated \} \}/, 'added inside the braces')
})

t.test('writes keep the file mode and go through a symbolic link', async (t) => {
  const dir = t.testdir({ real: { 'policy.yaml': EXAMPLE } })
  const real = join(dir, 'real', 'policy.yaml')
  const link = join(dir, 'policy.yaml')
  await symlink(real, link)
  await chmod(real, 0o640)
  await addKey(link, newKey('via-link'), { now: NOW, env: ENV })
  t.equal((await stat(real)).mode & 0o777, 0o640, 'mode kept')
  t.ok((await stat(link, {})).isFile(), 'link still resolves')
  t.match(await readFile(real, 'utf8'), /id: via-link/, 'the real file was written')
  t.equal(spawnSync('ls', ['-A', join(dir, 'real')], { encoding: 'utf8' }).stdout.trim(), 'policy.yaml', 'no temporary or lock file left')
})

t.test('an unset env: variable does not block an edit', async (t) => {
  const file = policyDir(t)
  const policy = await addKey(file, newKey('plain'), { now: NOW, env: {} })
  t.equal(policy.keys.length, 4, 'written although MISP_KEY_INGEST is not set here')
})

t.test('invalid YAML is reported with its line', async (t) => {
  const file = policyDir(t, 'version: 1\nkeys:\n  - id: a\n    owner: [o\n')
  const error = await expectWriteError(t, addKey(file, newKey('b'), { now: NOW }), 'unreadable')
  t.match(error?.message ?? '', /line \d+, column \d+/, 'gives the place')
})

t.test('a missing file says how to create one', async (t) => {
  const error = await expectWriteError(t, addKey(join(t.testdir(), 'none.yaml'), newKey('b'), { now: NOW }), 'unreadable')
  t.match(error?.message ?? '', /keys: \[\]/, 'shows an empty policy')
})

t.test('a change by another program during the edit is not overwritten', async (t) => {
  const file = policyDir(t)
  await expectWriteError(t, editPolicy(file, async (editor) => {
    editor.addKey({ id: 'x', owner: 'o', purpose: 'p', hash: digestKey('x'), allowed_ips: ['192.0.2.1'] })
    await writeFile(file, EXAMPLE + '# edited by hand\n')
  }, { now: NOW, env: ENV }), 'changed_during_edit')
  t.equal(await readFile(file, 'utf8'), EXAMPLE + '# edited by hand\n', 'the other change survives')
})

t.test('edits at the same time are all kept', async (t) => {
  const file = policyDir(t)
  const ids = Array.from({ length: 8 }, (_, index) => `parallel-${index}`)
  await Promise.all(ids.map(async (id) => await addKey(file, newKey(id), { now: NOW, env: ENV })))
  const loaded = await loadPolicy(file, { now: NOW, env: ENV })
  t.same(loaded.keys.map((key) => key.id).filter((id) => id.startsWith('parallel-')).sort(), ids, 'every key present')
})

t.test('a live lock makes the edit wait, then fail naming the holder', async (t) => {
  const file = policyDir(t)
  await writeFile(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'other', since: NOW }))
  const error = await expectWriteError(t, addKey(file, newKey('late'), { now: NOW, env: ENV, lockWaitMs: 200 }), 'locked')
  t.match(error?.message ?? '', `process ${process.pid}`, 'names the process')
  t.match(error?.message ?? '', `${file}.lock`, 'names the lock file to delete')
  t.equal(await readFile(file, 'utf8'), EXAMPLE, 'file unchanged')
  t.ok((await stat(`${file}.lock`)).isFile(), 'the other lock is left in place')
})

t.test('a stale lock is taken over', async (t) => {
  const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  const deadPid = Number(exited.stdout)
  const file = policyDir(t)
  await writeFile(`${file}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), token: 'dead', since: NOW }))
  await addKey(file, newKey('after-dead'), { now: NOW, env: ENV, lockWaitMs: 2000 })
  t.match(await readFile(file, 'utf8'), /id: after-dead/, 'lock of an exited process taken over')

  await writeFile(`${file}.lock`, '')
  const old = new Date(Date.now() - 60_000)
  await utimes(`${file}.lock`, old, old)
  await addKey(file, newKey('after-empty'), { now: NOW, env: ENV, lockWaitMs: 2000 })
  t.match(await readFile(file, 'utf8'), /id: after-empty/, 'an old empty lock file taken over')

  await writeFile(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'old', since: NOW }))
  const ancient = new Date(Date.now() - 11 * 60_000)
  await utimes(`${file}.lock`, ancient, ancient)
  await addKey(file, newKey('after-old'), { now: NOW, env: ENV, lockWaitMs: 2000 })
  t.match(await readFile(file, 'utf8'), /id: after-old/, 'a lock older than ten minutes taken over')
})
