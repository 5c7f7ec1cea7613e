import type { Database } from 'better-sqlite3'
import { openReadOnly } from './database.js'
import { UsageQueries } from './queries.js'

export { UsageDbError } from './errors.js'
export type { AddressRecord, EventQuery, EventRecord, HourlyRecord, KeyUsageRecord } from './records.js'

/** Read-only access to a usage database, for commands that run beside the proxy. */
export class UsageReader extends UsageQueries {
  readonly #db: Database

  constructor (db: Database) {
    super(db)
    this.#db = db
  }

  close (): void {
    this.#db.close()
  }
}

/**
 * Opens the usage database at `path` read-only, on the calling thread: for the CLI, never
 * for the proxy. Throws UsageDbError when the file is missing or not a usage database of
 * this schema version. The proxy may keep writing while the reader is open.
 */
export function openUsageReader (path: string): UsageReader {
  return new UsageReader(openReadOnly(path))
}
