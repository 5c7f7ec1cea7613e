import type { Database } from 'better-sqlite3'

/** Rows deleted per statement, so a large first prune never holds the write lock for long. */
const CHUNK = 5_000

const DELETES = [
  'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? LIMIT ?)',
  `DELETE FROM hourly WHERE (key_id, hour, address, route, outcome) IN
    (SELECT key_id, hour, address, route, outcome FROM hourly WHERE hour < ? LIMIT ?)`,
  `DELETE FROM keyless_hourly WHERE (hour, address, reason) IN
    (SELECT hour, address, reason FROM keyless_hourly WHERE hour < ? LIMIT ?)`,
  `DELETE FROM key_addresses WHERE (key_id, address) IN
    (SELECT key_id, address FROM key_addresses WHERE last_seen < ? LIMIT ?)`
]

/**
 * Deletes events, hourly counts and source addresses last seen before `cutoff`, and
 * returns the number of rows deleted. Key totals are kept: they are one row per key.
 */
export function pruneBefore (db: Database, cutoff: number): number {
  let deleted = 0
  for (const sql of DELETES) {
    const statement = db.prepare<[number, number]>(sql)
    for (;;) {
      const { changes } = statement.run(cutoff, CHUNK)
      deleted += changes
      if (changes < CHUNK) break
    }
  }
  return deleted
}
