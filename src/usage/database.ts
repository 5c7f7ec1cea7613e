import { mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Sqlite, { type Database } from 'better-sqlite3'
import { errorCode, UsageDbError } from './errors.js'
import { migrate, schemaVersion, SCHEMA_VERSION } from './schema.js'

/** The default of --usage-db, relative to the working directory. */
export const DEFAULT_USAGE_DB = './data/usage.sqlite'
/** SQLite's name for a database that lives in memory as long as its connection. */
export const IN_MEMORY = ':memory:'

/** Milliseconds a write waits for another connection's lock before it fails with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 2_000

/** Identity of the file a connection opened, to notice the file being deleted or replaced. */
export interface FileIdentity {
  readonly dev: number
  readonly ino: number
}

/**
 * Opens the usage database for writing: creates the directory and the file when missing,
 * applies the migrations and writes one row, so a path that cannot be written fails here.
 */
export function openWritable (path: string, now: number, createDirectory = true): { db: Database, file: FileIdentity | undefined } {
  const absolute = path === IN_MEMORY ? path : resolve(path)
  if (createDirectory && path !== IN_MEMORY) makeDirectory(absolute)
  let db: Database | undefined
  try {
    db = new Sqlite(absolute, { timeout: BUSY_TIMEOUT_MS })
    // WAL lets the review and incident commands read while the proxy writes.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    migrate(db, absolute, now)
    db.prepare("INSERT INTO meta (name, value) VALUES ('last_open', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value").run(String(now))
    return { db, file: fileIdentity(absolute) }
  } catch (err) {
    db?.close()
    if (err instanceof UsageDbError) throw err
    throw new UsageDbError('not_writable',
      `Cannot write the usage database "${absolute}" (${errorCode(err)}: ${(err as Error).message}). Choose a writable file with --usage-db or KEYGATE_USAGE_DB, or fix the permissions of its directory.`,
      { cause: err })
  }
}

/** Opens an existing usage database read-only, for the review and incident reports. */
export function openReadOnly (path: string): Database {
  const absolute = resolve(path)
  if (fileIdentity(absolute) === undefined) {
    throw new UsageDbError('not_found',
      `No usage database at "${absolute}". Pass the file that serve writes with --usage-db or KEYGATE_USAGE_DB (serve's default is ${DEFAULT_USAGE_DB}).`)
  }
  let db: Database
  try {
    db = new Sqlite(absolute, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
  } catch (err) {
    throw new UsageDbError('cannot_open', `Cannot open the usage database "${absolute}" (${errorCode(err)}: ${(err as Error).message}).`, { cause: err })
  }
  checkReadableSchema(db, absolute)
  return db
}

function checkReadableSchema (db: Database, path: string): void {
  let version: number
  try {
    version = schemaVersion(db)
  } catch (err) {
    db.close()
    throw new UsageDbError('not_a_usage_db', `"${path}" is not a SQLite database (${errorCode(err)}). Pass the file that serve writes with --usage-db.`, { cause: err })
  }
  if (version === SCHEMA_VERSION) return
  db.close()
  if (version > SCHEMA_VERSION) {
    throw new UsageDbError('schema_too_new', `The usage database "${path}" has schema version ${version}, newer than version ${SCHEMA_VERSION} that this misp-keygate knows. Upgrade misp-keygate.`)
  }
  throw new UsageDbError('not_a_usage_db',
    `The usage database "${path}" has schema version ${version}, not ${SCHEMA_VERSION}: it is not a misp-keygate usage database, or serve has not run on it with this version yet.`)
}

function makeDirectory (absolute: string): void {
  try {
    mkdirSync(dirname(absolute), { recursive: true })
  } catch (err) {
    throw new UsageDbError('not_writable',
      `Cannot create the directory of the usage database "${absolute}" (${(err as Error).message}). Choose a writable file with --usage-db or KEYGATE_USAGE_DB.`, { cause: err })
  }
}

/** Returns the device and inode of the file, or undefined when it does not exist. */
export function fileIdentity (path: string): FileIdentity | undefined {
  try {
    const stat = statSync(path)
    return { dev: stat.dev, ino: stat.ino }
  } catch {
    return undefined
  }
}
