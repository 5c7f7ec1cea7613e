import type { Database, Statement } from 'better-sqlite3'
import { unpackBatch, type AddressDelta, type Batch, type EventDelta, type FirstRequest, type KeyDelta } from './batch.js'

/** A source address seen for the first time with a key. */
export interface NewAddress {
  readonly keyId: string
  readonly address: string
  readonly time: number
  readonly requestId: string
}

export interface FlushResult {
  readonly newAddresses: NewAddress[]
  /** Distinct addresses recorded, for each key of the batch. */
  readonly addressCounts: Array<[string, number]>
}

type Params = Array<string | number | null>

const UPSERT_KEY = `INSERT INTO key_usage (key_id, first_used, last_used, last_allowed, last_write, allowed, denied, errors)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (key_id) DO UPDATE SET
    first_used = min(first_used, excluded.first_used),
    last_used = max(last_used, excluded.last_used),
    last_allowed = max(coalesce(last_allowed, excluded.last_allowed), coalesce(excluded.last_allowed, last_allowed)),
    last_write = max(coalesce(last_write, excluded.last_write), coalesce(excluded.last_write, last_write)),
    allowed = allowed + excluded.allowed,
    denied = denied + excluded.denied,
    errors = errors + excluded.errors`

const UPSERT_ADDRESS = `INSERT INTO key_addresses (key_id, address, first_seen, last_seen, allowed, denied)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (key_id, address) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen),
    allowed = allowed + excluded.allowed,
    denied = denied + excluded.denied`

const UPSERT_HOURLY = `INSERT INTO hourly (key_id, hour, address, route, kind, outcome, requests) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (key_id, hour, address, route, outcome) DO UPDATE SET requests = requests + excluded.requests`

const UPSERT_KEYLESS = `INSERT INTO keyless_hourly (hour, address, reason, requests) VALUES (?, ?, ?, ?)
  ON CONFLICT (hour, address, reason) DO UPDATE SET requests = requests + excluded.requests`

const INSERT_EVENT = `INSERT INTO events (time, type, key_id, address, method, route, status, request_id, outcome, reason, category)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// The partial unique index on (key_id, time) for revocations makes a repeated one a no-op.
const INSERT_REVOCATION = "INSERT OR IGNORE INTO events (time, type, key_id, reason) VALUES (?, 'revocation', ?, ?)"

/** Writes batches into the usage database, each in one transaction. Runs on the writer thread. */
export class BatchWriter {
  readonly #db: Database
  readonly #keyExists: Statement<[string], unknown>
  readonly #addressExists: Statement<[string, string], unknown>
  readonly #addressCount: Statement<[string], number>
  readonly #upsertKey: Statement<Params>
  readonly #upsertAddress: Statement<Params>
  readonly #upsertHourly: Statement<Params>
  readonly #upsertKeyless: Statement<Params>
  readonly #insertEvent: Statement<Params>
  readonly #insertRevocation: Statement<Params>

  constructor (db: Database) {
    this.#db = db
    this.#keyExists = db.prepare('SELECT 1 FROM key_usage WHERE key_id = ?')
    this.#addressExists = db.prepare('SELECT 1 FROM key_addresses WHERE key_id = ? AND address = ?')
    this.#addressCount = db.prepare<[string], number>('SELECT count(*) FROM key_addresses WHERE key_id = ?').pluck()
    this.#upsertKey = db.prepare<Params>(UPSERT_KEY)
    this.#upsertAddress = db.prepare<Params>(UPSERT_ADDRESS)
    this.#upsertHourly = db.prepare<Params>(UPSERT_HOURLY)
    this.#upsertKeyless = db.prepare<Params>(UPSERT_KEYLESS)
    this.#insertEvent = db.prepare<Params>(INSERT_EVENT)
    this.#insertRevocation = db.prepare<Params>(INSERT_REVOCATION)
  }

  /**
   * Writes the whole batch or, when it throws, nothing. BEGIN IMMEDIATE takes the write
   * lock first, so a lock held elsewhere makes it wait up to the busy timeout.
   */
  write (batch: Batch): FlushResult {
    return this.#db.transaction(() => this.#writeAll(batch)).immediate()
  }

  #writeAll (batch: Batch): FlushResult {
    const rows = unpackBatch(batch)
    const newAddresses: NewAddress[] = []
    for (const key of rows.keys) this.#writeKey(key)
    for (const address of rows.addresses) {
      if (this.#writeAddress(address)) newAddresses.push({ keyId: address.keyId, address: address.address, time: address.firstSeen, requestId: address.firstRequestId })
    }
    for (const row of rows.hourly) this.#upsertHourly.run(row.keyId, row.hour, row.address, row.route, row.kind, row.outcome, row.requests)
    for (const row of rows.keyless) this.#upsertKeyless.run(row.hour, row.address, row.reason, row.requests)
    for (const event of rows.events) this.#writeEvent(event)
    for (const revocation of rows.revocations) this.#insertRevocation.run(revocation.at, revocation.keyId, revocation.reason)
    const addressCounts = rows.keys.map((key): [string, number] => [key.keyId, this.#addressCount.get(key.keyId) ?? 0])
    return { newAddresses, addressCounts }
  }

  #writeKey (key: KeyDelta): void {
    if (this.#keyExists.get(key.keyId) === undefined) this.#insertRequestEvent('first_use', key.keyId, key.firstUsed, key)
    this.#upsertKey.run(key.keyId, key.firstUsed, key.lastUsed, key.lastAllowed ?? null, key.lastWrite ?? null, key.allowed, key.denied, key.errors)
  }

  /** Returns true when the address is new for the key. */
  #writeAddress (row: AddressDelta): boolean {
    const known = this.#addressExists.get(row.keyId, row.address) !== undefined
    if (!known) this.#insertRequestEvent('new_address', row.keyId, row.firstSeen, row)
    this.#upsertAddress.run(row.keyId, row.address, row.firstSeen, row.lastSeen, row.allowed, row.denied)
    return !known
  }

  #insertRequestEvent (type: 'first_use' | 'new_address', keyId: string, time: number, first: FirstRequest): void {
    this.#insertEvent.run(time, type, keyId, first.firstAddress ?? null, first.firstMethod, first.firstRoute ?? null, first.firstStatus, first.firstRequestId, null, null, null)
  }

  #writeEvent (event: EventDelta): void {
    this.#insertEvent.run(event.time, event.type, event.keyId, event.address ?? null, event.method, event.route ?? null,
      event.status, event.requestId, event.outcome, event.reason ?? null, event.category ?? null)
  }
}
