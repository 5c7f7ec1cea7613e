import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { openWritable } from '../src/usage/database.js'
import { openUsageReader, UsageDbError } from '../src/usage/reader.js'
import { SCHEMA_VERSION } from '../src/usage/schema.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')

t.test('openWritable creates directory and schema', async (t) => {
  const path = join(t.testdir(), 'nested', 'deeper', 'usage.sqlite')
  const { db } = openWritable(path, NOW)
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION, 'schema version set')
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal', 'WAL journal')
  db.close()

  const reader = openUsageReader(path)
  t.same(reader.allKeys(), [], 'no keys yet')
  t.equal(reader.createdAt(), NOW, 'creation time stored')
  reader.close()
})

t.test('openWritable migrates only once', async (t) => {
  const path = join(t.testdir(), 'usage.sqlite')
  openWritable(path, NOW).db.close()
  const { db } = openWritable(path, NOW + 1000)
  t.equal(db.prepare("SELECT value FROM meta WHERE name = 'created_at'").pluck().get(), String(NOW), 'created_at kept')
  t.equal(db.prepare("SELECT value FROM meta WHERE name = 'last_open'").pluck().get(), String(NOW + 1000), 'last_open updated')
  db.close()
})

t.test('openWritable rejects a path it cannot write', async (t) => {
  const dir = t.testdir({ 'a-file': 'not a directory' })
  const error = catchError(() => openWritable(join(dir, 'a-file', 'usage.sqlite'), NOW))
  t.ok(error instanceof UsageDbError, 'UsageDbError thrown')
  t.equal(error?.code, 'not_writable')
  t.match(error?.message, /--usage-db or KEYGATE_USAGE_DB/, 'message names the fix')
})

t.test('openWritable rejects a newer schema', async (t) => {
  const path = join(t.testdir(), 'usage.sqlite')
  const db = new Sqlite(path)
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
  db.close()
  const error = catchError(() => openWritable(path, NOW))
  t.equal(error?.code, 'schema_too_new')
  t.match(error?.message, /Upgrade misp-keygate/)
})

t.test('openUsageReader errors name the file', async (t) => {
  const dir = t.testdir({ 'text.sqlite': 'plain text, not SQLite' })
  const missing = catchError(() => openUsageReader(join(dir, 'missing.sqlite')))
  t.equal(missing?.code, 'not_found')
  t.match(missing?.message, /missing\.sqlite/)
  t.notOk(existsSync(join(dir, 'missing.sqlite')), 'the reader creates no file')
  const text = catchError(() => openUsageReader(join(dir, 'text.sqlite')))
  t.equal(text?.code, 'not_a_usage_db')
  const empty = join(dir, 'empty.sqlite')
  new Sqlite(empty).close()
  t.equal(catchError(() => openUsageReader(empty))?.code, 'not_a_usage_db', 'an empty SQLite file is not a usage database')
})

function catchError (fn: () => unknown): UsageDbError | undefined {
  try {
    fn()
  } catch (err) {
    return err as UsageDbError
  }
  return undefined
}
