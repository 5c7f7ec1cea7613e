import type { KeyDetail } from './protocol.js'
import type { AddressRecord, EventRecord, KeyUsageRecord } from './records.js'

// JSON forms of usage records, as the admin listener and `review --format json` print them:
// snake_case names and ISO 8601 times in UTC, null for a time that never happened.

export function isoTime (ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}

export function keyUsageJson (usage: KeyUsageRecord): Record<string, unknown> {
  return {
    key_id: usage.keyId,
    first_used: isoTime(usage.firstUsed),
    last_used: isoTime(usage.lastUsed),
    last_allowed: isoTime(usage.lastAllowed),
    last_write: isoTime(usage.lastWrite),
    total: usage.allowed + usage.denied + usage.errors,
    allowed: usage.allowed,
    denied: usage.denied,
    errors: usage.errors,
    address_count: usage.addresses
  }
}

/** Returns the JSON of a key the store has no request for. */
export function unusedKeyJson (keyId: string): Record<string, unknown> {
  return { key_id: keyId, first_used: null, last_used: null, last_allowed: null, last_write: null, total: 0, allowed: 0, denied: 0, errors: 0, address_count: 0 }
}

export function addressJson (row: AddressRecord): Record<string, unknown> {
  return { address: row.address, first_seen: isoTime(row.firstSeen), last_seen: isoTime(row.lastSeen), allowed: row.allowed, denied: row.denied }
}

export function eventJson (event: EventRecord): Record<string, unknown> {
  return {
    time: isoTime(event.time),
    type: event.type,
    key_id: event.keyId,
    address: event.address ?? null,
    method: event.method ?? null,
    route: event.route ?? null,
    status: event.status ?? null,
    request_id: event.requestId ?? null,
    outcome: event.outcome ?? null,
    reason: event.reason ?? null,
    category: event.category ?? null
  }
}

export function keyDetailJson (keyId: string, detail: KeyDetail): Record<string, unknown> {
  return {
    ...(detail.usage === undefined ? unusedKeyJson(keyId) : keyUsageJson(detail.usage)),
    addresses: detail.addresses.map(addressJson),
    recent_events: detail.events.map(eventJson)
  }
}
