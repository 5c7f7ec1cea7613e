import type { Database, Statement } from 'better-sqlite3'
import type { AddressRecord, EventQuery, EventRecord, HourlyRecord, KeyUsageRecord } from './records.js'

interface KeyRow {
  key_id: string
  first_used: number
  last_used: number
  last_allowed: number | null
  last_write: number | null
  allowed: number
  denied: number
  errors: number
  addresses: number
}

interface EventRow {
  time: number
  type: EventRecord['type']
  key_id: string
  address: string | null
  method: string | null
  route: string | null
  status: number | null
  request_id: string | null
  outcome: EventRecord['outcome'] | null
  reason: string | null
  category: string | null
}

const KEY_COLUMNS = `k.key_id, k.first_used, k.last_used, k.last_allowed, k.last_write, k.allowed, k.denied, k.errors,
  (SELECT count(*) FROM key_addresses a WHERE a.key_id = k.key_id) AS addresses`

/** The read queries of the usage database, prepared once per connection. */
export class UsageQueries {
  readonly #db: Database
  readonly #allKeys: Statement<[], KeyRow>
  readonly #oneKey: Statement<[string], KeyRow>
  readonly #addresses: Statement<[string], AddressRecord>
  readonly #hourly: Statement<[string, number, number], HourlyRecord>
  readonly #meta: Statement<[string], { value: string }>

  constructor (db: Database) {
    this.#db = db
    this.#allKeys = db.prepare(`SELECT ${KEY_COLUMNS} FROM key_usage k ORDER BY k.key_id`)
    this.#oneKey = db.prepare(`SELECT ${KEY_COLUMNS} FROM key_usage k WHERE k.key_id = ?`)
    this.#addresses = db.prepare(`SELECT key_id AS keyId, address, first_seen AS firstSeen, last_seen AS lastSeen, allowed, denied
      FROM key_addresses WHERE key_id = ? ORDER BY last_seen DESC, address`)
    this.#hourly = db.prepare(`SELECT key_id AS keyId, hour, address, route, kind, outcome, requests
      FROM hourly WHERE key_id = ? AND hour >= ? AND hour < ? ORDER BY hour, address, route, outcome`)
    this.#meta = db.prepare('SELECT value FROM meta WHERE name = ?')
  }

  /** Usage of every key the database has seen, by key id. */
  allKeys (): KeyUsageRecord[] {
    return this.#allKeys.all().map(keyRecord)
  }

  key (keyId: string): KeyUsageRecord | undefined {
    const row = this.#oneKey.get(keyId)
    return row === undefined ? undefined : keyRecord(row)
  }

  /** The key's source addresses, most recently seen first. */
  addresses (keyId: string): AddressRecord[] {
    return this.#addresses.all(keyId)
  }

  /** Hourly request counts of hours starting in [since, until), rounded down to the hour. */
  hourly (keyId: string, since: number, until: number): HourlyRecord[] {
    return this.#hourly.all(keyId, Math.floor(since / HOUR_MS) * HOUR_MS, until)
  }

  events (query: EventQuery): EventRecord[] {
    const { where, values } = eventFilter(query)
    const order = query.newestFirst === true ? 'DESC' : 'ASC'
    const sql = `SELECT time, type, key_id, address, method, route, status, request_id, outcome, reason, category FROM events
      ${where} ORDER BY time ${order}, id ${order} ${query.limit === undefined ? '' : `LIMIT ${Math.trunc(query.limit)}`}`
    return (this.#db.prepare(sql).all(...values) as EventRow[]).map(eventRecord)
  }

  /** Counts the events that match, by reason (null for events without one). */
  countEventsByReason (query: EventQuery): Map<string | null, number> {
    const { where, values } = eventFilter(query)
    const rows = this.#db.prepare(`SELECT reason, count(*) AS count FROM events ${where} GROUP BY reason`).all(...values) as Array<{ reason: string | null, count: number }>
    return new Map(rows.map((row) => [row.reason, row.count]))
  }

  /** When the database was created: how far back its records can reach. */
  createdAt (): number {
    return Number(this.#meta.get('created_at')?.value)
  }
}

export const HOUR_MS = 3_600_000

function eventFilter (query: EventQuery): { where: string, values: Array<string | number> } {
  const conditions: string[] = []
  const values: Array<string | number> = []
  if (query.keyId !== undefined) { conditions.push('key_id = ?'); values.push(query.keyId) }
  if (query.since !== undefined) { conditions.push('time >= ?'); values.push(query.since) }
  if (query.until !== undefined) { conditions.push('time < ?'); values.push(query.until) }
  if (query.types !== undefined) { conditions.push(`type IN (${query.types.map(() => '?').join(', ')})`); values.push(...query.types) }
  return { where: conditions.length === 0 ? '' : 'WHERE ' + conditions.join(' AND '), values }
}

function keyRecord (row: KeyRow): KeyUsageRecord {
  return {
    keyId: row.key_id,
    firstUsed: row.first_used,
    lastUsed: row.last_used,
    lastAllowed: row.last_allowed ?? undefined,
    lastWrite: row.last_write ?? undefined,
    allowed: row.allowed,
    denied: row.denied,
    errors: row.errors,
    addresses: row.addresses
  }
}

function eventRecord (row: EventRow): EventRecord {
  return {
    time: row.time,
    type: row.type,
    keyId: row.key_id,
    address: row.address ?? undefined,
    method: row.method ?? undefined,
    route: row.route ?? undefined,
    status: row.status ?? undefined,
    requestId: row.request_id ?? undefined,
    outcome: row.outcome ?? undefined,
    reason: row.reason ?? undefined,
    category: row.category ?? undefined
  }
}
