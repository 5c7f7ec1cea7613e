import type { EventType, Outcome, RouteKind } from './records.js'

// Rows of usage not yet written. Every row merges by addition, minimum and maximum, so a
// batch that failed to write can be merged back into the next one in any order.

/** The request behind a first-use or new-address event; its time is the first use or first sighting. */
export interface FirstRequest {
  firstAddress: string | undefined
  firstMethod: string
  firstRoute: string | undefined
  firstStatus: number
  firstRequestId: string
}

export interface KeyDelta extends FirstRequest {
  readonly keyId: string
  firstUsed: number
  lastUsed: number
  lastAllowed: number | undefined
  lastWrite: number | undefined
  allowed: number
  denied: number
  errors: number
}

export interface AddressDelta extends FirstRequest {
  readonly keyId: string
  readonly address: string
  firstSeen: number
  lastSeen: number
  allowed: number
  denied: number
}

export interface HourlyDelta {
  readonly keyId: string
  readonly hour: number
  readonly address: string
  readonly route: string
  readonly kind: RouteKind
  readonly outcome: Outcome
  requests: number
}

export interface KeylessDelta {
  readonly hour: number
  readonly address: string
  readonly reason: string
  requests: number
}

/** A denial or a sensitive request, written as one row of the events table. */
export interface EventDelta {
  readonly time: number
  readonly type: Extract<EventType, 'denial' | 'sensitive'>
  readonly keyId: string
  readonly address: string | undefined
  readonly method: string
  readonly route: string | undefined
  readonly status: number
  readonly requestId: string
  readonly outcome: Outcome
  readonly reason: string | undefined
  readonly category: string | undefined
}

/** A revocation as the policy states it; written once per key and time. */
export interface RevocationDelta {
  readonly keyId: string
  readonly at: number
  readonly reason: string
}

const FIRST_FIELDS = ['firstAddress', 'firstMethod', 'firstRoute', 'firstStatus', 'firstRequestId'] as const
export const KEY_FIELDS = ['keyId', 'firstUsed', 'lastUsed', 'lastAllowed', 'lastWrite', 'allowed', 'denied', 'errors', ...FIRST_FIELDS] as const satisfies ReadonlyArray<keyof KeyDelta>
export const ADDRESS_FIELDS = ['keyId', 'address', 'firstSeen', 'lastSeen', 'allowed', 'denied', ...FIRST_FIELDS] as const satisfies ReadonlyArray<keyof AddressDelta>
export const HOURLY_FIELDS = ['keyId', 'hour', 'address', 'route', 'kind', 'outcome', 'requests'] as const satisfies ReadonlyArray<keyof HourlyDelta>
export const KEYLESS_FIELDS = ['hour', 'address', 'reason', 'requests'] as const satisfies ReadonlyArray<keyof KeylessDelta>
export const EVENT_FIELDS = ['time', 'type', 'keyId', 'address', 'method', 'route', 'status', 'requestId', 'outcome', 'reason', 'category'] as const satisfies ReadonlyArray<keyof EventDelta>
export const REVOCATION_FIELDS = ['keyId', 'at', 'reason'] as const satisfies ReadonlyArray<keyof RevocationDelta>

/**
 * A batch as it crosses to the writer thread: each part is one flat array holding the
 * field values of its rows in the order of its *_FIELDS list. postMessage copies such
 * arrays several times faster than arrays of objects (bench/usage.ts).
 */
export interface Batch {
  readonly keys: unknown[]
  readonly addresses: unknown[]
  readonly hourly: unknown[]
  readonly keyless: unknown[]
  readonly events: unknown[]
  readonly revocations: unknown[]
  /** Time of the oldest request in the batch; undefined when it has none. */
  readonly oldest: number | undefined
}

/** A batch's rows as objects. */
export interface BatchRows {
  readonly keys: KeyDelta[]
  readonly addresses: AddressDelta[]
  readonly hourly: HourlyDelta[]
  readonly keyless: KeylessDelta[]
  readonly events: EventDelta[]
  readonly revocations: RevocationDelta[]
}

export function packBatch (rows: { [K in keyof BatchRows]: Iterable<BatchRows[K][number]> }, oldest: number | undefined): Batch {
  return {
    keys: pack(rows.keys, KEY_FIELDS),
    addresses: pack(rows.addresses, ADDRESS_FIELDS),
    hourly: pack(rows.hourly, HOURLY_FIELDS),
    keyless: pack(rows.keyless, KEYLESS_FIELDS),
    events: pack(rows.events, EVENT_FIELDS),
    revocations: pack(rows.revocations, REVOCATION_FIELDS),
    oldest
  }
}

export function unpackBatch (batch: Batch): BatchRows {
  return {
    keys: unpack<KeyDelta>(batch.keys, KEY_FIELDS),
    addresses: unpack<AddressDelta>(batch.addresses, ADDRESS_FIELDS),
    hourly: unpack<HourlyDelta>(batch.hourly, HOURLY_FIELDS),
    keyless: unpack<KeylessDelta>(batch.keyless, KEYLESS_FIELDS),
    events: unpack<EventDelta>(batch.events, EVENT_FIELDS),
    revocations: unpack<RevocationDelta>(batch.revocations, REVOCATION_FIELDS)
  }
}

/** Number of rows in a batch, for logs. */
export function batchSize (batch: Batch): number {
  return batch.keys.length / KEY_FIELDS.length + batch.addresses.length / ADDRESS_FIELDS.length +
    batch.hourly.length / HOURLY_FIELDS.length + batch.keyless.length / KEYLESS_FIELDS.length +
    batch.events.length / EVENT_FIELDS.length + batch.revocations.length / REVOCATION_FIELDS.length
}

function pack<T> (rows: Iterable<T>, fields: ReadonlyArray<keyof T>): unknown[] {
  const values: unknown[] = []
  for (const row of rows) {
    for (const field of fields) values.push(row[field])
  }
  return values
}

function unpack<T> (values: readonly unknown[], fields: ReadonlyArray<keyof T>): T[] {
  const rows: T[] = []
  for (let start = 0; start < values.length; start += fields.length) {
    const row: Partial<Record<keyof T, unknown>> = {}
    for (const [offset, field] of fields.entries()) row[field] = values[start + offset]
    rows.push(row as T)
  }
  return rows
}
